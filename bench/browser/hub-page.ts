/**
 * The page of the browser frame-cost benchmark (bundled with esbuild for the browser): the hub
 * NetworkManager of bench/suites/frame-cost.ts, inside Chromium, on the relay's ws:// URL, over a
 * WebSocket or a WebRTC data channel. The page drives itself; it talks to its host
 * (bench/browser/page-host.ts) over same-origin HTTP only, so nothing needs a DevTools session
 * on it (DevTools' Network domain reports every WebSocket message and would inflate the figures).
 *
 *   GET /config → the workload; POST /hub {peerId, route, link} → the peers' routes;
 *   POST /connected → (the host starts the peers' traffic); POST /measured → (the host stops it);
 *   POST /report → everything measured; POST /failed → why it stopped.
 *
 * Frames run from a 60 Hz timer, as the Node hub's do: runCallbacks(), the sends, flush(), timed
 * around the two calls with performance.now() (5 µs steps: the host serves the page cross-origin
 * isolated). Then, in the same page, the floors: the same number of datagram sends of the same
 * sizes on a bare WebSocket (or data channel) to a sink that discards them, plus the same AEAD
 * seals and opens, and the AEAD alternatives a page has (noble ChaCha20-Poly1305, WebCrypto AES-GCM).
 */
import { cryptoBackendName, openPacket, sealPacket, useLibsodium } from '../../plugin/net/crypto/primitives';
import { NetworkManager } from '../../plugin/net/network-manager';
import type { TransportPreference } from '../../plugin/net/transport/datagram-socket';
import { createDatagramSocket } from '../../plugin/net/transport/socket-factory';
import { newWireCounters, wrapForCounting } from '../lib/counting-socket';

export interface PageConfig {
  relay: string;
  transport: TransportPreference;
  peers: number;
  messages: number;
  bytes: number;
  hz: number;
  warmupMs: number;
  windowMs: number;
  floorFrames: number;
  /** ws:// URL of the host's discarding WebSocket sink. */
  sinkUrl: string;
  /** The packet AEAD of the hub (and of its floor): noble (the default in a page) or libsodium via useLibsodium(). */
  aead: 'noble' | 'libsodium';
  /** Also measure the AEAD alternatives (libsodium direct, WebCrypto AES-GCM) after the floor. */
  alternatives: boolean;
  /** Sample the page's JavaScript during the window (JS Self-Profiling API) and report self time by function. */
  profile: boolean;
}

export interface PeerRoute {
  peerId: string;
  route: string;
}

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface PageReport {
  link: string | null;
  userAgent: string;
  crossOriginIsolated: boolean;
  visibility: string;
  cryptoBackend: string;
  frames: number;
  lateFrames: number;
  frameUs: Distribution;
  sendUs: Distribution;
  /** Longest gap between two frame starts, ms (what a game would feel as a hitch). */
  longestGapMs: number;
  dataDatagramsOut: number;
  dataBytesOut: number;
  datagramsIn: number;
  bytesIn: number;
  messagesReceived: number;
  refused: number;
  /** The floor of the manager's link: sends + seals + opens a frame. */
  floorUs: Distribution;
  /** The sends alone on the same bare link. */
  sendsOnlyUs: Distribution;
  /** The seals + opens alone, through the hub's AEAD backend. */
  aeadUs: Distribution;
  /** The same seals + opens through libsodium's WebAssembly build (libsodium-wrappers), or why not. */
  libsodiumUs: Distribution | null;
  /** Whether libsodium's ChaCha20-Poly1305 (IETF) gave the same bytes as noble's for one packet. */
  libsodiumSameBytes: boolean | null;
  libsodiumError: string | null;
  /** The same number of AES-256-GCM encrypts + decrypts through WebCrypto (asynchronous), awaited together: wall time. */
  webCryptoAesGcmUs: Distribution | null;
  /**
   * Main-thread time a frame if the manager ran in a dedicated worker: the frame's outgoing
   * messages packed into one transferred buffer and posted, plus unpacking the worker's reply of
   * as many incoming messages into message objects (the floor of that design, not a design).
   */
  workerPostUs: Distribution | null;
  /** What a dedicated worker has here for a manager: RTCPeerConnection, and whether a page's RTCDataChannel transfers into it. */
  workerLinks: { rtcPeerConnection: boolean; dataChannelTransfers: boolean; webSocket: boolean } | null;
  floorLink: string;
  datagramsPerFrame: number;
  opensPerFrame: number;
  outBytes: number;
  inBytes: number;
  /** With `profile`: the functions with the most self time in the window (share of samples), or why there is none. */
  profile: { name: string; share: number }[] | string | null;
}

/** The JS Self-Profiling API (Chromium; needs the document served with `Document-Policy: js-profiling`). */
interface SelfProfiler {
  stop(): Promise<{ frames: { name: string; resourceId?: number; line?: number }[]; resources: string[]; samples: { stackId?: number }[]; stacks: { frameId: number; parentId?: number }[] }>;
}
declare const Profiler: (new (options: { sampleInterval: number; maxBufferSize: number }) => SelfProfiler) | undefined;

async function selfTimeByFunction(profiler: SelfProfiler): Promise<{ name: string; share: number }[]> {
  const trace = await profiler.stop();
  const counts = new Map<string, number>();
  for (const sample of trace.samples) {
    const name = sample.stackId === undefined ? '(idle or native)' : (() => {
      const frame = trace.frames[trace.stacks[sample.stackId].frameId];
      return `${frame.name || '(anonymous)'}:${frame.line ?? '?'}`;
    })();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([name, n]) => ({ name, share: n / Math.max(1, trace.samples.length) }));
}

const DATA = 0x03;
const HEADER_BYTES = 12;
/** Relay header 9 B, DATA header 6 B (the associated data), tag 16 B around a packet's plaintext. */
const RELAY_HEADER = 9;
const AAD_BYTES = 6;
const OVERHEAD = RELAY_HEADER + AAD_BYTES + 16;
const MAX_SAMPLES = 100_000;

function now(): number {
  return performance.now();
}

function distribution(values: number[]): Distribution {
  const sorted = Float64Array.from(values).sort();
  const at = (p: number): number => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]);
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.length ? sorted[sorted.length - 1] : Number.NaN, mean: sorted.length ? sum / sorted.length : Number.NaN };
}

async function post<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`page: POST ${path} gave ${response.status}`);
  return (await response.json()) as T;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!condition()) {
    if (now() > deadline) throw new Error(`page: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}


/** The hub's frames: until `phases.done()`; returns the timings of the frames run while `phases.measuring()`. */
async function runFrames(manager: NetworkManager, peers: bigint[], config: PageConfig, phases: { measuring: () => boolean; done: () => boolean }): Promise<{ frameUs: number[]; sendUs: number[]; frames: number; lateFrames: number; longestGapMs: number; refused: number }> {
  const period = 1000 / config.hz;
  const payload = new Uint8Array(config.bytes);
  const view = new DataView(payload.buffer);
  const sequences = new Map<string, number>();
  const frameUs: number[] = [];
  const sendUs: number[] = [];
  let frames = 0;
  let lateFrames = 0;
  let longestGapMs = 0;
  let refused = 0;
  let lastStart = -1;
  let nextAt = now();
  return new Promise((resolve) => {
    const frame = (): void => {
      if (phases.done()) {
        resolve({ frameUs, sendUs, frames, lateFrames, longestGapMs, refused });
        return;
      }
      const measuring = phases.measuring();
      const t0 = now();
      manager.runCallbacks();
      const t1 = now();
      for (const peer of peers) {
        for (let channel = 0; channel < 2; channel++) {
          const key = `${peer}:${channel}`;
          for (let k = 0; k < config.messages; k++) {
            const seq = sequences.get(key) ?? 0;
            view.setFloat64(0, 0);
            view.setUint32(8, seq);
            if (manager.sendMessage(peer, channel, payload) === 0) sequences.set(key, seq + 1);
            else if (measuring) refused++;
          }
        }
      }
      const t2 = now();
      manager.flush();
      const t3 = now();
      if (measuring) {
        frames++;
        if (frameUs.length < MAX_SAMPLES) {
          frameUs.push((t1 - t0 + (t3 - t2)) * 1000);
          sendUs.push((t2 - t1) * 1000);
        }
        if (lastStart >= 0) longestGapMs = Math.max(longestGapMs, t0 - lastStart);
      }
      lastStart = t0;
      nextAt += period;
      const after = now();
      if (after - nextAt > period) {
        if (measuring) lateFrames++;
        nextAt = after;
      }
      setTimeout(frame, Math.max(0, nextAt - after));
    };
    frame();
  });
}

/** A bare link to the host's sink for the floor: a WebSocket, or a data channel answered by the host. */
async function openSink(config: PageConfig, kind: string): Promise<{ send: (bytes: Uint8Array) => void; close: () => void; kind: string }> {
  if (kind === 'webrtc') {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const channel = pc.createDataChannel('sink', { ordered: false, maxRetransmits: 0 });
    channel.binaryType = 'arraybuffer';
    await pc.setLocalDescription(await pc.createOffer());
    await waitUntil('ICE gathering', () => pc.iceGatheringState === 'complete', 10_000);
    const answer = await post<{ sdp: string }>('/rtc-sink', { sdp: pc.localDescription?.sdp ?? '' });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    await waitUntil('the sink data channel to open', () => channel.readyState === 'open', 10_000);
    return { send: (bytes) => channel.send(bytes as Uint8Array<ArrayBuffer>), close: () => pc.close(), kind: 'webrtc' };
  }
  const ws = new WebSocket(config.sinkUrl);
  ws.binaryType = 'arraybuffer';
  await waitUntil('the sink WebSocket to open', () => ws.readyState === WebSocket.OPEN, 10_000);
  return { send: (bytes) => ws.send(bytes), close: () => ws.close(), kind: 'websocket' };
}

interface FloorShape {
  datagramsPerFrame: number;
  opensPerFrame: number;
  outBytes: number;
  inBytes: number;
}

async function measureFloors(config: PageConfig, shape: FloorShape, linkKind: string): Promise<Pick<PageReport, 'floorUs' | 'sendsOnlyUs' | 'aeadUs' | 'libsodiumUs' | 'libsodiumSameBytes' | 'libsodiumError' | 'webCryptoAesGcmUs' | 'workerPostUs' | 'workerLinks' | 'floorLink'>> {
  const sink = await openSink(config, linkKind);
  const key = new Uint8Array(32).fill(7);
  const nonce = new Uint8Array(12);
  const datagram = new Uint8Array(Math.max(OVERHEAD, shape.outBytes));
  datagram[0] = DATA;
  const aad = datagram.subarray(RELAY_HEADER, RELAY_HEADER + AAD_BYTES);
  const sealPlain = new Uint8Array(datagram.length - OVERHEAD);
  const sealOut = datagram.subarray(RELAY_HEADER + AAD_BYTES, RELAY_HEADER + AAD_BYTES + sealPlain.length + 16);
  const openPlainBytes = Math.max(0, shape.inBytes - OVERHEAD);
  const sealedIn: Uint8Array[] = [];
  for (let i = 0; i < shape.opensPerFrame; i++) {
    const out = new Uint8Array(openPlainBytes + 16);
    nonce[11] = i & 0xff;
    nonce[10] = i >> 8;
    sealPacket(key, nonce, aad, new Uint8Array(openPlainBytes), out);
    sealedIn.push(out);
  }
  const aead = (): void => {
    for (let i = 0; i < sealedIn.length; i++) {
      nonce[11] = i & 0xff;
      nonce[10] = i >> 8;
      if (openPacket(key, nonce, aad, sealedIn[i]) === null) throw new Error('page floor: open failed');
    }
    for (let i = 0; i < shape.datagramsPerFrame; i++) {
      nonce[11] = i & 0xff;
      nonce[10] = i >> 8;
      sealPacket(key, nonce, aad, sealPlain, sealOut);
    }
  };
  const sends = (): void => {
    for (let i = 0; i < shape.datagramsPerFrame; i++) sink.send(datagram);
  };
  const timeFrames = async (work: () => void): Promise<Distribution> => {
    const samples: number[] = [];
    for (let f = 0; f < config.floorFrames; f++) {
      const t0 = now();
      work();
      samples.push((now() - t0) * 1000);
      await sleep(1000 / config.hz);
    }
    return distribution(samples);
  };
  const floorUs = await timeFrames(() => {
    aead();
    sends();
  });
  const sendsOnlyUs = await timeFrames(sends);
  const aeadUs = await timeFrames(aead);
  sink.close();
  if (!config.alternatives) return { floorUs, sendsOnlyUs, aeadUs, libsodiumUs: null, libsodiumSameBytes: null, libsodiumError: 'not measured in this run', webCryptoAesGcmUs: null, workerPostUs: null, workerLinks: null, floorLink: sink.kind };
  const sodium = await measureLibsodium(key, aad, sealPlain, sealedIn, shape.datagramsPerFrame, timeFrames);
  let webCryptoAesGcmUs: Distribution | null = null;
  if (globalThis.crypto?.subtle !== undefined) {
    const aesKey = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
    const iv = new Uint8Array(12);
    const sealedAes: ArrayBuffer[] = [];
    for (let i = 0; i < shape.opensPerFrame; i++) sealedAes.push(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, aesKey, new Uint8Array(openPlainBytes)));
    const samples: number[] = [];
    for (let f = 0; f < config.floorFrames; f++) {
      const t0 = now();
      const work: Promise<ArrayBuffer>[] = [];
      for (const sealed of sealedAes) work.push(crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, aesKey, sealed));
      for (let i = 0; i < shape.datagramsPerFrame; i++) work.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, aesKey, sealPlain));
      await Promise.all(work);
      samples.push((now() - t0) * 1000);
      await sleep(1000 / config.hz);
    }
    webCryptoAesGcmUs = distribution(samples);
  }
  const workerPostUs = await measureWorkerPost(config, config.peers * 2 * config.messages, config.bytes);
  const workerLinks = await probeWorkerLinks();
  return { floorUs, sendsOnlyUs, aeadUs, ...sodium, webCryptoAesGcmUs, workerPostUs, workerLinks, floorLink: sink.kind };
}

/** Which links a manager in a dedicated worker could use: its own RTCPeerConnection, or a data channel made on the page and transferred. */
async function probeWorkerLinks(): Promise<PageReport['workerLinks']> {
  if (typeof Worker === 'undefined') return null;
  const source = "onmessage = (event) => { postMessage({ rtcPeerConnection: typeof RTCPeerConnection === 'function', webSocket: typeof WebSocket === 'function', channel: Object.prototype.toString.call(event.data.channel) }); };";
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const worker = new Worker(url);
  const connection = typeof RTCPeerConnection === 'function' ? new RTCPeerConnection() : null;
  try {
    const answer = new Promise<{ rtcPeerConnection: boolean; webSocket: boolean; channel: string }>((resolve) => {
      worker.onmessage = (event) => resolve(event.data);
    });
    let transferred = false;
    const channel = connection?.createDataChannel('probe') ?? null;
    try {
      if (channel !== null) {
        worker.postMessage({ channel }, [channel as unknown as Transferable]);
        transferred = true;
      }
    } catch {
      // Not transferable in this browser.
    }
    if (!transferred) worker.postMessage({ channel: null });
    const reply = await answer;
    return { rtcPeerConnection: reply.rtcPeerConnection, webSocket: reply.webSocket, dataChannelTransfers: transferred && reply.channel === '[object RTCDataChannel]' };
  } finally {
    connection?.close();
    worker.terminate();
    URL.revokeObjectURL(url);
  }
}

/** Per message in a posted batch: peer index u16, channel u8, length u16, then the bytes. */
const POSTED_HEADER = 5;

/**
 * The main thread's share of a manager in a dedicated worker, per frame: pack `messages` outgoing
 * messages of `bytes` B into one buffer and post it (transferred); the worker answers with a
 * buffer of as many incoming ones (it echoes the batch: the stand-in for what arrived), which the
 * main thread unpacks into { peer, channelId, data } objects as message$ would hand them out.
 */
async function measureWorkerPost(config: PageConfig, messages: number, bytes: number): Promise<Distribution | null> {
  if (typeof Worker === 'undefined') return null;
  const source = 'onmessage = (event) => { postMessage(event.data, [event.data]); };';
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const worker = new Worker(url);
  try {
    const payload = new Uint8Array(bytes);
    const samples: number[] = [];
    let delivered = 0;
    for (let f = 0; f < config.floorFrames; f++) {
      const t0 = now();
      const batch = new Uint8Array(messages * (POSTED_HEADER + bytes));
      const view = new DataView(batch.buffer);
      let at = 0;
      for (let i = 0; i < messages; i++) {
        view.setUint16(at, i % config.peers);
        batch[at + 2] = i & 1;
        view.setUint16(at + 3, bytes);
        batch.set(payload, at + POSTED_HEADER);
        at += POSTED_HEADER + bytes;
      }
      worker.postMessage(batch.buffer, [batch.buffer]);
      const postUs = (now() - t0) * 1000;
      const reply = await new Promise<ArrayBuffer>((resolve) => {
        worker.onmessage = (event: MessageEvent<ArrayBuffer>) => resolve(event.data);
      });
      const t1 = now();
      const incoming = new Uint8Array(reply);
      const incomingView = new DataView(reply);
      const received: { peer: number; channelId: number; data: Uint8Array }[] = [];
      for (let offset = 0; offset + POSTED_HEADER <= incoming.length; ) {
        const length = incomingView.getUint16(offset + 3);
        received.push({ peer: incomingView.getUint16(offset), channelId: incoming[offset + 2], data: incoming.subarray(offset + POSTED_HEADER, offset + POSTED_HEADER + length) });
        offset += POSTED_HEADER + length;
      }
      delivered += received.length;
      samples.push(postUs + (now() - t1) * 1000);
      await sleep(1000 / config.hz);
    }
    if (delivered !== messages * config.floorFrames) throw new Error(`worker post: ${delivered} of ${messages * config.floorFrames} messages came back`);
    return distribution(samples);
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
}

/** libsodium's WebAssembly ChaCha20-Poly1305 (IETF, RFC 8439: the construction noble implements) on the same packets. */
async function measureLibsodium(key: Uint8Array, aad: Uint8Array, sealPlain: Uint8Array, sealedIn: Uint8Array[], seals: number, timeFrames: (work: () => void) => Promise<Distribution>): Promise<Pick<PageReport, 'libsodiumUs' | 'libsodiumSameBytes' | 'libsodiumError'>> {
  try {
    const sodium = await readySodium();
    const nonce = new Uint8Array(12);
    const nobleOut = new Uint8Array(sealPlain.length + 16);
    sealPacket(key, nonce, aad, sealPlain, nobleOut);
    const sodiumOut = sodium.crypto_aead_chacha20poly1305_ietf_encrypt(sealPlain, aad, null, nonce, key);
    const same = sodiumOut.length === nobleOut.length && sodiumOut.every((b, i) => b === nobleOut[i]);
    const libsodiumUs = await timeFrames(() => {
      for (let i = 0; i < sealedIn.length; i++) {
        nonce[11] = i & 0xff;
        nonce[10] = i >> 8;
        sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, sealedIn[i], aad, nonce, key);
      }
      for (let i = 0; i < seals; i++) {
        nonce[11] = i & 0xff;
        nonce[10] = i >> 8;
        sodium.crypto_aead_chacha20poly1305_ietf_encrypt(sealPlain, aad, null, nonce, key);
      }
    });
    return { libsodiumUs, libsodiumSameBytes: same, libsodiumError: null };
  } catch (error) {
    return { libsodiumUs: null, libsodiumSameBytes: null, libsodiumError: (error as Error).message };
  }
}

async function readySodium(): Promise<typeof import('libsodium-wrappers')> {
  const sodium = (await import('libsodium-wrappers')).default;
  await sodium.ready;
  return sodium;
}

async function main(): Promise<void> {
  const config = (await (await fetch('/config')).json()) as PageConfig;
  // As a game would: the ready instance handed to Switchboard before any manager exists.
  if (config.aead === 'libsodium' && useLibsodium(await readySodium()) !== 'libsodium') throw new Error('page: useLibsodium did not switch the packet AEAD');
  const wire = newWireCounters();
  const logs: string[] = [];
  const quiet = { info: (line: string) => void (logs.length < 50 && logs.push(line)), warn: (line: string) => void (logs.length < 50 && logs.push(`warn: ${line}`)) };
  const manager = new NetworkManager({
    relay: config.relay,
    transport: config.transport,
    logger: quiet,
    socketFactory: (url) => wrapForCounting(createDatagramSocket(url, { transport: config.transport, logger: quiet }), wire),
  });
  let messagesReceived = 0;
  let counting$ = false;
  manager.message$.subscribe((message) => {
    if (counting$ && message.data.length >= HEADER_BYTES) messagesReceived++;
  });
  try {
    await waitUntil('a route from the relay', () => manager.getRoute() !== null, 10_000);
    if (config.transport !== 'websocket') await waitUntil('the data channel', () => manager.getTransportInfo().link === 'webrtc', 10_000);
    const remotes = await post<PeerRoute[]>('/hub', { peerId: manager.getPeerId().toString(), route: manager.getRoute(), link: manager.getTransportInfo().link });
    const peers = remotes.map((r) => BigInt(r.peerId));
    remotes.forEach((r, i) => {
      const opened = manager.openPeer(peers[i], r.route);
      if (opened !== 0) throw new Error(`page: openPeer gave Result ${opened}`);
      if (manager.openChannel(peers[i], 0, false) !== 0 || manager.openChannel(peers[i], 1, true) !== 0) throw new Error('page: openChannel failed');
    });
    let phase: 'warmup' | 'measuring' | 'done' = 'warmup';
    const frames = runFrames(manager, peers, config, { measuring: () => phase === 'measuring', done: () => phase === 'done' });
    await waitUntil(`all ${peers.length} peers to connect`, () => peers.every((p) => manager.getPeerStats(p)?.state === 'connected'), 30_000);
    await post('/connected', {});
    await sleep(config.warmupMs);
    Object.assign(wire, newWireCounters());
    counting$ = true;
    phase = 'measuring';
    let profiler: SelfProfiler | null = null;
    let profile: PageReport['profile'] = null;
    if (config.profile) {
      if (typeof Profiler === 'undefined') profile = 'the JS Self-Profiling API is not available in this page';
      else profiler = new Profiler({ sampleInterval: 1, maxBufferSize: 1_000_000 });
    }
    await sleep(config.windowMs);
    if (profiler !== null) profile = await selfTimeByFunction(profiler);
    const link = manager.getTransportInfo().link;
    phase = 'done';
    counting$ = false;
    const measured = await frames;
    await post('/measured', {});
    const totals = { ...wire };
    const shape: FloorShape = {
      datagramsPerFrame: Math.round(totals.dataDatagramsOut / Math.max(1, measured.frames)),
      opensPerFrame: Math.round(totals.datagramsIn / Math.max(1, measured.frames)),
      outBytes: Math.round(totals.dataBytesOut / Math.max(1, totals.dataDatagramsOut)),
      inBytes: Math.round(totals.bytesIn / Math.max(1, totals.datagramsIn)),
    };
    await manager.dispose();
    const floors = await measureFloors(config, shape, link ?? 'websocket');
    const report: PageReport = {
      link,
      userAgent: navigator.userAgent,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      visibility: document.visibilityState,
      cryptoBackend: cryptoBackendName(),
      frames: measured.frames,
      lateFrames: measured.lateFrames,
      frameUs: distribution(measured.frameUs),
      sendUs: distribution(measured.sendUs),
      longestGapMs: measured.longestGapMs,
      ...totals,
      messagesReceived,
      refused: measured.refused,
      ...floors,
      ...shape,
      profile,
    };
    await post('/report', report);
  } catch (error) {
    await manager.dispose().catch(() => undefined);
    await post('/failed', { error: `${(error as Error).message}${logs.length > 0 ? ` (the manager said: ${logs.join(' | ')})` : ''}; link ${JSON.stringify(manager.getTransportInfo())}, RTCPeerConnection ${typeof RTCPeerConnection}` }).catch(() => undefined);
  }
}

void main();
