import { createHmac, randomBytes, timingSafeEqual } from 'crypto';
import Redis from 'ioredis';
import { MAX_FLEET_RELAY_NUMBER } from '../../plugin/net/relay-core/session-table';
import { relaySecretProblem } from '../relay/token';

/**
 * The fleet directory: each relay claims a relay number (1..4095) in Redis with SET NX PX, keeps it
 * alive with a heartbeat, and lists the other members. Entries carry an HMAC under the fleet secret,
 * so a Redis writer without the secret cannot inject a relay: such entries are ignored and counted.
 */
/** Relay numbers are the top 12 bits of session ids (PROTOCOL.md §3.13). */
export const MAX_RELAY_NUMBER = MAX_FLEET_RELAY_NUMBER;
const KEY_PREFIX = 'switchboard:fleet:relay:';

export interface FleetEndpoints {
  udp?: { host: string; port: number };
  ws?: { host: string; port: number };
  /** The relay-to-relay link (FLEET_DATA, PROTOCOL.md §3.13). */
  fleet?: { host: string; port: number };
}

export interface FleetMemberInfo {
  relayNumber: number;
  /** Random per relay process (its first 8 bytes are the incarnation FLEET_DATA carries). */
  id: string;
  endpoints: FleetEndpoints;
  sessions: number;
}

export interface FleetDirectoryOptions {
  redisUrl: string;
  secret: string;
  endpoints: FleetEndpoints;
  sessionCount: () => number;
  ttlMs?: number;
  heartbeatMs?: number;
  log?: (line: string) => void;
  /** Called after every successful listing with the other members (the fleet link's peer table). */
  onMembers?: (members: FleetMemberInfo[]) => void;
  /** Called when this relay's number changes (null: it holds none, e.g. after an outage longer than the TTL). */
  onRelayNumber?: (relayNumber: number | null) => void;
  /** This process's entry id (default: 16 random bytes as hex). */
  id?: string;
}

export interface FleetDirectory {
  /** This relay's number, or null while it holds none (Redis down at start). */
  readonly relayNumber: number | null;
  /** This relay's entry id, random per process. */
  readonly id: string;
  /** The other members as of the last heartbeat (bounded by MAX_RELAY_NUMBER). */
  members(): FleetMemberInfo[];
  /** Entries seen whose HMAC did not verify. */
  readonly forgedEntries: number;
  readonly redisUp: boolean;
  dispose(): Promise<void>;
}

// Refresh only while the entry is still ours (its id matches): never overwrite another relay's claim.
const REFRESH_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, parsed = pcall(cjson.decode, cur)
if not ok or parsed['id'] ~= ARGV[2] then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`;
const DELETE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, parsed = pcall(cjson.decode, cur)
if ok and parsed['id'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

interface Entry {
  id: string;
  relayNumber: number;
  endpoints: FleetEndpoints;
  sessions: number;
  mac?: string;
}

function mac(secret: string, entry: Entry): string {
  const body = JSON.stringify([entry.id, entry.relayNumber, entry.endpoints, entry.sessions]);
  return createHmac('sha256', `switchboard fleet entry:${secret}`).update(body).digest('hex');
}

function verify(secret: string, raw: string): Entry | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const e = parsed as Entry;
  if (typeof e.id !== 'string' || typeof e.mac !== 'string' || !Number.isInteger(e.relayNumber)) return null;
  if (typeof e.sessions !== 'number' || typeof e.endpoints !== 'object' || e.endpoints === null) return null;
  const expected = Buffer.from(mac(secret, e), 'hex');
  const given = Buffer.from(e.mac, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? e : null;
}

export async function startFleetDirectory(options: FleetDirectoryOptions): Promise<FleetDirectory> {
  const secretProblem = relaySecretProblem(options.secret);
  if (secretProblem) throw new Error(`fleet secret rejected: ${secretProblem}`);
  const ttlMs = options.ttlMs ?? 5_000;
  const heartbeatMs = options.heartbeatMs ?? 1_500;
  const log = options.log ?? ((line: string) => console.warn(line));
  const id = options.id ?? randomBytes(16).toString('hex');
  const redis = new Redis(options.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Keep trying while the relay runs, at most once a second.
    retryStrategy: (times) => Math.min(times * 100, 1_000),
  });
  let relayNumber: number | null = null;
  let members: FleetMemberInfo[] = [];
  let forged = 0;
  let up = false;
  let disposed = false;
  let outageLogged = false;
  redis.on('error', () => undefined); // reported once through the heartbeat below

  const entryJson = (n: number): string => {
    const entry: Entry = { id, relayNumber: n, endpoints: options.endpoints, sessions: options.sessionCount() };
    return JSON.stringify({ ...entry, mac: mac(options.secret, entry) });
  };

  let previousNumber: number | null = null;
  const setNumber = (n: number | null): void => {
    if (n === relayNumber) return;
    relayNumber = n;
    if (n !== null) previousNumber = n;
    options.onRelayNumber?.(n);
  };

  const claim = async (): Promise<void> => {
    // The number held before an outage first: session ids made under it keep routing to this relay.
    // Otherwise a random start, so relays starting together rarely collide; bounded by the range.
    const first = previousNumber ?? 1 + (randomBytes(2).readUInt16BE(0) % MAX_RELAY_NUMBER);
    for (let i = 0; i < MAX_RELAY_NUMBER; i++) {
      const n = 1 + ((first - 1 + i) % MAX_RELAY_NUMBER);
      if ((await redis.set(KEY_PREFIX + n, entryJson(n), 'PX', ttlMs, 'NX')) === 'OK') {
        setNumber(n);
        return;
      }
    }
    throw new Error(`fleet full: all ${MAX_RELAY_NUMBER} relay numbers are taken`);
  };

  const list = async (): Promise<void> => {
    const read = await scanFleetEntries(redis, options.secret);
    forged += read.forged;
    members = read.members.filter((member) => member.id !== id).sort((a, b) => a.relayNumber - b.relayNumber);
    options.onMembers?.(members.slice());
  };

  const beat = async (): Promise<void> => {
    if (relayNumber === null) await claim();
    else {
      const n = relayNumber;
      const result = await redis.eval(REFRESH_SCRIPT, 1, KEY_PREFIX + n, entryJson(n), id, ttlMs);
      // Expired (outage longer than the TTL) or taken by another relay: claim a number again.
      if (result !== 1) {
        setNumber(null);
        await claim();
      }
    }
    await list();
  };

  const tick = async (): Promise<void> => {
    try {
      await beat();
      if (!up && outageLogged) log('switchboard fleet: Redis reachable again, entry re-claimed');
      up = true;
      outageLogged = false;
    } catch (error) {
      up = false;
      if (!outageLogged && !disposed) {
        outageLogged = true;
        log(`switchboard fleet: Redis unreachable (${(error as Error).message}); relay keeps running, retrying`);
      }
    }
  };

  try {
    await redis.connect();
  } catch {
    // Not fatal: the heartbeat retries and claims once Redis answers.
  }
  await tick();
  let running = false;
  const timer = setInterval(() => {
    if (running || disposed) return;
    running = true;
    void tick().finally(() => (running = false));
  }, heartbeatMs);

  return {
    get relayNumber() {
      return relayNumber;
    },
    id,
    members: () => members.slice(),
    get forgedEntries() {
      return forged;
    },
    get redisUp() {
      return up;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      clearInterval(timer);
      if (relayNumber !== null && up) {
        try {
          await redis.eval(DELETE_SCRIPT, 1, KEY_PREFIX + relayNumber, id);
        } catch {
          // Redis gone: the entry expires within the TTL.
        }
      }
      redis.disconnect();
    },
  };
}

/** One raw directory entry checked against the fleet secret: its member info, or null when it does not verify. */
export function verifyFleetEntry(secret: string, raw: string): FleetMemberInfo | null {
  const entry = verify(secret, raw);
  return entry === null ? null : { relayNumber: entry.relayNumber, id: entry.id, endpoints: entry.endpoints, sessions: entry.sessions };
}

/** SCAN steps per pass at most: with at most MAX_RELAY_NUMBER keys this is never the limit in practice. */
const MAX_SCAN_STEPS = 1_000;

/** One pass over the directory (SCAN + MGET) on a connected client: the entries that verify, and how many did not. Rejects when Redis does. */
export async function scanFleetEntries(redis: Redis, secret: string): Promise<{ members: FleetMemberInfo[]; forged: number }> {
  const members: FleetMemberInfo[] = [];
  let forged = 0;
  let cursor = '0';
  for (let step = 0; step < MAX_SCAN_STEPS; step++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${KEY_PREFIX}*`, 'COUNT', 500);
    if (keys.length > 0) {
      for (const raw of await redis.mget(...keys)) {
        if (raw === null) continue; // expired between SCAN and MGET
        const member = verifyFleetEntry(secret, raw);
        if (member === null) forged++;
        else if (members.length < MAX_RELAY_NUMBER) members.push(member);
      }
    }
    cursor = next;
    if (cursor === '0') break;
  }
  return { members, forged };
}
