/**
 * MemorySwitch: an in-process stand-in for the relay, for UNIT TESTS of plugin/net only.
 * Integration tests use the real relay (server/relay) on 127.0.0.1; this never replaces it there.
 *
 * It speaks PROTOCOL.md §3 with the shared codec: REGISTER → REGISTERED with a fresh session,
 * KEEPALIVE → KEEPALIVE_ACK, DATA forwarded to the destination session stamped with the source,
 * LEAVE, REFUSED 6 for unknown sessions (never longer than what it answers). Its sockets
 * (`socketFactory` / `createSocket`) are `DatagramSocket`s, so a NetworkManager or RelayClient runs
 * over it unchanged.
 *
 * Time is virtual: every datagram waits in the switch's queue until the test calls `deliver(now)`
 * or `advance(ms)`, and `clock` reads the switch's time, so a whole manager-to-manager exchange runs
 * in virtual time when the managers get `clock: switch.clock`. Latency, jitter, loss, duplication
 * and reordering of DATA come from a seeded generator: one seed, one run.
 *
 * Differences from the relay, on purpose: no tokens (an open relay), no rate limits and no idle
 * expiry; closing a socket ends the session bound to it. The session rules are the relay's
 * (PROTOCOL.md §3.10; test/helpers/relay-rule-cases.ts runs the same cases against both): a socket
 * stands for a UDP address or a WebSocket connection; a udp:// socket's REGISTER with a new nonce
 * makes a new session that takes the socket while the older one keeps its id unbound until its
 * KEEPALIVE (from any udp:// socket) binds it again; over ws:// a new REGISTER replaces the session. Session ids and secrets come from the
 * seeded generator: fine for tests, never for anything real. Browser-safe: no Node modules.
 *
 * RelayClient keeps its REGISTER retries and KEEPALIVEs on real timers. With the switch answering
 * at the next `deliver`, retries are cancelled at once; KEEPALIVE is what could bite: a client
 * whose keepalive timer ticks several times (real time) with no datagram delivered in between
 * counts the relay as lost and registers again. So REGISTERED carries a long `keepaliveMs` by
 * default (60 s), far beyond any unit test; tests of keepalive set it lower and keep delivering.
 */
import type { Clock, LinkConditioner } from '../types';
import {
  DATA_HEADER_BYTES,
  MAX_RELAY_DATAGRAM_BYTES,
  MIN_UDP_REGISTER_BYTES,
  RELAY_ID_BYTES,
  RELAY_PROTOCOL_VERSION,
  RefusalReason,
  RelayType,
  SESSION_PROOF_BYTES,
  SESSION_SECRET_BYTES,
  decodeRelayDatagram,
  encodeKeepaliveAck,
  encodeRefused,
  encodeRegistered,
  sessionIdFromBytes,
  sessionIdToBytes,
} from '../wire/relay-codec';
import { parseRelayUrl, type DatagramSocket } from './datagram-socket';
import { mulberry32 } from './prng';

/** Impairment of the DATA a socket sends; control datagrams (REGISTER, KEEPALIVE, LEAVE) get the latency only. */
export type MemoryLinkProfile = Omit<LinkConditioner, 'seed'>;

export interface MemorySwitchOptions {
  /** Seeds session ids, secrets and impairment (default 1). */
  seed?: number;
  /** Default profile of every socket's outgoing datagrams (default: none, delivered at once). */
  link?: MemoryLinkProfile;
  /** keepaliveMs in REGISTERED (default 60,000; see the module comment). */
  keepaliveMs?: number;
  /** Sessions at most; REGISTER past it gets REFUSED 4 (default 1,024). */
  maxSessions?: number;
  /** Datagrams waiting in the queue at most; past it new ones are dropped and counted `queueFull` (default 65,536). */
  maxQueuedDatagrams?: number;
  /** Virtual time to start at, in ms (default 0). */
  startTimeMs?: number;
}

export const MEMORY_SWITCH_DROP_REASONS = [
  /** Undecodable, or a relay→client type sent by a client. */
  'malformed',
  /** Longer than 1,500 bytes. */
  'oversize',
  /** A REGISTER shorter than 256 bytes from a udp:// socket. */
  'tooShortRegister',
  /** DATA from a socket with no session. */
  'unknownSource',
  /** DATA to a session id the switch does not have. */
  'unknownDestination',
  /** KEEPALIVE or LEAVE naming a session the switch does not have. */
  'unknownSession',
  /** KEEPALIVE or LEAVE with a wrong secret, or for a ws:// session from another socket, or for a udp:// session from a ws:// socket. */
  'spoofed',
  /** DATA to a udp:// session whose socket a newer session took (it has not sent KEEPALIVE since). */
  'destinationUnbound',
  /** REGISTER of another protocol version. */
  'badVersion',
  /** REGISTER while at maxSessions. */
  'relayFull',
  /** The queue was full. */
  'queueFull',
  /** For a socket that had closed by the time it arrived. */
  'socketClosed',
] as const;
export type MemorySwitchDropReason = (typeof MEMORY_SWITCH_DROP_REASONS)[number];

export interface MemorySwitchStats {
  sessions: number;
  sockets: number;
  /** Datagrams waiting in the queue. */
  queued: number;
  datagramsIn: number;
  datagramsOut: number;
  forwarded: number;
  registrations: number;
  refusalsSent: number;
  /** Injected by the test (injectDelivery, injectRaw). */
  injected: number;
  lost: number;
  duplicated: number;
  reordered: number;
  drops: Record<MemorySwitchDropReason, number>;
}

/** What the tap sees: a datagram a client sent (`in`) or the switch sent (`out`), as a copy. */
export interface MemorySwitchTapEvent {
  direction: 'in' | 'out';
  /** The session of the socket it came from (`in`) or goes to (`out`); null when it has none. */
  sessionId: bigint | null;
  bytes: Uint8Array;
}

const DEFAULT_KEEPALIVE_MS = 60_000;
const DEFAULT_MAX_SESSIONS = 1024;
const DEFAULT_MAX_QUEUED = 65_536;
/** One deliver() handles at most this many events, so a zero-latency ping-pong cannot spin forever. */
const MAX_EVENTS_PER_DELIVER = 2_000_000;
/** A reordered datagram waits this much longer (plus latency and jitter), so later ones overtake it. */
const REORDER_EXTRA_MS = 10;
const HOST = 'memory-switch.invalid';
const MAX_U64 = 0xffff_ffff_ffff_ffffn;

/** The socket side the switch talks to. */
interface SocketPort {
  readonly padRegister: boolean;
  profile(): MemoryLinkProfile | null;
  isClosed(): boolean;
  setProfile(profile: MemoryLinkProfile | null): void;
  fireOpen(): void;
  fireMessage(bytes: Uint8Array): void;
  fireClose(reason: string): void;
}

interface SwitchSession {
  readonly id: bigint;
  readonly idBytes: Uint8Array;
  readonly secret: Uint8Array;
  readonly nonce: bigint;
  /** udp:// sessions may lose and regain their socket; ws:// ones keep theirs. */
  readonly udp: boolean;
  /** The socket it is bound to; null once a newer session took it (udp:// only). */
  socket: SocketPort | null;
  readonly registered: Uint8Array;
}

enum EventKind {
  Open,
  ToSwitch,
  ToClient,
  Close,
}

interface QueuedEvent {
  at: number;
  order: number;
  kind: EventKind;
  socket: SocketPort;
  bytes: Uint8Array | null;
}

/** A DatagramSocket whose datagrams go through a MemorySwitch. */
export class MemorySocket implements DatagramSocket {
  onOpen: (() => void) | null = null;
  onMessage: ((datagram: Uint8Array) => void) | null = null;
  onClose: ((reason: string) => void) | null = null;
  private linkProfile: MemoryLinkProfile | null = null;
  private closed = false;
  /** @internal the switch's view of this socket. */
  readonly port: SocketPort;

  /** @internal made by MemorySwitch.createSocket. */
  constructor(
    readonly url: string,
    padRegister: boolean,
    private readonly toSwitch: (socket: SocketPort, datagram: Uint8Array) => void,
    private readonly closedBySelf: (socket: SocketPort) => void,
  ) {
    this.port = {
      padRegister,
      profile: () => this.linkProfile,
      isClosed: () => this.closed,
      setProfile: (profile) => {
        this.profile = profile;
      },
      fireOpen: () => {
        if (!this.closed) this.onOpen?.();
      },
      fireMessage: (bytes) => {
        if (!this.closed) this.onMessage?.(bytes);
      },
      fireClose: (reason) => {
        if (this.closed) return;
        this.closed = true;
        this.onClose?.(reason);
      },
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The profile of what this socket sends; null follows the switch's default. */
  get profile(): MemoryLinkProfile | null {
    return this.linkProfile;
  }

  /** Overrides the switch's default profile for what this socket sends (null: back to the default). Throws a RangeError naming a bad field. */
  set profile(profile: MemoryLinkProfile | null) {
    this.linkProfile = profile === null ? null : checkProfile(profile);
  }

  send(datagram: Uint8Array): void {
    if (this.closed || !(datagram instanceof Uint8Array)) return;
    // The caller may not reuse it, but a copy makes the queue independent of every caller
    // (new Uint8Array, not slice(): a Node Buffer's slice() is a view).
    this.toSwitch(this.port, new Uint8Array(datagram));
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.closedBySelf(this.port);
    }
    return Promise.resolve();
  }
}

export class MemorySwitch {
  readonly udpUrl = `udp://${HOST}:1`;
  readonly wsUrl = `ws://${HOST}:1`;
  /** Reads the switch's virtual time; give it to the managers as their `clock`. */
  readonly clock: Clock;
  /** Makes sockets for a NetworkManager's or RelayClient's `socketFactory` option. */
  readonly socketFactory: (url: string) => DatagramSocket;
  /** Sees every datagram in and out (copies); for captures and checks. */
  tap: ((event: MemorySwitchTapEvent) => void) | null = null;

  private time: number;
  private relayId: Uint8Array;
  private readonly impairRandom: () => number;
  private readonly idRandom: () => number;
  private readonly keepaliveMs: number;
  private readonly maxSessions: number;
  private readonly maxQueued: number;
  private link: MemoryLinkProfile;
  private readonly sessions = new Map<bigint, SwitchSession>();
  private readonly sessionBySocket = new Map<SocketPort, SwitchSession>();
  private readonly sockets = new Set<SocketPort>();
  private readonly queue = new EventHeap();
  private order = 0;
  private disposed = false;
  private readonly counters: Omit<MemorySwitchStats, 'sessions' | 'sockets' | 'queued' | 'drops'> = {
    datagramsIn: 0,
    datagramsOut: 0,
    forwarded: 0,
    registrations: 0,
    refusalsSent: 0,
    injected: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
  };
  private readonly drops: Record<MemorySwitchDropReason, number>;

  constructor(options: MemorySwitchOptions = {}) {
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed)) throw new RangeError(`MemorySwitch: seed must be an integer, got ${String(seed)}`);
    this.impairRandom = mulberry32(seed);
    this.idRandom = mulberry32(seed ^ 0x5eed_1d5);
    this.keepaliveMs = checkInteger(options.keepaliveMs, DEFAULT_KEEPALIVE_MS, 1, 0xffff, 'keepaliveMs');
    this.maxSessions = checkInteger(options.maxSessions, DEFAULT_MAX_SESSIONS, 1, 1_000_000, 'maxSessions');
    this.maxQueued = checkInteger(options.maxQueuedDatagrams, DEFAULT_MAX_QUEUED, 1, 10_000_000, 'maxQueuedDatagrams');
    this.link = checkProfile(options.link ?? {});
    const start = options.startTimeMs ?? 0;
    if (typeof start !== 'number' || !Number.isFinite(start)) throw new RangeError(`MemorySwitch: startTimeMs must be a finite number, got ${String(start)}`);
    this.time = start;
    this.relayId = this.randomBytes(RELAY_ID_BYTES);
    this.clock = { now: () => this.time };
    this.socketFactory = (url) => this.createSocket(url);
    this.drops = {} as Record<MemorySwitchDropReason, number>;
    for (const reason of MEMORY_SWITCH_DROP_REASONS) this.drops[reason] = 0;
  }

  /** Virtual time now (ms). */
  get now(): number {
    return this.time;
  }

  /** The endpoint URLs REGISTERED hands out (and so routes carry). */
  get endpoints(): string[] {
    return [this.udpUrl, this.wsUrl];
  }

  /**
   * A socket through the switch. A udp:// URL makes a UDP-like socket (REGISTER must be padded to
   * 256 bytes); ws:// or wss:// a WebSocket-like one. It opens at the next deliver().
   */
  createSocket(url: string = this.udpUrl): MemorySocket {
    const scheme = parseRelayUrl(url).scheme;
    const socket = new MemorySocket(url, scheme === 'udp', this.fromClient, this.socketClosed);
    if (this.disposed) {
      void socket.close();
      return socket;
    }
    this.sockets.add(socket.port);
    this.schedule(this.time, EventKind.Open, socket.port, null);
    return socket;
  }

  /** Moves virtual time to `nowMs` (never back) and delivers every datagram due by then. Returns how many events ran. */
  deliver(nowMs: number = this.time): number {
    if (typeof nowMs === 'number' && Number.isFinite(nowMs) && nowMs > this.time) this.time = nowMs;
    let ran = 0;
    while (ran < MAX_EVENTS_PER_DELIVER) {
      const next = this.queue.peek();
      if (next === undefined || next.at > this.time) break;
      this.queue.pop();
      ran++;
      this.run(next);
    }
    return ran;
  }

  /** deliver(now + ms). */
  advance(ms: number): number {
    return this.deliver(this.time + (Number.isFinite(ms) && ms > 0 ? ms : 0));
  }

  /** Replaces the default profile of every socket's outgoing datagrams (sockets with their own keep it). */
  setLink(profile: MemoryLinkProfile): void {
    this.link = checkProfile(profile);
  }

  /** Sets the profile of the socket holding `sessionId` (null: back to the default). False when there is no such session. */
  setSessionLink(sessionId: bigint, profile: MemoryLinkProfile | null): boolean {
    const session = this.sessions.get(sessionId);
    if (session === undefined || session.socket === null) return false;
    session.socket.setProfile(profile);
    return true;
  }

  /** When the next queued datagram is due, or null when the queue is empty. */
  nextDueAt(): number | null {
    return this.queue.peek()?.at ?? null;
  }

  stats(): MemorySwitchStats {
    return {
      ...this.counters,
      sessions: this.sessions.size,
      sockets: this.sockets.size,
      queued: this.queue.size,
      drops: { ...this.drops },
    };
  }

  /** Live session ids, oldest first. */
  sessionIds(): bigint[] {
    return [...this.sessions.keys()];
  }

  /** The session a socket holds now, or null. */
  sessionOf(socket: MemorySocket): bigint | null {
    return this.sessionBySocket.get(socket.port)?.id ?? null;
  }

  /**
   * Pretends the relay forwarded `payload` from session `source` to session `destination`
   * (a relay DATA 0x83), `delayMs` from now. The source need not exist: this is how a test plays a
   * hostile or forged peer. False when `destination` is not a live session.
   */
  injectDelivery(destination: bigint, source: bigint, payload: Uint8Array, delayMs = 0): boolean {
    if (typeof source !== 'bigint' || source < 0n || source > MAX_U64 || !(payload instanceof Uint8Array)) return false;
    const bytes = new Uint8Array(DATA_HEADER_BYTES + payload.length);
    bytes[0] = RelayType.Delivery;
    bytes.set(sessionIdToBytes(source), 1);
    bytes.set(payload, DATA_HEADER_BYTES);
    return this.injectRaw(destination, bytes, delayMs);
  }

  /** Hands arbitrary bytes to the socket of session `destination`, as if the relay sent them. False when there is no such session. */
  injectRaw(destination: bigint, bytes: Uint8Array, delayMs = 0): boolean {
    const session = typeof destination === 'bigint' ? this.sessions.get(destination) : undefined;
    if (session === undefined || session.socket === null || !(bytes instanceof Uint8Array)) return false;
    this.counters.injected++;
    return this.schedule(this.time + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0), EventKind.ToClient, session.socket, new Uint8Array(bytes));
  }

  /** Forgets a session (as a relay that expired it): its owner learns from REFUSED 6 and registers again. */
  dropSession(sessionId: bigint): boolean {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return false;
    this.endSession(session);
    return true;
  }

  /** Closes the socket holding `sessionId` from the switch's side (a dropped WebSocket): its onClose fires at the next deliver(). */
  disconnect(sessionId: bigint): boolean {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return false;
    const socket = session.socket;
    this.endSession(session);
    if (socket !== null) this.schedule(this.time, EventKind.Close, socket, null);
    return true;
  }

  /** A relay restart: a new relay id and no sessions; sockets stay open (as over UDP). */
  restart(): void {
    for (const session of [...this.sessions.values()]) this.endSession(session);
    this.relayId = this.randomBytes(RELAY_ID_BYTES);
  }

  /** Drops everything queued, closes every socket (without onClose) and refuses new ones. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.queue.clear();
    this.sessions.clear();
    this.sessionBySocket.clear();
    this.sockets.clear();
  }

  // --- from clients -----------------------------------------------------------------------------

  private readonly fromClient = (socket: SocketPort, datagram: Uint8Array): void => {
    if (this.disposed) return;
    const profile = socket.profile() ?? this.link;
    const latency = profile.latencyMs ?? 0;
    const jitter = profile.jitterMs ?? 0;
    if (datagram[0] !== RelayType.Data) {
      // Control datagrams bypass the impairment, as with the link conditioner.
      this.schedule(this.time + latency, EventKind.ToSwitch, socket, datagram);
      return;
    }
    // Every DATA draws the same count of numbers, so one seed gives one outcome.
    const lossDraw = this.impairRandom();
    const duplicateDraw = this.impairRandom();
    const reorderDraw = this.impairRandom();
    const jitterDraw = this.impairRandom();
    const duplicateJitterDraw = this.impairRandom();
    if (lossDraw < (profile.lossRate ?? 0)) {
      this.counters.lost++;
      return;
    }
    let delay = latency + jitter * jitterDraw;
    if (reorderDraw < (profile.reorderRate ?? 0)) {
      this.counters.reordered++;
      delay += latency + jitter + REORDER_EXTRA_MS;
    }
    const duplicate = duplicateDraw < (profile.duplicateRate ?? 0);
    this.schedule(this.time + delay, EventKind.ToSwitch, socket, datagram);
    if (duplicate) {
      this.counters.duplicated++;
      // Its own copy: forwarding rewrites the header in place.
      this.schedule(this.time + latency + jitter * duplicateJitterDraw, EventKind.ToSwitch, socket, new Uint8Array(datagram));
    }
  };

  private readonly socketClosed = (socket: SocketPort): void => {
    this.sockets.delete(socket);
    const session = this.sessionBySocket.get(socket);
    if (session !== undefined) this.endSession(session);
  };

  private run(event: QueuedEvent): void {
    switch (event.kind) {
      case EventKind.Open:
        event.socket.fireOpen();
        return;
      case EventKind.Close:
        this.sockets.delete(event.socket);
        event.socket.fireClose('closed by the memory switch');
        return;
      case EventKind.ToClient:
        if (event.socket.isClosed()) {
          this.drops.socketClosed++;
          return;
        }
        this.counters.datagramsOut++;
        if (this.tap !== null) this.tap({ direction: 'out', sessionId: this.sessionBySocket.get(event.socket)?.id ?? null, bytes: new Uint8Array(event.bytes as Uint8Array) });
        event.socket.fireMessage(event.bytes as Uint8Array);
        return;
      case EventKind.ToSwitch:
        this.receive(event.socket, event.bytes as Uint8Array);
        return;
    }
  }

  private receive(socket: SocketPort, datagram: Uint8Array): void {
    this.counters.datagramsIn++;
    if (this.tap !== null) this.tap({ direction: 'in', sessionId: this.sessionBySocket.get(socket)?.id ?? null, bytes: new Uint8Array(datagram) });
    if (datagram.length > MAX_RELAY_DATAGRAM_BYTES) {
      this.drops.oversize++;
      return;
    }
    switch (datagram.length > 0 ? datagram[0] : -1) {
      case RelayType.Data:
        this.forward(socket, datagram);
        return;
      case RelayType.Register:
        this.register(socket, datagram);
        return;
      case RelayType.Keepalive:
      case RelayType.Leave:
        this.sessionProof(socket, datagram);
        return;
      default:
        this.drops.malformed++;
    }
  }

  private forward(socket: SocketPort, datagram: Uint8Array): void {
    if (datagram.length <= DATA_HEADER_BYTES) {
      this.drops.malformed++;
      return;
    }
    const source = this.sessionBySocket.get(socket);
    if (source === undefined) {
      this.drops.unknownSource++;
      this.refuse(socket, 0n, RefusalReason.UnknownSession, 'no session for this socket; register again', datagram.length);
      return;
    }
    const destination = this.sessions.get(sessionIdFromBytes(datagram, 1));
    if (destination === undefined) {
      this.drops.unknownDestination++;
      return;
    }
    if (destination.socket === null) {
      this.drops.destinationUnbound++;
      return;
    }
    // As the relay does: the same bytes, type 0x83 and the authenticated source in place of the destination.
    datagram[0] = RelayType.Delivery;
    datagram.set(source.idBytes, 1);
    this.counters.forwarded++;
    this.send(destination.socket, datagram);
  }

  private register(socket: SocketPort, datagram: Uint8Array): void {
    if (socket.padRegister && datagram.length < MIN_UDP_REGISTER_BYTES) {
      this.drops.tooShortRegister++;
      return;
    }
    const decoded = decodeRelayDatagram(datagram);
    if (!decoded.ok || decoded.value.kind !== 'register') {
      this.drops.malformed++;
      const reference = datagram.length >= 10 ? sessionIdFromBytes(datagram, 2) : 0n;
      this.refuse(socket, reference, RefusalReason.Malformed, decoded.ok ? 'not a REGISTER' : decoded.error, datagram.length);
      return;
    }
    const nonce = sessionIdFromBytes(decoded.value.nonce);
    if (decoded.value.version !== RELAY_PROTOCOL_VERSION) {
      this.drops.badVersion++;
      this.refuse(socket, nonce, RefusalReason.UnsupportedVersion, `this switch speaks protocol version ${RELAY_PROTOCOL_VERSION}`, datagram.length);
      return;
    }
    const existing = this.sessionBySocket.get(socket);
    if (existing !== undefined && existing.nonce === nonce) {
      // A retry whose answer was lost: the same session, the same answer.
      this.answer(socket, existing.registered, datagram.length);
      return;
    }
    // Over UDP the older session keeps its id without an address (a spoofed REGISTER must not end
    // someone's session); over a WebSocket the connection's session is replaced.
    if (existing !== undefined && !socket.padRegister) this.endSession(existing);
    if (this.sessions.size >= this.maxSessions) {
      this.drops.relayFull++;
      this.refuse(socket, nonce, RefusalReason.RelayFull, 'memory switch full', datagram.length);
      return;
    }
    const id = this.allocateSessionId();
    const secret = this.randomBytes(SESSION_SECRET_BYTES);
    const registered = encodeRegistered({ nonce: decoded.value.nonce, relayId: this.relayId, sessionId: id, secret, keepaliveMs: this.keepaliveMs, endpoints: this.endpoints });
    const session: SwitchSession = { id, idBytes: sessionIdToBytes(id), secret, nonce, udp: socket.padRegister, socket: null, registered };
    this.sessions.set(id, session);
    this.bind(session, socket);
    this.counters.registrations++;
    this.answer(socket, registered, datagram.length);
  }

  private sessionProof(socket: SocketPort, datagram: Uint8Array): void {
    if (datagram.length !== SESSION_PROOF_BYTES) {
      this.drops.malformed++;
      return;
    }
    const sessionId = sessionIdFromBytes(datagram, 1);
    const session = this.sessions.get(sessionId);
    if (session === undefined) {
      this.drops.unknownSession++;
      this.refuse(socket, sessionId, RefusalReason.UnknownSession, 'unknown session; register again', datagram.length);
      return;
    }
    let same = 0;
    for (let i = 0; i < SESSION_SECRET_BYTES; i++) same |= datagram[1 + 8 + i] ^ session.secret[i];
    const transportMatches = session.udp ? socket.padRegister : session.socket === socket;
    if (same !== 0 || !transportMatches) {
      this.drops.spoofed++;
      return;
    }
    if (datagram[0] === RelayType.Leave) {
      this.endSession(session);
      return;
    }
    // The secret proves ownership: a udp:// session follows its KEEPALIVE (NAT rebinding, or back
    // from a newer session that took its socket).
    if (session.socket !== socket) this.bind(session, socket);
    this.answer(socket, encodeKeepaliveAck(session.id), datagram.length);
  }

  // --- to clients -------------------------------------------------------------------------------

  /** Control answers are never longer than what they answer (the relay's amplification rule). */
  private answer(socket: SocketPort, bytes: Uint8Array, requestLength: number): void {
    if (socket.padRegister && bytes.length > requestLength) return;
    this.send(socket, new Uint8Array(bytes));
  }

  private refuse(socket: SocketPort, reference: bigint, reason: RefusalReason, detail: string, requestLength: number): void {
    const bytes = encodeRefused(reference, reason, detail, requestLength);
    if (bytes === null) return;
    this.counters.refusalsSent++;
    this.send(socket, bytes);
  }

  private send(socket: SocketPort, bytes: Uint8Array): void {
    this.schedule(this.time, EventKind.ToClient, socket, bytes);
  }

  private schedule(at: number, kind: EventKind, socket: SocketPort, bytes: Uint8Array | null): boolean {
    if (this.disposed) return false;
    if (this.queue.size >= this.maxQueued) {
      this.drops.queueFull++;
      return false;
    }
    this.queue.push({ at, order: this.order++, kind, socket, bytes });
    return true;
  }

  // --- sessions ---------------------------------------------------------------------------------

  private endSession(session: SwitchSession): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.unbind(session);
  }

  /** Binds a session to a socket; a session bound there before loses its binding (as the relay's address table). */
  private bind(session: SwitchSession, socket: SocketPort): void {
    this.unbind(session);
    const previous = this.sessionBySocket.get(socket);
    if (previous !== undefined && previous !== session) previous.socket = null;
    this.sessionBySocket.set(socket, session);
    session.socket = socket;
  }

  private unbind(session: SwitchSession): void {
    const socket = session.socket;
    if (socket === null) return;
    if (this.sessionBySocket.get(socket) === session) this.sessionBySocket.delete(socket);
    session.socket = null;
  }

  private allocateSessionId(): bigint {
    // Bounded: with at most 1,000,000 sessions among 2^64 ids, a collision is astronomically rare.
    for (let attempt = 0; attempt < 64; attempt++) {
      const id = (BigInt(Math.floor(this.idRandom() * 2 ** 32)) << 32n) | BigInt(Math.floor(this.idRandom() * 2 ** 32));
      if (id !== 0n && !this.sessions.has(id)) return id;
    }
    throw new Error('MemorySwitch: no free session id after 64 draws');
  }

  private randomBytes(count: number): Uint8Array {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = Math.floor(this.idRandom() * 256);
    return out;
  }
}

/** A binary min-heap on (at, order): ties leave in the order they were queued. */
class EventHeap {
  private readonly items: QueuedEvent[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): QueuedEvent | undefined {
    return this.items[0];
  }

  clear(): void {
    this.items.length = 0;
  }

  push(event: QueuedEvent): void {
    const items = this.items;
    items.push(event);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): QueuedEvent | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && before(items[left], items[smallest])) smallest = left;
        if (right < items.length && before(items[right], items[smallest])) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: QueuedEvent, b: QueuedEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

function checkInteger(value: number | undefined, fallback: number, min: number, max: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new RangeError(`MemorySwitch: ${what} must be an integer in ${min}..${max}, got ${String(value)}`);
  return value;
}

function checkProfile(profile: MemoryLinkProfile): MemoryLinkProfile {
  if (profile === null || typeof profile !== 'object') throw new RangeError('MemorySwitch: a link profile must be an object');
  for (const key of ['lossRate', 'duplicateRate', 'reorderRate'] as const) {
    const v = profile[key];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1))) throw new RangeError(`MemorySwitch: link ${key} must be a number in 0..1, got ${String(v)}`);
  }
  for (const key of ['latencyMs', 'jitterMs'] as const) {
    const v = profile[key];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 60_000))) throw new RangeError(`MemorySwitch: link ${key} must be a number in 0..60000, got ${String(v)}`);
  }
  return { ...profile };
}
