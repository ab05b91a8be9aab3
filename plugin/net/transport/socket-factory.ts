/**
 * Picks the link for a relay URL. The UDP link needs Node's 'dgram', so it is loaded only for
 * udp:// and through `loadNodeModule`, which bundlers do not follow: a browser bundle of this
 * module (esbuild --platform=browser) contains neither udp-socket.ts nor 'dgram' nor 'ws' and
 * needs no `external` setting. In a browser a udp:// URL gets a clear error.
 *
 * ws:// and wss:// get the WebRTC link (WebSocket first, then a data channel) when the transport
 * preference allows it and the runtime has RTCPeerConnection; otherwise the plain WebSocket link.
 */
import type { Logger } from '../types';
import { parseRelayUrl, type DatagramSocket, type TransportPreference } from './datagram-socket';
import { isNode, loadNodeModule } from './node-require';
import { WebRtcDatagramSocket, rtcPeerConnectionConstructor } from './webrtc-socket';
import { WebSocketDatagramSocket } from './websocket-socket';

type UdpModule = typeof import('./udp-socket');

export interface DatagramSocketOptions {
  /** Default 'auto'. */
  transport?: TransportPreference;
  logger?: Logger;
  /** WebRTC link: from the start of an attempt to an open channel, at most (default 5000 ms). */
  rtcConnectTimeoutMs?: number;
}

export function createDatagramSocket(url: string, options: DatagramSocketOptions = {}): DatagramSocket {
  const relay = parseRelayUrl(url);
  const transport = options.transport ?? 'auto';
  if (relay.scheme === 'udp') {
    if (transport === 'webrtc') throw new Error(`relay url "${url}": transport "webrtc" needs a ws:// or wss:// relay url`);
    const udp = isNode() ? loadNodeModule<UdpModule>('./udp-socket') : null;
    if (udp === null) throw new Error(`relay url "${url}": udp:// needs Node; in a browser use ws:// or wss://`);
    return new udp.UdpDatagramSocket(relay.host, relay.port);
  }
  const peerConnection = rtcPeerConnectionConstructor();
  if (transport === 'webrtc' || (transport === 'auto' && peerConnection !== null)) {
    return new WebRtcDatagramSocket(relay.url, { mode: transport, logger: options.logger, connectTimeoutMs: options.rtcConnectTimeoutMs, peerConnection });
  }
  return new WebSocketDatagramSocket(relay.url);
}
