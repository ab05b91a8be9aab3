/**
 * The test page of the WebRTC browser tests and the freshness benchmark (bundled with esbuild,
 * platform=browser): one NetworkManager on a ws:// relay, driven from Node through
 * `window.webrtcTest`. Message bodies: u32 index, then f64 send time (ms since the epoch, from
 * performance.timeOrigin + performance.now(), comparable across the page and Node on one machine).
 */
import { NetworkManager } from '../../../plugin/net/network-manager';
import { createDatagramSocket } from '../../../plugin/net/transport/socket-factory';
import type { DatagramSocket, TransportPreference } from '../../../plugin/net/transport/datagram-socket';
import { WebRtcDatagramSocket } from '../../../plugin/net/transport/webrtc-socket';

export const RELIABLE_CHANNEL = 1;
export const UNRELIABLE_CHANNEL = 2;
/** Entries kept at most in each record below. */
const MAX_RECORDS = 200_000;
const FRAME_MS = 4;

export interface PageReport {
  link: string | null;
  requested: string;
  route: string | null;
  sent: number;
  /** Messages sent by stream() so far. */
  streamed: number;
  reliable: number[];
  unreliable: number[];
  /** Age of the newest unreliable message at each frame, ms (after the first arrived). */
  ages: number[];
  sdp: { offer: string | null; answer: string | null } | null;
  logs: string[];
  state: string | null;
}

export interface WebRtcTestApi {
  start(options: { relay: string; transport?: TransportPreference }): Promise<{ peerId: string; route: string }>;
  open(peerId: string, route: string): number;
  /** Queues `count` numbered messages on the reliable channel and, when asked, the unreliable one. */
  send(count: number, unreliable: boolean): void;
  /** Sends one more message on the unreliable channel only (indices from 1,000,000 up). */
  sendUnreliable(): void;
  /** Sends one timestamped message on the unreliable channel every `periodMs` for `durationMs`. */
  stream(periodMs: number, durationMs: number): void;
  /** Clears the age samples and the unreliable record (the benchmark's warm-up). */
  resetAges(): void;
  report(): PageReport;
  selectedPair(): Promise<{ local: string; remote: string } | null>;
  /** Constructs a manager with the page's default socket factory and disposes it: 'ok' or the error message. */
  tryCreate(options: { relay: string; transport?: TransportPreference }): Promise<string>;
  dispose(): Promise<void>;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

function body(index: number): Uint8Array {
  const bytes = new Uint8Array(12 + 20);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, index);
  view.setFloat64(4, now());
  return bytes;
}

function push<T>(list: T[], value: T): void {
  if (list.length < MAX_RECORDS) list.push(value);
}

let net: NetworkManager | null = null;
let other: bigint | null = null;
let socket: DatagramSocket | null = null;
let frameTimer: ReturnType<typeof setInterval> | null = null;
let streamTimer: ReturnType<typeof setInterval> | null = null;
let sent = 0;
let streamed = 0;
let extraUnreliable = 1_000_000;
let newestSentAt: number | null = null;
let newestUnreliable = -1;
const reliable: number[] = [];
const unreliable: number[] = [];
const ages: number[] = [];
const logs: string[] = [];

const api: WebRtcTestApi = {
  async start(options) {
    const logger = {
      info: (message: string) => push(logs, message),
      warn: (message: string) => push(logs, `warn: ${message}`),
    };
    const transport = options.transport ?? 'auto';
    const manager = new NetworkManager({
      relay: options.relay,
      transport,
      logger,
      // The factory the manager would use by default; kept here so the test can read the link's SDPs.
      socketFactory: (url) => (socket = createDatagramSocket(url, { transport, logger })),
    });
    net = manager;
    manager.message$.subscribe((message) => {
      const view = new DataView(message.data.buffer, message.data.byteOffset, message.data.byteLength);
      const index = view.getUint32(0);
      if (message.channelId === RELIABLE_CHANNEL) push(reliable, index);
      else {
        push(unreliable, index);
        if (index > newestUnreliable) {
          newestUnreliable = index;
          newestSentAt = view.getFloat64(4);
        }
      }
    });
    frameTimer = setInterval(() => {
      manager.runCallbacks();
      if (newestSentAt !== null) push(ages, now() - newestSentAt);
      manager.flush();
    }, FRAME_MS);
    const deadline = Date.now() + 10_000;
    while (manager.getRoute() === null) {
      if (Date.now() > deadline) throw new Error('page: no route from the relay within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { peerId: manager.getPeerId().toString(), route: manager.getRoute()! };
  },

  open(peerId, route) {
    if (net === null) throw new Error('page: start() first');
    other = BigInt(peerId);
    const opened = net.openPeer(other, route);
    if (opened !== 0) return opened;
    return net.openChannel(other, RELIABLE_CHANNEL, true) || net.openChannel(other, UNRELIABLE_CHANNEL, false);
  },

  send(count, withUnreliable) {
    if (net === null || other === null) throw new Error('page: open() first');
    for (let i = 0; i < count; i++, sent++) {
      const result = net.sendMessage(other, RELIABLE_CHANNEL, body(sent));
      if (result !== 0) throw new Error(`page: sendMessage gave Result ${result}`);
      if (withUnreliable) net.sendMessage(other, UNRELIABLE_CHANNEL, body(sent));
    }
  },

  sendUnreliable() {
    if (net === null || other === null) throw new Error('page: open() first');
    net.sendMessage(other, UNRELIABLE_CHANNEL, body(extraUnreliable++));
  },

  stream(periodMs, durationMs) {
    if (net === null || other === null) throw new Error('page: open() first');
    const manager = net;
    const peer = other;
    const end = Date.now() + durationMs;
    streamTimer = setInterval(() => {
      if (Date.now() > end && streamTimer !== null) {
        clearInterval(streamTimer);
        streamTimer = null;
        return;
      }
      manager.sendMessage(peer, UNRELIABLE_CHANNEL, body(streamed++));
    }, periodMs);
  },

  resetAges() {
    ages.length = 0;
    unreliable.length = 0;
  },

  report() {
    const info = net?.getTransportInfo() ?? null;
    const peerState = net !== null && other !== null ? net.getPeerStats(other)?.state ?? null : null;
    return {
      link: info?.link ?? null,
      requested: info?.requested ?? 'none',
      route: net?.getRoute() ?? null,
      sent,
      streamed,
      reliable: [...reliable],
      unreliable: [...unreliable],
      ages: [...ages],
      sdp: socket instanceof WebRtcDatagramSocket ? socket.lastSdp : null,
      logs: [...logs],
      state: peerState,
    };
  },

  async selectedPair() {
    return socket instanceof WebRtcDatagramSocket ? socket.selectedCandidatePair() : null;
  },

  async tryCreate(options) {
    try {
      const manager = new NetworkManager({ relay: options.relay, transport: options.transport, logger: { info: () => undefined, warn: () => undefined } });
      await manager.dispose();
      return 'ok';
    } catch (error) {
      return (error as Error).message;
    }
  },

  async dispose() {
    if (frameTimer !== null) clearInterval(frameTimer);
    if (streamTimer !== null) clearInterval(streamTimer);
    frameTimer = streamTimer = null;
    await net?.dispose();
    net = null;
  },
};

(globalThis as unknown as { webrtcTest: WebRtcTestApi }).webrtcTest = api;
