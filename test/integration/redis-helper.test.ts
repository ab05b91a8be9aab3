import { strict as assert } from 'assert';
import Redis from 'ioredis';
import { requireRedisServer, startTestRedis, TestRedis } from '../helpers/redis-server';

describe('test helper: real redis-server', function () {
  let redis: TestRedis | null = null;

  before(function () {
    requireRedisServer(this);
  });

  afterEach(async () => {
    await redis?.dispose();
    redis = null;
  });

  it('starts on a loopback port, stops, and restarts on the same port with an empty dataset', async () => {
    redis = await startTestRedis();
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await client.connect();
      assert.equal(await client.set('k', 'v'), 'OK');
      assert.equal(await client.get('k'), 'v');
    } finally {
      client.disconnect();
    }
    const port = redis.port;
    await redis.stop();
    await assert.rejects(async () => {
      const down = new Redis(redis!.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      down.on('error', () => undefined); // the refused connect is the expected outcome
      try {
        await down.connect();
      } finally {
        down.disconnect();
      }
    });
    await redis.start();
    assert.equal(redis.port, port);
    const again = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await again.connect();
      assert.equal(await again.get('k'), null, 'no persistence: a restart starts empty');
    } finally {
      again.disconnect();
    }
  });
});
