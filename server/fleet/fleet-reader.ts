/**
 * Reading the fleet directory from outside a relay (the lobby): SCAN the entries, keep those whose
 * HMAC verifies under the fleet secret, and turn them into relay URLs ordered by load (fewest
 * sessions first). startFleetReader keeps a cached list refreshed on a timer; while Redis is
 * unreachable it keeps the last list it read.
 */
import Redis from 'ioredis';
import { MAX_LOBBY_RELAYS, type LobbyRelays } from '../../plugin/lobby/lobby-protocol';
import { relaySecretProblem } from '../relay/token';
import { scanFleetEntries, type FleetMemberInfo } from './fleet-directory';

/** Relay URLs of the fleet, least-loaded first (the welcome's `relays`). */
export type FleetRelayLists = LobbyRelays;

/** Relays handed out at most (a client tries them in order; it never needs thousands). */
const MAX_LISTED_RELAYS = MAX_LOBBY_RELAYS;

export interface FleetRead {
  /** Verified members, fewest sessions first (ties: lower relay number first), at most MAX_RELAY_NUMBER. */
  members: FleetMemberInfo[];
  /** Entries whose HMAC did not verify (or that were not entries at all) in this read. */
  forged: number;
}

/** One pass over the directory on an already connected client, least-loaded first. Rejects when Redis does. */
export async function readFleetRelays(redis: Redis, secret: string): Promise<FleetRead> {
  const { members, forged } = await scanFleetEntries(redis, secret);
  members.sort((a, b) => a.sessions - b.sessions || a.relayNumber - b.relayNumber);
  return { members, forged };
}

/** The URLs of members (already ordered), at most MAX_LISTED_RELAYS of each kind; malformed endpoints are skipped. */
export function fleetRelayUrls(members: readonly FleetMemberInfo[]): FleetRelayLists {
  const lists: FleetRelayLists = { udp: [], ws: [] };
  for (const member of members) {
    const udp = endpointUrl('udp', member.endpoints.udp);
    const ws = endpointUrl('ws', member.endpoints.ws);
    if (udp !== null && lists.udp.length < MAX_LISTED_RELAYS) lists.udp.push(udp);
    if (ws !== null && lists.ws.length < MAX_LISTED_RELAYS) lists.ws.push(ws);
  }
  return lists;
}

function endpointUrl(scheme: 'udp' | 'ws', endpoint: unknown): string | null {
  if (typeof endpoint !== 'object' || endpoint === null) return null;
  const { host, port } = endpoint as { host?: unknown; port?: unknown };
  if (typeof host !== 'string' || !/^[A-Za-z0-9.:_-]{1,253}$/.test(host)) return null;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export interface FleetReaderOptions {
  redisUrl: string;
  secret: string;
  /** How often the list is read again (default 1,500 ms, the relays' heartbeat). */
  refreshMs?: number;
  log?: (line: string) => void;
}

export interface FleetReader {
  /** The last list read (a copy), least-loaded first; empty until a read has succeeded. */
  relays(): FleetRelayLists;
  /** Whether the last read reached Redis. */
  readonly redisUp: boolean;
  /** Entries that did not verify, summed over every read. */
  readonly forgedEntries: number;
  /** Reads the directory now (the timer does this on its own); resolves false when Redis did not answer. */
  refresh(): Promise<boolean>;
  dispose(): Promise<void>;
}

export async function startFleetReader(options: FleetReaderOptions): Promise<FleetReader> {
  const problem = relaySecretProblem(options.secret);
  if (problem !== null) throw new TypeError(`fleet secret rejected: ${problem}`);
  const refreshMs = options.refreshMs ?? 1_500;
  if (!Number.isInteger(refreshMs) || refreshMs < 10 || refreshMs > 60_000) throw new RangeError(`fleet reader: refreshMs must be an integer 10..60000, got ${String(refreshMs)}`);
  const log = options.log ?? ((line: string) => console.warn(line));
  const redis = new Redis(options.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 100, 1_000),
  });
  redis.on('error', () => undefined); // reported once per outage below
  let lists: FleetRelayLists = { udp: [], ws: [] };
  let up = false;
  let forged = 0;
  let outageLogged = false;
  let disposed = false;
  let inFlight: Promise<boolean> | null = null;

  const read = async (): Promise<boolean> => {
    try {
      const result = await readFleetRelays(redis, options.secret);
      lists = fleetRelayUrls(result.members);
      forged += result.forged;
      if (outageLogged) log('switchboard lobby: fleet directory reachable again');
      up = true;
      outageLogged = false;
      return true;
    } catch (error) {
      up = false;
      if (!outageLogged && !disposed) {
        outageLogged = true;
        log(`switchboard lobby: fleet directory unreachable (${(error as Error).message}); handing out the last relay list (${lists.udp.length} relays)`);
      }
      return false;
    }
  };
  // One read at a time: a slow Redis never piles reads up.
  const refresh = (): Promise<boolean> => {
    if (disposed) return Promise.resolve(false);
    inFlight ??= read().finally(() => (inFlight = null));
    return inFlight;
  };

  try {
    await redis.connect();
  } catch {
    // Not fatal: the timer retries; until then the list is empty.
  }
  await refresh();
  const timer = setInterval(() => void refresh(), refreshMs);

  return {
    relays: () => ({ udp: lists.udp.slice(), ws: lists.ws.slice() }),
    get redisUp() {
      return up;
    },
    get forgedEntries() {
      return forged;
    },
    refresh,
    async dispose() {
      if (disposed) return;
      disposed = true;
      clearInterval(timer);
      await inFlight?.catch(() => undefined);
      redis.disconnect();
    },
  };
}
