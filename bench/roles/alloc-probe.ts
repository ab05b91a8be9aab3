/**
 * Role `alloc-probe`: bytes allocated per datagram on the steady-state send and receive path. Two
 * NetworkManagers in this process, A and B, connected through the relay; A sends one 32 B
 * unreliable message a flush to B (one datagram each), B acknowledges. Run with --expose-gc and a
 * young generation large enough that no GC runs inside the window, so the growth of the JS heap
 * plus ArrayBuffer memory over the window is what was allocated in it (a GC inside the window is
 * detected and reported instead of a figure). The floor: the same number of datagrams of the same
 * size between two bare dgram sockets in this process, driven by the same loop.
 */
import { PerformanceObserver } from 'perf_hooks';
import { openPacket, sealPacket } from '../../plugin/net/crypto/primitives';
import { NetworkManager } from '../../plugin/net/network-manager';
import type { DatagramSocket } from '../../plugin/net/transport/datagram-socket';
import { UdpDatagramSocket } from '../../plugin/net/transport/udp-socket';
import type { PeerId } from '../../plugin/net/types';
import type { RoleFactory } from '../lib/role-protocol';
import { bindLoopbackUdp, closeUdp, LOOPBACK, portOfUrl } from './udp-util';

export interface AllocWindow {
  /** Datagrams that crossed in the window: sent by one side and received by the other, each counted once per end. */
  datagramsSent: number;
  datagramsReceived: number;
  allocatedBytes: number;
  /** Bytes per 10,000 datagrams (sent + received, so a datagram's send and its receive each count once). */
  bytesPer10kDatagrams: number;
  gcsInWindow: number;
}

const MESSAGE = new Uint8Array(32).fill(7);
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function allocatedNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('alloc-probe needs --expose-gc');
  gc();
}

export const allocProbeRole: RoleFactory = async (options: { relayUrl: string }) => {
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  const counts = { aOut: 0, bIn: 0, bOut: 0, aIn: 0 };
  const counting = (out: 'aOut' | 'bOut', inn: 'aIn' | 'bIn') => (url: string): DatagramSocket => {
    const inner = new UdpDatagramSocket(LOOPBACK, portOfUrl(url));
    const outer: DatagramSocket = {
      onOpen: null,
      onMessage: null,
      onClose: null,
      send: (d) => {
        counts[out]++;
        inner.send(d);
      },
      close: () => inner.close(),
    };
    inner.onOpen = () => outer.onOpen?.();
    inner.onMessage = (d) => {
      counts[inn]++;
      outer.onMessage?.(d);
    };
    inner.onClose = (r) => outer.onClose?.(r);
    return outer;
  };
  const quiet = { info: () => undefined, warn: () => undefined };
  const a = new NetworkManager({ relay: options.relayUrl, logger: quiet, socketFactory: counting('aOut', 'aIn') });
  const b = new NetworkManager({ relay: options.relayUrl, logger: quiet, socketFactory: counting('bOut', 'bIn') });
  const deadline = performance.now() + 15_000;
  while (a.getRoute() === null || b.getRoute() === null) {
    if (performance.now() > deadline) throw new Error('alloc-probe: no route from the relay');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const aId: PeerId = a.getPeerId();
  const bId: PeerId = b.getPeerId();
  a.openPeer(bId, b.getRoute() as string);
  b.openPeer(aId, a.getRoute() as string);
  a.openChannel(bId, 0, false);
  b.openChannel(aId, 0, false);
  let received = 0;
  b.message$.subscribe(() => received++);
  const frame = async (): Promise<void> => {
    a.sendMessage(bId, 0, MESSAGE);
    a.flush();
    await turn();
    b.runCallbacks();
    b.flush();
    await turn();
    a.runCallbacks();
  };
  while (received === 0) {
    if (performance.now() > deadline) throw new Error('alloc-probe: peers did not connect');
    await frame();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }

  const window = async (datagrams: number, step: () => Promise<void>, sent: () => number, got: () => number): Promise<AllocWindow> => {
    for (let i = 0; i < 500; i++) await step(); // steady state: every lazy structure made
    forceGc();
    // GC entries reach the observer asynchronously: let the forced one arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const gcsBefore = gcs;
    const sent0 = sent();
    const got0 = got();
    const before = allocatedNow();
    let last = before;
    let shrank = 0;
    const stopAt = performance.now() + 20_000;
    while (sent() - sent0 < datagrams && performance.now() < stopAt) {
      await step();
      const now = allocatedNow();
      if (now < last) shrank++; // only a collection makes it shrink
      last = now;
    }
    const allocated = allocatedNow() - before;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const crossed = sent() - sent0 + (got() - got0);
    return {
      datagramsSent: sent() - sent0,
      datagramsReceived: got() - got0,
      allocatedBytes: allocated,
      bytesPer10kDatagrams: (allocated / Math.max(1, crossed)) * 10_000,
      gcsInWindow: Math.max(shrank, gcs - gcsBefore),
    };
  };

  return {
    info: {},
    methods: {
      /** Ours: `datagrams` sent by A (and B's acknowledgements), send and receive path in one heap. */
      ours: (args: { datagrams: number }) =>
        window(Math.min(args.datagrams, 100_000), frame, () => counts.aOut + counts.bOut, () => counts.aIn + counts.bIn),
      /** The AEAD alone: one seal and one open of `bytes` a datagram through the managers' backend, the same loop. */
      aead: async (args: { datagrams: number; bytes: number }) => {
        const key = new Uint8Array(32).fill(3);
        const nonce = new Uint8Array(12);
        const header = new Uint8Array(6);
        const plaintext = new Uint8Array(Math.max(0, args.bytes - 31));
        const sealed = new Uint8Array(plaintext.length + 16);
        let done = 0;
        const step = async (): Promise<void> => {
          nonce[11] = done & 0xff;
          sealPacket(key, nonce, header, plaintext, sealed);
          if (openPacket(key, nonce, header, sealed) === null) throw new Error('alloc-probe: open failed');
          done += 2;
          await turn();
        };
        return window(Math.min(args.datagrams, 100_000), step, () => done, () => 0);
      },
      /** The floor: two bare connected dgram sockets, datagrams of `bytes` each way, the same loop. */
      floor: async (args: { datagrams: number; bytes: number }) => {
        const x = await bindLoopbackUdp(0, 1 << 20);
        const y = await bindLoopbackUdp(0, 1 << 20);
        await new Promise<void>((resolve) => x.connect(y.address().port, LOOPBACK, () => resolve()));
        await new Promise<void>((resolve) => y.connect(x.address().port, LOOPBACK, () => resolve()));
        let sent = 0;
        let got = 0;
        x.on('message', () => got++);
        y.on('message', () => got++);
        const datagram = new Uint8Array(Math.max(1, args.bytes));
        const step = async (): Promise<void> => {
          x.send(datagram);
          sent++;
          await turn();
          y.send(datagram);
          sent++;
          await turn();
        };
        try {
          return await window(Math.min(args.datagrams, 100_000), step, () => sent, () => got);
        } finally {
          await Promise.all([closeUdp(x), closeUdp(y)]);
        }
      },
    },
    stop: async () => {
      observer.disconnect();
      await Promise.all([a.dispose(), b.dispose()]);
    },
  };
};
