/**
 * The client end of the relay link: registers a session (PROTOCOL.md §3), keeps it alive, sends
 * and receives relay DATA, and when the relay is lost (restart, network) reconnects with backoff
 * and registers again — a new session, announced through onRegistered.
 */
import { consoleLogger, type LinkConditioner, type Logger } from '../types';
import {
  DATA_HEADER_BYTES,
  MAX_RELAY_DATAGRAM_BYTES,
  MAX_TOKEN_BYTES,
  MIN_UDP_REGISTER_BYTES,
  NONCE_BYTES,
  RefusalReason,
  RelayType,
  decodeRelayDatagram,
  encodeData,
  encodeKeepalive,
  encodeLeave,
  encodeRegister,
  isFinalRefusal,
  sessionIdFromBytes,
  sessionIdHighAt,
  sessionIdLowAt,
  type RefusedDatagram,
  type RegisteredDatagram,
} from '../wire/relay-codec';
import { ConditionedSocket, validateLinkConditioner } from './conditioned-socket';
import { isTransportPreference, parseRelayUrl, type DatagramSocket, type LinkKind, type RelayUrl, type TransportPreference } from './datagram-socket';
import { isNode } from './node-require';
import { mulberry32 } from './prng';
import { createDatagramSocket } from './socket-factory';
import { rtcPeerConnectionConstructor } from './webrtc-socket';

/** Most datagrams a batch holds; past it they go out at once. */
const MAX_BATCH_DATAGRAMS = 1024;

export interface RelayRegistration {
  relayId: Uint8Array;
  sessionId: bigint;
  endpoints: string[];
}

/**
 * Where REGISTER's token comes from: a fixed string, or a function asked again before every
 * REGISTER (the first and each one after a lost session), so a short-lived token can be renewed.
 */
export type RelayTokenSource = string | (() => string | undefined | Promise<string | undefined>);

/** Where a RelayClient's REGISTER retries, reconnects and KEEPALIVEs are timed: the host's timers by default, a MemorySwitch's virtual ones in unit tests. */
export interface RelayTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const hostTimers: RelayTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface RelayClientOptions {
  url: string;
  token?: RelayTokenSource;
  logger?: Logger;
  /** Impairs outgoing DATA only; REGISTER, KEEPALIVE and LEAVE bypass it so a lossy run does not also churn relay sessions. */
  conditioner?: LinkConditioner;
  /** First wait before retrying a registration or a reconnect (default 100 ms); doubles per failure. */
  reconnectInitialDelayMs?: number;
  /** Longest wait between attempts (default 5000 ms). */
  reconnectMaxDelayMs?: number;
  /** Makes the link for a URL (default createDatagramSocket with `transport`). */
  socketFactory?: (url: string) => DatagramSocket;
  /** Link for ws:// and wss:// relays (default 'auto'): see TransportPreference. */
  transport?: TransportPreference;
  /** WebRTC link: from the start of an attempt to an open data channel, at most (default 5000 ms). */
  rtcConnectTimeoutMs?: number;
  /** Timers for retries, reconnects and keepalives (default the host's setTimeout). */
  timers?: RelayTimers;
}

/**
 * What a developer and a game see of the relay link: 'connecting' until the first registration
 * (and again after a session is lost), 'registered', 'unreachable' once several attempts in a row
 * failed (it keeps retrying with backoff), 'refused' when the relay refused the token for good.
 */
export type RelayLinkState = 'connecting' | 'registered' | 'unreachable' | 'refused';

export interface RelayClientStats {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  /** Sessions registered so far (1 + re-registrations). */
  registrations: number;
  /** Received datagrams that were malformed or did not belong to the current session/attempt. */
  dropped: number;
  /** Links opened and REGISTERs sent since the last registration or start that got no session. */
  failedAttempts: number;
  /** The waits scheduled before retries, oldest first (last 16): the backoff, for tests and bug reports. */
  retryDelaysMs: number[];
}

type State = 'idle' | 'connecting' | 'registering' | 'registered' | 'waiting' | 'refused' | 'disposed';

/**
 * Keepalive ticks in a row with nothing at all from the relay after which it counts as lost (UDP
 * has no close). Counted in ticks, not wall time, so an event-loop stall (a long frame, a busy
 * machine) costs one silent tick, not a session: after a stall the timer runs before the socket's
 * queued answers are read.
 */
const LOST_AFTER_SILENT_KEEPALIVES = 4;
const MIN_KEEPALIVE_MS = 10;
/** Failed attempts in a row (a link that would not open, a REGISTER with no answer) that make the relay 'unreachable'. */
export const UNREACHABLE_AFTER_FAILED_ATTEMPTS = 3;
const RETRY_DELAY_HISTORY = 16;
const REFUSAL_NAMES: Record<number, string> = {
  [RefusalReason.TokenMissing]: 'token missing',
  [RefusalReason.TokenInvalid]: 'token invalid',
  [RefusalReason.TokenExpired]: 'token expired',
  [RefusalReason.RelayFull]: 'relay full',
  [RefusalReason.RateLimited]: 'rate limited',
  [RefusalReason.UnknownSession]: 'unknown session',
  [RefusalReason.UnsupportedVersion]: 'unsupported protocol version',
  [RefusalReason.Malformed]: 'malformed',
};

export function refusalReasonName(reason: number): string {
  return REFUSAL_NAMES[reason] ?? `reason ${reason}`;
}

function randomBytes(count: number): Uint8Array {
  const bytes = new Uint8Array(count);
  globalThis.crypto.getRandomValues(bytes);
  return bytes;
}

function tokenProblem(token: string): string | null {
  return new TextEncoder().encode(token).length > MAX_TOKEN_BYTES ? `relay token is longer than ${MAX_TOKEN_BYTES} bytes` : null;
}

function checkDelay(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 600_000) throw new Error(`${what} must be a number of milliseconds in 0..600000, got ${String(value)}`);
  return value;
}

export class RelayClient {
  onRegistered: ((registration: RelayRegistration) => void) | null = null;
  onUnregistered: (() => void) | null = null;
  onRefused: ((reason: number, detail: string, final: boolean) => void) | null = null;
  /**
   * Relay DATA from session `sourceHigh`·2^32 + `sourceLow` (the id as two u32, so no BigInt is
   * made per datagram). `payload` is a view of the socket's datagram, which the receiver owns.
   */
  onData: ((sourceHigh: number, sourceLow: number, payload: Uint8Array) => void) | null = null;
  /** The public state changed; `reason` names the cause for 'unreachable' and 'refused'. */
  onStateChange: ((state: RelayLinkState, reason: string | null) => void) | null = null;

  private readonly relay: RelayUrl;
  private readonly tokenSource: RelayTokenSource;
  /** The token of the current attempt (REGISTER retries within one attempt resend it). */
  private token = '';
  private readonly logger: Logger;
  private readonly conditioner: LinkConditioner | null;
  private readonly conditionerRandom: (() => number) | null;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly socketFactory: (url: string) => DatagramSocket;
  private readonly transport: TransportPreference;

  private state: State = 'idle';
  private socket: DatagramSocket | null = null;
  /** The link itself, under the conditioner when there is one (it knows which link carries DATA). */
  private rawSocket: DatagramSocket | null = null;
  private conditioned: ConditionedSocket | null = null;
  /** Datagrams held by an open batch (one array, reused: a flush allocates nothing for it). */
  private readonly batch: Uint8Array[] = [];
  private batching = false;
  /** Bumped whenever the socket is replaced, so callbacks of an old socket are ignored. */
  private generation = 0;
  private currentRegistration: RelayRegistration | null = null;
  private currentRefusal: { reason: number; detail: string } | null = null;
  private sessionSecret: Uint8Array | null = null;
  private keepaliveMs = 1000;
  private nonce: Uint8Array = new Uint8Array(NONCE_BYTES);
  private nonceValue = 0n;
  private backoffMs: number;
  private silentKeepalives = 0;
  private receivedAtLastKeepalive = 0;
  /** The relay answered a KEEPALIVE of this session: the link was healthy. */
  private sessionConfirmed = false;
  private readonly timers: RelayTimers;
  private retryTimer: unknown = null;
  private keepaliveTimer: unknown = null;
  private disposing: Promise<void> | null = null;
  private loggedNonFinalRefusal = false;
  private publicState: RelayLinkState = 'connecting';
  /** The latest cause a link gave (its close reason, a socket error), for the 'unreachable' log line. */
  private lastCause: string | null = null;
  private readonly counters: RelayClientStats = { datagramsSent: 0, bytesSent: 0, datagramsReceived: 0, bytesReceived: 0, registrations: 0, dropped: 0, failedAttempts: 0, retryDelaysMs: [] };

  constructor(options: RelayClientOptions) {
    if (options === null || typeof options !== 'object') throw new Error('RelayClient needs options with a relay url');
    this.relay = parseRelayUrl(options.url);
    const token = options.token ?? '';
    if (typeof token === 'string') {
      const problem = tokenProblem(token);
      if (problem !== null) throw new Error(problem);
      this.token = token;
    } else if (typeof token !== 'function') {
      throw new Error('relay token must be a string or a function returning one');
    }
    this.tokenSource = token;
    this.logger = options.logger ?? consoleLogger;
    if (options.conditioner !== undefined) {
      const problem = validateLinkConditioner(options.conditioner);
      if (problem !== null) throw new Error(problem);
    }
    this.conditioner = options.conditioner ?? null;
    // One generator for the client's whole life, so a seed gives one sequence across reconnects.
    this.conditionerRandom = this.conditioner !== null ? mulberry32(this.conditioner.seed ?? 1) : null;
    this.initialDelayMs = checkDelay(options.reconnectInitialDelayMs, 100, 'reconnectInitialDelayMs');
    this.timers = checkTimers(options.timers);
    this.maxDelayMs = Math.max(this.initialDelayMs, checkDelay(options.reconnectMaxDelayMs, 5000, 'reconnectMaxDelayMs'));
    this.backoffMs = this.initialDelayMs;
    if (options.socketFactory === undefined && this.relay.scheme === 'udp' && !isNode()) {
      throw new Error(`relay url "${options.url}": udp:// needs Node; in a browser use ws:// or wss://`);
    }
    const transport = options.transport ?? 'auto';
    if (!isTransportPreference(transport)) throw new Error(`transport must be 'auto', 'webrtc' or 'websocket', got ${String(transport)}`);
    this.transport = transport;
    if (transport === 'webrtc' && this.relay.scheme === 'udp') throw new Error(`relay url "${options.url}": transport "webrtc" needs a ws:// or wss:// relay url`);
    if (transport === 'webrtc' && options.socketFactory === undefined && rtcPeerConnectionConstructor() === null) {
      throw new Error('transport "webrtc" needs RTCPeerConnection, which this runtime does not have (use "auto" to fall back to the WebSocket)');
    }
    const rtcConnectTimeoutMs = checkDelay(options.rtcConnectTimeoutMs, 5000, 'rtcConnectTimeoutMs');
    this.socketFactory = options.socketFactory ?? ((url: string) => createDatagramSocket(url, { transport, logger: this.logger, rtcConnectTimeoutMs }));
  }

  /** The transport asked for. */
  get transportPreference(): TransportPreference {
    return this.transport;
  }

  /** The link that carries DATA now: 'udp', 'websocket' or 'webrtc'; null while there is no link. */
  get linkKind(): LinkKind | null {
    const raw = this.rawSocket;
    if (raw === null) return null;
    return raw.linkKind ?? (this.relay.scheme === 'udp' ? 'udp' : 'websocket');
  }

  get registration(): RelayRegistration | null {
    return this.currentRegistration;
  }

  /** 'connecting', 'registered', 'unreachable' or 'refused' (see RelayLinkState). */
  get linkState(): RelayLinkState {
    return this.publicState;
  }

  get refusal(): { reason: number; detail: string } | null {
    return this.currentRefusal;
  }

  /** Opens the link and registers. Calling it again, or after dispose, does nothing. */
  start(): void {
    if (this.state !== 'idle') return;
    this.connect();
  }

  /** Sends `payload` to a relay session. False when not registered or the datagram would be too big. Does not keep `payload`. */
  send(destinationSession: bigint, payload: Uint8Array): boolean {
    if (this.state !== 'registered') return false;
    if (typeof destinationSession !== 'bigint' || destinationSession <= 0n || destinationSession > 0xffffffffffffffffn) return false;
    if (!(payload instanceof Uint8Array) || payload.length === 0 || payload.length + DATA_HEADER_BYTES > MAX_RELAY_DATAGRAM_BYTES) return false;
    const datagram = encodeData(destinationSession, payload);
    this.counters.datagramsSent++;
    this.counters.bytesSent += datagram.length;
    this.transmit(datagram);
    return true;
  }

  /**
   * Sends relay DATA built in place: `datagram` holds the payload after DATA_HEADER_BYTES of room,
   * into which the header (type, `destination`'s 8 id bytes) is written; the datagram then goes to
   * the link as it is (the caller must not touch it afterwards). Same checks and bytes as send().
   */
  sendInPlace(destination: Uint8Array, datagram: Uint8Array): boolean {
    if (this.state !== 'registered') return false;
    if (!(datagram instanceof Uint8Array) || datagram.length <= DATA_HEADER_BYTES || datagram.length > MAX_RELAY_DATAGRAM_BYTES) return false;
    if (!(destination instanceof Uint8Array) || destination.length !== DATA_HEADER_BYTES - 1) return false;
    datagram[0] = RelayType.Data;
    datagram.set(destination, 1);
    this.counters.datagramsSent++;
    this.counters.bytesSent += datagram.length;
    if (this.batching && this.batch.length < MAX_BATCH_DATAGRAMS) this.batch.push(datagram);
    else this.transmit(datagram);
    return true;
  }

  /**
   * Until endBatch(), datagrams from sendInPlace() are held, then sent back to back. A flush's
   * datagrams are sealed in between its sends otherwise, and each send can find the relay gone
   * back to sleep since the last, paying a wake-up.
   */
  beginBatch(): void {
    this.batching = true;
  }

  endBatch(): void {
    this.batching = false;
    const batch = this.batch;
    for (let i = 0; i < batch.length; i++) this.transmit(batch[i]);
    batch.length = 0;
  }

  private transmit(datagram: Uint8Array): void {
    if (this.conditioned !== null) this.conditioned.send(datagram);
    else this.socket?.send(datagram);
  }

  stats(): RelayClientStats {
    return { ...this.counters, retryDelaysMs: [...this.counters.retryDelaysMs] };
  }

  /** Leaves the relay session, closes the link and clears timers. Idempotent. */
  dispose(): Promise<void> {
    if (this.disposing !== null) return this.disposing;
    if (this.state === 'registered' && this.currentRegistration !== null && this.sessionSecret !== null) {
      this.sendControl(encodeLeave(this.currentRegistration.sessionId, this.sessionSecret));
    }
    this.state = 'disposed';
    this.currentRegistration = null;
    this.sessionSecret = null;
    this.clearTimers();
    this.disposing = this.closeSocket();
    return this.disposing;
  }

  // -------------------------------------------------------------------------------------------

  private connect(): void {
    const generation = ++this.generation;
    this.state = 'connecting';
    let socket: DatagramSocket;
    try {
      socket = this.socketFactory(this.relay.url);
      if (typeof socket !== 'object' || socket === null || typeof socket.send !== 'function' || typeof socket.close !== 'function') {
        throw new Error(`socketFactory returned ${socket === null ? 'null' : typeof socket}, not a DatagramSocket`);
      }
    } catch (error) {
      this.attemptFailed(`cannot open the link: ${(error as Error).message}`);
      this.scheduleReconnect(false);
      return;
    }
    const conditioned = this.conditioner !== null && this.conditionerRandom !== null ? new ConditionedSocket(socket, this.conditioner, this.conditionerRandom) : null;
    const link: DatagramSocket = conditioned ?? socket;
    this.socket = link;
    this.rawSocket = socket;
    this.conditioned = conditioned;
    socket.onError = (reason) => {
      if (generation === this.generation) this.lastCause = reason;
    };
    link.onOpen = () => {
      if (generation !== this.generation) return;
      const register = (): void => {
        this.state = 'registering';
        this.nonce = randomBytes(NONCE_BYTES);
        this.nonceValue = sessionIdFromBytes(this.nonce);
        this.sendRegister();
      };
      if (typeof this.tokenSource === 'string') {
        register();
        return;
      }
      this.fetchToken(this.tokenSource).then((problem) => {
        if (generation !== this.generation || this.state !== 'connecting') return;
        if (problem === null) {
          register();
          return;
        }
        // Like a link that would not open: counted, retried with backoff, the function asked again.
        this.logger.warn(`relay ${this.relay.url}: ${problem}; retrying with backoff`);
        this.attemptFailed(problem);
        this.lost(problem, false);
      });
    };
    link.onMessage = (datagram) => {
      if (generation !== this.generation) return;
      // Called from a socket: a throw here would crash the process, so it costs one datagram.
      try {
        this.receive(datagram);
      } catch {
        this.counters.dropped++;
      }
    };
    link.onClose = (reason) => {
      if (generation !== this.generation) return;
      if (this.state !== 'registered') this.attemptFailed(reason);
      this.lost(reason, false);
    };
  }

  /** Asks the token function for this attempt's token; resolves with what was wrong, or null. */
  private async fetchToken(source: () => string | undefined | Promise<string | undefined>): Promise<string | null> {
    let token: unknown;
    try {
      token = await source();
    } catch (error) {
      return `the relay token function threw: ${error instanceof Error ? error.message : String(error)}`;
    }
    token ??= '';
    if (typeof token !== 'string') return `the relay token function returned ${typeof token}, not a string`;
    const problem = tokenProblem(token);
    if (problem !== null) return `the relay token function returned a bad token: ${problem}`;
    this.token = token;
    return null;
  }

  /** Sends REGISTER and arms its retry; every retry waits twice as long, up to the maximum. */
  private sendRegister(): void {
    // dispose() may run inside a callback this attempt made (a manager moving to its next relay).
    if (this.state === 'disposed') return;
    const padToBytes = this.relay.scheme === 'udp' ? MIN_UDP_REGISTER_BYTES : 0;
    this.sendControl(encodeRegister({ nonce: this.nonce, token: this.token, padToBytes }));
    this.clearRetryTimer();
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      if (this.state !== 'registering') return;
      this.attemptFailed(this.lastCause ?? 'no answer to REGISTER');
      this.backoffMs = Math.min(this.backoffMs * 2, this.maxDelayMs);
      this.sendRegister();
    }, this.backoffMs);
    this.recordDelay(this.backoffMs);
  }

  private receive(datagram: Uint8Array): void {
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += datagram.length;
    // The per-datagram path: relay DATA goes straight to the callback as a view.
    if (datagram[0] === RelayType.Delivery && datagram.length > DATA_HEADER_BYTES && this.state === 'registered') {
      this.onData?.(sessionIdHighAt(datagram, 1), sessionIdLowAt(datagram, 1), datagram.subarray(DATA_HEADER_BYTES));
      return;
    }
    const decoded = decodeRelayDatagram(datagram);
    if (!decoded.ok) {
      this.counters.dropped++;
      return;
    }
    const message = decoded.value;
    switch (message.kind) {
      case 'registered':
        if (this.state === 'registering' && sessionIdFromBytes(message.nonce) === this.nonceValue) this.registered(message);
        else this.counters.dropped++;
        return;
      case 'keepaliveAck':
        if (this.state === 'registered' && message.sessionId === this.currentRegistration?.sessionId) {
          if (!this.sessionConfirmed) {
            this.sessionConfirmed = true;
            this.backoffMs = this.initialDelayMs;
          }
        } else {
          this.counters.dropped++;
        }
        return;
      case 'refused':
        this.refused(message);
        return;
      default:
        this.counters.dropped++;
    }
  }

  private registered(message: RegisteredDatagram): void {
    this.clearRetryTimer();
    const registration: RelayRegistration = {
      relayId: message.relayId.slice(),
      sessionId: message.sessionId,
      endpoints: [...message.endpoints],
    };
    this.currentRegistration = registration;
    this.sessionSecret = message.secret.slice();
    // A relay asking for keepalives more often than every 10 ms is not obeyed to the letter.
    this.keepaliveMs = Math.max(MIN_KEEPALIVE_MS, message.keepaliveMs);
    this.state = 'registered';
    this.sessionConfirmed = false;
    this.loggedNonFinalRefusal = false;
    this.silentKeepalives = 0;
    this.receivedAtLastKeepalive = this.counters.datagramsReceived;
    this.counters.registrations++;
    this.counters.failedAttempts = 0;
    this.lastCause = null;
    if (this.publicState === 'unreachable') this.logger.info(`relay ${this.relay.url}: registered again after being unreachable`);
    this.setPublicState('registered', null);
    this.armKeepalive();
    this.rawSocket?.sessionRegistered?.(registration.sessionId);
    this.onRegistered?.(registration);
  }

  /** One tick every keepaliveMs while registered (a re-armed timeout: injected timers need only setTimeout). */
  private armKeepalive(): void {
    if (this.state !== 'registered') return;
    this.keepaliveTimer = this.timers.setTimeout(() => {
      this.keepaliveTimer = null;
      if (this.state !== 'registered') return;
      this.armKeepalive();
      this.keepalive();
    }, this.keepaliveMs);
  }

  private keepalive(): void {
    if (this.state !== 'registered' || this.currentRegistration === null || this.sessionSecret === null) return;
    // Any datagram from the relay (DATA included) since the last tick shows it is alive.
    const received = this.counters.datagramsReceived;
    this.silentKeepalives = received === this.receivedAtLastKeepalive ? this.silentKeepalives + 1 : 0;
    this.receivedAtLastKeepalive = received;
    if (this.silentKeepalives >= LOST_AFTER_SILENT_KEEPALIVES) {
      this.lost('the relay stopped answering keepalives', false);
      return;
    }
    this.sendControl(encodeKeepalive(this.currentRegistration.sessionId, this.sessionSecret));
  }

  private refused(message: RefusedDatagram): void {
    if (this.state === 'registering' && message.reference === this.nonceValue) {
      // With a token function an expired token is not the end: the next attempt asks for a fresh one.
      const renewable = typeof this.tokenSource === 'function' && message.reason === RefusalReason.TokenExpired;
      const final = isFinalRefusal(message.reason) && !renewable;
      const text = `relay ${this.relay.url} refused registration: ${refusalReasonName(message.reason)}${message.detail ? ` (${message.detail})` : ''}`;
      if (final) {
        this.currentRefusal = { reason: message.reason, detail: message.detail };
        this.state = 'refused';
        this.clearTimers();
        this.generation++;
        void this.closeSocket();
        this.logger.warn(`${text}; not retrying`);
        this.setPublicState('refused', `${refusalReasonName(message.reason)}${message.detail ? ` (${message.detail})` : ''}`);
      } else {
        if (!this.loggedNonFinalRefusal) {
          this.loggedNonFinalRefusal = true;
          this.logger.warn(`${text}; retrying with backoff${renewable ? ' and a fresh token' : ''}`);
        }
        if (renewable) {
          // The REGISTER retry would resend the same token: start a new attempt instead.
          this.attemptFailed(`${refusalReasonName(message.reason)}`);
          this.generation++;
          void this.closeSocket();
          this.scheduleReconnect(false);
        }
      }
      // Non-final: the armed REGISTER retry goes on with backoff.
      this.onRefused?.(message.reason, message.detail, final);
      return;
    }
    const sessionId = this.currentRegistration?.sessionId;
    if (this.state === 'registered' && message.reason === RefusalReason.UnknownSession && (message.reference === sessionId || message.reference === 0n)) {
      this.lost('the relay does not know this session (restarted or expired)', true);
      return;
    }
    this.counters.dropped++;
  }

  /** The relay is gone or forgot us: drop the session and reconnect. */
  private lost(reason: string, registerAtOnce: boolean): void {
    if (this.state === 'disposed' || this.state === 'refused') return;
    const wasRegistered = this.state === 'registered';
    this.currentRegistration = null;
    this.sessionSecret = null;
    this.clearTimers();
    this.generation++;
    void this.closeSocket();
    this.scheduleReconnect(registerAtOnce && this.sessionConfirmed);
    if (wasRegistered) {
      this.logger.info(`relay ${this.relay.url}: session lost (${reason}); registering again`);
      this.setPublicState('connecting', reason);
      this.onUnregistered?.();
    }
  }

  /** At once only after a healthy session, so a relay that keeps forgetting us cannot make us spin. */
  private scheduleReconnect(atOnce: boolean): void {
    // Disposed from a callback of the failure that led here: no timer, no new link.
    if (this.state === 'disposed') return;
    this.state = 'waiting';
    const delay = atOnce ? 0 : this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxDelayMs);
    this.sessionConfirmed = false;
    this.clearRetryTimer();
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      if (this.state === 'waiting') this.connect();
    }, delay);
    this.recordDelay(delay);
  }

  /**
   * One attempt got no session. After a few in a row the relay is 'unreachable': logged once,
   * naming the relay and the cause, while the retries go on with backoff.
   */
  private attemptFailed(cause: string): void {
    this.lastCause = cause;
    this.counters.failedAttempts++;
    if (this.publicState === 'unreachable' || this.publicState === 'refused') return;
    if (this.counters.failedAttempts < UNREACHABLE_AFTER_FAILED_ATTEMPTS) return;
    this.logger.warn(`relay ${this.relay.url} is unreachable: ${cause}; retrying with backoff (at most every ${this.maxDelayMs} ms)`);
    this.setPublicState('unreachable', cause);
  }

  private recordDelay(delayMs: number): void {
    const delays = this.counters.retryDelaysMs;
    delays.push(delayMs);
    if (delays.length > RETRY_DELAY_HISTORY) delays.shift();
  }

  private setPublicState(state: RelayLinkState, reason: string | null): void {
    if (this.publicState === state) return;
    this.publicState = state;
    this.onStateChange?.(state, reason);
  }

  private sendControl(datagram: Uint8Array): void {
    const link = this.socket;
    if (link === null) return;
    this.counters.datagramsSent++;
    this.counters.bytesSent += datagram.length;
    if (this.conditioned !== null) this.conditioned.sendDirect(datagram);
    else link.send(datagram);
  }

  private closeSocket(): Promise<void> {
    const link = this.socket;
    const raw = this.rawSocket;
    this.socket = null;
    this.rawSocket = null;
    this.conditioned = null;
    if (link === null) return Promise.resolve();
    link.onOpen = null;
    link.onMessage = null;
    link.onClose = null;
    if (raw !== null) raw.onError = null;
    return link.close().catch(() => undefined);
  }

  private clearRetryTimer(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearTimers(): void {
    this.clearRetryTimer();
    if (this.keepaliveTimer !== null) this.timers.clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = null;
  }
}

function checkTimers(timers: RelayTimers | undefined): RelayTimers {
  if (timers === undefined) return hostTimers;
  if (timers === null || typeof timers !== 'object' || typeof timers.setTimeout !== 'function' || typeof timers.clearTimeout !== 'function') {
    throw new TypeError('RelayClient: timers must be an object with setTimeout(callback, ms) and clearTimeout(handle)');
  }
  return timers;
}
