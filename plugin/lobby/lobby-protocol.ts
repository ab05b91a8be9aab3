/**
 * What the ColyseusLobby client and the lobby server (server/lobby) say to each other on top of
 * Colyseus 0.16. Membership and metadata travel in the room state (members: map of
 * { metadata: map of string }); requests, answers and the per-member welcome are messages.
 * docs/LOBBY.md describes the exchange.
 */
import type { LobbyMetadataLimits } from './metadata-rules';

/** The Colyseus room type; lobbies are rooms of this type filtered by `lobbyName`. */
export const LOBBY_ROOM_TYPE = 'switchboard_lobby';

export const LobbyMessageType = {
  /** client → server: merge entries into the sender's own metadata. */
  SetMetadata: 'set_metadata',
  /** server → client: the answer to one SetMetadata, sent after the patch that applied it. */
  MetadataResult: 'metadata_result',
  /** server → client, once after joining: member id, limits and (when configured) the relay token. */
  Welcome: 'welcome',
  /** client → server (no body): mint me a fresh relay token; answered with RelayToken. */
  RefreshRelayToken: 'refresh_relay_token',
  /** server → client: a fresh relay token and its lifetime. */
  RelayToken: 'relay_token',
} as const;

export interface SetMetadataRequest {
  /** The client's request number, echoed in the answer (integer 0..2^31-1). */
  seq: number;
  entries: Record<string, string>;
}

export interface MetadataResultMessage {
  seq: number;
  ok: boolean;
  /** When refused: `invalid_metadata`, `rate_limited` or `peer_id_taken`, and a message naming the problem. */
  code?: 'invalid_metadata' | 'rate_limited' | 'peer_id_taken';
  error?: string;
}

export interface WelcomeMessage {
  memberId: string;
  capacity: number;
  limits: LobbyMetadataLimits;
  relayToken?: string;
  /** Lifetime of relayToken in seconds; the client asks for a fresh one at half of it. */
  relayTokenTtlSeconds?: number;
  /**
   * Present when the lobby server reads a relay fleet (startLobbyServer's fleetSecret): the fleet's
   * relays as of this join, least-loaded first. Empty lists mean the lobby knows no relay (the fleet
   * is empty, or Redis has been unreachable since the lobby started).
   */
  relays?: LobbyRelays;
}

/** Relay URLs by transport, least-loaded first: `udp://host:port` and `ws://host:port`, at most MAX_LOBBY_RELAYS each. */
export interface LobbyRelays {
  udp: string[];
  ws: string[];
}

/** Relay URLs of each kind a welcome carries at most. */
export const MAX_LOBBY_RELAYS = 32;

export interface RelayTokenMessage {
  relayToken: string;
  relayTokenTtlSeconds: number;
}

/** Matchmaking error codes the server answers a refused join with (Colyseus ServerError codes). */
export const LobbyJoinErrorCode = {
  Full: 4601,
  InvalidName: 4602,
  InvalidJoin: 4603,
  /** The lobby cannot serve joins now (a lobby on Redis whose Redis is unreachable). */
  Unavailable: 4604,
} as const;

/** WebSocket close code Colyseus uses for a consented leave (our leave, a kick, a server shutdown). */
export const CLOSE_CONSENTED = 4000;

export const MAX_REQUEST_SEQ = 0x7fff_ffff;
