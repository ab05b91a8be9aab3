/**
 * Switchboard's public entry point (browser and Node): the NetworkManager, its types and Result
 * codes, identities, lobby adapters with route sync, and the Babylon plugin. Explicit re-exports
 * only, so the public surface is exactly what is listed here (docs/API.md).
 *
 * @module switchboard
 */

// --- networking core ----------------------------------------------------------------------------
export { NetworkManager, type NetworkManagerOptions } from './net/network-manager';
export type { RelayTokenSource } from './net/transport/relay-client';
export { Result, decodeOk, decodeError, type Decoded } from './net/result';
export type { PeerId, NetworkMessage, PeerState, PeerStateChange, PeerStats, LinkConditioner, Logger, Clock, RelayState, RelayStatus } from './net/types';
export { consoleLogger } from './net/types';
export { Identity, peerIdFromPublicKey, parsePeerId, formatPeerId } from './net/identity';
export { decodeRoute, encodeRoute, type RouteInfo } from './net/route';
export { useLibsodium, cryptoBackendName } from './net/crypto/primitives';
export type { LibsodiumAead } from './net/crypto/libsodium-backend';

// --- lobbies and route sync ---------------------------------------------------------------------
export {
  MemoryLobby,
  MemoryLobbyHub,
  ColyseusLobby,
  LobbyError,
  bindRouteSync,
  PEER_ID_KEY,
  ROUTE_KEY,
  type LobbyAdapter,
  type LobbyMember,
  type LobbyErrorCode,
  type MemoryLobbyHubOptions,
  type ColyseusLobbyOptions,
  type LobbyRelays,
  type RouteSyncChannel,
  type RouteSyncOptions,
  type RouteSyncStats,
  type RouteSyncSubscription,
  type RouteSyncClash,
} from './lobby';

// --- Babylon plugin: host, manifest, components, systems ------------------------------------------
export {
  installSwitchboard,
  getNetworkManager,
  getSwitchboard,
  isSwitchboardInstalled,
  PluginHost,
  loadPluginManifest,
  resolvePluginConfig,
  bundledPluginManifest,
  PluginConfigError,
  FRAME_PHASES,
  type SwitchboardInstallOptions,
  type SwitchboardInstallation,
  type PluginSystem,
  type FrameContext,
  type PluginManifest,
  type PluginConfig,
  type ChannelConfig,
  type FramePhase,
} from './host';
export {
  NetworkManagerComponent,
  NetworkedTransform,
  type NetworkManagerComponentOptions,
  jsonCodec,
  structCodec,
  type NetworkedTransformOptions,
  type MessageCodec,
  type StructCodec,
  type StructSchema,
  type DecodedMessage,
} from './components';
export { builtInSystems, createReceiveSystem, createFlushSystem } from './systems';
