/**
 * The lobby room's synchronized state (@colyseus/schema 3): members by session id, each with a
 * map of string metadata. Clients decode it by reflection, so they need no copy of these classes.
 */
import { schema, type MapSchema } from '@colyseus/schema';

export const LobbyMemberState = schema({ metadata: { map: 'string' } }, 'LobbyMemberState');
export type LobbyMemberState = InstanceType<typeof LobbyMemberState> & { metadata: MapSchema<string> };

export const LobbyRoomState = schema({ members: { map: LobbyMemberState } }, 'LobbyRoomState');
export type LobbyRoomState = InstanceType<typeof LobbyRoomState> & { members: MapSchema<LobbyMemberState> };
