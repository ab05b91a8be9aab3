/** Messages between the benchmark parent and a role child (IPC with structured clone). */

export type ParentMessage =
  | { kind: 'start'; options: unknown }
  | { kind: 'call'; id: number; method: string; args: unknown }
  | { kind: 'stop' };

export type ChildMessage =
  | { kind: 'ready'; info: unknown }
  | { kind: 'failed'; error: string }
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: string }
  | { kind: 'event'; name: string; data: unknown }
  | { kind: 'stopped' };

/** What every role answers to `sample`: taken at one instant in the child. */
export interface ProcessSample {
  /** CLOCK_MONOTONIC in ms (process.hrtime), the same clock in every process of the machine. */
  tMs: number;
  /** user + system CPU of the whole process (all threads), µs. */
  cpuUserUs: number;
  cpuSystemUs: number;
  rssBytes: number;
  heapUsedBytes: number;
  counters: Record<string, number>;
}

/** A running role, as the child sees it. */
export interface RoleInstance {
  info: unknown;
  methods?: Record<string, (args: never) => unknown>;
  counters?: () => Record<string, number>;
  stop?: () => Promise<void> | void;
}

export type RoleFactory = (options: never, emit: (name: string, data: unknown) => void) => Promise<RoleInstance> | RoleInstance;

export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
