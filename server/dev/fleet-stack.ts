/**
 * The dev fleet behind `npm run fleet`: a throwaway redis-server, two relays in fleet mode and two
 * lobby servers sharing that Redis (each its own process: `switchboard relay|lobby` through
 * fleet-child.ts), and the sample page, all on 127.0.0.1. The relay and fleet secrets are fresh
 * per run and reach the children through their environment, never their command line.
 * The page uses relay 1 and lobby 1; the other relay and lobby are there to try the fleet with
 * (each lobby hands its joiners both relays, least-loaded first).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import type { PageConfig } from '../../sample-scene/game/page-config';
import { DEFAULT_LOBBY } from '../../sample-scene/game/scene-params';
import { flagArguments } from '../cli-args';
import { freePort } from '../lobby/lobby-redis';
import { generateRelaySecret } from '../relay/token';
import { REPOSITORY_ROOT } from './paths';
import { loadSceneBundle, type SceneBundle } from './scene-source';
import { samplePageFiles } from './page-files';
import { startStaticServer } from './static-server';

export const FLEET_USAGE = `usage: npm run fleet -- [--port 8080] [--lobby sample]
  --port   web server port for the sample page (0 = any free port); Redis, the two relays and
           the two lobby servers always take free ports
  --lobby  the lobby the page joins without ?lobby=
Needs redis-server on the PATH (Debian/Ubuntu: apt-get install redis-server).`;

export const REDIS_MISSING = 'redis-server not installed: apt-get install redis-server';

const HOST = '127.0.0.1';
const CHILD_ENTRY = path.join(__dirname, 'fleet-child.ts');
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const REDIS_READY_TIMEOUT_MS = 5_000;
/** Output kept per child to explain a failed start (bounded). */
const KEEP_OUTPUT_CHARS = 4_000;

export interface FleetStackOptions {
  /** Web server port (default 8080; 0 = any free port). */
  httpPort?: number;
  lobby?: string;
  bundle?: SceneBundle;
  /** Where the children's warnings (their stderr, prefixed) go. */
  warn?: (line: string) => void;
}

export interface FleetStack {
  readonly url: string;
  readonly redisUrl: string;
  /** The temporary directory redis-server runs in; removed by close(). */
  readonly redisDir: string;
  readonly relays: readonly { udpUrl: string; wsUrl: string }[];
  readonly lobbies: readonly string[];
  /** Every child process (redis-server, relays, lobbies). */
  readonly children: readonly ChildProcess[];
  /** Stops the lobbies, then the relays (they delete their directory entries), then Redis and the web server. Idempotent. */
  close(): Promise<void>;
}

/** The redis-server binary (REDIS_SERVER_BIN overrides it), or null when it does not run. */
function redisBinary(): string | null {
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 5_000 });
  return probe.error === undefined && probe.status === 0 ? bin : null;
}

interface Child {
  name: string;
  process: ChildProcess;
  output: string;
  exited: Promise<void>;
}

function spawnChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, warn: (line: string) => void, stdin: 'pipe' | 'ignore'): Child {
  const proc = spawn(command, args, { cwd: REPOSITORY_ROOT, env, stdio: [stdin, 'pipe', 'pipe'] });
  const child: Child = { name, process: proc, output: '', exited: new Promise((resolve) => proc.once('exit', () => resolve())) };
  const keep = (chunk: Buffer): void => {
    child.output = (child.output + chunk.toString('utf8')).slice(-KEEP_OUTPUT_CHARS);
  };
  proc.stdout?.on('data', keep);
  let partial = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    keep(chunk);
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!.slice(-KEEP_OUTPUT_CHARS);
    for (const line of lines) if (line.length > 0) warn(`[${name}] ${line}`);
  });
  proc.once('error', (error) => keep(Buffer.from(`spawn failed: ${error.message}\n`)));
  return child;
}

/** Resolves with the first match of `pattern` in the child's output; rejects when it exits first or after a bound. */
function waitForLine(child: Child, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const match = pattern.exec(child.output);
      if (match === null) return false;
      done();
      resolve(match);
      return true;
    };
    const onExit = (): void => {
      if (check()) return;
      done();
      reject(new Error(`${child.name} exited before it was ready: ${child.output.trim().slice(-1_000)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${child.name} not ready within ${READY_TIMEOUT_MS} ms: ${child.output.trim().slice(-1_000)}`));
    }, READY_TIMEOUT_MS);
    const done = (): void => {
      clearTimeout(timer);
      child.process.stdout?.off('data', onData);
      child.process.off('exit', onExit);
    };
    // After `keep` (registered first), so the output already holds the chunk.
    const onData = (): void => void check();
    child.process.stdout?.on('data', onData);
    child.process.once('exit', onExit);
    check();
  });
}

/** SIGTERM, then SIGKILL after a bound; resolves once the child has exited. */
async function stopChild(child: Child): Promise<void> {
  const proc = child.process;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
  proc.kill('SIGTERM');
  await child.exited;
  clearTimeout(timer);
}

async function waitForRedis(url: string, child: Child): Promise<void> {
  const deadline = Date.now() + REDIS_READY_TIMEOUT_MS;
  for (;;) {
    if (child.process.exitCode !== null) throw new Error(`redis-server exited: ${child.output.trim().slice(-1_000)}`);
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 500 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // Not listening yet.
    } finally {
      probe.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING within ${REDIS_READY_TIMEOUT_MS} ms: ${child.output.trim().slice(-1_000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startFleetStack(options: FleetStackOptions = {}): Promise<FleetStack> {
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  const lobbyName = options.lobby ?? DEFAULT_LOBBY;
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(lobbyName)) throw new RangeError(`fleet: lobby name must be 1..64 characters of A-Z a-z 0-9 _ . : -, got ${JSON.stringify(lobbyName)}`);
  const redisBin = redisBinary();
  if (redisBin === null) throw new Error(REDIS_MISSING);

  const children: Child[] = [];
  const redisDir = mkdtempSync(path.join(tmpdir(), 'switchboard-fleet-'));
  let http: { close(): Promise<void> } | null = null;
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Lobbies and relays first, while Redis still answers their goodbyes; Redis last.
      const byKind = (prefix: string) => children.filter((c) => c.name.startsWith(prefix));
      await Promise.all(byKind('lobby').map(stopChild));
      await Promise.all(byKind('relay').map(stopChild));
      await Promise.all(byKind('redis').map(stopChild));
      await http?.close();
      rmSync(redisDir, { recursive: true, force: true });
    })();
    return closing;
  };

  try {
    const bundlePromise = options.bundle !== undefined ? Promise.resolve(options.bundle) : loadSceneBundle();
    const redisPort = await freePort(HOST);
    const redisUrl = `redis://${HOST}:${redisPort}`;
    const redis = spawnChild('redis', redisBin, ['--port', String(redisPort), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', redisDir], process.env, warn, 'ignore');
    children.push(redis);
    await waitForRedis(redisUrl, redis);

    const relaySecret = generateRelaySecret();
    const fleetSecret = generateRelaySecret();
    const env = { ...process.env, SWITCHBOARD_RELAY_SECRET: relaySecret, SWITCHBOARD_FLEET_SECRET: fleetSecret };
    const cli = (name: string, args: string[]): Child =>
      spawnChild(name, process.execPath, ['-C', 'switchboard-source', '-r', 'ts-node/register/transpile-only', CHILD_ENTRY, ...args], env, warn, 'pipe');
    const relayChildren = [1, 2].map((n) => cli(`relay ${n}`, ['relay', '--host', HOST, '--port', '0', '--fleet-redis', redisUrl]));
    children.push(...relayChildren);
    const relays = (await Promise.all(relayChildren.map((c) => waitForLine(c, /switchboard relay ready: (udp:\/\/\S+) (ws:\/\/\S+)/)))).map((m) => ({ udpUrl: m[1]!, wsUrl: m[2]! }));
    // Lobbies after the relays are in the directory: their first listing already has both.
    const lobbyChildren = [1, 2].map((n) => cli(`lobby ${n}`, ['lobby', '--host', HOST, '--port', '0', '--redis', redisUrl]));
    children.push(...lobbyChildren);
    const lobbies = (await Promise.all(lobbyChildren.map((c) => waitForLine(c, /switchboard lobby listening on (ws:\/\/\S+)/)))).map((m) => m[1]!);

    const bundle = await bundlePromise;
    const pageConfig: PageConfig = { relay: relays[0]!.wsUrl, lobbyUrl: lobbies[0]!, lobby: lobbyName };
    const server = await startStaticServer({
      host: HOST,
      port: options.httpPort ?? 8080,
      files: samplePageFiles(bundle, pageConfig),
    });
    http = server;
    return { url: server.url, redisUrl, redisDir, relays, lobbies, children: children.map((c) => c.process), close };
  } catch (error) {
    await close();
    throw error;
  }
}

export type FleetArgs = { ok: true; options: FleetStackOptions; help: boolean } | { ok: false; error: string };

export function parseFleetArgs(args: readonly string[]): FleetArgs {
  const options: FleetStackOptions = {};
  for (const { arg, flag, value: takeValue } of flagArguments(args)) {
    if (arg === '--help' || arg === '-h') return { ok: true, options, help: true };
    const text = flag === '--port' || flag === '--lobby' ? takeValue() : undefined;
    if (flag === '--port') {
      const port = text !== undefined && /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
      if (!(port <= 65535)) return { ok: false, error: '--port needs a whole number 0..65535' };
      options.httpPort = port;
    } else if (flag === '--lobby') {
      if (text === undefined || text.length === 0) return { ok: false, error: '--lobby needs a value' };
      options.lobby = text;
    } else {
      return { ok: false, error: `unknown argument ${JSON.stringify(arg)}` };
    }
  }
  return { ok: true, options, help: false };
}

/** A signal this soon after the first is the same Ctrl-C (npm's forwarded copy, or the children's). */
const SAME_INTERRUPT_MS = 1_000;

/**
 * `npm run fleet`: starts the fleet, prints its URLs, and on SIGINT or SIGTERM stops everything.
 * Resolves with the exit code: 0 after a clean stop, 1 when it could not start (redis-server
 * missing included) or close, 2 for bad arguments, 130 for a second Ctrl-C while stopping.
 */
export async function runFleetCli(args: readonly string[], io: { out(line: string): void; err(line: string): void } = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) }): Promise<number> {
  const parsed = parseFleetArgs(args);
  if (!parsed.ok) {
    io.err(`switchboard fleet: ${parsed.error}`);
    io.err(FLEET_USAGE);
    return 2;
  }
  if (parsed.help) {
    io.out(FLEET_USAGE);
    return 0;
  }
  // Ctrl-C reaches the children too (same process group); they stop on it themselves, and
  // close() stops whatever is left. Listen before starting, so an early Ctrl-C still cleans up.
  let stack: FleetStack | null = null;
  let interrupted = false;
  const early = (): void => void (interrupted = true);
  process.on('SIGINT', early);
  process.on('SIGTERM', early);
  try {
    stack = await startFleetStack({ ...parsed.options, warn: (line) => io.err(line) });
  } catch (error) {
    io.err(`switchboard fleet: ${error instanceof Error && error.message === REDIS_MISSING ? REDIS_MISSING : `could not start: ${error instanceof Error ? error.message : String(error)}`}`);
    return 1;
  } finally {
    process.off('SIGINT', early);
    process.off('SIGTERM', early);
  }
  const running = stack;
  io.out(`switchboard fleet: redis ${running.redisUrl} (data in ${running.redisDir})`);
  running.relays.forEach((relay, i) => io.out(`switchboard fleet: relay ${i + 1} ${relay.udpUrl} ${relay.wsUrl}`));
  running.lobbies.forEach((lobby, i) => io.out(`switchboard fleet: lobby ${i + 1} ${lobby}`));
  io.out(`open ${running.url} in two tabs   (the page uses relay 1 and lobby 1)`);
  io.out('Ctrl-C stops everything');

  return new Promise<number>((resolve) => {
    let stoppingSince: number | null = null;
    let stopped = false;
    const stop = (): void => {
      if (stopped) return;
      if (stoppingSince !== null && performance.now() - stoppingSince < SAME_INTERRUPT_MS) return;
      if (stoppingSince !== null) {
        io.err('switchboard fleet: second interrupt, killing the children and exiting');
        for (const child of running.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        rmSync(running.redisDir, { recursive: true, force: true });
        resolve(130);
        return;
      }
      stoppingSince = performance.now();
      io.out('switchboard fleet: stopping…');
      running.close().then(
        () => {
          stopped = true;
          io.out('switchboard fleet: stopped');
          resolve(0);
        },
        (error: unknown) => {
          stopped = true;
          io.err(`switchboard fleet: close failed: ${error instanceof Error ? error.message : String(error)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (interrupted) stop();
  });
}
