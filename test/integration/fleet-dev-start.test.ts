/**
 * `npm run fleet` smoke test: runs package.json's fleet command in its own process group, waits
 * for the URLs it prints, checks both relays are in the Redis directory, a lobby hands out both,
 * and the page answers 200; then SIGINT to the group (Ctrl-C): exit code 0, no process left,
 * Redis gone and its temporary directory removed. Without redis-server it says how to install it.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';
import { ColyseusLobby } from '../../plugin/lobby/colyseus-lobby';
import { quietLogger } from '../helpers/managers';
import { requireRedisServer } from '../helpers/redis-server';
import { groupAlive, npmScriptCommand } from '../helpers/npm-script';
import { waitFor } from '../helpers/wait';

const ROOT = path.resolve(__dirname, '..', '..');


function run(env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const { command, args } = npmScriptCommand('fleet');
  const child = spawn(command, [...args, '--port', '0'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout = (stdout + chunk.toString()).slice(-20_000)));
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, out: () => stdout, err: () => stderr, exit };
}

describe('npm run fleet (dev fleet smoke test)', function () {
  this.timeout(90_000);
  let child: ChildProcess | undefined;

  afterEach(() => {
    // Only if a test failed half-way: do not leave the stack running.
    if (child?.pid !== undefined && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  });

  it('without redis-server it says how to install it and exits 1', async () => {
    const stack = run({ ...process.env, REDIS_SERVER_BIN: path.join(ROOT, 'no-such-redis-server') });
    child = stack.child;
    const result = await Promise.race([stack.exit, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref())]);
    expect(result, `exit (stderr: ${stack.err()})`).to.deep.equal({ code: 1, signal: null });
    expect(stack.err()).to.contain('redis-server not installed: apt-get install redis-server');
  });

  it('starts Redis, two relays in its directory, two lobbies handing out both relays and the page; SIGINT stops everything', async function () {
    requireRedisServer(this);
    const stack = run();
    child = stack.child;
    await waitFor(`the fleet to be up (stdout: ${JSON.stringify(stack.out())}; stderr: ${JSON.stringify(stack.err())})`, () => stack.out().includes('Ctrl-C stops everything') || child!.exitCode !== null, {
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    const out = stack.out();
    const redisMatch = /^switchboard fleet: redis (redis:\/\/127\.0\.0\.1:(\d+)) \(data in (\S+)\)$/m.exec(out);
    expect(redisMatch, `redis line in ${out}; stderr: ${stack.err()}`).to.not.equal(null);
    const [, redisUrl, , redisDir] = redisMatch!;
    const relays = [...out.matchAll(/^switchboard fleet: relay \d (udp:\/\/127\.0\.0\.1:(\d+)) (ws:\/\/127\.0\.0\.1:\d+)$/gm)].map((m) => ({ udp: m[1]!, port: Number(m[2]), ws: m[3]! }));
    const lobbies = [...out.matchAll(/^switchboard fleet: lobby \d (ws:\/\/127\.0\.0\.1:\d+)$/gm)].map((m) => m[1]!);
    const url = /^open (http:\/\/127\.0\.0\.1:\d+\/) /m.exec(out)?.[1];
    expect(relays).to.have.length(2);
    expect(lobbies).to.have.length(2);
    expect(existsSync(redisDir!), 'the Redis directory exists while the fleet runs').to.equal(true);

    // Both relays are in the directory, with the endpoints they printed.
    const redis = new Redis(redisUrl!, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    try {
      const keys = await redis.keys('switchboard:fleet:relay:*');
      expect(keys).to.have.length(2);
      const entries = (await redis.mget(...keys)).map((raw) => JSON.parse(raw!) as { endpoints: { udp: { port: number } } });
      expect(entries.map((e) => e.endpoints.udp.port).sort()).to.deep.equal(relays.map((r) => r.port).sort());
    } finally {
      redis.disconnect();
    }

    // The second lobby hands its joiners both relays.
    const member = await ColyseusLobby.join(lobbies[1]!, 'fleet-smoke', { logger: quietLogger });
    try {
      expect([...member.relays!.udp].sort()).to.deep.equal(relays.map((r) => r.udp).sort());
      expect([...member.relays!.ws].sort()).to.deep.equal(relays.map((r) => r.ws).sort());
      expect(member.relayToken, 'the lobby hands out relay tokens').to.be.a('string');
    } finally {
      await member.leave();
    }

    const page = await fetch(url!);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.contain('<script type="module" src="/app.js">');
    const config = (await (await fetch(new URL('config.json', url))).json()) as { relay: string; lobbyUrl: string };
    expect(config.relay).to.equal(relays[0]!.ws);
    expect(config.lobbyUrl).to.equal(lobbies[0]);

    process.kill(-child.pid!, 'SIGINT');
    const result = await Promise.race([stack.exit, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref())]);
    expect(result, `exit after SIGINT (stdout: ${stack.out()}; stderr: ${stack.err()})`).to.deep.equal({ code: 0, signal: null });
    expect(stack.out()).to.contain('switchboard fleet: stopped');
    expect(stack.err()).not.to.contain('second interrupt');
    await waitFor('every process of the fleet (Redis included) to be gone', () => !groupAlive(child!.pid!), { timeoutMs: 15_000, intervalMs: 50 });
    expect(existsSync(redisDir!), 'the Redis directory is removed').to.equal(false);
    const probe = new Redis(redisUrl!, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => undefined);
    const reached = await probe.connect().then(
      () => true,
      () => false,
    );
    probe.disconnect();
    expect(reached, 'nothing answers on the Redis port').to.equal(false);
  });
});
