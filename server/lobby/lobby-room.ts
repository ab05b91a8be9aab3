/**
 * The Colyseus room behind one named lobby. Members are Colyseus sessions; each may write only its
 * own metadata (the request carries no member id, and any extra field is refused), within the
 * shared rules of plugin/lobby/metadata-rules.ts and a per-member rate. Every refusal is counted.
 */
import { Room, ServerError, type AuthContext, type Client, type ClientPrivate } from '@colyseus/core';
import {
  LobbyJoinErrorCode,
  LobbyMessageType,
  MAX_REQUEST_SEQ,
  type MetadataResultMessage,
  type LobbyRelays,
  type RelayTokenMessage,
  type WelcomeMessage,
} from '../../plugin/lobby/lobby-protocol';
import {
  checkMetadataUpdate,
  describeNameRule,
  isPlainRecord,
  isValidName,
  peerIdClaimant,
  PEER_ID_METADATA_KEY,
  type LobbyMetadataLimits,
} from '../../plugin/lobby/metadata-rules';
import type { Logger } from '../../plugin/net/types';
import { createRelayToken } from '../relay/token';
import { LobbyCounters } from './lobby-counters';
import { LobbyMemberState, LobbyRoomState } from './lobby-state';
import { TokenBucket } from './token-bucket';

export interface LobbyRoomConfig {
  capacity: number;
  limits: LobbyMetadataLimits;
  relaySecret?: string;
  relayTokenTtlSeconds: number;
  /** How long a member whose connection dropped keeps its place (and metadata) for a reconnect. */
  reconnectSeconds: number;
  maxLobbies: number;
  patchRateMs: number;
  updateBurst: number;
  updatesPerSecond: number;
  /** Unknown, malformed or undecodable messages one member may send before it is disconnected. */
  maxMisbehaviour: number;
  logger: Logger;
  /** The fleet's relays now, least-loaded first (set when the lobby reads a relay fleet). */
  relays?: () => LobbyRelays;
}

interface MemberData {
  bucket: TokenBucket;
  misbehaviour: number;
  kicked: boolean;
  /** WebSocket close code of the connection that just closed (set just before onLeave). */
  closeCode?: number;
}

interface MemberAuth {
  lobbyName: string;
}

/** WebSocket close code Colyseus uses when it drops a client for an error. */
const CLOSE_WITH_ERROR = 4002;
/**
 * 1001 "going away": the browser closes a page's WebSockets with it when the page is closed or
 * navigated away from. That member is not coming back, so it gets no reconnect window (a dropped
 * network closes with 1006 and does).
 */
const CLOSE_GOING_AWAY = 1001;

/**
 * Builds the room class for one lobby server; the class keeps that server's configuration, its
 * lobbies by name (to refuse a join to a full lobby instead of opening a second one under the same
 * name) and its counters.
 * @internal (left out of the published .d.ts: its type is an anonymous Room subclass)
 */
export function createLobbyRoomClass(config: LobbyRoomConfig, counters: LobbyCounters) {
  const lobbies = new Map<string, Room>();

  const refuseJoin = (reason: keyof LobbyCounters['joinsRefused'], code: number, message: string): never => {
    counters.joinsRefused[reason]++;
    throw new ServerError(code, message);
  };

  const checkJoin = (options: unknown, self?: Room): string => {
    const lobbyName = isPlainRecord(options) ? options.lobbyName : undefined;
    if (!isValidName(lobbyName)) {
      return refuseJoin('invalid_name', LobbyJoinErrorCode.InvalidName, `lobbyName must be ${describeNameRule()}`);
    }
    const existing = lobbies.get(lobbyName);
    if (existing !== undefined && existing !== self) {
      // Colyseus only gets here with a full lobby (it would have joined an open one): refuse, never split it.
      if (self !== undefined || existing.hasReachedMaxClients()) {
        return refuseJoin('full', LobbyJoinErrorCode.Full, `lobby "${lobbyName}" is full (capacity ${config.capacity})`);
      }
    } else if (existing === undefined && lobbies.size >= config.maxLobbies) {
      return refuseJoin('too_many_lobbies', LobbyJoinErrorCode.InvalidJoin, `this server holds ${config.maxLobbies} lobbies at most`);
    }
    return lobbyName;
  };

  return class SwitchboardLobbyRoom extends Room<LobbyRoomState, unknown, MemberData, MemberAuth> {
    private lobbyName = '';

    /** Runs before Colyseus looks for or creates the room, so bad names and full lobbies never create one. */
    static override async onAuth(_token: string, options: unknown, _context: AuthContext): Promise<MemberAuth> {
      return { lobbyName: checkJoin(options) };
    }

    override onCreate(options: unknown): void {
      try {
        this.lobbyName = checkJoin(options, this);
      } catch (error) {
        // Colyseus started this room's timers before onCreate and drops the room when it throws.
        this.autoDispose = false;
        this.patchRate = 0;
        this.clock.stop();
        throw error;
      }
      lobbies.set(this.lobbyName, this);
      counters.lobbies = lobbies.size;
      this.maxClients = config.capacity;
      this.patchRate = config.patchRateMs;
      this.state = new LobbyRoomState() as LobbyRoomState;
      this.onMessage(LobbyMessageType.SetMetadata, (client: Client<MemberData, MemberAuth>, message: unknown) =>
        this.handleSetMetadata(client, message),
      );
      this.onMessage(LobbyMessageType.RefreshRelayToken, (client: Client<MemberData, MemberAuth>) => this.handleRefreshRelayToken(client));
      this.onMessage('*', (client: Client<MemberData, MemberAuth>) => {
        counters.unknownMessages++;
        this.misbehaved(client);
      });
    }

    override onJoin(client: Client<MemberData, MemberAuth>): void {
      client.userData = { bucket: new TokenBucket(config.updateBurst, config.updatesPerSecond), misbehaviour: 0, kicked: false };
      this.state.members.set(client.sessionId, new LobbyMemberState() as LobbyMemberState);
      counters.members++;
      counters.joinsAccepted++;
      const welcome: WelcomeMessage = { memberId: client.sessionId, capacity: config.capacity, limits: { ...config.limits } };
      const relayToken = this.mintRelayToken(client);
      if (relayToken !== undefined) {
        welcome.relayToken = relayToken;
        welcome.relayTokenTtlSeconds = config.relayTokenTtlSeconds;
      }
      if (config.relays !== undefined) welcome.relays = config.relays();
      client.send(LobbyMessageType.Welcome, welcome);
    }

    override async onLeave(client: Client<MemberData, MemberAuth>, consented?: boolean): Promise<void> {
      const goingAway = client.userData?.closeCode === CLOSE_GOING_AWAY;
      if (consented !== true && !goingAway && config.reconnectSeconds > 0 && client.userData?.kicked !== true) {
        try {
          await this.allowReconnection(client, config.reconnectSeconds);
          counters.reconnections++;
          return;
        } catch {
          // Not back in time, or the lobby is shutting down: the member leaves.
        }
      }
      if (this.state.members.has(client.sessionId)) {
        this.state.members.delete(client.sessionId);
        counters.members--;
      }
    }

    override onDispose(): void {
      if (lobbies.get(this.lobbyName) === this) lobbies.delete(this.lobbyName);
      counters.lobbies = lobbies.size;
    }

    /** Colyseus hands onLeave only "consented or not"; the close code tells a closed page from a dropped network. */
    protected override async _onLeave(client: Client<MemberData, MemberAuth>, code?: number): Promise<void> {
      if (client.userData !== undefined) client.userData.closeCode = code;
      return super._onLeave(client, code);
    }

    /** Colyseus lets some hostile frames throw out of its message dispatch (e.g. a type named "constructor"). */
    protected override _onMessage(client: Client & ClientPrivate, buffer: Buffer): void {
      try {
        super._onMessage(client, buffer);
      } catch {
        counters.undecodableMessages++;
        this.misbehaved(client as Client<MemberData, MemberAuth>);
      }
    }

    private handleSetMetadata(client: Client<MemberData, MemberAuth>, message: unknown): void {
      const member = this.state.members.get(client.sessionId);
      const data = client.userData;
      if (member === undefined || data === undefined) return;
      const seq = isPlainRecord(message) && isRequestSeq(message.seq) ? message.seq : undefined;
      const extraField = isPlainRecord(message) ? Object.keys(message).find((key) => key !== 'seq' && key !== 'entries') : undefined;
      if (seq === undefined || extraField !== undefined) {
        counters.updatesRefused.malformed_request++;
        this.misbehaved(client);
        if (seq !== undefined) {
          this.answer(client, { seq, ok: false, code: 'invalid_metadata', error: `unexpected field ${JSON.stringify(extraField)}: a member writes only its own metadata` });
        }
        return;
      }
      if (!data.bucket.take()) {
        counters.updatesRefused.rate_limited++;
        this.answer(client, { seq, ok: false, code: 'rate_limited', error: `more than ${config.updatesPerSecond} metadata updates per second` });
        return;
      }
      const verdict = checkMetadataUpdate(member.metadata, (message as Record<string, unknown>).entries, config.limits);
      if (!verdict.ok) {
        counters.updatesRefused[verdict.refusal]++;
        this.answer(client, { seq, ok: false, code: 'invalid_metadata', error: verdict.error });
        return;
      }
      const claimant = peerIdClaimant(client.sessionId, verdict.entries, this.memberMetadata());
      if (claimant !== null) {
        counters.updatesRefused.peer_id_taken++;
        const claimed = verdict.entries.find(([key]) => key === PEER_ID_METADATA_KEY)?.[1] ?? '';
        config.logger.warn(`lobby "${this.lobbyName}": member ${client.sessionId} claimed peer_id ${claimed.slice(0, 24)}, already published by member ${claimant}; refused`);
        this.answer(client, { seq, ok: false, code: 'peer_id_taken', error: `peer_id ${claimed.slice(0, 24)} is already published by another member of this lobby` });
        return;
      }
      for (const [key, value] of verdict.entries) member.metadata.set(key, value);
      counters.updatesAccepted++;
      // After the patch, so the member's view already holds the change when its promise resolves.
      client.send(LobbyMessageType.MetadataResult, { seq, ok: true } satisfies MetadataResultMessage, { afterNextPatch: true });
    }

    private mintRelayToken(client: Client<MemberData, MemberAuth>): string | undefined {
      if (config.relaySecret === undefined) return undefined;
      counters.relayTokensIssued++;
      return createRelayToken(config.relaySecret, { ttlSeconds: config.relayTokenTtlSeconds, subject: `${this.lobbyName}/${client.sessionId}` });
    }

    /** A member renews its short-lived relay token; rate-limited with its metadata updates. */
    private handleRefreshRelayToken(client: Client<MemberData, MemberAuth>): void {
      const data = client.userData;
      if (data === undefined || !this.state.members.has(client.sessionId)) return;
      if (config.relaySecret === undefined) {
        counters.unknownMessages++;
        this.misbehaved(client);
        return;
      }
      if (!data.bucket.take()) {
        counters.relayTokenRefreshesRefused++;
        return;
      }
      const relayToken = this.mintRelayToken(client) as string;
      client.send(LobbyMessageType.RelayToken, { relayToken, relayTokenTtlSeconds: config.relayTokenTtlSeconds } satisfies RelayTokenMessage);
    }

    private *memberMetadata(): Generator<[string, { get(key: string): string | undefined }]> {
      for (const [id, member] of this.state.members) yield [id, member.metadata];
    }

    private answer(client: Client<MemberData, MemberAuth>, result: MetadataResultMessage): void {
      client.send(LobbyMessageType.MetadataResult, result);
    }

    private misbehaved(client: Client<MemberData, MemberAuth>): void {
      const data = client.userData;
      if (data === undefined || data.kicked) return;
      if (++data.misbehaviour > config.maxMisbehaviour) {
        data.kicked = true;
        counters.kicked++;
        config.logger.warn(`lobby "${this.lobbyName}": disconnected member ${client.sessionId} after ${config.maxMisbehaviour} malformed or unknown messages`);
        client.leave(CLOSE_WITH_ERROR, 'too many malformed messages');
      }
    }
  };
}

function isRequestSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_REQUEST_SEQ;
}
