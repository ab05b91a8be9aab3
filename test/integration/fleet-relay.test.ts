import { strict as assert } from 'assert';
import { startRelay, type RelayServer } from '../../server';
import { requireRedisServer, startTestRedis, TestRedis } from '../helpers/redis-server';
import { testRelaySecret } from '../helpers/secrets';
import { waitFor } from '../helpers/wait';

const quiet = { info: (): void => undefined, warn: (): void => undefined };

describe('startRelay({ fleet }) on a real redis-server', function () {
  let redis: TestRedis;
  const relays: RelayServer[] = [];

  before(async function () {
    requireRedisServer(this);
    redis = await startTestRedis();
  });
  after(async () => redis?.dispose());
  afterEach(async () => {
    for (const r of relays.splice(0)) await r.close();
  });

  it('two relays of one fleet list each other with their endpoints; a closed relay leaves the list', async () => {
    const fleet = { redisUrl: redis.url, secret: testRelaySecret('fleet relay') };
    const a = await startRelay({ port: 0, logger: quiet, webrtc: false, fleet });
    relays.push(a);
    const b = await startRelay({ port: 0, logger: quiet, webrtc: false, fleet });
    relays.push(b);
    assert.ok(a.fleet && b.fleet);
    // The directory heartbeats every 1.5 s: the first listing may predate the other relay.
    await waitFor('a to list b', () => a.fleet!.members().some((m) => m.endpoints.udp?.port === b.port), { timeoutMs: 5_000 });
    await waitFor('b to list a', () => b.fleet!.members().some((m) => m.endpoints.ws?.port === a.port), { timeoutMs: 5_000 });
    await b.close();
    relays.splice(relays.indexOf(b), 1);
    await waitFor('a to see b gone', () => a.fleet!.members().length === 0, { timeoutMs: 5_000 });
  });

  it('refuses a weak fleet secret and leaves no relay running', async () => {
    await assert.rejects(startRelay({ port: 0, logger: quiet, webrtc: false, fleet: { redisUrl: redis.url, secret: 'weak' } }), /fleet secret rejected/);
  });
});
