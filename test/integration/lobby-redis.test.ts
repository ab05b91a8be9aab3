import { strict as assert } from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import { ColyseusLobby } from '../../plugin/lobby/colyseus-lobby';
import { startLobbyServer, type LobbyServer } from '../../server/lobby';
import { freePort } from '../../server/lobby/lobby-redis';
import { requireRedisServer, startTestRedis, TestRedis } from '../helpers/redis-server';
import { waitFor } from '../helpers/wait';

const quiet = { info: (): void => undefined, warn: (): void => undefined };
const root = path.resolve(__dirname, '..', '..');

/** A lobby server process on the shared Redis; resolves with its URL (bounded). */
function spawnLobby(redisUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '--conditions=switchboard-source', path.join(root, 'test', 'fixtures', 'lobby-child.ts'), redisUrl], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lobby child printed no URL within 15 s: ${output}`));
    }, 15_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4_000);
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve({ child, url: (JSON.parse(line) as { url: string }).url });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lobby child exited (${String(code)}): ${output}`));
    });
  });
}

describe('lobby servers sharing one real redis-server', function () {
  let redis: TestRedis;

  before(async function () {
    requireRedisServer(this);
    redis = await startTestRedis();
  });
  after(async () => redis?.dispose());

  it('an unreachable Redis is a clear error at start, and the process can start a lobby after', async () => {
    const port = await freePort('127.0.0.1'); // nothing listens there
    await assert.rejects(startLobbyServer({ port: 0, logger: quiet, redisUrl: `redis://127.0.0.1:${port}` }), /Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/);
    const lobby = await startLobbyServer({ port: 0, logger: quiet });
    await lobby.close();
  });

  it('members joining one lobby name through two lobby processes see each other and their metadata', async () => {
    let local: LobbyServer | null = null;
    let remote: { child: ChildProcess; url: string } | null = null;
    const lobbies: ColyseusLobby[] = [];
    try {
      local = await startLobbyServer({ port: 0, logger: quiet, redisUrl: redis.url });
      remote = await spawnLobby(redis.url);
      const a = await ColyseusLobby.join(local.url, 'shared-room', { logger: quiet });
      lobbies.push(a);
      const b = await ColyseusLobby.join(remote.url, 'shared-room', { logger: quiet });
      lobbies.push(b);
      await a.setMemberMetadata({ role: 'host' });
      await waitFor('b to see a with its metadata', () => b.members().some((m) => m.id === a.selfId && m.metadata.get('role') === 'host'));
      await waitFor('a to see b', () => a.members().some((m) => m.id === b.selfId));
    } finally {
      for (const l of lobbies) await l.leave().catch(() => undefined);
      remote?.child.kill('SIGKILL');
      await local?.close();
    }
  });

  it('Redis down: a joiner gets a clear "unavailable" error at once (counted), members already in stay, and joins work again when Redis returns', async function () {
    this.timeout(40_000);
    const lines: string[] = [];
    const logger = { info: (): void => undefined, warn: (line: string): void => void lines.push(line) };
    const lobby = await startLobbyServer({ port: 0, logger, redisUrl: redis.url });
    const members: ColyseusLobby[] = [];
    try {
      const a = await ColyseusLobby.join(lobby.url, 'outage-room', { logger: quiet });
      members.push(a);
      await redis.stop();
      await waitFor('the lobby to notice the outage', () => lines.some((l) => l.includes('unreachable; refusing new joins')), { timeoutMs: 10_000 });
      await assert.rejects(ColyseusLobby.join(lobby.url, 'outage-room', { logger: quiet }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'unreachable');
        assert.match(error.message, /is unavailable: lobby unavailable: its Redis is unreachable; retry in a moment/);
        return true;
      });
      assert.equal(lobby.stats().joinsRefusedRedisDown, 1);
      assert.equal(lines.filter((l) => l.includes('refusing new joins')).length, 1, 'the outage is logged once');
      await redis.start();
      await waitFor('the lobby to see Redis again', () => lines.some((l) => l.includes('reachable again')), { timeoutMs: 10_000 });
      const b = await ColyseusLobby.join(lobby.url, 'outage-room-2', { logger: quiet });
      members.push(b);
      await a.setMemberMetadata({ still: 'here' });
    } finally {
      for (const m of members) await m.leave().catch(() => undefined);
      await lobby.close();
    }
  });
});

