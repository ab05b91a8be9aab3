import * as dgram from 'dgram';
import { isIP } from 'net';

/** Addresses are IPs already: skip the DNS module on every send (measurably faster). */
function ipLookup(address: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void {
  callback(null, address, isIP(address) === 6 ? 6 : 4);
}

/** A UDP socket for a relay: IPv4 or IPv6 after the bind host, sending to IP literals only (no DNS lookup per datagram). */
export function createUdpSocket(host: string): dgram.Socket {
  return dgram.createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', lookup: ipLookup as unknown as dgram.SocketOptions['lookup'] });
}
