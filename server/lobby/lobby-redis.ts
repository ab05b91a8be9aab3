import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import { RedisDriver } from '@colyseus/redis-driver';
import { RedisPresence } from '@colyseus/redis-presence';
import Redis from 'ioredis';
import { LobbyJoinErrorCode } from '../../plugin/lobby/lobby-protocol';

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
  // Commands wait for Redis to come back instead of failing after 20 retries: Colyseus does not
  // await all of them, and a rejected one would be an unhandled rejection (a crash) mid-outage.
  // The outage is reported once by the health check below, not per reconnect attempt.
  const options = redisOptions(redisUrl);
  const presence = new RedisPresence(options);
  const driver = new RedisDriver(options);
  for (const client of [(presence as unknown as { pub?: EventSource }).pub, (presence as unknown as { sub?: EventSource }).sub, (driver as unknown as { _client?: EventSource })._client]) {
    client?.on('error', () => undefined);
  }
  return { presence, driver };
}

interface EventSource {
  on(event: 'error', listener: () => void): unknown;
}

/** ioredis options from a redis:// URL (the Colyseus classes take options, not a URL and options). */
function redisOptions(redisUrl: string): { host: string; port: number; username?: string; password?: string; db: number; maxRetriesPerRequest: null } {
  const url = new URL(redisUrl);
  const db = Number(url.pathname.replace(/^\//, '') || '0');
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || '6379'),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    db: Number.isInteger(db) ? db : 0,
    maxRetriesPerRequest: null,
  };
}

/** How often the lobby checks its Redis, and how long one check may take. */
const HEALTH_EVERY_MS = 500;
const HEALTH_TIMEOUT_MS = 1_000;

export interface RedisHealth {
  readonly up: boolean;
  dispose(): void;
}

/** PINGs Redis every 500 ms; logs an outage once and the recovery once. */
export function watchRedis(redisUrl: string, log: (line: string) => void): RedisHealth {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: HEALTH_TIMEOUT_MS, retryStrategy: (times) => Math.min(times * 100, 1_000) });
  client.on('error', () => undefined);
  let up = true;
  let running = false;
  const check = async (): Promise<void> => {
    let ok = false;
    try {
      ok = (await Promise.race([client.ping(), new Promise<null>((resolve) => setTimeout(() => resolve(null), HEALTH_TIMEOUT_MS).unref())])) === 'PONG';
    } catch {
      ok = false;
    }
    if (ok && !up) log(`lobby: Redis at ${redisUrl} reachable again; accepting joins`);
    if (!ok && up) log(`lobby: Redis at ${redisUrl} unreachable; refusing new joins (members already in a lobby stay) until it answers`);
    up = ok;
  };
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void check().finally(() => (running = false));
  }, HEALTH_EVERY_MS);
  timer.unref();
  return {
    get up() {
      return up;
    },
    dispose() {
      clearInterval(timer);
      client.disconnect();
    },
  };
}

/** Colyseus-style error code of a join refused because the lobby's Redis is down. */
export const JOIN_UNAVAILABLE_CODE = LobbyJoinErrorCode.Unavailable;

/**
 * Answers matchmaking requests (POST /matchmake/…) with 503 and a JSON error while Redis is down,
 * instead of letting them hang on the driver until the client gives up; everything else, and
 * every request while Redis is up, goes to Colyseus's own handlers as before.
 */
export function refuseJoinsWhileRedisDown(server: HttpServer, health: RedisHealth, onRefused: () => void): void {
  const listeners = server.listeners('request').slice() as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!health.up && req.method === 'POST' && (req.url ?? '').startsWith('/matchmake/')) {
      onRefused();
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json', 'access-control-allow-origin': '*', connection: 'close' });
      res.end(JSON.stringify({ code: JOIN_UNAVAILABLE_CODE, error: 'lobby unavailable: its Redis is unreachable; retry in a moment' }));
      return;
    }
    for (const listener of listeners) listener.call(server, req, res);
  });
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
