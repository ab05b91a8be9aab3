/**
 * Datagram links to the relay. Browser-safe: the Node UDP link (udp-socket.ts) is not exported
 * here; createDatagramSocket loads it on Node for udp:// URLs only.
 */
export type { DatagramSocket, LinkKind, RelayScheme, RelayUrl, TransportPreference } from './datagram-socket';
export { TRANSPORT_PREFERENCES, isTransportPreference, parseRelayUrl } from './datagram-socket';
export { createDatagramSocket, type DatagramSocketOptions } from './socket-factory';
export {
  WebRtcDatagramSocket,
  rtcPeerConnectionConstructor,
  stripOfferCandidates,
  type RtcDataChannelLike,
  type RtcPeerConnectionConstructor,
  type RtcPeerConnectionLike,
  type WebRtcSocketOptions,
} from './webrtc-socket';
export { WebSocketDatagramSocket } from './websocket-socket';
export { ConditionedSocket, validateLinkConditioner, type ConditionerStats } from './conditioned-socket';
export { mulberry32 } from './prng';
export { RelayClient, refusalReasonName, type RelayClientOptions, type RelayClientStats, type RelayRegistration, type RelayTimers } from './relay-client';
