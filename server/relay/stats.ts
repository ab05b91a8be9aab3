/** What the relay counts. Every dropped datagram is counted under exactly one reason. */

export { RELAY_DROP_REASONS, emptyDrops, type RelayDropReason } from '../../plugin/net/relay-core/relay-core';
import type { RelayCoreCounters } from '../../plugin/net/relay-core/relay-core';

import type { RtcLinkStats } from './webrtc';

/** The core's counters (datagrams, forwarding, sessions ended, refusals, drops by reason) plus the adapters' own. */
export interface RelayStats extends RelayCoreCounters {
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
  /** WebRTC data channels (their datagrams are also in datagramsIn/Out and bytesIn/Out). */
  rtc: RtcLinkStats;
}
