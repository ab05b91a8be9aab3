import type { SystemFactory } from './system-parts';

/** Early update, after receive: NetworkedTransform replicas take their interpolated pose. */
export const createTransformReplicaSystem: SystemFactory = (entry, { transforms }) => ({
  name: entry.name,
  phase: entry.phase,
  order: entry.order,
  run(frame) {
    transforms.applyReplicas(frame.nowMs);
  },
});

/** Late update, before flush: owned NetworkedTransforms queue their snapshots. */
export const createTransformOwnerSystem: SystemFactory = (entry, { transforms }) => ({
  name: entry.name,
  phase: entry.phase,
  order: entry.order,
  run(frame) {
    transforms.sendOwned(frame.nowMs);
  },
});
