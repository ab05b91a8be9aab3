import type { Identity } from './identity';
import { isTransportPreference, type DatagramSocket, type TransportPreference } from './transport/datagram-socket';
import type { Clock, LinkConditioner, Logger } from './types';

/** Options of a NetworkManager (docs/API.md); the fields below `linkConditioner` are additions. */
export interface NetworkManagerOptions {
  /** 'udp://host:port' (Node) or 'ws://host:port' / 'wss://…' (browser and Node). */
  relay: string;
  /** Relay access token, required when the relay has a secret. */
  token?: string;
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

/**
 * Checks options and fills in defaults. Returns an error naming the field and what was expected;
 * the constructor turns it into a thrown TypeError, since a manager cannot exist without them.
 */
export function resolveManagerOptions(options: unknown): { ok: true; limits: ResolvedManagerLimits } | { ok: false; error: string } {
  if (typeof options !== 'object' || options === null) return { ok: false, error: 'options: expected an object with at least `relay`' };
  const o = options as Record<string, unknown>;
  if (typeof o.relay !== 'string' || !/^(udp|ws|wss):\/\/[^/\s]+/.test(o.relay)) {
    return { ok: false, error: `relay: expected 'udp://host:port', 'ws://host:port' or 'wss://…', got ${describe(o.relay)}` };
  }
  if (o.token !== undefined && (typeof o.token !== 'string' || o.token.length > 1024)) {
    return { ok: false, error: `token: expected a string of at most 1024 characters, got ${describe(o.token)}` };
  }
  if (o.transport !== undefined && !isTransportPreference(o.transport)) {
    return { ok: false, error: `transport: expected 'auto', 'webrtc' or 'websocket', got ${describe(o.transport)}` };
  }
  if (o.transport === 'webrtc' && o.relay.startsWith('udp:')) {
    return { ok: false, error: `transport: 'webrtc' needs a ws:// or wss:// relay, got ${describe(o.relay)}` };
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
  return { ok: true, limits };
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
  return String(value);
}
