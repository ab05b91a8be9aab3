/**
 * Runs a benchmark role (relay, forwarder, proxy, peers…) in its own Node process, so what it
 * measures is not disturbed by the process measuring it, and talks to it by request/reply over IPC.
 * Every call has a deadline; a child that does not stop when asked is killed.
 */
import { fork, type ChildProcess } from 'child_process';
import * as path from 'path';
import type { ChildMessage, ParentMessage, ProcessSample } from './role-protocol';
import { roleBundlePath } from './build';

export interface SpawnOptions {
  /** Extra node flags, e.g. ['--single-threaded-gc', '--expose-gc']. */
  nodeFlags?: string[];
  /** Deadline for the role to be ready (default 30 s). */
  startTimeoutMs?: number;
  /** Receives the role's pushed events. */
  onEvent?: (name: string, data: unknown) => void;
  /** Kill the child after this long whatever happens (default 20 min): nothing runs forever. */
  maxLifetimeMs?: number;
}

export interface RoleChild<Info> {
  readonly name: string;
  readonly pid: number;
  readonly info: Info;
  call<T>(method: string, args?: unknown, timeoutMs?: number): Promise<T>;
  sample(): Promise<ProcessSample>;
  /** Asks the role to stop, then kills it if it has not exited within 5 s; idempotent. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A parent that dies or is interrupted takes its children with it.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of live) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

export async function spawnRole<Info>(role: string, options: unknown, spawn: SpawnOptions = {}): Promise<RoleChild<Info>> {
  installExitHook();
  const bundle = await roleBundlePath();
  const child = fork(bundle, [role], {
    execArgv: spawn.nodeFlags ?? [],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_PATH: path.resolve(__dirname, '..', '..', 'node_modules'), BENCH_MAX_LIFETIME_MS: String(spawn.maxLifetimeMs ?? 20 * 60_000) },
  });
  live.add(child);
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  let nextId = 1;
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      live.delete(child);
      for (const [, p] of pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`role ${role} exited (code ${code}, signal ${signal}) before answering`));
      }
      pending.clear();
      resolve();
    });
  });

  const info = await new Promise<Info>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`role ${role} was not ready within ${spawn.startTimeoutMs ?? 30_000} ms`));
    }, spawn.startTimeoutMs ?? 30_000);
    child.on('message', (raw: unknown) => {
      const message = raw as ChildMessage;
      switch (message.kind) {
        case 'ready':
          clearTimeout(timer);
          resolve(message.info as Info);
          break;
        case 'failed':
          clearTimeout(timer);
          reject(new Error(`role ${role} failed to start: ${message.error}`));
          break;
        case 'reply': {
          const p = pending.get(message.id);
          if (!p) break;
          pending.delete(message.id);
          clearTimeout(p.timer);
          if (message.ok) p.resolve(message.value);
          else p.reject(new Error(`role ${role}: ${message.error}`));
          break;
        }
        case 'event':
          spawn.onEvent?.(message.name, message.data);
          break;
        case 'stopped':
          break;
      }
    });
    void exitPromise.then(() => {
      clearTimeout(timer);
      reject(new Error(`role ${role} exited before it was ready`));
    });
    child.send({ kind: 'start', options } satisfies ParentMessage);
  });

  let stopping: Promise<void> | null = null;
  const handle: RoleChild<Info> = {
    name: role,
    pid: child.pid ?? -1,
    info,
    call<T>(method: string, args?: unknown, timeoutMs = 60_000): Promise<T> {
      if (exited) return Promise.reject(new Error(`role ${role} has exited`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`role ${role}: ${method} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
        child.send({ kind: 'call', id, method, args } satisfies ParentMessage);
      });
    },
    sample(): Promise<ProcessSample> {
      return handle.call<ProcessSample>('sample');
    },
    stop(): Promise<void> {
      if (stopping) return stopping;
      stopping = (async () => {
        if (!exited) {
          try {
            child.send({ kind: 'stop' } satisfies ParentMessage);
          } catch {
            // The IPC channel is already gone; the kill below ends it.
          }
          const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exitPromise;
          clearTimeout(killTimer);
        }
      })();
      return stopping;
    },
  };
  return handle;
}

/** Kills every child still running (a suite that overran its time bound leaves none behind). */
export function killAllChildren(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/** Stops every given child (in parallel); never throws. */
export async function stopAll(children: readonly (RoleChild<unknown> | null | undefined)[]): Promise<void> {
  await Promise.all(children.map((c) => c?.stop().catch(() => undefined)));
}

/** CPU seconds and wall seconds between two samples of one child, and the CPU share. */
export function cpuBetween(a: ProcessSample, b: ProcessSample): { wallS: number; cpuS: number; share: number } {
  const wallS = (b.tMs - a.tMs) / 1000;
  const cpuS = (b.cpuUserUs + b.cpuSystemUs - a.cpuUserUs - a.cpuSystemUs) / 1e6;
  return { wallS, cpuS, share: wallS > 0 ? cpuS / wallS : Number.NaN };
}

export function counterDelta(a: ProcessSample, b: ProcessSample, name: string): number {
  return (b.counters[name] ?? 0) - (a.counters[name] ?? 0);
}
