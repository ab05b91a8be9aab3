import { ChildProcess, spawn, spawnSync } from 'child_process';
import { createServer, Socket } from 'net';

/**
 * A real `redis-server` on 127.0.0.1 for integration tests: no persistence, a port found free
 * first, ready once it answers PING. `stop()` and `start()` keep the port so outage tests can take
 * Redis away and bring it back at the same URL.
 */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Starts (again) on the same port; resolves once PING answers. */
  start(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after a bound); resolves once it has exited. */
  stop(): Promise<void>;
  dispose(): Promise<void>;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const READY_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 3_000;

/** Null when redis-server runs; otherwise why not. */
export function redisServerProblem(): string | null {
  const probe = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8', timeout: 5_000 });
  if (probe.error) return `${REDIS_BIN} not runnable: ${probe.error.message}`;
  if (probe.status !== 0) return `${REDIS_BIN} --version exited with ${probe.status}`;
  return null;
}

/**
 * For a mocha `before`: under CI=true a missing redis-server fails the suite; locally the suite is
 * skipped with the reason printed.
 */
export function requireRedisServer(context: Mocha.Context): void {
  const problem = redisServerProblem();
  if (problem === null) return;
  if (process.env.CI === 'true') throw new Error(`redis-server is required under CI=true: ${problem}`);
  console.warn(`      skipping: ${problem} (install redis-server to run these tests)`);
  context.skip();
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free loopback port'))));
    });
  });
}

/** One PING over a raw socket: true when the server answers +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = new Socket();
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freeLoopbackPort();
  let child: ChildProcess | null = null;
  let output = '';

  const start = async (): Promise<void> => {
    if (child) throw new Error('test redis is already running');
    output = '';
    const proc = spawn(
      REDIS_BIN,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    // Keep only the tail of the output: enough to explain a failed start, bounded.
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-4_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exited: number | null | 'running' = 'running';
    proc.once('exit', (code) => {
      exited = code;
      if (child === proc) child = null;
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (exited !== 'running') throw new Error(`redis-server exited (${String(exited)}) on port ${port}: ${output}`);
      if (await ping(port)) return;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms: ${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill('SIGTERM');
    });
    child = null;
  };

  await start();
  return { port, url: `redis://127.0.0.1:${port}`, start, stop, dispose: stop };
}
