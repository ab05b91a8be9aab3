/**
 * Test fixtures (test/fixtures/*.ts) in their own processes, so a test can SIGKILL them: each
 * prints one JSON line once ready, which `spawnFixture` waits for (bounded) and returns.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');

export interface FixtureChild<Info> {
  process: ChildProcess;
  info: Info;
}

export function spawnFixture<Info>(name: string, args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<FixtureChild<Info>> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '--conditions=switchboard-source', path.join(root, 'test', 'fixtures', name), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} printed nothing within ${timeoutMs} ms: ${output}`));
    }, timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4_000);
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve({ process: child, info: JSON.parse(line) as Info });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${String(code)}): ${output}`));
    });
  });
}

export type ChildRelay = FixtureChild<{ port: number; relayNumber: number | null }> & { port: number };

/** A relay in its own process (test/fixtures/relay-child.ts), so a test can kill it: `port` 0 picks one; keepalive in ms. */
export async function spawnRelay(port = 0, keepaliveMs = 500, env: Record<string, string> = {}): Promise<ChildRelay> {
  const child = await spawnFixture<{ port: number; relayNumber: number | null }>('relay-child.ts', [String(port), String(keepaliveMs)], env);
  return { ...child, port: child.info.port };
}

/** SIGKILL, resolved once the process has exited (at once if it already has). */
export function killHard(child: { process: ChildProcess }): Promise<void> {
  return new Promise((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve();
    child.process.once('exit', () => resolve());
    child.process.kill('SIGKILL');
  });
}
