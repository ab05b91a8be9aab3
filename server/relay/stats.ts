/** What the relay counts. Every dropped datagram is counted under exactly one reason. */

export const RELAY_DROP_REASONS = [
  /** Undecodable, an unknown or relay→client type, or a text WebSocket message; WebRTC signalling other than over the session's WebSocket; anything but DATA, KEEPALIVE and LEAVE over a data channel. */
  'malformed',
  /** Longer than maxDatagramBytes. */
  'oversize',
  /** A REGISTER over UDP shorter than 256 bytes: dropped without an answer. */
  'tooShortRegister',
  /** DATA from a UDP address (or WebSocket) with no session. */
  'unknownSource',
  /** DATA to a session id the relay does not have. */
  'unknownDestination',
  /** KEEPALIVE or LEAVE naming a session id the relay does not have. */
  'unknownSession',
  /** KEEPALIVE or LEAVE with a wrong secret, or for a session of the other transport. */
  'spoofed',
  /** Over the sender session's datagram or byte rate. */
  'rateLimited',
  /** DATA over the destination's inbound budget, from a source that had used its fair share of it. */
  'inboundLimited',
  /** REGISTER over the per-IP registration rate (refused with reason 5). */
  'registerRateLimited',
  /** REGISTER without a valid, unexpired token (refused with reason 1, 2 or 3). */
  'tokenRefused',
  /** REGISTER while at maxSessions (refused with reason 4). */
  'relayFull',
  /** REGISTER of another protocol version (refused with reason 7). */
  'badVersion',
  /** DATA to a UDP session whose address another session took (it has not sent KEEPALIVE since). */
  'destinationUnbound',
  /** DATA to a WebSocket whose send buffer is over its bound, or while the UDP send queue is over its bound. */
  'backpressure',
] as const;

export type RelayDropReason = (typeof RELAY_DROP_REASONS)[number];

import type { RtcLinkStats } from './webrtc';

export interface RelayStats {
  sessions: number;
  udpSessions: number;
  wsSessions: number;
  /** Open WebSocket connections, with or without a session. */
  wsConnections: number;
  /** Open WebSocket connections without a session (bounded per address and in all; they take no session capacity). */
  wsPendingConnections: number;
  /** Unregistered WebSocket connections closed to make room for a newer one (per-address or overall bound). */
  wsConnectionsEvicted: number;
  /** WebSocket connections refused at once: the address had maxConnectionsPerIp, all with sessions, or the relay was closing. */
  wsConnectionsRefused: number;
  /** WebSocket connections closed (code 4001) for registering nothing within registerTimeoutMs. */
  wsRegisterTimeouts: number;
  /** Datagrams (UDP datagrams and binary WebSocket messages) received, any kind. */
  datagramsIn: number;
  bytesIn: number;
  /** Datagrams sent: forwarded DATA and the relay's own answers. */
  datagramsOut: number;
  bytesOut: number;
  /** DATA datagrams forwarded. */
  forwarded: number;
  /** Payload bytes forwarded (without the 9-byte relay header). */
  forwardedBytes: number;
  registrations: number;
  /** Sessions ended by LEAVE, by idle expiry, by their WebSocket closing. */
  left: number;
  expired: number;
  closed: number;
  refusalsSent: number;
  /** Refusals not sent because of the refusal rate limit or because they would be longer than what they answer. */
  refusalsSuppressed: number;
  drops: Record<RelayDropReason, number>;
  /** WebRTC data channels (their datagrams are also in datagramsIn/Out and bytesIn/Out). */
  rtc: RtcLinkStats;
}

export function emptyDrops(): Record<RelayDropReason, number> {
  const drops = {} as Record<RelayDropReason, number>;
  for (const reason of RELAY_DROP_REASONS) drops[reason] = 0;
  return drops;
}
