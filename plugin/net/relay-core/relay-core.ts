/**
 * The relay's rules without sockets (PROTOCOL.md §3): registration, rebinding, the token check,
 * rate limits, the per-destination inbound budget, session proofs, idle expiry and the session
 * table with its bounds. The real relay (server/relay/relay-server.ts: UDP, WebSocket, WebRTC) and
 * the in-memory switch of the unit tests (plugin/net/transport/memory-switch.ts) are adapters
 * around this one copy. No Node imports, no timers, no clock, no randomness of its own: `now` comes
 * with every call, randomness and the token verifier are injected, and what to send goes to the
 * adapter's sink synchronously (the quinn-proto pattern: the adapter owns the I/O).
 *
 * Internal to the packages (not in the public entries).
 */
import {
  DATA_HEADER_BYTES,
  MAX_RTC_OFFER_BYTES,
  MIN_UDP_REGISTER_BYTES,
  RELAY_PROTOCOL_VERSION,
  RefusalReason,
  RelayType,
  RtcSignalType,
  SESSION_PROOF_BYTES,
  SESSION_SECRET_BYTES,
  decodeRelayDatagram,
  encodeKeepaliveAck,
  encodeRefused,
  encodeRegistered,
  isRtcSignalType,
  rewriteDataAsDelivery,
  sessionIdFromBytes,
  sessionIdHighAt,
  sessionIdLowAt,
  sessionIdToBytes,
} from '../wire/relay-codec';
import { equalBytes } from '@noble/ciphers/utils.js';
import { InboundBudget } from './inbound-budget';
import { BoundedBucketMap, TokenBucket } from './rate-limit';
import { SessionSecretPool } from './session-secrets';
import { SessionTable, relayNumberOfIdHigh, type CoreConnection, type CoreSession } from './session-table';

export { SessionTable, type CoreConnection, type CoreSession } from './session-table';

/** What the fleet link did with DATA for a session of another relay. */
export type FleetSendOutcome = 'ok' | 'unknownRelay' | 'backpressure';

export const RELAY_DROP_REASONS = [
  /** Undecodable, an unknown or relay→client type, or a text WebSocket message; WebRTC signalling other than over the session's WebSocket; anything but DATA, KEEPALIVE and LEAVE over a data channel. */
  'malformed',
  /** Longer than maxDatagramBytes. */
  'oversize',
  /** A REGISTER over UDP shorter than 256 bytes: dropped without an answer. */
  'tooShortRegister',
  /** DATA from a UDP address (or WebSocket) with no session. */
  'unknownSource',
  /** DATA to a session id the relay does not have. */
  'unknownDestination',
  /** KEEPALIVE or LEAVE naming a session id the relay does not have. */
  'unknownSession',
  /** KEEPALIVE or LEAVE with a wrong secret, or for a session of the other transport. */
  'spoofed',
  /** Over the sender session's datagram or byte rate. */
  'rateLimited',
  /** DATA over the destination's inbound budget, from a source that had used its fair share of it. */
  'inboundLimited',
  /** REGISTER over the per-IP registration rate (refused with reason 5). */
  'registerRateLimited',
  /** REGISTER without a valid, unexpired token (refused with reason 1, 2 or 3). */
  'tokenRefused',
  /** REGISTER while at maxSessions (refused with reason 4). */
  'relayFull',
  /** REGISTER of another protocol version (refused with reason 7). */
  'badVersion',
  /** DATA to a UDP session whose address another session took (it has not sent KEEPALIVE since). */
  'destinationUnbound',
  /** DATA the adapter could not take: a WebSocket whose send buffer is over its bound, the UDP send queue over its bound, a full data channel, the fleet link's send queue. */
  'backpressure',
  /** Fleet relays: DATA to a session id naming another relay number that the fleet directory does not list. */
  'unknownRelay',
] as const;

export type RelayDropReason = (typeof RELAY_DROP_REASONS)[number];

export function emptyDrops(): Record<RelayDropReason, number> {
  const drops = {} as Record<RelayDropReason, number>;
  for (const reason of RELAY_DROP_REASONS) drops[reason] = 0;
  return drops;
}

/** What a verifier says of a REGISTER's token ('' when it carries none). */
export type CoreTokenStatus = 'ok' | 'missing' | 'invalid' | 'expired';

export type SessionEnd = 'left' | 'expired' | 'closed';

/** Where the core's output goes; every call is synchronous, inside a handle… call. */
export interface RelayCoreSink<C, S> {
  /** Forwarded DATA (0x83) to a session; false when the adapter cannot take it now (counted `backpressure`). UDP sessions reaching here have an address. */
  toSession(session: S, bytes: Uint8Array): boolean;
  /** An answer to a UDP address (already checked to be no longer than what it answers). */
  toAddress(ip: string, port: number, bytes: Uint8Array): void;
  /** An answer over a connection. */
  toConnection(connection: C, bytes: Uint8Array): void;
  /** A session began; over a connection, `connection.session` is it already. */
  sessionStarted?(session: S): void;
  /** A session ended (removed from the table; `connection.session` cleared if it was this one). */
  sessionEnded?(session: S, why: SessionEnd): void;
  /**
   * Fleet relays: DATA (0x03, as received) for a session that relay `relayNumber` holds, from the
   * authenticated `source`; the link copies what it needs before returning.
   */
  toFleet?(relayNumber: number, datagram: Uint8Array, source: S): FleetSendOutcome;
}

export interface RelayCoreLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface RelayCoreConfig {
  /** Random per relay process; `restart` replaces it. */
  relayId: Uint8Array;
  /** URLs REGISTERED hands out. */
  endpoints: readonly string[];
  keepaliveMs: number;
  maxSessions: number;
  /** Datagrams longer are dropped (`oversize`); an RTC_OFFER over a connection may be up to MAX_RTC_OFFER_BYTES. */
  maxDatagramBytes: number;
  /** A session silent this long expires at the next handleTimeout; Infinity: never. */
  sessionIdleMs: number;
  /** Per sending session; Infinity: no limit. */
  sessionDatagramsPerSecond: number;
  sessionBytesPerSecond: number;
  /** What all sources together may forward to one session; Infinity: no budget. */
  destinationBytesPerSecond: number;
  /** REGISTERs per IP; Infinity: no limit. */
  registrationsPerIpPerSecond: number;
  registrationBurstPerIp: number;
  /** Per-IP registration buckets kept at most. */
  maxRateLimitEntries: number;
  /** REFUSED answers per second over the whole relay; Infinity: no limit. */
  refusalsPerSecond: number;
  /** Null: an open relay (no token needed). */
  verifyToken: ((token: string) => CoreTokenStatus) | null;
  /** Fills its argument with random bytes (session ids and secrets): crypto-strength in the relay, seeded in tests. */
  randomFill(bytes: Uint8Array): void;
  log?: RelayCoreLog | null;
}

export interface RelayCoreCounters {
  /** Datagrams (UDP datagrams, binary or text connection messages, data channel messages) received, any kind. */
  datagramsIn: number;
  bytesIn: number;
  /** Datagrams sent: forwarded DATA and the relay's own answers. */
  datagramsOut: number;
  bytesOut: number;
  forwarded: number;
  /** Payload bytes forwarded (without the 9-byte relay header). */
  forwardedBytes: number;
  registrations: number;
  left: number;
  expired: number;
  closed: number;
  refusalsSent: number;
  /** DATA handed to the fleet link for a session of another relay (fleet relays). */
  forwardedToFleet: number;
  /** DATA another relay of the fleet passed on, authenticated, to a session here (fleet relays). */
  fromFleet: number;
  /** Refusals not sent because of the refusal rate limit or because they would be longer than what they answer. */
  refusalsSuppressed: number;
  drops: Record<RelayDropReason, number>;
}

/** What became of one datagram: 'ok' (forwarded or answered), 'rtcSignal' (the adapter's to handle), or why it was dropped. */
export type CoreOutcome = 'ok' | 'rtcSignal' | RelayDropReason;

/** Where a datagram came from: a UDP address or a connection. */
export type CoreOrigin<C> = { transport: 'udp'; ip: string; port: number } | { transport: 'ws'; connection: C; isBinary?: boolean };

/** What a datagram costs in a destination's inbound budget beyond its length (headers, per-datagram work). */
export const INBOUND_DATAGRAM_OVERHEAD = 64;
/** Sources with a share of one destination's budget; later ones share one. */
export const MAX_SOURCES_PER_DESTINATION = 64;
/** A source silent this long to a destination loses its share there. */
export const INBOUND_SHARE_IDLE_MS = 1000;

const TOKEN_REFUSALS: Record<Exclude<CoreTokenStatus, 'ok'>, { reason: RefusalReason; detail: string }> = {
  missing: { reason: RefusalReason.TokenMissing, detail: 'this relay needs an access token' },
  invalid: { reason: RefusalReason.TokenInvalid, detail: 'access token invalid' },
  expired: { reason: RefusalReason.TokenExpired, detail: 'access token expired' },
};

function hex(id: bigint): string {
  return id.toString(16).padStart(16, '0');
}

/** Constant time in the secret (noble's equalBytes): no hand-written comparison of secrets. */
function sameBytes(a: Uint8Array, offset: number, b: Uint8Array): boolean {
  if (a.length < offset + b.length) return false;
  return equalBytes(a.subarray(offset, offset + b.length), b);
}

/**
 * One relay's state. C: the adapter's connection type; S: its session type (the core's fields plus
 * whatever `extend` adds, e.g. the relay's WebRTC link), made by `extend` so the hot path sees one shape.
 */
export class RelayCore<C extends CoreConnection<S>, S extends CoreSession<C>> {
  readonly counters: RelayCoreCounters = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    forwarded: 0,
    forwardedBytes: 0,
    registrations: 0,
    left: 0,
    expired: 0,
    closed: 0,
    refusalsSent: 0,
    refusalsSuppressed: 0,
    forwardedToFleet: 0,
    fromFleet: 0,
    drops: emptyDrops(),
  };
  private readonly drops = this.counters.drops;
  private readonly sessions: SessionTable<S>;
  private readonly secrets = new SessionSecretPool(SESSION_SECRET_BYTES);
  private readonly registrationBuckets: BoundedBucketMap | null;
  private readonly refusalBucket: TokenBucket | null;
  private readonly log: RelayCoreLog | null;
  private readonly sessionRateLimited: boolean;
  private readonly datagramsPerMs: number;
  private readonly bytesPerMs: number;
  private readonly datagramBurst: number;
  private readonly byteBurst: number;
  private readonly inboundPerMs: number;
  private readonly inboundBurst: number;
  /** How often handleTimeout has work: a quarter of the idle time, within 10 ms..1 s. */
  readonly sweepEveryMs: number;
  private lastSweepMs: number;
  private relayIdBytes: Uint8Array;
  /** This relay's number in its fleet; null: standalone (DATA to unknown ids is dropped as before). */
  private fleetNumber: number | null = null;

  constructor(
    private readonly config: RelayCoreConfig,
    private readonly sink: RelayCoreSink<C, S>,
    private readonly extend: (session: CoreSession<C>) => S,
    now: number,
  ) {
    this.sessions = new SessionTable<S>(config.randomFill);
    this.relayIdBytes = config.relayId;
    this.log = config.log ?? null;
    this.registrationBuckets = Number.isFinite(config.registrationsPerIpPerSecond)
      ? new BoundedBucketMap(config.registrationsPerIpPerSecond, config.registrationBurstPerIp, config.maxRateLimitEntries)
      : null;
    this.refusalBucket = Number.isFinite(config.refusalsPerSecond) ? new TokenBucket(config.refusalsPerSecond, config.refusalsPerSecond, now) : null;
    this.sessionRateLimited = Number.isFinite(config.sessionDatagramsPerSecond) || Number.isFinite(config.sessionBytesPerSecond);
    this.datagramsPerMs = config.sessionDatagramsPerSecond / 1000;
    this.bytesPerMs = config.sessionBytesPerSecond / 1000;
    this.datagramBurst = Math.max(1, config.sessionDatagramsPerSecond);
    this.byteBurst = Math.max(config.sessionBytesPerSecond, config.maxDatagramBytes);
    this.inboundPerMs = config.destinationBytesPerSecond / 1000;
    // Room for one biggest datagram in each of the shares at least.
    this.inboundBurst = Math.max(config.destinationBytesPerSecond, (config.maxDatagramBytes + INBOUND_DATAGRAM_OVERHEAD) * MAX_SOURCES_PER_DESTINATION);
    this.sweepEveryMs = Math.min(1000, Math.max(10, Math.floor(Number.isFinite(config.sessionIdleMs) ? config.sessionIdleMs / 4 : 1000)));
    this.lastSweepMs = now;
  }

  get relayId(): Uint8Array {
    return this.relayIdBytes;
  }

  /**
   * Joins (a number) or leaves (null) a fleet. New session ids carry the number (0 while a fleet
   * relay has none yet); sessions made before keep theirs, and DATA to them still finds them here
   * first, so a relay that has to take a new number loses no session it has.
   */
  setFleetNumber(relayNumber: number | null): void {
    this.sessions.setRelayNumber(relayNumber);
    this.fleetNumber = relayNumber;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get udpSessionCount(): number {
    return this.sessions.udpCount;
  }

  get wsSessionCount(): number {
    return this.sessions.wsCount;
  }

  /** Live sessions, oldest first. */
  sessionValues(): IterableIterator<S> {
    return this.sessions.values();
  }

  findSession(id: bigint): S | undefined {
    return this.sessions.findById(Number(id >> 32n) >>> 0, Number(id & 0xffff_ffffn) >>> 0);
  }

  findByAddress(ip: string, port: number): S | undefined {
    return this.sessions.findByAddress(ip, port);
  }

  /** Any datagram from a UDP address or over a connection. */
  handleDatagram(origin: CoreOrigin<C>, bytes: Uint8Array, now: number): CoreOutcome {
    return origin.transport === 'udp' ? this.handleUdp(origin.ip, origin.port, bytes, now) : this.handleConnection(origin.connection, bytes, now, origin.isBinary ?? true);
  }

  /** A UDP datagram from ip:port. DATA is rewritten in place and handed on as is. */
  handleUdp(ip: string, port: number, datagram: Uint8Array, now: number): CoreOutcome {
    const length = datagram.length;
    this.counters.datagramsIn++;
    this.counters.bytesIn += length;
    if (length > this.config.maxDatagramBytes) return this.drop('oversize');
    const type = length > 0 ? datagram[0] : -1;
    if (type === RelayType.Data) {
      if (length <= DATA_HEADER_BYTES) return this.drop('malformed');
      const source = this.sessions.findByAddress(ip, port);
      if (source === undefined) {
        this.refuse(null, ip, port, 0n, RefusalReason.UnknownSession, 'no session for this address; register again', length, now);
        return this.drop('unknownSource');
      }
      return this.forward(source, datagram, now);
    }
    return this.control(type, datagram, null, ip, port, now);
  }

  /** A message over a connection (a WebSocket): text messages are malformed; RTC signalling is handed back as 'rtcSignal'. */
  handleConnection(connection: C, datagram: Uint8Array, now: number, isBinary = true): CoreOutcome {
    const length = datagram.length;
    this.counters.datagramsIn++;
    this.counters.bytesIn += length;
    // An SDP offer may be longer than a datagram; it only ever comes over a connection.
    if (length > this.config.maxDatagramBytes && !(isBinary && datagram[0] === RtcSignalType.Offer && length <= MAX_RTC_OFFER_BYTES)) return this.drop('oversize');
    if (!isBinary || length === 0) return this.drop('malformed');
    const type = datagram[0];
    if (type === RelayType.Data) {
      if (length <= DATA_HEADER_BYTES) return this.drop('malformed');
      const source = connection.session;
      if (source === null) {
        this.refuse(connection, connection.ip, 0, 0n, RefusalReason.UnknownSession, 'no session on this connection; register again', length, now);
        return this.drop('unknownSource');
      }
      return this.forward(source, datagram, now);
    }
    if (isRtcSignalType(type)) return 'rtcSignal';
    return this.control(type, datagram, connection, connection.ip, 0, now);
  }

  /** A message over a session's own side channel (its WebRTC data channel): DATA, KEEPALIVE or LEAVE, as if over its connection. */
  handleChannel(session: S, datagram: Uint8Array, now: number): CoreOutcome {
    const length = datagram.length;
    this.counters.datagramsIn++;
    this.counters.bytesIn += length;
    if (length > this.config.maxDatagramBytes) return this.drop('oversize');
    const connection = session.connection;
    const type = length > 0 ? datagram[0] : -1;
    if (connection === null || connection.session !== session) return this.drop('unknownSource');
    if (type === RelayType.Data) {
      if (length <= DATA_HEADER_BYTES) return this.drop('malformed');
      return this.forward(session, datagram, now);
    }
    if (type === RelayType.Keepalive || type === RelayType.Leave) return this.sessionProof(type, datagram, connection, connection.ip, 0, now);
    return this.drop('malformed');
  }

  /** Something the adapter handled for a session (an RTC offer): it counts as hearing from it. */
  touch(session: S, now: number): void {
    session.lastSeenMs = now;
  }

  /** Counts what the adapter sent on its own (RTC answers). */
  countOut(bytes: number): void {
    this.counters.datagramsOut++;
    this.counters.bytesOut += bytes;
  }

  /** When handleTimeout next has work: idle expiry and pruning run every sweepEveryMs. */
  nextTimeout(): number {
    return this.lastSweepMs + this.sweepEveryMs;
  }

  /** Expires idle sessions and forgets idle budgets and full registration buckets. */
  handleTimeout(now: number): void {
    this.lastSweepMs = now;
    const idle = this.config.sessionIdleMs;
    for (const session of this.sessions.values()) {
      if (now - session.lastSeenMs > idle) {
        this.endSession(session, 'expired');
        this.log?.info(`relay: session ${hex(session.id)} expired`);
      } else if (session.inbound !== null && session.inbound.prune(now)) {
        session.inbound = null;
      }
    }
    this.registrationBuckets?.prune(now);
  }

  /** Ends a session (LEAVE, expiry, its connection closing, or the adapter's own reasons); false when it was not live. */
  endSession(session: S, why: SessionEnd): boolean {
    if (!this.sessions.remove(session)) return false;
    this.counters[why]++;
    const connection = session.connection;
    if (connection !== null && connection.session === session) connection.session = null;
    this.sink.sessionEnded?.(session, why);
    // Last: nothing looks the session up any more, so its secret can be zeroed and reused.
    this.secrets.release(session.secretHandle);
    return true;
  }

  /** A relay restart without sockets closing: no sessions, a new relay id (tests). */
  restart(relayId: Uint8Array): void {
    for (const session of [...this.sessions.values()]) this.endSession(session, 'closed');
    this.relayIdBytes = relayId;
  }

  /** Forgets every session without counting or telling the sink (the relay has closed). */
  forgetAll(): void {
    for (const session of [...this.sessions.values()]) {
      this.sessions.remove(session);
      this.secrets.release(session.secretHandle);
    }
  }

  // --- forwarding -------------------------------------------------------------------------------

  private drop(reason: RelayDropReason): RelayDropReason {
    this.drops[reason]++;
    return reason;
  }

  private forward(source: S, datagram: Uint8Array, now: number): CoreOutcome {
    source.lastSeenMs = now;
    if (this.sessionRateLimited) {
      const elapsed = now - source.refilledAtMs;
      if (elapsed > 0) {
        source.datagramTokens = Math.min(this.datagramBurst, source.datagramTokens + elapsed * this.datagramsPerMs);
        source.byteTokens = Math.min(this.byteBurst, source.byteTokens + elapsed * this.bytesPerMs);
        source.refilledAtMs = now;
      }
      if (source.datagramTokens < 1 || source.byteTokens < datagram.length) return this.drop('rateLimited');
      source.datagramTokens -= 1;
      source.byteTokens -= datagram.length;
    }
    const destinationHigh = sessionIdHighAt(datagram);
    const destination = this.sessions.findById(destinationHigh, sessionIdLowAt(datagram));
    if (destination === undefined) return this.forwardToFleet(destinationHigh, source, datagram);
    return this.deliver(destination, source, datagram, now);
  }

  /** DATA for a session another relay of the fleet holds (its number is in the id): over the fleet link. */
  private forwardToFleet(destinationHigh: number, source: S, datagram: Uint8Array): CoreOutcome {
    const relayNumber = relayNumberOfIdHigh(destinationHigh);
    if (this.fleetNumber === null || relayNumber === 0 || relayNumber === this.fleetNumber || this.sink.toFleet === undefined) return this.drop('unknownDestination');
    const sent = this.sink.toFleet(relayNumber, datagram, source);
    if (sent !== 'ok') return this.drop(sent);
    this.counters.forwardedToFleet++;
    return 'ok';
  }

  /**
   * DATA another relay of the fleet authenticated and passed on (PROTOCOL.md §3.13): `delivery` is
   * already the 0x83 datagram stamped with the source session, which lives on that relay. The
   * destination's inbound budget applies as to local sources.
   */
  deliverFromFleet(destinationHigh: number, destinationLow: number, sourceLow: number, delivery: Uint8Array, now: number): CoreOutcome {
    this.counters.fromFleet++;
    const destination = this.sessions.findById(destinationHigh, destinationLow);
    if (destination === undefined) return this.drop('unknownDestination');
    return this.deliverStamped(destination, sourceLow, delivery, now);
  }

  /** A local source's DATA: the destination's inbound budget, then stamped with the source (same length in and out) and handed to the adapter. */
  private deliver(destination: S, source: S, datagram: Uint8Array, now: number): CoreOutcome {
    const refused = this.admit(destination, source.idLow, datagram.length, now);
    if (refused !== null) return refused;
    rewriteDataAsDelivery(datagram, source.idHigh, source.idLow);
    return this.handOver(destination, datagram);
  }

  /** A delivery another relay of the fleet stamped already. */
  private deliverStamped(destination: S, sourceLow: number, delivery: Uint8Array, now: number): CoreOutcome {
    const refused = this.admit(destination, sourceLow, delivery.length, now);
    return refused !== null ? refused : this.handOver(destination, delivery);
  }

  private admit(destination: S, sourceLow: number, length: number, now: number): RelayDropReason | null {
    if (this.inboundPerMs !== Infinity) {
      let inbound = destination.inbound;
      if (inbound === null) {
        inbound = new InboundBudget(this.inboundPerMs, this.inboundBurst, MAX_SOURCES_PER_DESTINATION, INBOUND_SHARE_IDLE_MS, now);
        destination.inbound = inbound;
      }
      if (!inbound.take(sourceLow, length + INBOUND_DATAGRAM_OVERHEAD, now)) return this.drop('inboundLimited');
    }
    if (destination.connection === null && destination.address === null) return this.drop('destinationUnbound');
    return null;
  }

  private handOver(destination: S, datagram: Uint8Array): CoreOutcome {
    if (!this.sink.toSession(destination, datagram)) return this.drop('backpressure');
    this.counters.datagramsOut++;
    this.counters.bytesOut += datagram.length;
    this.counters.forwarded++;
    this.counters.forwardedBytes += datagram.length - DATA_HEADER_BYTES;
    return 'ok';
  }

  // --- control datagrams ------------------------------------------------------------------------

  private control(type: number, datagram: Uint8Array, connection: C | null, ip: string, port: number, now: number): CoreOutcome {
    switch (type) {
      case RelayType.Register:
        if (connection === null && datagram.length < MIN_UDP_REGISTER_BYTES) return this.drop('tooShortRegister');
        return this.register(datagram, connection, ip, port, now);
      case RelayType.Keepalive:
      case RelayType.Leave:
        return this.sessionProof(type, datagram, connection, ip, port, now);
      default:
        // Relay→client types and unknown types: never answered.
        return this.drop('malformed');
    }
  }

  private register(datagram: Uint8Array, connection: C | null, ip: string, port: number, now: number): CoreOutcome {
    const length = datagram.length;
    const decoded = decodeRelayDatagram(datagram);
    if (!decoded.ok || decoded.value.kind !== 'register') {
      const reference = length >= 10 ? sessionIdFromBytes(datagram, 2) : 0n;
      this.drops.malformed++;
      this.refuse(connection, ip, port, reference, RefusalReason.Malformed, decoded.ok ? 'not a REGISTER' : decoded.error, length, now);
      return 'malformed';
    }
    const message = decoded.value;
    const nonce = sessionIdFromBytes(message.nonce);
    if (message.version !== RELAY_PROTOCOL_VERSION) {
      this.drops.badVersion++;
      this.refuse(connection, ip, port, nonce, RefusalReason.UnsupportedVersion, `this relay speaks protocol version ${RELAY_PROTOCOL_VERSION}, not ${message.version}`, length, now);
      return 'badVersion';
    }
    const existing = connection !== null ? connection.session : this.sessions.findByAddress(ip, port);
    if (existing != null && existing.nonce === nonce) {
      // A retry whose answer was lost: the same session, the same answer.
      existing.lastSeenMs = now;
      this.answer(connection, ip, port, this.registeredAnswer(existing), length);
      return 'ok';
    }
    if (this.registrationBuckets !== null && !this.registrationBuckets.take(ip, now)) {
      this.drops.registerRateLimited++;
      this.refuse(connection, ip, port, nonce, RefusalReason.RateLimited, 'too many registrations from this address; retry later', length, now);
      return 'registerRateLimited';
    }
    if (this.config.verifyToken !== null) {
      const status = this.config.verifyToken(message.token);
      if (status !== 'ok') {
        this.drops.tokenRefused++;
        const refusal = TOKEN_REFUSALS[status];
        this.refuse(connection, ip, port, nonce, refusal.reason, refusal.detail, length, now);
        return 'tokenRefused';
      }
    }
    // A connection has one session: registering again replaces it. Over UDP the older session
    // keeps its id without an address (a spoofed REGISTER must not end someone's session).
    if (connection !== null && existing != null) this.endSession(existing, 'left');
    if (this.sessions.size >= this.config.maxSessions) {
      this.drops.relayFull++;
      this.refuse(connection, ip, port, nonce, RefusalReason.RelayFull, 'relay full; retry later', length, now);
      return 'relayFull';
    }
    const session = this.createSession(nonce, connection, ip, port, now);
    this.counters.registrations++;
    this.answer(connection, ip, port, this.registeredAnswer(session), length);
    const where = connection === null ? `udp ${ip}:${port}` : `ws ${ip}`;
    this.log?.info(`relay: session ${hex(session.id)} registered over ${where} (${this.sessions.size} session(s))`);
    return 'ok';
  }

  private createSession(nonce: bigint, connection: C | null, ip: string, port: number, now: number): S {
    const id = this.sessions.allocateId();
    const secretHandle = this.secrets.take();
    this.config.randomFill(this.secrets.view(secretHandle));
    const session = this.extend({
      id: id.id,
      idHigh: id.high,
      idLow: id.low,
      secretHandle,
      nonce,
      transport: connection === null ? 'udp' : 'ws',
      ip,
      address: connection === null ? ip : null,
      port,
      connection,
      lastSeenMs: now,
      datagramTokens: this.datagramBurst,
      byteTokens: this.byteBurst,
      refilledAtMs: now,
      inbound: null,
    });
    this.sessions.add(session);
    if (connection !== null) connection.session = session;
    this.sink.sessionStarted?.(session);
    return session;
  }

  /**
   * The REGISTERED answer of a session, encoded when it is sent (at registration and for a retried
   * REGISTER): every field is the session's or the relay's, so it is the same bytes each time and
   * no session keeps ~150 bytes of it.
   */
  private registeredAnswer(session: S): Uint8Array {
    return encodeRegistered({
      nonce: sessionIdToBytes(session.nonce),
      relayId: this.relayIdBytes,
      sessionId: session.id,
      secret: this.secrets.view(session.secretHandle),
      keepaliveMs: this.config.keepaliveMs,
      endpoints: [...this.config.endpoints],
    });
  }

  /** KEEPALIVE and LEAVE: both prove ownership with the session secret. */
  private sessionProof(type: number, datagram: Uint8Array, connection: C | null, ip: string, port: number, now: number): CoreOutcome {
    if (datagram.length !== SESSION_PROOF_BYTES) return this.drop('malformed');
    const session = this.sessions.findById(sessionIdHighAt(datagram), sessionIdLowAt(datagram));
    if (session === undefined) {
      this.refuse(connection, ip, port, sessionIdFromBytes(datagram, 1), RefusalReason.UnknownSession, 'unknown session; register again', datagram.length, now);
      return this.drop('unknownSession');
    }
    const secretMatches = sameBytes(datagram, 1 + 8, this.secrets.view(session.secretHandle));
    const transportMatches = connection !== null ? connection.session === session : session.transport === 'udp';
    if (!secretMatches || !transportMatches) return this.drop('spoofed');
    if (type === RelayType.Leave) {
      this.endSession(session, 'left');
      return 'ok';
    }
    session.lastSeenMs = now;
    if (connection === null && (session.address !== ip || session.port !== port)) {
      // NAT rebinding: the secret proves ownership, so the session follows the new address.
      this.sessions.bind(session, ip, port);
      this.log?.info(`relay: session ${hex(session.id)} moved to udp ${ip}:${port}`);
    }
    this.answer(connection, ip, port, encodeKeepaliveAck(session.id), datagram.length);
    return 'ok';
  }

  /** Answers the origin of a control datagram; over UDP never with more bytes than it sent. */
  private answer(connection: C | null, ip: string, port: number, bytes: Uint8Array, requestLength: number): void {
    if (connection !== null) {
      this.sink.toConnection(connection, bytes);
    } else {
      if (bytes.length > requestLength) return;
      this.sink.toAddress(ip, port, bytes);
    }
    this.counters.datagramsOut++;
    this.counters.bytesOut += bytes.length;
  }

  private refuse(connection: C | null, ip: string, port: number, reference: bigint, reason: RefusalReason, detail: string, requestLength: number, now: number): void {
    const allowed = this.refusalBucket === null || this.refusalBucket.take(now);
    const bytes = allowed ? encodeRefused(reference, reason, detail, requestLength) : null;
    const from = connection === null ? `udp ${ip}:${port}` : `ws ${ip}`;
    this.log?.warn(`relay: refused ${from}: reason ${reason} (${detail})`);
    if (bytes === null) {
      this.counters.refusalsSuppressed++;
      return;
    }
    this.answer(connection, ip, port, bytes, requestLength);
    this.counters.refusalsSent++;
  }
}
