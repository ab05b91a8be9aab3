/** End-to-end secure sessions between peers: handshake, packet protection, replay window. */
export {
  SecureSession,
  MAX_INIT_CLOCK_SKEW_MS,
  type EstablishedInfo,
  type HandshakeOutcome,
  type OpenResult,
  type SecureSessionOptions,
  type SecureSessionStats,
} from './secure-session';
export {
  roleFor,
  PeerPacketType,
  peerPacketType,
  type PeerRole,
  INIT_BYTES,
  RESP_BYTES,
  HELLO_BYTES,
  DATA_HEADER_BYTES,
  DATA_OVERHEAD_BYTES,
  MAX_PACKET_NUMBER,
} from './packets';
export { ReplayWindow, REPLAY_WINDOW_SIZE } from './replay-window';
export { PROTOCOL_NAME } from './handshake';
export { type RandomSource } from './primitives';
