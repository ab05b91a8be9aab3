import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import { buildSync } from 'esbuild';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import Redis from 'ioredis';
import { FleetDirectory, startFleetDirectory } from '../../server/fleet/fleet-directory';
import { requireRedisServer, startTestRedis, TestRedis } from '../helpers/redis-server';
import { testRelaySecret } from '../helpers/secrets';
import { waitFor } from '../helpers/wait';

const SECRET = testRelaySecret('fleet directory');
const FAST = { ttlMs: 1_000, heartbeatMs: 100 };

describe('fleet directory on a real redis-server', function () {
  let redis: TestRedis;
  const open: FleetDirectory[] = [];
  const logs: string[] = [];

  before(async function () {
    requireRedisServer(this);
    redis = await startTestRedis();
  });
  after(async () => redis?.dispose());
  afterEach(async () => {
    for (const d of open.splice(0)) await d.dispose();
    logs.length = 0;
  });

  const member = async (port: number, sessions = 0): Promise<FleetDirectory> => {
    const d = await startFleetDirectory({
      redisUrl: redis.url,
      secret: SECRET,
      endpoints: { udp: { host: '127.0.0.1', port } },
      sessionCount: () => sessions,
      log: (line) => logs.push(line),
      ...FAST,
    });
    open.push(d);
    return d;
  };

  it('two relays claim distinct numbers and see each other with endpoints and session counts', async () => {
    const a = await member(1001, 3);
    const b = await member(1002, 5);
    assert.ok(a.relayNumber !== null && b.relayNumber !== null && a.relayNumber !== b.relayNumber);
    await waitFor('each to list the other', () => a.members().length === 1 && b.members().length === 1);
    assert.deepEqual(a.members()[0], { relayNumber: b.relayNumber, id: b.id, endpoints: { udp: { host: '127.0.0.1', port: 1002 } }, sessions: 5 });
    assert.equal(b.members()[0].sessions, 3);
  });

  it('a clean close removes the entry at once', async () => {
    const a = await member(1001);
    const b = await member(1002);
    await waitFor('a to see b', () => a.members().length === 1);
    const key = `switchboard:fleet:relay:${String(b.relayNumber)}`;
    const reader = new Redis(redis.url);
    try {
      assert.equal(await reader.exists(key), 1);
      await b.dispose();
      assert.equal(await reader.exists(key), 0, 'removed by the close, not left to expire');
    } finally {
      reader.disconnect();
    }
    await waitFor('a to see b gone', () => a.members().length === 0);
  });

  it('a SIGKILLed relay (child process) drops out of the list within its TTL', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fleet-child-'));
    try {
      const bundle = path.join(dir, 'fleet-child.js');
      buildSync({ entryPoints: [path.resolve(__dirname, '..', 'fixtures', 'fleet-child.ts')], bundle: true, platform: 'node', outfile: bundle, logLevel: 'silent' });
      const a = await member(1001);
      const child = spawn(process.execPath, [bundle, redis.url, SECRET, '1000'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        await waitFor('a to see the child relay', () => a.members().length === 1, { timeoutMs: 10_000 });
        child.kill('SIGKILL');
        await exited;
        // TTL 1 s plus one heartbeat of a: bounded at 3 s.
        await waitFor('the killed relay to expire', () => a.members().length === 0, { timeoutMs: 3_000 });
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a weak fleet secret', async () => {
    await assert.rejects(
      startFleetDirectory({ redisUrl: redis.url, secret: 'short', endpoints: {}, sessionCount: () => 0 }),
      /fleet secret rejected/,
    );
  });

  it('ignores and counts an entry written without the secret', async () => {
    const a = await member(1001);
    const writer = new Redis(redis.url);
    try {
      const fake = { id: 'x', relayNumber: 4000, endpoints: { udp: { host: '127.0.0.1', port: 9 } }, sessions: 0, mac: '00'.repeat(32) };
      await writer.set('switchboard:fleet:relay:4000', JSON.stringify(fake), 'PX', 10_000);
      await waitFor('the forged entry to be counted', () => a.forgedEntries > 0);
      assert.equal(a.members().length, 0);
      await writer.del('switchboard:fleet:relay:4000');
    } finally {
      writer.disconnect();
    }
  });

  it('keeps running through a Redis outage, logs it once, and re-claims its entry when Redis returns', async () => {
    const a = await member(1001);
    const b = await member(1002);
    await waitFor('a to see b', () => a.members().length === 1);
    await redis.stop();
    await waitFor('a to notice the outage', () => !a.redisUp && !b.redisUp);
    await redis.start(); // empty: every entry is gone
    await waitFor('both to re-claim and see each other again', () => a.redisUp && a.members().length === 1 && b.members().length === 1);
    assert.equal(logs.filter((l) => l.includes('unreachable')).length, 2, 'one outage line per relay');
    assert.notEqual(a.relayNumber, null);
  });
});
