/**
 * Role `enet-peer`: the ENet baseline (the `enet` npm package: ENet compiled to JavaScript). A
 * host bound to 127.0.0.1, serviced every `serviceMs` as a game would service it once a frame.
 * As 'server' it accepts one connection and measures what arrives; as 'client' it connects (through
 * the impairment proxy) and sends: timestamped reliable messages once a frame, or a bulk transfer.
 */
import { monotonicMs, type RoleFactory } from '../lib/role-protocol';
import { distribution, SampleReservoir } from '../lib/stats';
import { LOOPBACK } from './udp-util';

/* The package has no types; this is the part used here. */
interface EnetPacket {
  data(): Buffer;
}
interface EnetPeer {
  send(channel: number, packet: unknown, callback?: (error?: unknown) => void): boolean;
  on(event: 'message', handler: (packet: EnetPacket, channel: number) => void): void;
  on(event: 'disconnect', handler: () => void): void;
  disconnectNow(): void;
}
interface EnetHost {
  on(event: 'connect', handler: (peer: EnetPeer) => void): void;
  address(): { address: string; port: number };
  start(intervalMs?: number): void;
  connect(address: { address: string; port: number }, channels: number, data: number, callback: (error: unknown, peer: EnetPeer) => void): EnetPeer | undefined;
  destroy(): void;
}
interface EnetModule {
  createServer(options: object, callback: (error: unknown, host: EnetHost) => void): EnetHost | undefined;
  Packet: new (data: Buffer, flags: number) => unknown;
  PACKET_FLAG: { RELIABLE: number; UNSEQUENCED: number; UNRELIABLE_FRAGMENT: number };
}

export interface EnetPeerOptions {
  mode: 'server' | 'client';
  serviceMs: number;
  /** Client: where to connect (the proxy's front port). */
  connectPort?: number;
}

function loadEnet(): EnetModule {
  // The emscripten build logs an asm.js warning on load; harmless.
  return require('enet') as EnetModule;
}

function createHost(enet: EnetModule): Promise<EnetHost> {
  return new Promise((resolve, reject) => {
    const host = enet.createServer({ address: { address: LOOPBACK, port: 0 }, peers: 4, channels: 2, down: 0, up: 0 }, (error, created) => {
      if (error) reject(new Error(`enet: ${String(error)}`));
      else resolve(created);
    });
    if (host === undefined) reject(new Error('enet: host creation failed'));
  });
}

export const enetPeerRole: RoleFactory = async (options: EnetPeerOptions) => {
  const enet = loadEnet();
  const host = await createHost(enet);
  host.start(options.serviceMs);
  let peer: EnetPeer | null = null;
  let latency = new SampleReservoir(200_000, 3);
  let received = 0;
  let receivedBytes = 0;
  let firstAtMs = 0;
  let lastAtMs = 0;
  let outOfOrder = 0;
  let expected = -1;
  let sent = 0;
  let sendTimer: ReturnType<typeof setInterval> | null = null;

  const onMessage = (packet: EnetPacket): void => {
    const now = monotonicMs();
    const data = packet.data();
    received++;
    receivedBytes += data.length;
    if (firstAtMs === 0) firstAtMs = now;
    lastAtMs = now;
    if (data.length >= 12) {
      latency.add(now - data.readDoubleBE(0));
      const seq = data.readUInt32BE(8);
      if (expected >= 0 && seq !== expected) outOfOrder++;
      expected = seq + 1;
    }
  };

  if (options.mode === 'server') {
    host.on('connect', (incoming) => {
      peer = incoming;
      incoming.on('message', onMessage);
    });
  } else {
    peer = await new Promise<EnetPeer>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error('enet: connect timed out')), 15_000);
      host.connect({ address: LOOPBACK, port: options.connectPort ?? 0 }, 2, 0, (error, connected) => {
        clearTimeout(timeout);
        if (error) reject(new Error(`enet connect: ${String(error)}`));
        else resolve(connected);
      });
    });
    peer.on('message', onMessage);
  }

  const sendReliable = (bytes: number, seq: number): void => {
    const data = Buffer.alloc(Math.max(12, bytes));
    data.writeDoubleBE(monotonicMs(), 0);
    data.writeUInt32BE(seq, 8);
    peer?.send(0, new enet.Packet(data, enet.PACKET_FLAG.RELIABLE));
    sent++;
  };

  return {
    info: { port: host.address().port },
    counters: () => ({ received, receivedBytes, sent }),
    methods: {
      waitPeer: async () => {
        const deadline = performance.now() + 15_000;
        while (peer === null) {
          if (performance.now() > deadline) throw new Error('enet: no peer connected');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return { ok: true };
      },
      /** Reliable messages of `bytes`, one every `intervalMs`. */
      stream: (args: { bytes: number; intervalMs: number; maxMs: number }) => {
        if (sendTimer !== null) clearInterval(sendTimer);
        let seq = 0;
        const endAt = performance.now() + args.maxMs;
        sendTimer = setInterval(() => {
          if (performance.now() > endAt && sendTimer !== null) {
            clearInterval(sendTimer);
            sendTimer = null;
            return;
          }
          sendReliable(args.bytes, seq++);
        }, args.intervalMs);
        return { ok: true };
      },
      stopStream: () => {
        if (sendTimer !== null) clearInterval(sendTimer);
        sendTimer = null;
        return { sent };
      },
      bulk: (args: { totalBytes: number; messageBytes: number }) => {
        const startedAtMs = monotonicMs();
        let seq = 0;
        for (let offset = 0; offset < args.totalBytes; offset += args.messageBytes) sendReliable(Math.min(args.messageBytes, args.totalBytes - offset), seq++);
        return { startedAtMs };
      },
      setServiceMs: (args: { serviceMs: number }) => {
        host.start(args.serviceMs);
        return { ok: true };
      },
      reset: () => {
        latency = new SampleReservoir(200_000, 3);
        received = 0;
        receivedBytes = 0;
        firstAtMs = 0;
        lastAtMs = 0;
        outOfOrder = 0;
        expected = -1;
        sent = 0;
        return { ok: true };
      },
      results: () => ({ received, receivedBytes, firstAtMs, lastAtMs, outOfOrder, sent, latencyMs: distribution(latency.samples()) }),
    },
    stop: () => {
      if (sendTimer !== null) clearInterval(sendTimer);
      try {
        peer?.disconnectNow();
      } catch {
        // Already gone.
      }
      host.destroy();
    },
  };
};
