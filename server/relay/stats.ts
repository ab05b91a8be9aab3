/** What the relay counts. Every dropped datagram is counted under exactly one reason. */

export { RELAY_DROP_REASONS, emptyDrops, type RelayDropReason } from '../../plugin/net/relay-core/relay-core';
import type { RelayDropReason } from '../../plugin/net/relay-core/relay-core';

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
