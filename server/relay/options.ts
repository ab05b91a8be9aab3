/** startRelay's options, their defaults and their validation. */
import { isIP } from 'net';
import { consoleLogger, type Logger } from '../../plugin/net/types';
import { MAX_RELAY_DATAGRAM_BYTES } from '../../plugin/net/wire/relay-codec';
import { relaySecretProblem } from './token';

export interface RelayOptions {
  /** Address to bind (default '127.0.0.1'). */
  host?: string;
  /** UDP and WebSocket (TCP) on this one number; 0 picks a free one (default 7777). */
  port?: number;
  /** When set, REGISTER needs a token from createRelayToken(secret, …). At least 32 random bytes as hex or base64url (generateRelaySecret()). */
  secret?: string;
  /** Host written into the endpoint URLs the relay hands out (default: host). Set it when binding 0.0.0.0. */
  publicHost?: string;
  /** Sessions at most; REGISTER past it is refused with reason 4 (default 10000). */
  maxSessions?: number;
  /** A session with no datagram for this long ends (default 10000). */
  sessionIdleMs?: number;
  /** A WebSocket that has not registered this long after opening (or after its LEAVE) is closed with code 4001 (default 2000). */
  registerTimeoutMs?: number;
  /** WebSocket connections without a session, all addresses together; past it the oldest of them is closed (default 1024). They never take session capacity. */
  maxPendingConnections?: number;
  /** WebSocket connections without a session from one IP address; past it that address's oldest one is closed (default 64). */
  maxPendingConnectionsPerIp?: number;
  /** WebSocket connections from one IP address, with or without a session; past it a new one is refused (close code 1013) unless one of that address's unregistered ones can give way (default 1024). */
  maxConnectionsPerIp?: number;
  /** Interval the relay tells clients to send KEEPALIVE at (default 1000, at most 65535). */
  keepaliveMs?: number;
  /** Registrations per second per IP address, refilled continuously (default 20). */
  registrationsPerIpPerSecond?: number;
  /** Registrations one IP address may make at once (default 50). */
  registrationBurstPerIp?: number;
  /** Datagrams per second one session may send (default 20000; the burst is one second's worth). */
  sessionDatagramsPerSecond?: number;
  /** Bytes per second one session may send (default 20000000; the burst is one second's worth). */
  sessionBytesPerSecond?: number;
  /**
   * What all sources together may forward to one session per second, counting each datagram as its
   * length plus 64 bytes (default 4000000, one second of burst). Shared fairly among the sources:
   * past it, DATA from a source over its share is dropped (`inboundLimited`).
   */
  destinationBytesPerSecond?: number;
  /** Longest datagram accepted (default and at most 1500). */
  maxDatagramBytes?: number;
  /** Per-IP rate-limit entries kept at most (default 10000). */
  maxRateLimitEntries?: number;
  /** Bytes waiting to go out on one WebSocket past which DATA to it is dropped (default 1 MiB). */
  maxWebSocketBufferedBytes?: number;
  /** REFUSED answers per second, all addresses together (default 200). */
  refusalsPerSecond?: number;
  /** Registration/refusal log lines per second at most (default 10). */
  logLinesPerSecond?: number;
  logger?: Logger;
  /** Accept WebRTC data channels from WebSocket sessions (default true; needs node-datachannel, else the relay says so and serves UDP and WebSocket). */
  webrtc?: boolean;
  /** PeerConnections alive at once, all sessions together (default 1000). */
  maxRtcLinks?: number;
  /** Offers being answered or connecting at once (default 32); more get "busy". */
  maxPendingRtcOffers?: number;
  /** Offers one session may make in its life (default 4). */
  maxRtcOffersPerSession?: number;
  /** A data channel not open this long after its offer is closed (default 10000 ms). */
  rtcConnectTimeoutMs?: number;
  /** Bytes waiting on one data channel past which DATA to it is dropped (default 256 KiB). */
  maxRtcBufferedBytes?: number;
  /** Module that provides WebRTC (default 'node-datachannel'); tests name a missing one to see a relay without it. */
  webrtcModule?: string;
  /** Relays sharing a Redis and a secret form a fleet: the relay registers itself in the fleet directory (docs/SCALING.md). The secret passes the same strength check as `secret`. */
  fleet?: {
    redisUrl: string;
    secret: string;
    /** UDP port of the relay-to-relay link, on `host` (default 0: a free one; it is advertised in the directory). Fix it when a firewall sits between relays. */
    linkPort?: number;
  };
}

/** Defaults a test or a caller may want to name. */
export const RELAY_DEFAULTS = {
  registerTimeoutMs: 2000,
  maxPendingConnections: 1024,
  maxPendingConnectionsPerIp: 64,
  maxConnectionsPerIp: 1024,
} as const;

export type ResolvedRelayOptions = Required<Omit<RelayOptions, 'secret' | 'logger' | 'fleet'>> & { secret: string | null; logger: Logger };

function moduleId(value: string | undefined): string {
  if (value === undefined) return 'node-datachannel';
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) throw new RangeError(`relay option webrtcModule must be a module name, got ${String(value)}`);
  return value;
}

function flag(value: boolean | undefined, fallback: boolean, what: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new RangeError(`relay option ${what} must be true or false, got ${String(value)}`);
  return value;
}

function positiveInteger(value: number | undefined, fallback: number, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`relay option ${what} must be an integer in 1..${max}, got ${String(value)}`);
  return value;
}

function positiveNumber(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new RangeError(`relay option ${what} must be a positive number, got ${String(value)}`);
  return value;
}

export function resolveRelayOptions(options: RelayOptions = {}): ResolvedRelayOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('relay options must be an object');
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || isIP(host) === 0) throw new RangeError(`relay option host must be an IP address, got ${String(host)}`);
  const port = options.port ?? 7777;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`relay option port must be an integer in 0..65535, got ${String(port)}`);
  if (options.secret !== undefined) {
    const problem = relaySecretProblem(options.secret);
    if (problem !== null) throw new RangeError(`relay option secret: ${problem}`);
  }
  const publicHost = options.publicHost ?? host;
  if (typeof publicHost !== 'string' || publicHost.length === 0 || /[\s/@?#]/.test(publicHost)) throw new RangeError(`relay option publicHost is not a host: ${String(publicHost)}`);
  const keepaliveMs = positiveInteger(options.keepaliveMs, 1000, 'keepaliveMs', 0xffff);
  return {
    host,
    port,
    secret: options.secret ?? null,
    publicHost,
    maxSessions: positiveInteger(options.maxSessions, 10_000, 'maxSessions', 1_000_000),
    sessionIdleMs: positiveInteger(options.sessionIdleMs, Math.max(10_000, keepaliveMs * 5), 'sessionIdleMs', 3_600_000),
    keepaliveMs,
    registerTimeoutMs: positiveInteger(options.registerTimeoutMs, RELAY_DEFAULTS.registerTimeoutMs, 'registerTimeoutMs', 600_000),
    maxPendingConnections: positiveInteger(options.maxPendingConnections, RELAY_DEFAULTS.maxPendingConnections, 'maxPendingConnections', 1_000_000),
    maxPendingConnectionsPerIp: positiveInteger(options.maxPendingConnectionsPerIp, RELAY_DEFAULTS.maxPendingConnectionsPerIp, 'maxPendingConnectionsPerIp', 1_000_000),
    maxConnectionsPerIp: positiveInteger(options.maxConnectionsPerIp, RELAY_DEFAULTS.maxConnectionsPerIp, 'maxConnectionsPerIp', 1_000_000),
    registrationsPerIpPerSecond: positiveNumber(options.registrationsPerIpPerSecond, 20, 'registrationsPerIpPerSecond'),
    registrationBurstPerIp: positiveInteger(options.registrationBurstPerIp, 50, 'registrationBurstPerIp'),
    sessionDatagramsPerSecond: positiveNumber(options.sessionDatagramsPerSecond, 20_000, 'sessionDatagramsPerSecond'),
    sessionBytesPerSecond: positiveNumber(options.sessionBytesPerSecond, 20_000_000, 'sessionBytesPerSecond'),
    destinationBytesPerSecond: positiveNumber(options.destinationBytesPerSecond, 4_000_000, 'destinationBytesPerSecond'),
    maxDatagramBytes: positiveInteger(options.maxDatagramBytes, MAX_RELAY_DATAGRAM_BYTES, 'maxDatagramBytes', MAX_RELAY_DATAGRAM_BYTES),
    maxRateLimitEntries: positiveInteger(options.maxRateLimitEntries, 10_000, 'maxRateLimitEntries', 10_000_000),
    maxWebSocketBufferedBytes: positiveInteger(options.maxWebSocketBufferedBytes, 1 << 20, 'maxWebSocketBufferedBytes'),
    refusalsPerSecond: positiveNumber(options.refusalsPerSecond, 200, 'refusalsPerSecond'),
    logLinesPerSecond: positiveNumber(options.logLinesPerSecond, 10, 'logLinesPerSecond'),
    logger: options.logger ?? consoleLogger,
    webrtc: flag(options.webrtc, true, 'webrtc'),
    maxRtcLinks: positiveInteger(options.maxRtcLinks, 1000, 'maxRtcLinks', 100_000),
    maxPendingRtcOffers: positiveInteger(options.maxPendingRtcOffers, 32, 'maxPendingRtcOffers', 10_000),
    maxRtcOffersPerSession: positiveInteger(options.maxRtcOffersPerSession, 4, 'maxRtcOffersPerSession', 1000),
    rtcConnectTimeoutMs: positiveInteger(options.rtcConnectTimeoutMs, 10_000, 'rtcConnectTimeoutMs', 600_000),
    maxRtcBufferedBytes: positiveInteger(options.maxRtcBufferedBytes, 256 * 1024, 'maxRtcBufferedBytes'),
    webrtcModule: moduleId(options.webrtcModule),
  };
}
