/**
 * What a lobby offers the networking layer (docs/API.md "Lobby"): the members present, each with
 * string metadata only that member can write, and events when members join, change and leave.
 * MemoryLobby (one process) and ColyseusLobby (colyseus.js) implement it; bindRouteSync uses it.
 */
import type { Observable } from 'rxjs';

export interface LobbyMember {
  id: string;
  metadata: ReadonlyMap<string, string>;
}

/**
 * Semantics both adapters keep (the contract tests check them):
 * - `members()` includes this member (`selfId`) and reflects exactly the events emitted so far.
 * - Events are never emitted synchronously from a method call; subscribe right after joining and
 *   read `members()` once for who was already there.
 * - `memberJoin$`/`memberLeave$` never carry this member; `memberUpdate$` does (the server's view of
 *   our own metadata changed), after which `setMemberMetadata` resolves.
 * - `setMemberMetadata` merges the entries into this member's metadata; it rejects with a
 *   `LobbyError` (code `invalid_metadata`, `rate_limited`, `peer_id_taken`, `busy`, `timeout`,
 *   `closed`) and then changes nothing.
 * - A `peer_id` entry equal to another present member's `peer_id` is refused with `peer_id_taken`
 *   (a 64-bit id must not be claimable twice); it is free again once that member has left.
 * - After `leave()` (or when the lobby is gone for good) the observables complete and `members()`
 *   is empty.
 */
export interface LobbyAdapter {
  readonly selfId: string;
  members(): LobbyMember[];
  readonly memberJoin$: Observable<LobbyMember>;
  readonly memberUpdate$: Observable<LobbyMember>;
  readonly memberLeave$: Observable<LobbyMember>;
  setMemberMetadata(entries: Record<string, string>): Promise<void>;
  leave(): Promise<void>;
}

/** Why a lobby call failed; stable strings a caller can switch on. */
export type LobbyErrorCode =
  | 'full' // the named lobby is at capacity
  | 'invalid_name' // lobby name or member id does not follow the naming rule
  | 'invalid_join' // join refused for another reason (bad options, too many lobbies)
  | 'invalid_metadata' // an entry breaks the metadata rules (see metadata-rules.ts)
  | 'rate_limited' // too many metadata updates in a short time
  | 'peer_id_taken' // another member of the lobby already published this `peer_id`
  | 'busy' // too many metadata updates waiting for the server
  | 'timeout' // the server did not answer in time
  | 'unreachable' // the lobby server could not be reached
  | 'closed'; // the lobby was left or is gone

export class LobbyError extends Error {
  readonly code: LobbyErrorCode;

  constructor(code: LobbyErrorCode, message: string) {
    super(message);
    this.name = 'LobbyError';
    this.code = code;
  }
}

/** A detached copy of a member, so no caller can change an adapter's view through a returned Map. */
export function copyMember(id: string, metadata: ReadonlyMap<string, string>): LobbyMember {
  return { id, metadata: new Map(metadata) };
}
