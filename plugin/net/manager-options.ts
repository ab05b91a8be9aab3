import { Identity } from './identity';
import type { RelayTimers, RelayTokenSource } from './transport/relay-client';
import { isTransportPreference, parseRelayUrl, type DatagramSocket, type TransportPreference } from './transport/datagram-socket';
import type { Clock, LinkConditioner, Logger } from './types';

/** Options of a NetworkManager (docs/API.md); the fields below `linkConditioner` are additions. */
export interface NetworkManagerOptions {
  /**
   * 'udp://host:port' (Node) or 'ws://host:port' / 'wss://…' (browser and Node). A list (1 to 8)
   * names relays of one fleet, tried in order: a manager that loses its relay registers with the
   * next one (wrapping around) and `routeUpdate$` emits its new route.
   */
  relay: string | readonly string[];
  /**
   * Relay access token, required when the relay has a secret. A function is asked for a fresh one
   * before every REGISTER (the first, and each after the relay restarted or the session was lost),
   * so short-lived tokens keep working: e.g. `() => lobby.relayToken` with a ColyseusLobby.
   */
  token?: RelayTokenSource;
  /** Long-term X25519 key pair; generated when absent. */
  identity?: Identity;
  /** Simulated impairment of this manager's outgoing datagrams. */
  linkConditioner?: LinkConditioner;

  /** Largest UDP payload a datagram may have, in bytes (default 1200). */
  mtuBytes?: number;
  /** A peer silent this long goes `disconnected` (default 10,000 ms). */
  timeoutMs?: number;
  /** Send a keepalive when nothing was sent to a peer for this long (default 1,000 ms). */
  keepaliveMs?: number;
  /** Largest reliable message (default 1 MiB). */
  maxReliableMessageBytes?: number;
  /** Largest unreliable message (default 64 KiB). */
  maxUnreliableMessageBytes?: number;
  /** Reliable bytes accepted but not yet acknowledged, per peer, before InsufficientBuffer (default 4 MiB). */
  maxPendingReliableBytes?: number;
  /** Open peers at most (default 1,024); openPeer past it says InsufficientBuffer. */
  maxPeers?: number;
  /** Received datagrams waiting for runCallbacks() at most (default 16,384); the rest are dropped and counted. */
  maxInboxDatagrams?: number;
  /** Where refusals and warnings go (default: console with a `[switchboard]` prefix). */
  logger?: Logger;
  /** Time source in milliseconds (default: performance.now). */
  clock?: Clock;
  /** Builds the socket to the relay; for instrumented transports in tests and tools. */
  socketFactory?: (url: string) => DatagramSocket;
  /** Timers for the relay link's retries and keepalives (default the host's setTimeout); for virtual time in tests and tools. */
  timers?: RelayTimers;
  /**
   * Link to a ws:// or wss:// relay (default 'auto'): 'auto' moves DATA to a WebRTC data channel
   * where the runtime has RTCPeerConnection and stays on the WebSocket when it cannot connect;
   * 'webrtc' carries DATA only over a data channel (fails clearly without one); 'websocket' never
   * tries WebRTC. udp:// relays use UDP.
   */
  transport?: TransportPreference;
}

export interface ResolvedManagerLimits {
  mtuBytes: number;
  timeoutMs: number;
  keepaliveMs: number;
  maxReliableMessageBytes: number;
  maxUnreliableMessageBytes: number;
  maxPendingReliableBytes: number;
  maxPeers: number;
  maxInboxDatagrams: number;
}

export const defaultManagerLimits: ResolvedManagerLimits = {
  mtuBytes: 1200,
  timeoutMs: 10_000,
  keepaliveMs: 1_000,
  maxReliableMessageBytes: 1024 * 1024,
  maxUnreliableMessageBytes: 64 * 1024,
  maxPendingReliableBytes: 4 * 1024 * 1024,
  maxPeers: 1024,
  maxInboxDatagrams: 16_384,
};

type Range = readonly [min: number, max: number];
const limitRanges: Record<keyof ResolvedManagerLimits, Range> = {
  mtuBytes: [256, 1472],
  timeoutMs: [100, 3_600_000],
  keepaliveMs: [10, 600_000],
  maxReliableMessageBytes: [1, 64 * 1024 * 1024],
  maxUnreliableMessageBytes: [1, 1024 * 1024],
  maxPendingReliableBytes: [1024, 1024 * 1024 * 1024],
  maxPeers: [1, 65_536],
  maxInboxDatagrams: [16, 1_048_576],
};

/** Every option key; anything else is a misspelling and throws, naming itself. */
const OPTION_KEYS: readonly (keyof NetworkManagerOptions)[] = [
  'relay', 'token', 'identity', 'linkConditioner', 'mtuBytes', 'timeoutMs', 'keepaliveMs', 'maxReliableMessageBytes',
  'maxUnreliableMessageBytes', 'maxPendingReliableBytes', 'maxPeers', 'maxInboxDatagrams', 'logger', 'clock', 'socketFactory', 'timers', 'transport',
];
/** Relays in one `relay` list at most: a fleet's few entry points, not a directory. */
export const MAX_RELAY_URLS = 8;
const CONDITIONER_KEYS = ['lossRate', 'duplicateRate', 'reorderRate', 'latencyMs', 'jitterMs', 'seed'];

type Resolved = { ok: true; limits: ResolvedManagerLimits; options: NetworkManagerOptions; relays: readonly string[] } | { ok: false; error: string };

/**
 * Checks options and fills in defaults. Returns an error naming the field and what was expected;
 * the constructor turns it into a thrown TypeError, since a manager cannot exist without them.
 * Each option is read once, here, into a plain snapshot: a getter that throws or changes its
 * answer later cannot reach the manager.
 */
export function resolveManagerOptions(options: unknown): Resolved {
  if (typeof options !== 'object' || options === null) return { ok: false, error: 'options: expected an object with at least `relay`' };
  const snapshot = readPlain(options, OPTION_KEYS, '');
  if (typeof snapshot === 'string') return { ok: false, error: snapshot };
  const o = snapshot;
  const relays = readRelayList(o.relay);
  if (typeof relays === 'string') return { ok: false, error: relays };
  o.relay = typeof o.relay === 'string' ? o.relay : relays;
  if (o.identity !== undefined && !Identity.isIdentity(o.identity)) {
    return { ok: false, error: `identity: expected an Identity from Identity.generate() or Identity.fromSecretKey(), got ${describe(o.identity)}` };
  }
  const clockError = checkClock(o.clock);
  if (clockError) return { ok: false, error: clockError };
  if (o.logger !== undefined && (typeof o.logger !== 'object' || o.logger === null || typeof (o.logger as Logger).info !== 'function' || typeof (o.logger as Logger).warn !== 'function')) {
    return { ok: false, error: `logger: expected an object with info(message) and warn(message) functions, got ${describe(o.logger)}` };
  }
  if (o.socketFactory !== undefined && typeof o.socketFactory !== 'function') {
    return { ok: false, error: `socketFactory: expected a function (url) => DatagramSocket, got ${describe(o.socketFactory)}` };
  }
  if (o.token !== undefined && typeof o.token !== 'function' && (typeof o.token !== 'string' || o.token.length > 1024)) {
    return { ok: false, error: `token: expected a string of at most 1024 characters, or a function returning one (sync or async), got ${describe(o.token)}` };
  }
  if (o.transport !== undefined && !isTransportPreference(o.transport)) {
    return { ok: false, error: `transport: expected 'auto', 'webrtc' or 'websocket', got ${describe(o.transport)}` };
  }
  if (o.transport === 'webrtc') {
    const udp = relays.findIndex((url) => url.startsWith('udp:'));
    if (udp >= 0) return { ok: false, error: `transport: 'webrtc' needs a ws:// or wss:// relay, got ${describe(relays[udp])}${relays.length > 1 ? ` as relay[${udp}]` : ''}` };
  }
  if (o.timers !== undefined && (typeof o.timers !== 'object' || o.timers === null || typeof (o.timers as RelayTimers).setTimeout !== 'function' || typeof (o.timers as RelayTimers).clearTimeout !== 'function')) {
    return { ok: false, error: `timers: expected an object with setTimeout(callback, ms) and clearTimeout(handle) functions, got ${describe(o.timers)}` };
  }
  if (o.linkConditioner !== undefined) {
    if (typeof o.linkConditioner !== 'object' || o.linkConditioner === null) return { ok: false, error: `linkConditioner: expected an object, got ${describe(o.linkConditioner)}` };
    const conditioner = readPlain(o.linkConditioner, CONDITIONER_KEYS, 'linkConditioner.');
    if (typeof conditioner === 'string') return { ok: false, error: conditioner };
    o.linkConditioner = conditioner as LinkConditioner;
  }
  const conditionerError = checkConditioner(o.linkConditioner);
  if (conditionerError) return { ok: false, error: conditionerError };
  const limits: ResolvedManagerLimits = { ...defaultManagerLimits };
  for (const key of Object.keys(limitRanges) as (keyof ResolvedManagerLimits)[]) {
    const value = o[key];
    if (value === undefined) continue;
    const [min, max] = limitRanges[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      return { ok: false, error: `${key}: expected an integer ${min}..${max}, got ${describe(value)}` };
    }
    limits[key] = value;
  }
  if (limits.keepaliveMs >= limits.timeoutMs) {
    return { ok: false, error: `keepaliveMs: expected less than timeoutMs (${limits.timeoutMs}), got ${limits.keepaliveMs}` };
  }
  if (limits.maxPendingReliableBytes < limits.maxReliableMessageBytes) {
    return { ok: false, error: `maxPendingReliableBytes: expected at least maxReliableMessageBytes (${limits.maxReliableMessageBytes}), got ${limits.maxPendingReliableBytes}` };
  }
  return { ok: true, limits, options: o as unknown as NetworkManagerOptions, relays };
}

/**
 * `relay` as a list of checked URLs: one string, or an array of 1..MAX_RELAY_URLS distinct ones.
 * An error names the entry (`relay[2]`) and what was wrong with it. The array is copied once.
 */
function readRelayList(value: unknown): string[] | string {
  if (typeof value === 'string') {
    const problem = relayUrlProblem(value);
    return problem === null ? [value] : `relay: ${problem}`;
  }
  if (!Array.isArray(value)) return `relay: expected 'udp://host:port', 'ws://host:port' or 'wss://…' (or a list of 1..${MAX_RELAY_URLS} of them), got ${describe(value)}`;
  let length: number;
  try {
    length = value.length;
  } catch (error) {
    return `relay: reading its length threw (${messageOf(error)})`;
  }
  if (length === 0) return `relay: expected 1..${MAX_RELAY_URLS} relay URLs, got an empty list`;
  if (length > MAX_RELAY_URLS) return `relay: expected at most ${MAX_RELAY_URLS} relay URLs, got ${length}`;
  const urls: string[] = [];
  for (let i = 0; i < length; i++) {
    let entry: unknown;
    try {
      entry = (value as unknown[])[i];
    } catch (error) {
      return `relay[${i}]: reading it threw (${messageOf(error)})`;
    }
    if (typeof entry !== 'string') return `relay[${i}]: expected 'udp://host:port', 'ws://host:port' or 'wss://…', got ${describe(entry)}`;
    const problem = relayUrlProblem(entry);
    if (problem !== null) return `relay[${i}]: ${problem}`;
    const earlier = urls.indexOf(entry);
    if (earlier >= 0) return `relay[${i}]: ${describe(entry)} is already relay[${earlier}]; list each relay once`;
    urls.push(entry);
  }
  return urls;
}

function relayUrlProblem(url: string): string | null {
  if (!/^(udp|ws|wss):\/\/[^/\s]+/.test(url)) return `expected 'udp://host:port', 'ws://host:port' or 'wss://…', got ${describe(url)}`;
  try {
    parseRelayUrl(url);
  } catch (error) {
    return (error as Error).message;
  }
  return null;
}

/**
 * Copies the known keys of `source` into a plain object; an unknown own key, or a read that
 * throws (a getter, a Proxy), gives an error naming the field.
 */
function readPlain(source: object, known: readonly string[], prefix: string): Record<string, unknown> | string {
  let keys: string[];
  try {
    keys = Object.keys(source);
  } catch (error) {
    return `${prefix || 'options'}: listing its keys threw (${messageOf(error)})`;
  }
  for (const key of keys) {
    if (!known.includes(key)) {
      const near = closest(key, known);
      return `${prefix}${key.length > 60 ? `${key.slice(0, 60)}…` : key}: not an option${near !== null ? ` (did you mean \`${prefix}${near}\`?)` : ''}; known are ${known.join(', ')}`;
    }
  }
  const plain: Record<string, unknown> = {};
  for (const key of known) {
    try {
      const value = (source as Record<string, unknown>)[key];
      if (value !== undefined) plain[key] = value;
    } catch (error) {
      return `${prefix}${key}: reading it threw (${messageOf(error)})`;
    }
  }
  return plain;
}

/** The clock must answer now() with a finite number at once; later throws are contained by the manager. */
function checkClock(clock: unknown): string | null {
  if (clock === undefined) return null;
  if (typeof clock !== 'object' || clock === null) return `clock: expected an object with now(): number, got ${describe(clock)}`;
  let now: unknown;
  try {
    now = (clock as Record<string, unknown>).now;
  } catch (error) {
    return `clock.now: reading it threw (${messageOf(error)})`;
  }
  if (typeof now !== 'function') return `clock.now: expected a function returning milliseconds, got ${describe(now)}`;
  let value: unknown;
  try {
    value = (now as () => unknown).call(clock);
  } catch (error) {
    return `clock.now: calling it threw (${messageOf(error)})`;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return `clock.now: expected a finite number of milliseconds, got ${describe(value)}`;
  return null;
}

/** The known key nearest to a misspelled one (edit distance at most 2, or a case-only difference). */
function closest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return 'an unprintable error';
  }
}

function checkConditioner(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null) return `linkConditioner: expected an object, got ${describe(value)}`;
  const c = value as Record<string, unknown>;
  for (const key of ['lossRate', 'duplicateRate', 'reorderRate']) {
    const v = c[key];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1))) return `linkConditioner.${key}: expected a number 0..1, got ${describe(v)}`;
  }
  for (const key of ['latencyMs', 'jitterMs']) {
    const v = c[key];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 10_000))) return `linkConditioner.${key}: expected a number 0..10000, got ${describe(v)}`;
  }
  if (c.seed !== undefined && (typeof c.seed !== 'number' || !Number.isInteger(c.seed))) return `linkConditioner.seed: expected an integer, got ${describe(c.seed)}`;
  return null;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  return String(value);
}
