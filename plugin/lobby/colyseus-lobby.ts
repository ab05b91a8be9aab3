/**
 * LobbyAdapter over colyseus.js 0.16, for the lobby server in server/lobby (browser and Node).
 * Members and metadata come from the room state (decoded by reflection) and are diffed into
 * join/update/leave events; metadata writes are requests the server answers after applying them.
 * A dropped connection is re-established with the room's reconnection token, and requests still
 * waiting are sent again (they set values, so a repeat is harmless). When that room is gone (the
 * lobby server restarted or shut down, the reconnection window passed) the member joins the lobby
 * again with backoff under a new id, republishes its own metadata, and the member list is diffed
 * into leave/join/update events for whatever changed meanwhile.
 */
import { Client, type Room } from 'colyseus.js';
import { Observable, Subject } from 'rxjs';
import { consoleLogger, type Logger } from '../net/types';
import { LobbyError, type LobbyAdapter, type LobbyErrorCode, type LobbyMember } from './lobby-adapter';
import {
  CLOSE_CONSENTED,
  LOBBY_ROOM_TYPE,
  LobbyJoinErrorCode,
  LobbyMessageType,
  MAX_LOBBY_RELAYS,
  MAX_REQUEST_SEQ,
  type LobbyRelays,
  type SetMetadataRequest,
  type WelcomeMessage,
} from './lobby-protocol';
import { MemberView, type MemberSnapshot } from './member-view';
import {
  checkMetadataUpdate,
  defaultLobbyMetadataLimits,
  describeNameRule,
  isPlainRecord,
  isValidName,
  type LobbyMetadataLimits,
} from './metadata-rules';

export interface ColyseusLobbyOptions {
  /** How long joining may take, welcome included (default 10,000 ms). */
  joinTimeoutMs?: number;
  /** How long setMemberMetadata waits for the server's answer (default 10,000 ms). */
  requestTimeoutMs?: number;
  /** Reconnect or rejoin attempts after a dropped connection before giving up (default 12, about 17 s). */
  reconnectAttempts?: number;
  /** Delay before the first reconnect attempt; doubles per attempt up to 2,000 ms (default 100 ms). */
  reconnectDelayMs?: number;
  logger?: Logger;
  /** Any other field is sent to the server as a Colyseus join option. */
  [joinOption: string]: unknown;
}

interface Settings {
  joinTimeoutMs: number;
  requestTimeoutMs: number;
  reconnectAttempts: number;
  reconnectDelayMs: number;
  logger: Logger;
  joinOptions: Record<string, unknown>;
}

interface PendingRequest {
  entries: Record<string, string>;
  resolve: () => void;
  reject: (error: LobbyError) => void;
  timer: ReturnType<typeof setTimeout>;
}

const SETTING_KEYS = new Set(['joinTimeoutMs', 'requestTimeoutMs', 'reconnectAttempts', 'reconnectDelayMs', 'logger']);
const MAX_PENDING_REQUESTS = 32;
const MAX_RECONNECT_DELAY_MS = 2_000;
const LEAVE_TIMEOUT_MS = 3_000;
/** Bounds on what we read from the server's state, whatever it sends. */
const MAX_MEMBERS_READ = 4_096;
const MAX_KEYS_READ = 64;
const MAX_VALUE_READ = 8_192;
const MAX_TOKEN_READ = 4_096;
const MAX_RELAY_URL_READ = 300;

type ConnectionState = 'open' | 'reconnecting' | 'closed';

export class ColyseusLobby implements LobbyAdapter {
  readonly lobbyName: string;
  readonly memberJoin$: Observable<LobbyMember>;
  readonly memberUpdate$: Observable<LobbyMember>;
  readonly memberLeave$: Observable<LobbyMember>;

  private readonly joinSubject = new Subject<LobbyMember>();
  private readonly updateSubject = new Subject<LobbyMember>();
  private readonly leaveSubject = new Subject<LobbyMember>();
  private readonly view: MemberView;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly limits: LobbyMetadataLimits;
  private readonly logger: Logger;
  private room: Room;
  private connection: ConnectionState = 'open';
  private leaving = false;
  private nextSeq = 1;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private currentSelfId: string;
  private currentRelayToken: string | undefined;
  private currentRelays: LobbyRelays | undefined;
  /** Renews the relay token at half its lifetime, so a REGISTER at any time has a valid one. */
  private tokenTimer: ReturnType<typeof setTimeout> | null = null;
  /** The renewal came due while the connection was down: ask as soon as it is back. */
  private tokenRefreshDue = false;
  /** The room is gone for good (server restart, refused reconnect): the next attempts join afresh. */
  private roomGone = false;
  /** Own metadata to republish after a rejoin; until the server has it, the view keeps ours. */
  private republishing: ReadonlyMap<string, string> | null = null;

  /**
   * Joins (or creates) the lobby `lobbyName` on the server at `url` ('ws://host:port'). Rejects
   * with a LobbyError: `full`, `invalid_name`, `invalid_join`, `unreachable` or `timeout`.
   */
  static async join(url: string, lobbyName: string, options: ColyseusLobbyOptions = {}): Promise<ColyseusLobby> {
    if (!isValidName(lobbyName)) throw new LobbyError('invalid_name', `lobby name must be ${describeNameRule()}`);
    const settings = resolveSettings(options);
    let client: Client;
    try {
      client = new Client(url);
    } catch (error) {
      throw new LobbyError('unreachable', `lobby url ${JSON.stringify(url)} is not usable: ${errorMessage(error)}`);
    }
    let room: Room;
    try {
      room = await client.joinOrCreate(LOBBY_ROOM_TYPE, { ...settings.joinOptions, lobbyName });
    } catch (error) {
      throw joinError(error, url);
    }
    const welcome = await waitUntilReady(room, settings.joinTimeoutMs).catch(async (error: unknown) => {
      await leaveQuietly(room);
      throw error;
    });
    return new ColyseusLobby(client, room, lobbyName, welcome, settings);
  }

  private constructor(
    private readonly client: Client,
    room: Room,
    lobbyName: string,
    welcome: WelcomeMessage,
    private readonly settings: Settings,
  ) {
    this.room = room;
    this.lobbyName = lobbyName;
    this.currentSelfId = room.sessionId;
    this.currentRelayToken = welcome.relayToken;
    this.currentRelays = welcome.relays;
    this.limits = welcome.limits;
    this.logger = settings.logger;
    this.view = new MemberView(this.selfId);
    this.memberJoin$ = this.joinSubject.asObservable();
    this.memberUpdate$ = this.updateSubject.asObservable();
    this.memberLeave$ = this.leaveSubject.asObservable();
    // The state already lists everyone present, this member included (waitUntilReady).
    this.view.apply(readMembers(room.state));
    this.attach(room);
    this.scheduleTokenRefresh(welcome.relayTokenTtlSeconds);
  }

  /** This member's id: its Colyseus session id, which changes when it has to join again after a server restart. */
  get selfId(): string {
    return this.currentSelfId;
  }

  /**
   * Handed out on join when the lobby server has a relaySecret. Short-lived (the server's
   * relayTokenTtlSeconds, default 600 s) and renewed at half-life, so pass a function:
   * `token: () => lobby.relayToken` in NetworkManagerOptions, read again at every REGISTER.
   */
  get relayToken(): string | undefined {
    return this.currentRelayToken;
  }

  /**
   * The relay fleet's relays as the lobby server handed them out at join (and again at each rejoin),
   * least-loaded first: `udp` ('udp://host:port', for Node) and `ws` ('ws://host:port', for
   * browsers). Undefined when the server reads no fleet (no fleetSecret); empty lists when it knows
   * no relay (fleet empty, or its Redis unreachable since it started). A copy each time.
   */
  get relays(): LobbyRelays | undefined {
    return this.currentRelays === undefined ? undefined : { udp: this.currentRelays.udp.slice(), ws: this.currentRelays.ws.slice() };
  }

  members(): LobbyMember[] {
    return this.view.list();
  }

  setMemberMetadata(entries: Record<string, string>): Promise<void> {
    if (this.connection === 'closed' || this.leaving) return Promise.reject(new LobbyError('closed', 'the lobby was left or is gone'));
    const verdict = checkMetadataUpdate(this.view.get(this.selfId) ?? new Map(), entries, this.limits);
    if (!verdict.ok) return Promise.reject(new LobbyError('invalid_metadata', verdict.error));
    if (this.pending.size >= MAX_PENDING_REQUESTS) {
      return Promise.reject(new LobbyError('busy', `${MAX_PENDING_REQUESTS} metadata updates are already waiting for the lobby server`));
    }
    const seq = this.nextSeq;
    this.nextSeq = seq >= MAX_REQUEST_SEQ ? 1 : seq + 1;
    const request: Record<string, string> = Object.fromEntries(verdict.entries);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new LobbyError('timeout', `the lobby server did not answer a metadata update within ${this.settings.requestTimeoutMs} ms`));
      }, this.settings.requestTimeoutMs);
      this.pending.set(seq, { entries: request, resolve, reject, timer });
      if (this.connection === 'open') this.sendRequest(seq, request);
    });
  }

  async leave(): Promise<void> {
    if (this.connection === 'closed' || this.leaving) return;
    this.leaving = true;
    if (this.connection === 'open') await leaveQuietly(this.room);
    this.finish('left');
  }

  private attach(room: Room): void {
    room.onError.clear();
    room.onError((code, message) => this.logger.warn(`lobby "${this.lobbyName}": server error ${code}: ${message ?? ''}`));
    room.onStateChange((state) => {
      if (room !== this.room || this.connection === 'closed') return;
      this.applyState(state);
    });
    room.onMessage(LobbyMessageType.MetadataResult, (message: unknown) => {
      if (room === this.room) this.onResult(message);
    });
    room.onMessage(LobbyMessageType.RelayToken, (message: unknown) => {
      if (room === this.room) this.onRelayToken(message);
    });
    room.onMessage('*', () => undefined); // unknown types from a newer server: ignored, not logged per message
    room.onLeave((code) => this.onRoomLeave(room, code));
  }

  private applyState(state: unknown): void {
    const snapshot = readMembers(state);
    // Until the republished metadata is in the server's state, our own entry stays as we had it.
    if (this.republishing !== null && snapshot.has(this.selfId)) snapshot.set(this.selfId, this.republishing);
    this.emit(this.view.apply(snapshot));
  }

  private emit(events: ReturnType<MemberView['apply']>): void {
    for (const event of events) {
      if (this.connection === 'closed') return;
      if (event.kind === 'join') this.joinSubject.next(event.member);
      else if (event.kind === 'update') this.updateSubject.next(event.member);
      else this.leaveSubject.next(event.member);
    }
  }

  private sendRequest(seq: number, entries: Record<string, string>): void {
    const request: SetMetadataRequest = { seq, entries };
    try {
      this.room.send(LobbyMessageType.SetMetadata, request);
    } catch {
      // The socket is closing; onLeave follows and the request is sent again after reconnecting.
    }
  }

  private onResult(message: unknown): void {
    if (!isPlainRecord(message) || typeof message.seq !== 'number') return;
    const request = this.pending.get(message.seq);
    if (request === undefined) return;
    this.pending.delete(message.seq);
    clearTimeout(request.timer);
    if (message.ok === true) {
      request.resolve();
      return;
    }
    const code: LobbyErrorCode = message.code === 'rate_limited' || message.code === 'peer_id_taken' ? message.code : 'invalid_metadata';
    const text = typeof message.error === 'string' ? message.error.slice(0, 300) : 'refused by the lobby server';
    request.reject(new LobbyError(code, text));
  }

  private scheduleTokenRefresh(ttlSeconds: number | undefined): void {
    if (this.tokenTimer !== null) clearTimeout(this.tokenTimer);
    this.tokenTimer = null;
    this.tokenRefreshDue = false;
    if (ttlSeconds === undefined || this.currentRelayToken === undefined || this.connection === 'closed') return;
    this.tokenTimer = setTimeout(() => {
      this.tokenTimer = null;
      this.tokenRefreshDue = true;
      this.requestTokenRefresh();
    }, Math.min(ttlSeconds * 500, 0x7fff_ffff));
  }

  private requestTokenRefresh(): void {
    if (!this.tokenRefreshDue || this.connection !== 'open') return;
    try {
      this.room.send(LobbyMessageType.RefreshRelayToken);
    } catch {
      // The socket is closing: asked again once reconnected.
    }
  }

  private onRelayToken(message: unknown): void {
    if (!isPlainRecord(message) || typeof message.relayToken !== 'string' || message.relayToken.length > MAX_TOKEN_READ) return;
    const ttl = readTokenTtl(message.relayTokenTtlSeconds);
    if (ttl === undefined) return;
    this.currentRelayToken = message.relayToken;
    this.scheduleTokenRefresh(ttl);
  }

  private onRoomLeave(room: Room, code: number): void {
    if (room !== this.room || this.connection !== 'open') return;
    if (this.leaving) return;
    if (code === CLOSE_CONSENTED) {
      // A server that shuts down and one that restarts look the same from here: join again with
      // backoff, and give up (completing the observables) only after the attempts run out.
      this.logger.warn(`lobby "${this.lobbyName}": closed by the server; joining again with backoff`);
      this.roomGone = true;
      this.connection = 'reconnecting';
      this.scheduleReconnect(0);
      return;
    }
    this.logger.warn(`lobby "${this.lobbyName}": connection dropped (code ${code}); reconnecting`);
    this.connection = 'reconnecting';
    this.scheduleReconnect(0);
  }

  private scheduleReconnect(attempt: number): void {
    if (attempt >= this.settings.reconnectAttempts) {
      this.logger.warn(`lobby "${this.lobbyName}": gave up reconnecting after ${attempt} attempts`);
      this.finish('connection lost');
      return;
    }
    const delay = Math.min(MAX_RECONNECT_DELAY_MS, this.settings.reconnectDelayMs * 2 ** attempt);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.reconnect(attempt);
    }, delay);
  }

  private async reconnect(attempt: number): Promise<void> {
    if (this.roomGone) {
      await this.rejoin(attempt);
      return;
    }
    let room: Room;
    try {
      room = await this.client.reconnect(this.room.reconnectionToken);
    } catch (error) {
      if (this.connection !== 'reconnecting') return;
      if (isRefusal(error)) {
        // The room no longer knows us (a restarted server, an expired window): join it afresh.
        this.logger.info(`lobby "${this.lobbyName}": reconnect refused (${errorMessage(error)}); joining again`);
        this.roomGone = true;
        await this.rejoin(attempt);
      } else {
        this.scheduleReconnect(attempt + 1);
      }
      return;
    }
    if (this.connection !== 'reconnecting') {
      await leaveQuietly(room);
      return;
    }
    this.room = room;
    this.connection = 'open';
    // The fresh full state arrives next; attach() diffs it against what we knew before the drop.
    this.attach(room);
    this.logger.info(`lobby "${this.lobbyName}": reconnected`);
    for (const [seq, request] of this.pending) this.sendRequest(seq, request.entries);
    this.requestTokenRefresh();
  }

  /** Joins the lobby again under a new session, republishes own metadata, diffs the members. */
  private async rejoin(attempt: number): Promise<void> {
    let room: Room;
    let welcome: WelcomeMessage;
    try {
      room = await this.client.joinOrCreate(LOBBY_ROOM_TYPE, { ...this.settings.joinOptions, lobbyName: this.lobbyName });
    } catch (error) {
      if (this.connection !== 'reconnecting') return;
      const refusal = joinError(error, '');
      if (refusal.code === 'full' || refusal.code === 'invalid_name' || refusal.code === 'invalid_join') {
        this.logger.warn(`lobby "${this.lobbyName}": joining again was refused: ${refusal.message}`);
        this.finish('joining again was refused');
      } else {
        this.scheduleReconnect(attempt + 1);
      }
      return;
    }
    try {
      welcome = await waitUntilReady(room, this.settings.joinTimeoutMs);
    } catch {
      await leaveQuietly(room);
      if (this.connection === 'reconnecting') this.scheduleReconnect(attempt + 1);
      return;
    }
    if (this.connection !== 'reconnecting') {
      await leaveQuietly(room);
      return;
    }
    // What the server had for us, with the writes still waiting on top (they are newer).
    const own = new Map(this.view.get(this.selfId) ?? []);
    for (const request of this.pending.values()) for (const [key, value] of Object.entries(request.entries)) own.set(key, value);
    this.view.renameSelf(room.sessionId);
    this.currentSelfId = room.sessionId;
    if (welcome.relayToken !== undefined) this.currentRelayToken = welcome.relayToken;
    if (welcome.relays !== undefined) this.currentRelays = welcome.relays;
    this.room = room;
    this.roomGone = false;
    this.connection = 'open';
    if (welcome.relayToken !== undefined) this.scheduleTokenRefresh(welcome.relayTokenTtlSeconds);
    else this.requestTokenRefresh();
    this.republishing = own.size > 0 ? new Map(own) : null;
    this.attach(room);
    this.logger.info(`lobby "${this.lobbyName}": joined again as ${room.sessionId}`);
    for (const [seq, request] of this.pending) this.sendRequest(seq, request.entries);
    if (this.republishing !== null) this.republish(this.republishing);
    // The state that came with the join: who left, joined or changed while we were away.
    this.applyState(room.state);
  }

  /** Sends our own metadata as it was before the rejoin, as an internal request. */
  private republish(own: ReadonlyMap<string, string>): void {
    const seq = this.nextSeq;
    this.nextSeq = seq >= MAX_REQUEST_SEQ ? 1 : seq + 1;
    const entries = Object.fromEntries(own);
    const done = (): void => {
      if (this.republishing === own) this.republishing = null;
      if (this.connection === 'open') this.applyState(this.room.state);
    };
    const timer = setTimeout(() => {
      this.pending.delete(seq);
      done();
    }, this.settings.requestTimeoutMs);
    this.pending.set(seq, {
      entries,
      resolve: done,
      reject: (error) => {
        this.logger.warn(`lobby "${this.lobbyName}": republishing own metadata failed: ${error.message}`);
        done();
      },
      timer,
    });
    this.sendRequest(seq, entries);
  }

  private finish(reason: string): void {
    if (this.connection === 'closed') return;
    this.connection = 'closed';
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.tokenTimer !== null) clearTimeout(this.tokenTimer);
    this.tokenTimer = null;
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(new LobbyError('closed', `lobby "${this.lobbyName}": ${reason}`));
    }
    this.pending.clear();
    this.view.clear();
    this.joinSubject.complete();
    this.updateSubject.complete();
    this.leaveSubject.complete();
  }
}

function resolveSettings(options: ColyseusLobbyOptions): Settings {
  if (!isPlainRecord(options)) throw new TypeError('ColyseusLobby.join: options must be a plain object');
  const joinOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (!SETTING_KEYS.has(key)) joinOptions[key] = value;
  }
  const settings: Settings = {
    joinTimeoutMs: options.joinTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    reconnectAttempts: options.reconnectAttempts ?? 12,
    reconnectDelayMs: options.reconnectDelayMs ?? 100,
    logger: options.logger ?? consoleLogger,
    joinOptions,
  };
  for (const name of ['joinTimeoutMs', 'requestTimeoutMs', 'reconnectAttempts', 'reconnectDelayMs'] as const) {
    const value = settings[name];
    if (!Number.isInteger(value) || value < 0 || value > 3_600_000) {
      throw new TypeError(`ColyseusLobby.join: ${name} must be an integer 0..3600000, got ${String(value)}`);
    }
  }
  return settings;
}

/**
 * Waits, bounded, until the server's welcome has come and the room state lists this member (the
 * first full state may predate our own entry by one patch); a refused or dropped join rejects.
 */
function waitUntilReady(room: Room, timeoutMs: number): Promise<WelcomeMessage> {
  return new Promise<WelcomeMessage>((resolve, reject) => {
    let welcome: WelcomeMessage | null = null;
    let settled = false;
    const settle = (outcome: WelcomeMessage | LobbyError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      room.onStateChange.remove(onState);
      if (outcome instanceof LobbyError) reject(outcome);
      else resolve(outcome);
    };
    const check = (): void => {
      if (welcome !== null && readMembers(room.state).has(room.sessionId)) settle(welcome);
    };
    const onState = (): void => check();
    const timer = setTimeout(() => settle(new LobbyError('timeout', `the lobby server did not welcome us within ${timeoutMs} ms`)), timeoutMs);
    room.onStateChange(onState);
    room.onMessage(LobbyMessageType.Welcome, (message: unknown) => {
      welcome = readWelcome(message, room.sessionId);
      if (welcome === null) settle(new LobbyError('invalid_join', 'the lobby server sent a malformed welcome'));
      else check();
    });
    room.onLeave((code) => settle(new LobbyError('unreachable', `the lobby server closed the connection while joining (code ${code})`)));
  });
}

function readWelcome(message: unknown, sessionId: string): WelcomeMessage | null {
  if (!isPlainRecord(message) || message.memberId !== sessionId) return null;
  const limits = isPlainRecord(message.limits) ? message.limits : {};
  const readLimit = (name: keyof LobbyMetadataLimits): number => {
    const value = limits[name];
    return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 1 << 20 ? value : defaultLobbyMetadataLimits[name];
  };
  const welcome: WelcomeMessage = {
    memberId: sessionId,
    capacity: typeof message.capacity === 'number' ? message.capacity : 0,
    limits: { maxKeys: readLimit('maxKeys'), maxKeyLength: readLimit('maxKeyLength'), maxValueLength: readLimit('maxValueLength') },
  };
  if (typeof message.relayToken === 'string' && message.relayToken.length <= MAX_TOKEN_READ) {
    welcome.relayToken = message.relayToken;
    const ttl = readTokenTtl(message.relayTokenTtlSeconds);
    if (ttl !== undefined) welcome.relayTokenTtlSeconds = ttl;
  }
  const relays = readRelays(message.relays);
  if (relays !== undefined) welcome.relays = relays;
  return welcome;
}

/** The welcome's relay lists: URLs of the right scheme only, at most MAX_LOBBY_RELAYS each, whatever the server sends. */
function readRelays(value: unknown): LobbyRelays | undefined {
  if (!isPlainRecord(value)) return undefined;
  const read = (list: unknown, scheme: RegExp): string[] =>
    Array.isArray(list) ? list.filter((url): url is string => typeof url === 'string' && url.length <= MAX_RELAY_URL_READ && scheme.test(url)).slice(0, MAX_LOBBY_RELAYS) : [];
  return { udp: read(value.udp, /^udp:\/\/[^\s/]+$/), ws: read(value.ws, /^wss?:\/\/[^\s]+$/) };
}

/** A token lifetime the server may send: whole seconds, at least 1, at most a year. */
function readTokenTtl(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 366 * 24 * 3600 ? value : undefined;
}

/** Members and their string metadata from the decoded room state, bounded whatever the server sends. */
function readMembers(state: unknown): MemberSnapshot {
  const snapshot: MemberSnapshot = new Map();
  const members = (state as { members?: unknown } | null | undefined)?.members;
  if (!isForEachable(members)) return snapshot;
  members.forEach((member, id) => {
    if (snapshot.size >= MAX_MEMBERS_READ || typeof id !== 'string') return;
    const metadata = new Map<string, string>();
    const source = (member as { metadata?: unknown } | null | undefined)?.metadata;
    if (isForEachable(source)) {
      source.forEach((value, key) => {
        if (metadata.size < MAX_KEYS_READ && typeof key === 'string' && typeof value === 'string' && value.length <= MAX_VALUE_READ) {
          metadata.set(key, value);
        }
      });
    }
    snapshot.set(id, metadata);
  });
  return snapshot;
}

function isForEachable(value: unknown): value is { forEach(callback: (value: unknown, key: unknown) => void): void } {
  return typeof value === 'object' && value !== null && typeof (value as { forEach?: unknown }).forEach === 'function';
}

function joinError(error: unknown, url: string): LobbyError {
  const code = (error as { code?: unknown } | null)?.code;
  const message = errorMessage(error);
  if (code === LobbyJoinErrorCode.Full) return new LobbyError('full', message);
  if (code === LobbyJoinErrorCode.InvalidName) return new LobbyError('invalid_name', message);
  // The lobby answered, but cannot serve joins now (its Redis is down): as unreachable, retry later.
  if (code === 503 || code === LobbyJoinErrorCode.Unavailable) return new LobbyError('unreachable', `lobby server at ${url} is unavailable: ${message}`);
  if (typeof code === 'number') return new LobbyError('invalid_join', `the lobby server refused the join: ${message}`);
  return new LobbyError('unreachable', `cannot reach the lobby server at ${url}: ${message}`);
}

/** A matchmaking refusal (room gone, token expired) as opposed to a network failure worth retrying. */
function isRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 4000 && code < 5000;
}

async function leaveQuietly(room: Room): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([room.leave(true), new Promise<void>((resolve) => (timer = setTimeout(resolve, LEAVE_TIMEOUT_MS)))]);
  } catch {
    // The connection is already gone.
  } finally {
    clearTimeout(timer);
  }
  try {
    room.connection?.close();
  } catch {
    // Already closed.
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
