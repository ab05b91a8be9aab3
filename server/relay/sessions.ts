/**
 * The relay adapter's view of connections and sessions: the core's (plugin/net/relay-core) plus
 * what only the socket side has (the WebSocket, its timers, the WebRTC link).
 */
import type { WebSocket } from 'ws';
import type { CoreConnection, CoreSession } from '../../plugin/net/relay-core/relay-core';
import type { RtcLink } from './webrtc';

/** One WebSocket client; it has at most one session at a time. */
export interface WsConnection extends CoreConnection<Session> {
  readonly ws: WebSocket;
  registerTimer: ReturnType<typeof setTimeout> | null;
  /** When the relay began closing it (performance.now()), or null; one that lingers is terminated by the sweep. */
  closingSinceMs: number | null;
}

export interface Session extends CoreSession<WsConnection> {
  /** WebSocket sessions: the WebRTC data channel bound to the session, when the client asked for one. */
  rtc: RtcLink | null;
  /** RTC_OFFERs this session has made (bounded per session). */
  rtcOffers: number;
}
