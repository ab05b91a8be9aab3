/** UDP helpers shared by the roles: loopback-only sockets with a synchronous lookup. */
import * as dgram from 'dgram';
import { isIP } from 'net';

export const LOOPBACK = '127.0.0.1';

/** Addresses are IPs already: skip the DNS module on every send (as the relay does). */
function ipLookup(address: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void {
  callback(null, address, isIP(address) === 6 ? 6 : 4);
}

export function assertLoopback(host: string): void {
  if (host !== LOOPBACK) throw new Error(`benchmarks bind and send to ${LOOPBACK} only, got ${host}`);
}

/** A UDP socket bound to 127.0.0.1 (port 0 = any free one), with big kernel buffers where allowed. */
export async function bindLoopbackUdp(port = 0, bufferBytes = 4 << 20): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', lookup: ipLookup as unknown as dgram.SocketOptions['lookup'] });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: LOOPBACK }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  try {
    socket.setRecvBufferSize(bufferBytes);
    socket.setSendBufferSize(bufferBytes);
  } catch {
    // The kernel caps buffer sizes; defaults still work.
  }
  return socket;
}

export function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

export function portOfUrl(url: string): number {
  const match = /^(?:udp|ws):\/\/127\.0\.0\.1:(\d+)\/?$/.exec(url);
  if (!match) throw new Error(`benchmark urls must be udp:// or ws:// to 127.0.0.1 with a port, got ${url}`);
  return Number(match[1]);
}
