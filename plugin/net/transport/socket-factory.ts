/**
 * Picks the link for a relay URL. The UDP link needs Node's 'dgram', so it is loaded only for
 * udp:// and through `loadNodeModule`, which bundlers do not follow: a browser bundle of this
 * module (esbuild --platform=browser) contains neither udp-socket.ts nor 'dgram' nor 'ws' and
 * needs no `external` setting. In a browser a udp:// URL gets a clear error.
 */
import { parseRelayUrl, type DatagramSocket } from './datagram-socket';
import { isNode, loadNodeModule } from './node-require';
import { WebSocketDatagramSocket } from './websocket-socket';

type UdpModule = typeof import('./udp-socket');

export function createDatagramSocket(url: string): DatagramSocket {
  const relay = parseRelayUrl(url);
  if (relay.scheme === 'udp') {
    const udp = isNode() ? loadNodeModule<UdpModule>('./udp-socket') : null;
    if (udp === null) throw new Error(`relay url "${url}": udp:// needs Node; in a browser use ws:// or wss://`);
    return new udp.UdpDatagramSocket(relay.host, relay.port);
  }
  return new WebSocketDatagramSocket(relay.url);
}
