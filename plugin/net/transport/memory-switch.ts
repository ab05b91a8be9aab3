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
 * The rules are the relay's own code: the switch is an adapter around the socket-free relay core
 * (plugin/net/relay-core), as server/relay/relay-server.ts is for UDP, WebSocket and WebRTC, and
 * test/helpers/relay-rule-cases.ts runs the same cases through both adapters. Configured, on
 * purpose, as an open relay (no tokens) with no rate limits and no idle expiry; closing a socket
 * ends the session bound to it. Session rules (PROTOCOL.md §3.10): a socket
 * stands for a UDP address or a WebSocket connection; a udp:// socket's REGISTER with a new nonce
 * makes a new session that takes the socket while the older one keeps its id unbound until its
 * KEEPALIVE (from any udp:// socket) binds it again; over ws:// a new REGISTER replaces the session. Session ids and secrets come from the
 * seeded generator: fine for tests, never for anything real. Browser-safe: no Node modules.
 *
 * A RelayClient given `timers: switch.timers` runs its REGISTER retries and KEEPALIVEs in the
 * switch's virtual time. Without it they are on real timers: with the switch answering
 * at the next `deliver`, retries are cancelled at once; KEEPALIVE is what could bite: a client
 * whose keepalive timer ticks several times (real time) with no datagram delivered in between
 * counts the relay as lost and registers again. So REGISTERED carries a long `keepaliveMs` by
 * default (60 s), far beyond any unit test; tests of keepalive set it lower and keep delivering.
 */
import type { Clock, LinkConditioner } from '../types';
import { RelayCore, type CoreConnection, type CoreSession } from '../relay-core/relay-core';
import { DATA_HEADER_BYTES, MAX_RELAY_DATAGRAM_BYTES, RELAY_ID_BYTES, RelayType, sessionIdToBytes } from '../wire/relay-codec';
import { parseRelayUrl, type DatagramSocket } from './datagram-socket';
import type { RelayTimers } from './relay-client';
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

/** A ws:// socket is a connection to the core; a udp:// one is an address ('memory', its number). */
interface SwitchConnection extends CoreConnection<SwitchSession> {
  readonly socket: SocketPort;
}

type SwitchSession = CoreSession<SwitchConnection>;

/** How the core knows a socket. */
type SocketEnd = { udpPort: number; connection: null } | { udpPort: 0; connection: SwitchConnection };

const UDP_IP = 'memory';

enum EventKind {
  Timer,
  Open,
  ToSwitch,
  ToClient,
  Close,
}

interface QueuedEvent {
  at: number;
  order: number;
  kind: EventKind;
  socket: SocketPort | null;
  bytes: Uint8Array | null;
  /** Timer events: what to run, unless cleared. */
  timer: { callback: (() => void) | null } | null;
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
  /**
   * Timers on the switch's virtual time, for a RelayClient's `timers` option: a callback runs in the
   * deliver() that reaches its time, in order with the datagrams. Not bounded by maxQueuedDatagrams
   * (a client holds at most two); cleared timers stay queued as no-ops until their time.
   */
  readonly timers: RelayTimers = {
    setTimeout: (callback, ms) => {
      const timer = { callback };
      if (!this.disposed) this.queue.push({ at: this.time + Math.max(0, Number.isFinite(ms) ? ms : 0), order: this.order++, kind: EventKind.Timer, socket: null, bytes: null, timer });
      return timer;
    },
    clearTimeout: (handle) => {
      if (handle !== null && typeof handle === 'object' && 'callback' in handle) (handle as { callback: (() => void) | null }).callback = null;
    },
  };

  private time: number;
  private readonly impairRandom: () => number;
  private readonly idRandom: () => number;
  private readonly maxQueued: number;
  private link: MemoryLinkProfile;
  private readonly core: RelayCore<SwitchConnection, SwitchSession>;
  /** Open sockets and how the core knows them. */
  private readonly sockets = new Map<SocketPort, SocketEnd>();
  /** udp:// sockets by their port number in the core's address table. */
  private readonly udpSockets = new Map<number, SocketPort>();
  private nextUdpPort = 1;
  private readonly queue = new EventHeap();
  private order = 0;
  private disposed = false;
  private readonly counters = { datagramsOut: 0, injected: 0, lost: 0, duplicated: 0, reordered: 0 };
  private readonly ownDrops = { queueFull: 0, socketClosed: 0 };

  constructor(options: MemorySwitchOptions = {}) {
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed)) throw new RangeError(`MemorySwitch: seed must be an integer, got ${String(seed)}`);
    this.impairRandom = mulberry32(seed);
    this.idRandom = mulberry32(seed ^ 0x5eed_1d5);
    const keepaliveMs = checkInteger(options.keepaliveMs, DEFAULT_KEEPALIVE_MS, 1, 0xffff, 'keepaliveMs');
    const maxSessions = checkInteger(options.maxSessions, DEFAULT_MAX_SESSIONS, 1, 1_000_000, 'maxSessions');
    this.maxQueued = checkInteger(options.maxQueuedDatagrams, DEFAULT_MAX_QUEUED, 1, 10_000_000, 'maxQueuedDatagrams');
    this.link = checkProfile(options.link ?? {});
    const start = options.startTimeMs ?? 0;
    if (typeof start !== 'number' || !Number.isFinite(start)) throw new RangeError(`MemorySwitch: startTimeMs must be a finite number, got ${String(start)}`);
    this.time = start;
    this.clock = { now: () => this.time };
    this.socketFactory = (url) => this.createSocket(url);
    this.core = new RelayCore<SwitchConnection, SwitchSession>(
      {
        relayId: this.randomBytes(RELAY_ID_BYTES),
        endpoints: [this.udpUrl, this.wsUrl],
        keepaliveMs,
        maxSessions,
        maxDatagramBytes: MAX_RELAY_DATAGRAM_BYTES,
        sessionIdleMs: Infinity,
        sessionDatagramsPerSecond: Infinity,
        sessionBytesPerSecond: Infinity,
        destinationBytesPerSecond: Infinity,
        registrationsPerIpPerSecond: Infinity,
        registrationBurstPerIp: Infinity,
        maxRateLimitEntries: 1,
        refusalsPerSecond: Infinity,
        verifyToken: null,
        randomFill: (bytes) => {
          for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(this.idRandom() * 256);
        },
      },
      {
        // The core hands its own buffers (a kept REGISTERED, a DATA rewritten in place): the queue takes copies.
        toSession: (session, bytes) => {
          const socket = this.socketOfSession(session);
          if (socket !== null) this.send(socket, new Uint8Array(bytes));
          return true;
        },
        toAddress: (_ip, port, bytes) => {
          const socket = this.udpSockets.get(port);
          if (socket !== undefined) this.send(socket, new Uint8Array(bytes));
        },
        toConnection: (connection, bytes) => this.send(connection.socket, new Uint8Array(bytes)),
      },
      (session) => session,
      start,
    );
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
    const port = socket.port;
    if (port.padRegister) {
      const udpPort = this.nextUdpPort++;
      this.sockets.set(port, { udpPort, connection: null });
      this.udpSockets.set(udpPort, port);
    } else {
      this.sockets.set(port, { udpPort: 0, connection: { ip: UDP_IP, session: null, socket: port } });
    }
    this.schedule(this.time, EventKind.Open, port, null);
    return socket;
  }

  /** Moves virtual time to `nowMs` (never back), running every datagram and timer due by then at its own time. Returns how many events ran. */
  deliver(nowMs: number = this.time): number {
    const target = typeof nowMs === 'number' && Number.isFinite(nowMs) && nowMs > this.time ? nowMs : this.time;
    let ran = 0;
    while (ran < MAX_EVENTS_PER_DELIVER) {
      const next = this.queue.peek();
      if (next === undefined || next.at > target) break;
      this.queue.pop();
      ran++;
      // Each event runs at its own time, so what it sends or arms is timed from then.
      if (next.at > this.time) this.time = next.at;
      this.run(next);
    }
    this.time = target;
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
    const session = this.core.findSession(sessionId);
    const socket = session === undefined ? null : this.socketOfSession(session);
    if (socket === null) return false;
    socket.setProfile(profile);
    return true;
  }

  /** When the next queued datagram is due, or null when the queue is empty. */
  nextDueAt(): number | null {
    return this.queue.peek()?.at ?? null;
  }

  stats(): MemorySwitchStats {
    const core = this.core.counters;
    const drops = {} as Record<MemorySwitchDropReason, number>;
    for (const reason of MEMORY_SWITCH_DROP_REASONS) drops[reason] = reason === 'queueFull' || reason === 'socketClosed' ? this.ownDrops[reason] : core.drops[reason];
    return {
      ...this.counters,
      datagramsIn: core.datagramsIn,
      forwarded: core.forwarded,
      registrations: core.registrations,
      refusalsSent: core.refusalsSent,
      sessions: this.core.sessionCount,
      sockets: this.sockets.size,
      queued: this.queue.size,
      drops,
    };
  }

  /** Live session ids, oldest first. */
  sessionIds(): bigint[] {
    return [...this.core.sessionValues()].map((session) => session.id);
  }

  /** The session a socket holds now, or null. */
  sessionOf(socket: MemorySocket): bigint | null {
    return this.sessionOfSocket(socket.port)?.id ?? null;
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
    const session = typeof destination === 'bigint' && destination >= 0n && destination <= MAX_U64 ? this.core.findSession(destination) : undefined;
    const socket = session === undefined ? null : this.socketOfSession(session);
    if (socket === null || !(bytes instanceof Uint8Array)) return false;
    this.counters.injected++;
    return this.schedule(this.time + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0), EventKind.ToClient, socket, new Uint8Array(bytes));
  }

  /** Forgets a session (as a relay that expired it): its owner learns from REFUSED 6 and registers again. */
  dropSession(sessionId: bigint): boolean {
    const session = this.core.findSession(sessionId);
    if (session === undefined) return false;
    this.core.endSession(session, 'expired');
    return true;
  }

  /** Closes the socket holding `sessionId` from the switch's side (a dropped WebSocket): its onClose fires at the next deliver(). */
  disconnect(sessionId: bigint): boolean {
    const session = this.core.findSession(sessionId);
    if (session === undefined) return false;
    const socket = this.socketOfSession(session);
    this.core.endSession(session, 'closed');
    if (socket !== null) this.schedule(this.time, EventKind.Close, socket, null);
    return true;
  }

  /** A relay restart: a new relay id and no sessions; sockets stay open (as over UDP). */
  restart(): void {
    this.core.restart(this.randomBytes(RELAY_ID_BYTES));
  }

  /** Drops everything queued, closes every socket (without onClose) and refuses new ones. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.queue.clear();
    this.core.forgetAll();
    this.sockets.clear();
    this.udpSockets.clear();
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
    const session = this.sessionOfSocket(socket);
    if (session !== undefined) this.core.endSession(session, 'closed');
    this.forgetSocket(socket);
  };

  private forgetSocket(socket: SocketPort): void {
    const end = this.sockets.get(socket);
    if (end === undefined) return;
    this.sockets.delete(socket);
    if (end.connection === null) this.udpSockets.delete(end.udpPort);
  }

  private run(event: QueuedEvent): void {
    if (event.kind === EventKind.Timer) {
      const callback = event.timer?.callback ?? null;
      if (event.timer !== null) event.timer.callback = null;
      callback?.();
      return;
    }
    const socket = event.socket as SocketPort;
    switch (event.kind) {
      case EventKind.Open:
        socket.fireOpen();
        return;
      case EventKind.Close:
        this.forgetSocket(socket);
        socket.fireClose('closed by the memory switch');
        return;
      case EventKind.ToClient:
        if (socket.isClosed()) {
          this.ownDrops.socketClosed++;
          return;
        }
        this.counters.datagramsOut++;
        if (this.tap !== null) this.tap({ direction: 'out', sessionId: this.sessionOfSocket(socket)?.id ?? null, bytes: new Uint8Array(event.bytes as Uint8Array) });
        socket.fireMessage(event.bytes as Uint8Array);
        return;
      case EventKind.ToSwitch:
        this.receive(socket, event.bytes as Uint8Array);
        return;
    }
  }

  private receive(socket: SocketPort, datagram: Uint8Array): void {
    if (this.tap !== null) this.tap({ direction: 'in', sessionId: this.sessionOfSocket(socket)?.id ?? null, bytes: new Uint8Array(datagram) });
    const end = this.sockets.get(socket);
    if (end === undefined) {
      // Closed while the datagram was on its way: the relay never hears from it.
      this.ownDrops.socketClosed++;
      return;
    }
    const outcome = end.connection === null ? this.core.handleUdp(UDP_IP, end.udpPort, datagram, this.time) : this.core.handleConnection(end.connection, datagram, this.time);
    // The switch has no WebRTC: signalling is just a type it does not take.
    if (outcome === 'rtcSignal') this.core.counters.drops.malformed++;
  }

  private sessionOfSocket(socket: SocketPort): SwitchSession | undefined {
    const end = this.sockets.get(socket);
    if (end === undefined) return undefined;
    if (end.connection !== null) return end.connection.session ?? undefined;
    return this.core.findByAddress(UDP_IP, end.udpPort);
  }

  private socketOfSession(session: SwitchSession): SocketPort | null {
    if (session.connection !== null) return session.connection.socket;
    return session.address === null ? null : (this.udpSockets.get(session.port) ?? null);
  }

  // --- to clients -------------------------------------------------------------------------------

  private send(socket: SocketPort, bytes: Uint8Array): void {
    this.schedule(this.time, EventKind.ToClient, socket, bytes);
  }

  private schedule(at: number, kind: EventKind, socket: SocketPort, bytes: Uint8Array | null): boolean {
    if (this.disposed) return false;
    if (this.queue.size >= this.maxQueued) {
      this.ownDrops.queueFull++;
      return false;
    }
    this.queue.push({ at, order: this.order++, kind, socket, bytes, timer: null });
    return true;
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
