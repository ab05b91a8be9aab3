/** Switchboard's Node side: the relay (and, below, the lobby server). */

// --- relay -------------------------------------------------------------------------------------
export {
  startRelay,
  createRelayToken,
  verifyRelayToken,
  RELAY_DROP_REASONS,
  type RelayServer,
  type RelayOptions,
  type RelayStats,
  type RelayDropReason,
  type RelayTokenClaims,
  type RelayTokenStatus,
} from './relay';

// --- lobby -------------------------------------------------------------------------------------
export { startLobbyServer, type LobbyServer, type LobbyServerOptions, type LobbyServerStats } from './lobby';
