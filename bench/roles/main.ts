/**
 * Entry of every benchmark child process: `node roles.js <role>`. Starts the named role with the
 * options the parent sends, answers its calls, and exits when told to stop, when the parent goes
 * away, or when its lifetime bound (BENCH_MAX_LIFETIME_MS) runs out.
 */
import * as fs from 'fs';
import * as v8 from 'v8';
import * as inspector from 'inspector';
import { monotonicMs, type ChildMessage, type ParentMessage, type ProcessSample, type RoleInstance } from '../lib/role-protocol';
import { roles } from './registry';

const roleName = process.argv[2];
const send = (message: ChildMessage): void => {
  if (process.connected) process.send?.(message);
};

const lifetimeMs = Number(process.env.BENCH_MAX_LIFETIME_MS ?? 20 * 60_000);
const lifetime = setTimeout(() => {
  console.error(`[bench] role ${roleName} reached its lifetime bound (${lifetimeMs} ms); exiting`);
  process.exit(3);
}, lifetimeMs);
lifetime.unref();
process.on('disconnect', () => process.exit(0));

let instance: RoleInstance | null = null;

function sample(): ProcessSample {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    tMs: monotonicMs(),
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    counters: instance?.counters?.() ?? {},
  };
}

let profiler: inspector.Session | null = null;

function post(method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    profiler?.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

const builtIns: Record<string, (args: never) => unknown> = {
  sample,
  /** Starts V8's CPU profiler (for a measurement window only, unlike --cpu-prof). */
  profileStart: async () => {
    if (profiler !== null) throw new Error('profiler already running');
    profiler = new inspector.Session();
    profiler.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 200 });
    await post('Profiler.start');
    return { ok: true };
  },
  /** Stops the profiler and writes the .cpuprofile to `file`. */
  profileStop: async (args: { file: string }) => {
    if (profiler === null) throw new Error('profiler not running');
    const result = (await post('Profiler.stop')) as { profile: unknown };
    profiler.disconnect();
    profiler = null;
    fs.writeFileSync(args.file, JSON.stringify(result.profile));
    return { file: args.file };
  },
  /** Writes a V8 heap snapshot to `file` (for a breakdown of what a peer or a session holds). */
  heapSnapshot: (args: { file: string }) => ({ file: v8.writeHeapSnapshot(args.file) }),
  gc: () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('gc needs --expose-gc');
    gc();
    gc();
    // Compiled code (V8's code spaces) grows as the JIT tiers functions up, whatever was allocated: reported apart.
    const codeBytes = v8.getHeapSpaceStatistics().filter((space) => space.space_name.startsWith('code')).reduce((sum, space) => sum + space.space_used_size, 0);
    return { ...process.memoryUsage(), codeBytes };
  },
};

process.on('message', (raw: unknown) => {
  const message = raw as ParentMessage;
  if (message.kind === 'start') {
    const factory = roles[roleName];
    if (!factory) {
      send({ kind: 'failed', error: `unknown role "${roleName}"; known: ${Object.keys(roles).join(', ')}` });
      return;
    }
    Promise.resolve(factory(message.options as never, (name, data) => send({ kind: 'event', name, data })))
      .then((started) => {
        instance = started;
        send({ kind: 'ready', info: started.info });
      })
      .catch((error: unknown) => send({ kind: 'failed', error: String((error as Error)?.stack ?? error) }));
    return;
  }
  if (message.kind === 'call') {
    const method = instance?.methods?.[message.method] ?? builtIns[message.method];
    if (!method) {
      send({ kind: 'reply', id: message.id, ok: false, error: `role ${roleName} has no method "${message.method}"` });
      return;
    }
    Promise.resolve()
      .then(() => method(message.args as never))
      .then((value) => send({ kind: 'reply', id: message.id, ok: true, value }))
      .catch((error: unknown) => send({ kind: 'reply', id: message.id, ok: false, error: String((error as Error)?.stack ?? error) }));
    return;
  }
  if (message.kind === 'stop') {
    Promise.resolve(instance?.stop?.())
      .catch((error: unknown) => console.error(`[bench] role ${roleName} stop failed: ${String(error)}`))
      .finally(() => {
        send({ kind: 'stopped' });
        // Let the IPC message leave, then go.
        setTimeout(() => process.exit(0), 20).unref();
      });
  }
});
