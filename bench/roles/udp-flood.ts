/**
 * Role `udp-flood`: raw sessions on a forwarder (our relay over its wire protocol, or the bare
 * forwarder), each its own UDP socket on 127.0.0.1; floods DATA datagrams between them (or to
 * sessions of another flood process) and counts what comes back. Every flood stops by itself.
 */
import type * as dgram from 'dgram';
import { decodeRelayDatagram, encodeRegister, MIN_UDP_REGISTER_BYTES, RelayType, sessionIdToBytes } from '../../plugin/net/wire/relay-codec';
import { openPacket, sealPacket, useLibsodium } from '../../plugin/net/crypto/primitives';
import { readyLibsodium } from '../lib/libsodium';
import type { RoleFactory } from '../lib/role-protocol';
import { BARE_DATA, BARE_HELLO } from './bare-forwarder';
import { bindLoopbackUdp, closeUdp, LOOPBACK } from './udp-util';

export interface UdpFloodOptions {
  mode: 'relay' | 'bare';
  /** The forwarder's UDP port on 127.0.0.1. */
  port: number;
  sessions: number;
  /**
   * Seal every datagram sent (ChaCha20-Poly1305 through the manager's crypto backend, a fresh
   * nonce each) and open every one received, as any stack that encrypts each datagram must: the
   * floor under an encrypted bulk flow, with no reliability, ordering or congestion control.
   */
  aead?: boolean;
  /** With `aead`: through libsodium (useLibsodium()) instead of the default backend. */
  libsodium?: boolean;
}

export interface FloodArgs {
  /** UDP payload bytes of every datagram (header included), ≥ 10. */
  size: number;
  /** Datagrams sent per event-loop turn before yielding to receive. */
  batch?: number;
  /** Stop after this long at most. */
  maxMs: number;
  /** Offered datagrams per second over all sessions; 0 = as fast as the loop goes. */
  ratePerSecond?: number;
  /** Destination session ids (8 bytes each); default: the ring of this role's own sessions. */
  destinations?: Uint8Array[];
}

const DATA_HEADER = 9;
/** After the forwarder's 9-byte header: 6 bytes of associated data (like our DATA header), then ciphertext‖tag. */
const AEAD_HEADER = 6;
const TAG_BYTES = 16;

export const udpFloodRole: RoleFactory = async (options: UdpFloodOptions) => {
  if (!(options.sessions >= 1 && options.sessions <= 5000)) throw new Error('sessions must be 1..5000');
  if (options.libsodium === true) {
    useLibsodium(await readyLibsodium());
  }
  const sockets: dgram.Socket[] = [];
  const ids: Uint8Array[] = [];
  let received = 0;
  let receivedBytes = 0;
  let sent = 0;
  let openFailures = 0;
  const key = new Uint8Array(32).fill(7);
  const sendNonce = new Uint8Array(12);
  const nonceView = new DataView(sendNonce.buffer);
  const receiveNonce = new Uint8Array(12);
  const receiveNonceView = new DataView(receiveNonce.buffer);
  let sendCounter = 0;
  let cancelTurn: (() => void) | null = null;
  let floodDeadline: ReturnType<typeof setTimeout> | null = null;

  for (let i = 0; i < options.sessions; i++) {
    const socket = await bindLoopbackUdp(0, 1 << 20);
    sockets.push(socket);
  }

  const register = async (): Promise<void> => {
    const answered = new Array<boolean>(sockets.length).fill(false);
    await new Promise<void>((resolve, reject) => {
      let remaining = sockets.length;
      const nonces: Uint8Array[] = [];
      const onAnswer = (i: number, datagram: Buffer): void => {
        if (answered[i]) return;
        if (options.mode === 'relay') {
          const decoded = decodeRelayDatagram(new Uint8Array(datagram.buffer, datagram.byteOffset, datagram.length));
          if (!decoded.ok || decoded.value.kind !== 'registered') return;
          ids[i] = sessionIdToBytes(decoded.value.sessionId);
        } else {
          if (datagram[0] !== BARE_HELLO) return;
        }
        answered[i] = true;
        if (--remaining === 0) resolve();
      };
      const sendRequest = (i: number): void => {
        if (options.mode === 'relay') {
          sockets[i].send(encodeRegister({ nonce: nonces[i], padToBytes: MIN_UDP_REGISTER_BYTES }), options.port, LOOPBACK);
        } else {
          const hello = Buffer.alloc(DATA_HEADER);
          hello[0] = BARE_HELLO;
          hello.set(ids[i], 1);
          sockets[i].send(hello, options.port, LOOPBACK);
        }
      };
      sockets.forEach((socket, i) => {
        const nonce = new Uint8Array(8);
        globalThis.crypto.getRandomValues(nonce);
        nonces.push(nonce);
        if (options.mode === 'bare') {
          // Distinct low 32 bits, like relay session ids.
          const id = new Uint8Array(8);
          globalThis.crypto.getRandomValues(id);
          new DataView(id.buffer).setUint32(4, (Math.random() * 0xffffffff) >>> 0 || i + 1);
          ids[i] = id;
        }
        socket.once('message', function first(datagram: Buffer) {
          onAnswer(i, datagram);
          if (!answered[i]) socket.once('message', first);
        });
        sendRequest(i);
      });
      // Lost or rate-limited requests are repeated, up to a bound.
      let attempts = 0;
      const retry = setInterval(() => {
        if (remaining === 0) {
          clearInterval(retry);
          return;
        }
        if (++attempts > 100) {
          clearInterval(retry);
          reject(new Error(`udp-flood: ${remaining} of ${sockets.length} sessions did not register in 100 attempts`));
          return;
        }
        sockets.forEach((_, i) => {
          if (!answered[i]) sendRequest(i);
        });
      }, 200);
    });
    for (const socket of sockets) {
      socket.on('message', (datagram: Buffer) => {
        if (datagram[0] === RelayType.Delivery || datagram[0] === BARE_DATA) {
          if (options.aead === true) {
            if (datagram.length < DATA_HEADER + AEAD_HEADER + TAG_BYTES) {
              openFailures++;
              return;
            }
            // The nonce travels in the associated data's last 4 bytes (our DATA header does the same with its packet number).
            receiveNonceView.setUint32(8, datagram.readUInt32BE(DATA_HEADER + 2));
            const aad = datagram.subarray(DATA_HEADER, DATA_HEADER + AEAD_HEADER);
            if (openPacket(key, receiveNonce, aad, datagram.subarray(DATA_HEADER + AEAD_HEADER)) === null) {
              openFailures++;
              return;
            }
          }
          received++;
          receivedBytes += datagram.length;
        }
      });
    }
  };
  await register();

  const stopFlood = (): void => {
    cancelTurn?.();
    cancelTurn = null;
    if (floodDeadline !== null) clearTimeout(floodDeadline);
    floodDeadline = null;
  };

  const flood = (args: FloodArgs): { started: true } => {
    stopFlood();
    const smallest = DATA_HEADER + 1 + (options.aead === true ? AEAD_HEADER + TAG_BYTES : 0);
    if (!(args.size >= smallest && args.size <= 1500)) throw new Error(`size must be ${smallest}..1500, got ${args.size}`);
    const destinations = args.destinations ?? ids.map((_, i) => ids[(i + 1) % ids.length]);
    const datagrams = sockets.map((_, i) => {
      const d = Buffer.alloc(args.size);
      d[0] = options.mode === 'relay' ? RelayType.Data : BARE_DATA;
      d.set(destinations[i % destinations.length], 1);
      return d;
    });
    const batch = Math.max(1, args.batch ?? 64);
    const rate = args.ratePerSecond ?? 0;
    const startedAt = performance.now();
    let index = 0;
    let offered = 0;
    const turn = (): void => {
      let count = batch;
      if (rate > 0) {
        const due = Math.floor(((performance.now() - startedAt) / 1000) * rate) - offered;
        count = Math.min(batch * 4, Math.max(0, due));
      }
      for (let k = 0; k < count; k++) {
        const datagram = datagrams[index];
        if (options.aead === true) {
          nonceView.setUint32(8, ++sendCounter);
          datagram.writeUInt32BE(sendCounter, DATA_HEADER + 2);
          // Sealed in place, as our packet path does: plaintext and output are the same bytes.
          const body = datagram.subarray(DATA_HEADER + AEAD_HEADER, datagram.length - TAG_BYTES);
          sealPacket(key, sendNonce, datagram.subarray(DATA_HEADER, DATA_HEADER + AEAD_HEADER), body, datagram.subarray(DATA_HEADER + AEAD_HEADER));
        }
        sockets[index].send(datagram, options.port, LOOPBACK);
        index = index + 1 === sockets.length ? 0 : index + 1;
      }
      offered += count;
      sent += count;
      if (rate > 0 && count === 0) {
        const timer = setTimeout(turn, 1);
        cancelTurn = () => clearTimeout(timer);
      } else {
        const immediate = setImmediate(turn);
        cancelTurn = () => clearImmediate(immediate);
      }
    };
    floodDeadline = setTimeout(stopFlood, args.maxMs);
    turn();
    return { started: true };
  };

  return {
    info: { sessions: sockets.length },
    counters: () => ({ sent, received, receivedBytes, openFailures }),
    methods: {
      ids: () => ids,
      flood: (args: FloodArgs) => flood(args),
      stopFlood: () => {
        stopFlood();
        return { sent };
      },
    },
    stop: async () => {
      stopFlood();
      await Promise.all(sockets.map(closeUdp));
    },
  };
};
