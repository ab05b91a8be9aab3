import type { FramePhase } from '../manifest';
import { createFlushSystem } from './flush-system';
import { createReceiveSystem } from './receive-system';
import { createTransformOwnerSystem, createTransformReplicaSystem } from './transform-systems';
import type { SystemFactory } from './system-parts';

export type { SystemParts, SystemFactory } from './system-parts';
export { createReceiveSystem } from './receive-system';
export { createFlushSystem } from './flush-system';
export { createTransformReplicaSystem, createTransformOwnerSystem } from './transform-systems';

export interface BuiltInSystem {
  create: SystemFactory;
  /** The phase the system's contract needs; plugin.json must place it there. */
  phase: FramePhase;
  /** Must plugin.json list it? */
  required: boolean;
  /** Systems it must run after / before within its phase (by name, lower order). */
  after?: string;
  before?: string;
}

/** Systems plugin.json may name, keyed by name. */
export const builtInSystems: Readonly<Record<string, BuiltInSystem>> = {
  'switchboard.receive': { create: createReceiveSystem, phase: 'early-update', required: true },
  'switchboard.transform-replicas': { create: createTransformReplicaSystem, phase: 'early-update', required: false, after: 'switchboard.receive' },
  'switchboard.transform-owners': { create: createTransformOwnerSystem, phase: 'late-update', required: false, before: 'switchboard.flush' },
  'switchboard.flush': { create: createFlushSystem, phase: 'late-update', required: true },
};
