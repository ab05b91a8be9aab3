/**
 * Role `bare-udp-forwarder`: the baseline a relay is measured against — one Map lookup on the
 * 8-byte destination id of a datagram laid out like relay DATA (type 0x03, id, payload) and a send.
 * No sender check, no rate limit, no rewrite. A HELLO (0x01, id) binds an id to its sender address.
 */
import type * as dgram from 'dgram';
import type { RoleFactory } from '../lib/role-protocol';
import { bindLoopbackUdp, closeUdp } from './udp-util';

export const BARE_HELLO = 0x01;
export const BARE_DATA = 0x03;

export interface BareForwarderInfo {
  port: number;
}

interface Destination {
  address: string;
  port: number;
}

export const bareForwarderRole: RoleFactory = async () => {
  const socket: dgram.Socket = await bindLoopbackUdp();
  // Keyed by the id's low 32 bits, as the relay's session table is: a number key allocates nothing.
  const table = new Map<number, Destination>();
  let received = 0;
  let forwarded = 0;
  let unknown = 0;
  socket.on('message', (datagram, remote) => {
    received++;
    if (datagram.length < 9) return;
    const low = datagram.readUInt32BE(5);
    if (datagram[0] === BARE_DATA) {
      const destination = table.get(low);
      if (destination === undefined) {
        unknown++;
        return;
      }
      socket.send(datagram, destination.port, destination.address);
      forwarded++;
    } else if (datagram[0] === BARE_HELLO) {
      table.set(low, { address: remote.address, port: remote.port });
      socket.send(datagram, remote.port, remote.address);
    }
  });
  const info: BareForwarderInfo = { port: socket.address().port };
  return {
    info,
    counters: () => ({ datagramsIn: received, forwarded, unknownDestination: unknown, sessions: table.size }),
    stop: () => closeUdp(socket),
  };
};
