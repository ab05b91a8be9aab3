export { startRelay, type RelayServer } from './relay-server';
export type { RelayOptions } from './options';
export { RELAY_DROP_REASONS, type RelayDropReason, type RelayStats } from './stats';
export { createRelayToken, verifyRelayToken, generateRelaySecret, relaySecretProblem, MAX_RELAY_TOKEN_LENGTH, type RelayTokenClaims, type RelayTokenStatus } from './token';
