import { strict as assert } from 'assert';
import { freePort } from '../../server/lobby/lobby-redis';
import Redis from 'ioredis';
import { runCli } from '../../server/cli';
import { parseLobbyCliArgs } from '../../server/lobby/lobby-cli';
import { requireRedisServer, startTestRedis, TestRedis } from '../helpers/redis-server';
import { testRelaySecret } from '../helpers/secrets';
import { waitFor } from '../helpers/wait';

describe('CLI flags for the fleet and the shared lobby', function () {
  let redis: TestRedis;
  before(async function () {
    requireRedisServer(this);
    redis = await startTestRedis();
  });
  after(async () => redis?.dispose());

  it('switchboard lobby --redis URL passes the URL to the lobby server', () => {
    const parsed = parseLobbyCliArgs(['--redis', 'redis://127.0.0.1:6390', '--port', '0']);
    assert.ok(parsed.ok);
    assert.equal(parsed.options.redisUrl, 'redis://127.0.0.1:6390');
    assert.deepEqual(parseLobbyCliArgs(['--redis']), { ok: false, error: '--redis needs a URL' });
  });

  it('switchboard relay --fleet-redis without a secret is a usage error', async () => {
    const err: string[] = [];
    const code = await runCli(['relay', '--port', '0', '--fleet-redis', redis.url], { out: () => undefined, err: (l) => err.push(l), env: {}, untilStopSignal: () => new Promise(() => undefined) });
    assert.equal(code, 2);
    assert.match(err.join('\n'), /--fleet-redis needs --fleet-secret/);
  });

  it('switchboard relay --fleet-redis URL --fleet-secret S registers the relay in Redis', async () => {
    const out: string[] = [];
    let stop: (signal: string) => void = () => undefined;
    const stopped = new Promise<string>((resolve) => (stop = resolve));
    const linkPort = await freePort('127.0.0.1');
    const running = runCli(['relay', '--port', '0', '--fleet-redis', redis.url, '--fleet-secret', testRelaySecret('fleet cli'), '--fleet-port', String(linkPort)], {
      out: (l) => out.push(l),
      err: () => undefined,
      env: {},
      untilStopSignal: () => stopped,
    });
    await waitFor('the relay to be ready', () => out.some((l) => l.includes('ready')));
    const reader = new Redis(redis.url);
    try {
      const keys = await reader.keys('switchboard:fleet:relay:*');
      assert.equal(keys.length, 1);
      const entry = JSON.parse((await reader.get(keys[0]))!) as { endpoints: { fleet: { port: number } } };
      assert.equal(entry.endpoints.fleet.port, linkPort, 'the link on the port --fleet-port named');
      stop('SIGTERM');
      assert.equal(await running, 0);
      assert.equal((await reader.keys('switchboard:fleet:relay:*')).length, 0, 'closing removed the entry');
    } finally {
      reader.disconnect();
    }
  });

  it('switchboard relay --fleet-port without --fleet-redis is a usage error', async () => {
    const err: string[] = [];
    const code = await runCli(['relay', '--port', '0', '--fleet-port', '9000'], { out: () => undefined, err: (l) => err.push(l), env: {}, untilStopSignal: () => new Promise(() => undefined) });
    assert.notEqual(code, 0);
    assert.match(err.join('\n'), /--fleet-port needs --fleet-redis/);
  });
});
