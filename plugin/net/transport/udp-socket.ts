/**
 * The Node UDP link: one dgram socket connected to the relay's address, so the kernel hands us
 * only the relay's datagrams. The only file under plugin/ that imports a Node module; the socket
 * factory loads it lazily so browser bundles leave it out.
 */
import * as dgram from 'dgram';
import { isIP } from 'net';
import type { DatagramSocket } from './datagram-socket';


const SOCKET_BUFFER_BYTES = 2 * 1024 * 1024;
/** Skips the DNS module when the relay host is already an IP address. */
function ipLookup(address: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void {
  callback(null, address, isIP(address) === 6 ? 6 : 4);
}

function isLoopback(host: string): boolean {
  return host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export class UdpDatagramSocket implements DatagramSocket {
  onOpen: (() => void) | null = null;
  onMessage: ((datagram: Uint8Array) => void) | null = null;
  onClose: ((reason: string) => void) | null = null;
  onError: ((reason: string) => void) | null = null;

  private readonly socket: dgram.Socket;
  private open = false;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(private readonly host: string, private readonly port: number) {
    const family = isIP(host);
    this.socket = dgram.createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      ...(family !== 0 ? { lookup: ipLookup as unknown as dgram.SocketOptions['lookup'] } : {}),
    });
    this.socket.on('message', (message) => {
      if (this.closed) return;
      // A plain Uint8Array view: Buffer's slice() shares memory, which callers would not expect.
      this.onMessage?.(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
    });
    this.socket.on('error', (error) => {
      // After connect, errors are transient (ICMP port unreachable while a relay restarts):
      // datagrams are allowed to be lost, the relay client notices a dead relay by its timeouts.
      if (!this.open) this.fail(`udp socket: ${error.message}`);
      else this.onError?.(`udp socket: ${error.message}`);
    });
    // Loopback relays get a loopback-bound socket: nothing leaves the machine's lo interface.
    const bindAddress = isLoopback(host) ? host : undefined;
    this.socket.bind({ port: 0, ...(bindAddress !== undefined ? { address: bindAddress } : {}) }, () => {
      if (this.closed) return;
      // A frame's burst (a peer's packets, a relay restart's backlog) must not overflow the
      // kernel's default ~200 KiB buffers; a refusal of the size is harmless, so it is ignored.
      try {
        this.socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
        this.socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
      } catch {
        // keep the kernel's default
      }
      this.socket.connect(this.port, this.host, (error?: Error) => {
        if (this.closed) return;
        // A host that does not resolve arrives here, not as an 'error' event.
        if (error) {
          this.fail(`udp socket: ${error.message}`);
          return;
        }
        this.open = true;
        this.onOpen?.();
      });
    });
  }

  send(datagram: Uint8Array): void {
    if (!this.open || this.closed) return;
    try {
      this.socket.send(datagram);
    } catch {
      // A send on a socket that just closed: the datagram is lost, like any UDP datagram.
    }
  }

  /** The local port, for tests and logs; 0 before the socket is bound. */
  localPort(): number {
    try {
      return this.socket.address().port;
    } catch {
      return 0;
    }
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    this.open = false;
    this.closing = new Promise<void>((resolve) => {
      // One turn later, so a datagram just sent (LEAVE) leaves before the socket goes.
      setImmediate(() => {
        try {
          this.socket.close(() => resolve());
        } catch {
          resolve();
        }
      });
    });
    return this.closing;
  }

  private fail(reason: string): void {
    if (this.closed) return;
    const onClose = this.onClose;
    void this.close();
    onClose?.(reason);
  }
}
