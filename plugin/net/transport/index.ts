/**
 * Datagram links to the relay. Browser-safe: the Node UDP link (udp-socket.ts) is not exported
 * here; createDatagramSocket loads it on Node for udp:// URLs only.
 */
export type { DatagramSocket, RelayScheme, RelayUrl } from './datagram-socket';
export { parseRelayUrl } from './datagram-socket';
export { createDatagramSocket } from './socket-factory';
export { WebSocketDatagramSocket } from './websocket-socket';
export { ConditionedSocket, validateLinkConditioner, type ConditionerStats } from './conditioned-socket';
export { mulberry32 } from './prng';
export { RelayClient, refusalReasonName, type RelayClientOptions, type RelayClientStats, type RelayRegistration } from './relay-client';
