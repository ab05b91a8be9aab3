export { LobbyError, type LobbyAdapter, type LobbyErrorCode, type LobbyMember } from './lobby-adapter';
export { MemoryLobby, MemoryLobbyHub, type MemoryLobbyHubOptions, type MemoryLobbyHubStats } from './memory-lobby';
export { ColyseusLobby, type ColyseusLobbyOptions } from './colyseus-lobby';
export type { LobbyRelays } from './lobby-protocol';
export {
  bindRouteSync,
  PEER_ID_KEY,
  ROUTE_KEY,
  type RouteSyncChannel,
  type RouteSyncNetwork,
  type RouteSyncOptions,
  type RouteSyncStats,
  type RouteSyncSubscription,
  type RouteSyncClash,
} from './route-sync';
export {
  checkMetadataUpdate,
  defaultLobbyMetadataLimits,
  isValidName,
  type LobbyMetadataLimits,
  type MetadataRefusal,
  type MetadataVerdict,
} from './metadata-rules';
