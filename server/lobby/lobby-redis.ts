import { createServer } from 'node:net';
import { RedisDriver } from '@colyseus/redis-driver';
import { RedisPresence } from '@colyseus/redis-presence';
import Redis from 'ioredis';

const REDIS_CHECK_TIMEOUT_MS = 3_000;

/**
 * Colyseus presence + driver on one Redis, so lobby servers sharing it share rooms. Redis is
 * checked first with one PING: an unreachable Redis is a clear error at start, not a hang.
 */
export async function lobbyRedis(redisUrl: string): Promise<{ presence: RedisPresence; driver: RedisDriver }> {
  const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: REDIS_CHECK_TIMEOUT_MS, enableOfflineQueue: false });
  probe.on('error', () => undefined); // the connect() rejection below reports it
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    throw new Error(`startLobbyServer: Redis at ${redisUrl} is unreachable: ${(error as Error).message}`);
  } finally {
    probe.disconnect();
  }
  return { presence: new RedisPresence(redisUrl), driver: new RedisDriver(redisUrl) };
}

/** A free TCP port on host: with Redis each lobby advertises host:port to the others before it listens. */
export function freePort(host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`no free port on ${host}`))));
    });
  });
}
