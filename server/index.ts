/**
 * Switchboard's Node side (the switchboard-server package): the relay, its access tokens and the
 * Colyseus lobby server.
 *
 * @module switchboard-server
 */

// --- relay -------------------------------------------------------------------------------------
export {
  startRelay,
  createRelayToken,
  verifyRelayToken,
  generateRelaySecret,
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
