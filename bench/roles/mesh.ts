/**
 * Role `mesh`: N NetworkManagers in one process, driven as a game drives them — runCallbacks() at
 * the start of a frame, sendMessage() during it, flush() at its end, `frameHz` times a second —
 * with traffic that carries its send time (CLOCK_MONOTONIC, the same in every process), so the
 * receiver measures end-to-end latency, order, loss and freshness. Also times each frame's
 * runCallbacks()+flush(), counts bytes at a socketFactory wrapper, and runs bulk transfers.
 */
import { cryptoBackendName, openPacket, sealPacket, useLibsodium } from '../../plugin/net/crypto/primitives';
import { NetworkManager } from '../../plugin/net/network-manager';
import { Result } from '../../plugin/net/result';
import type { DatagramSocket } from '../../plugin/net/transport/datagram-socket';
import { UdpDatagramSocket } from '../../plugin/net/transport/udp-socket';
import { WebSocketDatagramSocket } from '../../plugin/net/transport/websocket-socket';
import type { NetworkMessage, PeerId, PeerStateChange } from '../../plugin/net/types';
import { newWireCounters, wrapForCounting, type WireCounters } from '../lib/counting-socket';
import { readyLibsodium } from '../lib/libsodium';
import { monotonicMs, type RoleFactory } from '../lib/role-protocol';
import { distribution, SampleReservoir, type Distribution } from '../lib/stats';
import { bindLoopbackUdp, closeUdp, portOfUrl, LOOPBACK } from './udp-util';

export interface MeshOptions {
  /** Relay URL per local manager (udp:// or ws:// on 127.0.0.1); one URL is used for all. */
  relayUrls: string[];
  count: number;
  /** Frames per second; 0 = as fast as the event loop turns (bulk transfers). */
  frameHz: number;
  /** When set, runCallbacks() also runs every pollMs between frames (transport latency, not frame quantization). */
  pollMs?: number;
  /** Count bytes and datagrams at each manager's socket. */
  countWire?: boolean;
  /** NetworkManager limits (mtuBytes, keepaliveMs, timeoutMs, maxPendingReliableBytes…). */
  manager?: Record<string, number>;
  /** Latency samples kept per channel at most (default 200,000). */
  maxSamples?: number;
  /** Push a 'tick' event with counters this often (load tool). */
  reportEveryMs?: number;
  /**
   * The receive handler stamps messages with the clock read once before each runCallbacks()
   * instead of once per message, and only keeps each message, as a game's subscriber hands it to
   * its systems; counting, latency and order checks run after flush(), outside the timed calls
   * (frame-cost: the handler runs inside runCallbacks(), and a game's handler is not the library's
   * cost). Latencies then end at the start of the delivering call.
   */
  clockPerFrame?: boolean;
  /** 'libsodium': call useLibsodium() before the managers exist (the packet AEAD of managers and floors). */
  aead?: 'default' | 'libsodium';
}

export interface MeshRoute {
  index: number;
  peerId: string;
  route: string;
}

export interface MeshLink {
  local: number;
  peerId: string;
  route: string;
}

export interface TrafficStream {
  channel: number;
  reliable: boolean;
  /** Message size, ≥ 12 (send time f64 + sequence u32). */
  bytes: number;
  /** Messages per link per sending frame. */
  perFrame: number;
  /** Send on every n-th frame (default 1). */
  everyFrames?: number;
}

export interface TrafficSpec {
  streams: TrafficStream[];
  /** Sample the age of the newest message received on this channel, per link, every frame. */
  freshnessChannel?: number;
  /** Only these local managers send (default all). */
  senders?: number[];
}

export type { WireCounters };

export interface ChannelResult {
  sent: number;
  refused: Record<string, number>;
  received: number;
  receivedBytes: number;
  outOfOrder: number;
  duplicates: number;
  latencyMs: Distribution;
  /** The kept latency samples, when results({ raw: true }) asked for them. */
  samples?: Float64Array;
}

export interface MeshResults {
  channels: Record<string, ChannelResult>;
  freshnessMs: Distribution | null;
  freshnessSamples?: Float64Array;
  frames: number;
  lateFrames: number;
  frameUs: Distribution;
  /** Process CPU time (user + system, all threads) during runCallbacks() + flush(): preemption by other processes left out. */
  frameCpuUs: Distribution;
  frameTotalUs: Distribution;
  sendUs: Distribution;
  states: Record<string, number>;
  drops: Record<string, number>;
  peerTotals: { resentPackets: number; sentPackets: number; receivedPackets: number; sentBytes: number; receivedBytes: number; droppedUnreliable: number; pendingReliableBytes: number };
  wire: WireCounters[];
  /** describePeer() of the first links, for reading a run. */
  describe: string[];
  bulk: { channel: number; receivedBytes: number; firstAtMs: number; lastAtMs: number; sentBytes: number; startedAtMs: number; acceptedAllAtMs: number } | null;
}

interface ChannelCounters {
  sent: number;
  refused: Record<string, number>;
  received: number;
  receivedBytes: number;
  outOfOrder: number;
  duplicates: number;
  latency: SampleReservoir;
}

interface LinkState {
  local: number;
  peerId: PeerId;
  sendSeq: Map<number, number>;
  /** By channel id: next sequence expected (reliable) or newest seen (unreliable); undefined before the first. */
  recvSeq: number[];
  /** By channel id: send time of the newest message received; undefined before the first. */
  newestSentMs: number[];
}

/**
 * Channel ids are 0..127: per-channel state lives in small arrays (as long as the highest channel
 * used) so the message handler does no Map lookups, and a link costs a few dozen bytes: the
 * wire-memory suite measures heap per peer in a process that holds these too.
 */
const CHANNEL_SLOTS = 128;
const newLinkState = (local: number, peerId: PeerId): LinkState => ({ local, peerId, sendSeq: new Map(), recvSeq: [], newestSentMs: [] });

const HEADER_BYTES = 12;


function createSocket(url: string): DatagramSocket {
  if (url.startsWith('udp://')) return new UdpDatagramSocket(LOOPBACK, portOfUrl(url));
  portOfUrl(url);
  return new WebSocketDatagramSocket(url);
}

const quiet = { info: () => undefined, warn: () => undefined };

export const meshRole: RoleFactory = async (options: MeshOptions, emit) => {
  if (options.aead === 'libsodium') {
    useLibsodium(await readyLibsodium());
  }
  if (!(options.count >= 1 && options.count <= 2000)) throw new Error('mesh: count must be 1..2000');
  const maxSamples = options.maxSamples ?? 200_000;
  const wire: WireCounters[] = [];
  const managers: NetworkManager[] = [];
  const links: LinkState[] = [];
  const linksByLocal: Map<PeerId, LinkState>[] = [];
  const channelCounters = new Map<number, ChannelCounters>();
  const states: Record<string, number> = {};
  let freshness = new SampleReservoir(maxSamples, 7);
  let frameUs = new SampleReservoir(maxSamples, 3);
  let frameCpuUs = new SampleReservoir(maxSamples, 11);
  let frameTotalUs = new SampleReservoir(maxSamples, 4);
  let sendUs = new SampleReservoir(maxSamples, 5);
  let frames = 0;
  let lateFrames = 0;
  let traffic: TrafficSpec | null = null;
  let bulk: { link: LinkState; channel: number; remaining: number; messageBytes: number; sentBytes: number; startedAtMs: number; acceptedAllAtMs: number } | null = null;
  let bulkReceive = { channel: -1, receivedBytes: 0, firstAtMs: 0, lastAtMs: 0 };
  let stopped = false;
  let routeChanges = 0;
  /** Messages sent before this (CLOCK_MONOTONIC ms) are not counted by sender or receiver: exact windows across processes. */
  let countFrom = -Infinity;
  const scratch = new Map<number, Uint8Array>();

  // The handler's view of channelCounters, by channel id (the Map keeps them for reports).
  let countersByChannel: (ChannelCounters | undefined)[] = [];
  const counters = (channel: number): ChannelCounters => {
    let c = countersByChannel[channel];
    if (!c) {
      c = { sent: 0, refused: {}, received: 0, receivedBytes: 0, outOfOrder: 0, duplicates: 0, latency: new SampleReservoir(maxSamples, 11 + channel) };
      channelCounters.set(channel, c);
      countersByChannel[channel] = c;
    }
    return c;
  };
  // Messages arrive grouped by packet, so by peer: the last link found answers most lookups.
  let lastLink: LinkState | null = null;
  const linkOf = (local: number, peerId: PeerId): LinkState | undefined => {
    if (lastLink !== null && lastLink.local === local && lastLink.peerId === peerId) return lastLink;
    const link = linksByLocal[local]?.get(peerId);
    if (link !== undefined) lastLink = link;
    return link;
  };

  let frameClockMs = 0;
  const runCallbacks = (m: NetworkManager): void => {
    if (options.clockPerFrame) frameClockMs = monotonicMs();
    m.runCallbacks();
  };
  const header = new Uint8Array(HEADER_BYTES);
  const headerView = new DataView(header.buffer);
  // clockPerFrame: messages kept by the handler, analysed after the frame's flush() (drained every
  // frame, so bounded by what one frame delivers).
  const keptMessages: NetworkMessage[] = [];
  const keptLocals: number[] = [];
  const keptClockMs: number[] = [];
  const analyseKept = (): void => {
    for (let i = 0; i < keptMessages.length; i++) analyse(keptLocals[i], keptMessages[i], keptClockMs[i]);
    keptMessages.length = 0;
    keptLocals.length = 0;
    keptClockMs.length = 0;
  };
  const onMessage = (local: number) =>
    options.clockPerFrame
      ? (message: NetworkMessage): void => {
          keptMessages.push(message);
          keptLocals.push(local);
          keptClockMs.push(frameClockMs);
        }
      : (message: NetworkMessage): void => analyse(local, message, monotonicMs());
  const analyse = (local: number, message: NetworkMessage, now: number): void => {
    const data = message.data;
    if (message.channelId === bulkReceive.channel) {
      if (bulkReceive.receivedBytes === 0) bulkReceive.firstAtMs = now;
      bulkReceive.receivedBytes += data.length;
      bulkReceive.lastAtMs = now;
    }
    if (data.length < HEADER_BYTES) {
      const c = counters(message.channelId);
      c.received++;
      c.receivedBytes += data.length;
      return;
    }
    // Through a scratch copy of the 12-byte header: no view allocated per message.
    for (let i = 0; i < HEADER_BYTES; i++) header[i] = data[i];
    const sentAt = headerView.getFloat64(0);
    const seq = headerView.getUint32(8);
    const counted = sentAt >= countFrom;
    const c = counters(message.channelId);
    if (counted) {
      c.received++;
      c.receivedBytes += data.length;
      c.latency.add(now - sentAt);
    }
    const link = linkOf(local, message.peerId);
    if (!link) return;
    const channel = message.channelId;
    const expected = link.recvSeq[channel];
    const seen = expected !== undefined;
    if (reliableChannels[channel] === true) {
      if (seen && seq !== expected && counted) {
        if (seq < expected) c.duplicates++;
        else c.outOfOrder++;
      }
      link.recvSeq[channel] = seq + 1;
    } else {
      if (seen && seq <= expected && counted) c.duplicates++;
      link.recvSeq[channel] = seq;
    }
    const newest = link.newestSentMs[channel];
    if (newest === undefined || sentAt > newest) link.newestSentMs[channel] = sentAt;
  };

  const reliableChannels: boolean[] = [];

  for (let i = 0; i < options.count; i++) {
    const url = options.relayUrls[Math.min(i, options.relayUrls.length - 1)];
    const w = newWireCounters();
    wire.push(w);
    const manager = new NetworkManager({
      relay: url,
      logger: quiet,
      ...(options.manager ?? {}),
      socketFactory: (u) => (options.countWire ? wrapForCounting(createSocket(u), w) : createSocket(u)),
    });
    manager.message$.subscribe(onMessage(i));
    const index = i;
    let lastRoute: string | null = null;
    manager.routeUpdate$.subscribe((route) => {
      // A new relay session (re-registration) changes the route: the parent tells the peers, as a lobby would.
      if (lastRoute !== null && route !== lastRoute) {
        routeChanges++;
        emit('route', { index, peerId: manager.getPeerId().toString(), route });
      }
      lastRoute = route;
    });
    manager.peerState$.subscribe((change: PeerStateChange) => {
      states[change.state] = (states[change.state] ?? 0) + 1;
    });
    managers.push(manager);
    linksByLocal.push(new Map());
  }

  const payload = (bytes: number): Uint8Array => {
    let buffer = scratch.get(bytes);
    if (!buffer) {
      buffer = new Uint8Array(bytes);
      scratch.set(bytes, buffer);
    }
    return buffer;
  };

  const sendOne = (link: LinkState, channel: number, bytes: number): Result => {
    const data = payload(bytes);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const seq = link.sendSeq.get(channel) ?? 0;
    const sentAt = monotonicMs();
    view.setFloat64(0, sentAt);
    view.setUint32(8, seq);
    const result = managers[link.local].sendMessage(link.peerId, channel, data);
    const c = counters(channel);
    if (result === Result.Ok) {
      link.sendSeq.set(channel, seq + 1);
      if (sentAt >= countFrom) c.sent++;
    } else {
      const name = Result[result] ?? String(result);
      c.refused[name] = (c.refused[name] ?? 0) + 1;
    }
    return result;
  };

  const sendTraffic = (): void => {
    if (traffic !== null) {
      const senders = traffic.senders ? new Set(traffic.senders) : null;
      for (const stream of traffic.streams) {
        if (frames % (stream.everyFrames ?? 1) !== 0) continue;
        for (const link of links) {
          if (senders && !senders.has(link.local)) continue;
          for (let k = 0; k < stream.perFrame; k++) sendOne(link, stream.channel, stream.bytes);
        }
      }
    }
    if (bulk !== null && bulk.remaining > 0) {
      // As much as the manager accepts: it says InsufficientBuffer past its pending limit.
      for (let guard = 0; guard < 10_000 && bulk.remaining > 0; guard++) {
        const size = Math.min(bulk.messageBytes, bulk.remaining);
        if (sendOne(bulk.link, bulk.channel, Math.max(HEADER_BYTES, size)) !== Result.Ok) break;
        bulk.remaining -= size;
        bulk.sentBytes += size;
      }
      if (bulk.remaining <= 0 && bulk.acceptedAllAtMs === 0) bulk.acceptedAllAtMs = monotonicMs();
    }
  };

  const sampleFreshness = (): void => {
    if (traffic?.freshnessChannel === undefined) return;
    const now = monotonicMs();
    for (const link of links) {
      const newest = link.newestSentMs[traffic.freshnessChannel];
      if (newest !== undefined) freshness.add(now - newest);
    }
  };

  let pairedFloor: { floor: Floor; times: SampleReservoir; cpuTimes: SampleReservoir } | null = null;

  // --- the frame loop ---------------------------------------------------------------------
  let periodMs = options.frameHz > 0 ? 1000 / options.frameHz : 0;
  let nextAt = performance.now();
  let frameTimer: ReturnType<typeof setTimeout> | null = null;
  let frameImmediate: ReturnType<typeof setImmediate> | null = null;
  const frame = (): void => {
    frameTimer = null;
    frameImmediate = null;
    if (stopped) return;
    // CPU readings outside the wall-time pairs, so the wall times do not include them.
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const m of managers) runCallbacks(m);
    const t1 = performance.now();
    const c1 = process.cpuUsage(c0);
    sendTraffic();
    const c2 = process.cpuUsage();
    const t2 = performance.now();
    for (const m of managers) m.flush();
    const t3 = performance.now();
    const c3 = process.cpuUsage(c2);
    analyseKept();
    // Half a frame later, as cold as the manager's calls are at the start of a frame (right after
    // them it would find their crypto state warm in the caches).
    if (pairedFloor !== null && periodMs > 0) {
      const paired = pairedFloor;
      setTimeout(() => {
        if (pairedFloor !== paired || stopped) return;
        const run = paired.floor.runFrame();
        paired.times.add(run.wallUs);
        paired.cpuTimes.add(run.cpuUs);
      }, periodMs / 2);
    }
    frames++;
    frameUs.add(((t1 - t0) + (t3 - t2)) * 1000);
    frameCpuUs.add(c1.user + c1.system + c3.user + c3.system);
    frameTotalUs.add((t3 - t0) * 1000);
    sendUs.add((t2 - t1) * 1000);
    sampleFreshness();
    if (periodMs === 0) {
      frameImmediate = setImmediate(frame);
      return;
    }
    nextAt += periodMs;
    const now = performance.now();
    if (now - nextAt > periodMs) {
      lateFrames++;
      nextAt = now;
    }
    frameTimer = setTimeout(frame, Math.max(0, nextAt - now));
  };
  frame();
  const pollTimer = options.pollMs ? setInterval(() => {
    for (const m of managers) runCallbacks(m);
    analyseKept();
  }, options.pollMs) : null;
  const reportTimer = options.reportEveryMs ? setInterval(() => emit('tick', snapshotCounters()), options.reportEveryMs) : null;

  const waitUntil = async (what: string, condition: () => boolean, timeoutMs: number): Promise<void> => {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      if (performance.now() > deadline) throw new Error(`mesh: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  const snapshotCounters = (): Record<string, number> => {
    const out: Record<string, number> = { frames, lateFrames, routeChanges };
    for (const [channel, c] of channelCounters) {
      out[`ch${channel}.sent`] = c.sent;
      out[`ch${channel}.received`] = c.received;
      out[`ch${channel}.refused`] = Object.values(c.refused).reduce((a, b) => a + b, 0);
      out[`ch${channel}.outOfOrder`] = c.outOfOrder;
      out[`ch${channel}.duplicates`] = c.duplicates;
    }
    return out;
  };

  const dropTotals = (): Record<string, number> => {
    const drops: Record<string, number> = {};
    const add = (prefix: string, record: Readonly<Record<string, number>>): void => {
      for (const [k, v] of Object.entries(record)) if (v > 0) drops[`${prefix}${k}`] = (drops[`${prefix}${k}`] ?? 0) + v;
    };
    managers.forEach((m, i) => {
      add('manager.', m.getDropCounts());
      for (const link of linksByLocal[i].values()) add('peer.', m.getDropCounts(link.peerId));
    });
    return drops;
  };

  const peerTotals = (): MeshResults['peerTotals'] => {
    const t = { resentPackets: 0, sentPackets: 0, receivedPackets: 0, sentBytes: 0, receivedBytes: 0, droppedUnreliable: 0, pendingReliableBytes: 0 };
    for (const link of links) {
      const s = managers[link.local].getPeerStats(link.peerId);
      if (!s) continue;
      t.resentPackets += s.resentPackets;
      t.sentPackets += s.sentPackets;
      t.receivedPackets += s.receivedPackets;
      t.sentBytes += s.sentBytes;
      t.receivedBytes += s.receivedBytes;
      t.droppedUnreliable += s.droppedUnreliable;
      t.pendingReliableBytes += s.pendingReliableBytes;
    }
    return t;
  };

  return {
    info: { count: managers.length },
    counters: snapshotCounters,
    methods: {
      routes: async (args: { timeoutMs?: number } = {}): Promise<MeshRoute[]> => {
        await waitUntil('every manager to register with the relay', () => managers.every((m) => m.getRoute() !== null), args.timeoutMs ?? 30_000);
        return managers.map((m, index) => ({ index, peerId: m.getPeerId().toString(), route: m.getRoute() as string }));
      },
      connect: (args: { links: MeshLink[]; channels: { id: number; reliable: boolean }[] }) => {
        for (const c of args.channels) {
          if (!(Number.isInteger(c.id) && c.id >= 0 && c.id < CHANNEL_SLOTS)) throw new Error(`channel id ${c.id} outside 0..${CHANNEL_SLOTS - 1}`);
          if (c.reliable) reliableChannels[c.id] = true;
        }
        for (const l of args.links) {
          const peerId = BigInt(l.peerId);
          const m = managers[l.local];
          const opened = m.openPeer(peerId, l.route);
          if (opened !== Result.Ok) throw new Error(`openPeer gave ${Result[opened]}`);
          for (const c of args.channels) {
            const r = m.openChannel(peerId, c.id, c.reliable);
            if (r !== Result.Ok) throw new Error(`openChannel gave ${Result[r]}`);
          }
          const link = newLinkState(l.local, peerId);
          links.push(link);
          linksByLocal[l.local].set(peerId, link);
        }
        return { links: links.length };
      },
      /** updatePeer() for peers whose route changed (what bindRouteSync does from lobby metadata). */
      updateRoutes: (args: { links: MeshLink[] }) => {
        let updated = 0;
        for (const l of args.links) if (managers[l.local]?.updatePeer(BigInt(l.peerId), l.route) === Result.Ok) updated++;
        return { updated };
      },
      waitConnected: async (args: { timeoutMs?: number } = {}) => {
        const connected = (): number => links.filter((l) => managers[l.local].getPeerStats(l.peerId)?.state === 'connected').length;
        await waitUntil(`all ${links.length} links to connect (${connected()} so far)`, () => connected() === links.length, args.timeoutMs ?? 30_000);
        return { connected: links.length };
      },
      /** Changes the frame rate (e.g. 60 Hz for a stream, 1000 Hz for a transfer). */
      setFrameHz: (args: { frameHz: number }) => {
        if (!(args.frameHz >= 0 && args.frameHz <= 10_000)) throw new Error('frameHz must be 0..10000');
        periodMs = args.frameHz > 0 ? 1000 / args.frameHz : 0;
        nextAt = performance.now();
        if (frameTimer !== null) {
          clearTimeout(frameTimer);
          frameTimer = null;
          frame();
        }
        return { ok: true };
      },
      setTraffic: (spec: TrafficSpec | null) => {
        if (spec) for (const s of spec.streams) if (!(s.bytes >= HEADER_BYTES)) throw new Error(`stream bytes must be ≥ ${HEADER_BYTES}`);
        traffic = spec;
        return { ok: true };
      },
      /** Starts a new measurement window: latency samples, frame timings and counters restart. */
      resetStats: (args: { sinceMs?: number } = {}) => {
        countFrom = args.sinceMs ?? -Infinity;
        channelCounters.clear();
        countersByChannel = [];
        freshness = new SampleReservoir(maxSamples, 7);
        frameUs = new SampleReservoir(maxSamples, 3);
        frameCpuUs = new SampleReservoir(maxSamples, 11);
        frameTotalUs = new SampleReservoir(maxSamples, 4);
        sendUs = new SampleReservoir(maxSamples, 5);
        frames = 0;
        lateFrames = 0;
        for (const key of Object.keys(states)) delete states[key];
        for (const w of wire) for (const key of Object.keys(w) as (keyof WireCounters)[]) w[key] = 0;
        return { ok: true };
      },
      bulkSend: (args: { link: number; channel: number; totalBytes: number; messageBytes: number }) => {
        const link = links[args.link];
        if (!link) throw new Error(`no link ${args.link}`);
        bulk = { link, channel: args.channel, remaining: args.totalBytes, messageBytes: args.messageBytes, sentBytes: 0, startedAtMs: monotonicMs(), acceptedAllAtMs: 0 };
        return { startedAtMs: bulk.startedAtMs };
      },
      bulkReceive: (args: { channel: number }) => {
        bulkReceive = { channel: args.channel, receivedBytes: 0, firstAtMs: 0, lastAtMs: 0 };
        return { ok: true };
      },
      bulkProgress: () => ({ receivedBytes: bulkReceive.receivedBytes, lastAtMs: bulkReceive.lastAtMs, firstAtMs: bulkReceive.firstAtMs, sentBytes: bulk?.sentBytes ?? 0, remaining: bulk?.remaining ?? 0 }),
      /**
       * The floor under runCallbacks()+flush(): the same number of datagrams of the same size sent
       * with a bare dgram socket (connected, as ours is) to `port`, once a frame, timed the same way.
       * With `aead`, each frame also makes the same number of ChaCha20-Poly1305 seals (one per
       * datagram out) and opens (one per datagram in) of the same sizes, through the same crypto
       * backend as the manager: the cost no stack that encrypts each datagram can avoid.
       */
      udpFloor: async (args: FloorArgs & { frames: number }) => {
        const floor = await openFloor(args);
        const times = new SampleReservoir(args.frames, 9);
        for (let f = 0; f < Math.min(args.frames, 10_000); f++) {
          times.add(floor.runFrame().wallUs);
          await new Promise((resolve) => setTimeout(resolve, 1000 / 60));
        }
        await floor.close();
        return distribution(times.samples());
      },
      /**
       * The same floor, run in every frame of the workload half a frame after its timed calls,
       * until stopPairedFloor(): both see the same machine in the same seconds, so their ratio is
       * not moved by the machine's speed drifting between two measurements.
       */
      startPairedFloor: async (args: FloorArgs) => {
        if (pairedFloor !== null) throw new Error('a paired floor is running already');
        pairedFloor = { floor: await openFloor(args), times: new SampleReservoir(maxSamples, 13), cpuTimes: new SampleReservoir(maxSamples, 17) };
        return { ok: true };
      },
      stopPairedFloor: async () => {
        const paired = pairedFloor;
        if (paired === null) throw new Error('no paired floor is running');
        pairedFloor = null;
        await paired.floor.close();
        return { wall: distribution(paired.times.samples()), cpu: distribution(paired.cpuTimes.samples()) };
      },
      /** The AEAD backend the managers here use ('node' or 'noble'). */
      cryptoBackend: () => ({ name: cryptoBackendName() }),
      results: (args: { raw?: boolean } = {}): MeshResults => {
        const channels: Record<string, ChannelResult> = {};
        for (const [channel, c] of channelCounters) {
          channels[String(channel)] = { sent: c.sent, refused: c.refused, received: c.received, receivedBytes: c.receivedBytes, outOfOrder: c.outOfOrder, duplicates: c.duplicates, latencyMs: distribution(c.latency.samples()), ...(args.raw ? { samples: c.latency.samples().slice() } : {}) };
        }
        return {
          channels,
          freshnessMs: freshness.count > 0 ? distribution(freshness.samples()) : null,
          ...(args.raw ? { freshnessSamples: freshness.samples().slice() } : {}),
          frames,
          lateFrames,
          frameUs: distribution(frameUs.samples()),
          frameCpuUs: distribution(frameCpuUs.samples()),
          frameTotalUs: distribution(frameTotalUs.samples()),
          sendUs: distribution(sendUs.samples()),
          states: { ...states },
          drops: dropTotals(),
          peerTotals: peerTotals(),
          wire: wire.map((w) => ({ ...w })),
          describe: links.slice(0, 2).map((l) => managers[l.local].describePeer(l.peerId)),
          bulk: bulk || bulkReceive.channel >= 0 ? { channel: bulkReceive.channel, receivedBytes: bulkReceive.receivedBytes, firstAtMs: bulkReceive.firstAtMs, lastAtMs: bulkReceive.lastAtMs, sentBytes: bulk?.sentBytes ?? 0, startedAtMs: bulk?.startedAtMs ?? 0, acceptedAllAtMs: bulk?.acceptedAllAtMs ?? 0 } : null,
        };
      },
    },
    stop: async () => {
      stopped = true;
      if (frameTimer !== null) clearTimeout(frameTimer);
      if (frameImmediate !== null) clearImmediate(frameImmediate);
      if (pollTimer !== null) clearInterval(pollTimer);
      if (reportTimer !== null) clearInterval(reportTimer);
      if (pairedFloor !== null) await pairedFloor.floor.close();
      pairedFloor = null;
      await Promise.all(managers.map((m) => m.dispose()));
    },
  };
};

/** A frame's worth of the floor's operations: datagrams to a sink, and AEAD seals and opens of the same sizes. */
interface FloorArgs {
  port: number;
  datagramsPerFrame: number;
  bytes: number;
  aead?: { opensPerFrame: number; openBytes: number };
}

interface Floor {
  /** Runs one frame's operations; returns their wall time and the process's CPU time (user + system) in µs. */
  runFrame(): { wallUs: number; cpuUs: number };
  close(): Promise<void>;
}

/**
 * The floor under runCallbacks()+flush(): the same number of datagrams of the same size sent
 * with a bare dgram socket (connected, as ours is) to `port`, once a frame. With `aead`, each frame
 * also makes the same number of ChaCha20-Poly1305 seals (one per datagram out) and opens (one per
 * datagram in) of the same sizes, through the same crypto backend as the manager: the cost no
 * stack that encrypts each datagram can avoid.
 */
async function openFloor(args: FloorArgs): Promise<Floor> {
  const socket = await bindLoopbackUdp(0, 1 << 20);
  await new Promise<void>((resolve) => socket.connect(args.port, LOOPBACK, () => resolve()));
  const datagram = new Uint8Array(Math.max(10, args.bytes));
  datagram[0] = 0x03;
  // Relay header 9 B, DATA header 6 B (the associated data) and the tag 16 B around the plaintext.
  const key = new Uint8Array(32).fill(7);
  const nonce = new Uint8Array(12);
  const header = datagram.subarray(9, 15);
  const sealPlain = new Uint8Array(Math.max(0, datagram.length - 9 - 22));
  const sealOut = datagram.subarray(15, 15 + sealPlain.length + 16);
  const opens = args.aead?.opensPerFrame ?? 0;
  const openPlainBytes = Math.max(0, (args.aead?.openBytes ?? 0) - 9 - 22);
  const sealedIn: Uint8Array[] = [];
  for (let i = 0; i < Math.min(opens, 4096); i++) {
    const out = new Uint8Array(openPlainBytes + 16);
    nonce[11] = i & 0xff;
    nonce[10] = i >> 8;
    sealPacket(key, nonce, header, new Uint8Array(openPlainBytes), out);
    sealedIn.push(out);
  }
  const datagrams = Math.min(args.datagramsPerFrame, 4096);
  return {
    runFrame(): { wallUs: number; cpuUs: number } {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < sealedIn.length; i++) {
        nonce[11] = i & 0xff;
        nonce[10] = i >> 8;
        if (openPacket(key, nonce, header, sealedIn[i]) === null) throw new Error('floor: open failed');
      }
      for (let i = 0; i < datagrams; i++) {
        if (args.aead !== undefined) {
          nonce[11] = i & 0xff;
          nonce[10] = i >> 8;
          sealPacket(key, nonce, header, sealPlain, sealOut);
        }
        socket.send(datagram);
      }
      const wallUs = (performance.now() - t0) * 1000;
      const cpu = process.cpuUsage(c0);
      return { wallUs, cpuUs: cpu.user + cpu.system };
    },
    close: () => closeUdp(socket),
  };
}
