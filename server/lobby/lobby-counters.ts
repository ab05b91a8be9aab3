/** What a lobby server counts: who is there, and every refusal by its reason. */
import type { MetadataRefusal } from '../../plugin/lobby/metadata-rules';

export type UpdateRefusal = MetadataRefusal | 'rate_limited' | 'malformed_request' | 'peer_id_taken';

export class LobbyCounters {
  lobbies = 0;
  members = 0;
  joinsAccepted = 0;
  joinsRefused = { full: 0, invalid_name: 0, too_many_lobbies: 0 };
  reconnections = 0;
  updatesAccepted = 0;
  updatesRefused: Record<UpdateRefusal, number> = {
    not_an_object: 0,
    too_many_entries: 0,
    bad_key: 0,
    value_not_string: 0,
    value_too_long: 0,
    too_many_keys: 0,
    rate_limited: 0,
    malformed_request: 0,
    peer_id_taken: 0,
  };
  /** Messages of a type the lobby does not know. */
  unknownMessages = 0;
  /** Frames Colyseus could not dispatch (caught here instead of crashing the process). */
  undecodableMessages = 0;
  /** Members disconnected for sending too many malformed or unknown messages. */
  kicked = 0;
  relayTokensIssued = 0;
  /** Relay token refreshes refused for coming too fast (the metadata update rate applies). */
  relayTokenRefreshesRefused = 0;
  /** Joins answered 503 because the lobby's Redis was unreachable. */
  joinsRefusedRedisDown = 0;

  snapshot(): LobbyServerStats {
    return {
      lobbies: this.lobbies,
      members: this.members,
      joinsAccepted: this.joinsAccepted,
      joinsRefused: { ...this.joinsRefused },
      reconnections: this.reconnections,
      updatesAccepted: this.updatesAccepted,
      updatesRefused: { ...this.updatesRefused },
      unknownMessages: this.unknownMessages,
      undecodableMessages: this.undecodableMessages,
      kicked: this.kicked,
      relayTokensIssued: this.relayTokensIssued,
      relayTokenRefreshesRefused: this.relayTokenRefreshesRefused,
      joinsRefusedRedisDown: this.joinsRefusedRedisDown,
    };
  }
}

export interface LobbyServerStats {
  lobbies: number;
  members: number;
  joinsAccepted: number;
  joinsRefused: { full: number; invalid_name: number; too_many_lobbies: number };
  reconnections: number;
  updatesAccepted: number;
  updatesRefused: Record<UpdateRefusal, number>;
  unknownMessages: number;
  undecodableMessages: number;
  kicked: number;
  relayTokensIssued: number;
  relayTokenRefreshesRefused: number;
  /** Joins refused (503, "lobby unavailable") while the lobby's Redis was unreachable. */
  joinsRefusedRedisDown: number;
}
