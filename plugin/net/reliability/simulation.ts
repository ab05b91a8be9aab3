/**
 * A seeded network simulator in virtual time between two ReliableConnections (the netcode/yojimbo
 * habit): loss, duplication, reordering and latency per direction, repeatable from a seed. For unit
 * tests and benchmarks of the reliability layer; nothing in the library depends on it.
 */
import { mulberry32 } from '../transport/prng';
import { ReliableConnection, type OutgoingPacket, type ReliabilityTuning } from './connection';
import { defaultReliabilityConfig, type ReliabilityConfig } from './config';

export interface SimulatedLinkProfile {
  /** 0..1 */
  lossRate?: number;
  /** 0..1: the packet arrives twice. */
  duplicateRate?: number;
  /** 0..1: the packet is held back long enough for later ones to overtake it. */
  reorderRate?: number;
  latencyMs?: number;
  /** Extra delay, uniform in 0..jitterMs. */
  jitterMs?: number;
}

interface Scheduled {
  deliverAt: number;
  order: number;
  packet: OutgoingPacket;
}

/** One direction of a path a SimulatedPair sends through. */
export interface PacketPath {
  send(packet: OutgoingPacket, now: number): void;
  /** Packets whose time has come, in arrival order. */
  due(now: number): OutgoingPacket[];
}

/** One direction of a simulated path. */
export class SimulatedLink implements PacketPath {
  private readonly random: () => number;
  private queue: Scheduled[] = [];
  private order = 0;
  sent = 0;
  lost = 0;

  constructor(
    public profile: SimulatedLinkProfile,
    seed: number,
  ) {
    this.random = mulberry32(seed);
  }

  get inFlight(): number {
    return this.queue.length;
  }

  send(packet: OutgoingPacket, now: number): void {
    this.sent++;
    const p = this.profile;
    // Draw every number every time so one setting does not shift the others' sequence.
    const lossDraw = this.random();
    const duplicateDraw = this.random();
    const reorderDraw = this.random();
    const jitterDraw = this.random();
    const duplicateJitterDraw = this.random();
    if (lossDraw < (p.lossRate ?? 0)) {
      this.lost++;
      return;
    }
    const latency = p.latencyMs ?? 0;
    const jitter = p.jitterMs ?? 0;
    let delay = latency + jitter * jitterDraw;
    if (reorderDraw < (p.reorderRate ?? 0)) delay += latency + 10 + 20 * jitterDraw;
    const copy = copyPacket(packet);
    this.queue.push({ deliverAt: now + delay, order: this.order++, packet: copy });
    if (duplicateDraw < (p.duplicateRate ?? 0)) {
      this.queue.push({ deliverAt: now + latency + jitter * duplicateJitterDraw + 5, order: this.order++, packet: copy });
    }
  }

  /** Packets whose time has come, in arrival order. */
  due(now: number): OutgoingPacket[] {
    return this.dueWithArrival(now).map((item) => item.packet);
  }

  /** The same, with the time each one arrived. */
  dueWithArrival(now: number): { packet: OutgoingPacket; arrivedAt: number }[] {
    const ready: Scheduled[] = [];
    const waiting: Scheduled[] = [];
    for (const item of this.queue) (item.deliverAt <= now ? ready : waiting).push(item);
    this.queue = waiting;
    ready.sort((x, y) => x.deliverAt - y.deliverAt || x.order - y.order);
    return ready.map((item) => ({ packet: item.packet, arrivedAt: item.deliverAt }));
  }
}

export type Side = 'a' | 'b';

/** Two connections joined by two simulated links, stepped in virtual time. */
export class SimulatedPair {
  readonly a: ReliableConnection;
  readonly b: ReliableConnection;
  readonly aToB: SimulatedLink;
  readonly bToA: SimulatedLink;
  now: number;
  /** Return true to drop a packet before it enters the link (targeted loss). */
  dropFilter: ((from: Side, packet: OutgoingPacket) => boolean) | null = null;
  /** Sees every packet a side's poll produced. */
  onPoll: ((from: Side, packets: readonly OutgoingPacket[], now: number) => void) | null = null;
  refused: { side: Side; reason: string }[] = [];

  constructor(options: {
    seed: number;
    config?: ReliabilityConfig;
    configB?: ReliabilityConfig;
    tuning?: Partial<ReliabilityTuning>;
    aToB?: SimulatedLinkProfile;
    bToA?: SimulatedLinkProfile;
    /** Sends a→b through this path (a Bottleneck port, say) instead of the `aToB` link. */
    aToBPath?: PacketPath;
    startMs?: number;
    /**
     * Each step is a game frame: packets that arrived during it are handed over at its end, with
     * the time they arrived (as NetworkManager stamps datagrams in its inbox). Off: with the step's time.
     */
    stampArrivals?: boolean;
  }) {
    this.stampArrivals = options.stampArrivals === true;
    this.now = options.startMs ?? 0;
    const config = options.config ?? defaultReliabilityConfig;
    this.a = new ReliableConnection(config, this.now, options.tuning);
    this.b = new ReliableConnection(options.configB ?? config, this.now, options.tuning);
    this.aToB = new SimulatedLink(options.aToB ?? {}, options.seed * 2 + 1);
    this.bToA = new SimulatedLink(options.bToA ?? {}, options.seed * 2 + 2);
    this.aToBPath = options.aToBPath ?? this.aToB;
  }

  private readonly aToBPath: PacketPath;
  private readonly stampArrivals: boolean;

  /** Advance `ms`: deliver what arrived, then let each side poll once (one frame). */
  step(ms: number): void {
    this.now += ms;
    this.deliver(this.aToBPath, this.b, 'b');
    this.deliver(this.bToA, this.a, 'a');
    this.transmit(this.a, this.aToBPath, 'a');
    this.transmit(this.b, this.bToA, 'b');
  }

  /** Steps until `done()` or `maxSteps`; returns whether `done()` became true. */
  runUntil(done: () => boolean, stepMs: number, maxSteps: number): boolean {
    for (let i = 0; i < maxSteps; i++) {
      if (done()) return true;
      this.step(stepMs);
    }
    return done();
  }

  private deliver(link: PacketPath, to: ReliableConnection, side: Side): void {
    const arrivals =
      this.stampArrivals && link instanceof SimulatedLink
        ? link.dueWithArrival(this.now)
        : link.due(this.now).map((packet) => ({ packet, arrivedAt: this.now }));
    for (const { packet, arrivedAt } of arrivals) {
      const outcome = to.receive(packet.packetNumber, packet.payload, arrivedAt);
      if (!outcome.accepted) this.refused.push({ side, reason: outcome.reason });
    }
  }

  private transmit(from: ReliableConnection, link: PacketPath, side: Side): void {
    const packets = from.poll(this.now);
    this.onPoll?.(side, packets, this.now);
    for (const packet of packets) {
      if (this.dropFilter?.(side, packet)) continue;
      link.send(packet, this.now);
    }
  }
}

export interface BottleneckProfile {
  /** Serialisation rate of the link, payload bytes per ms. */
  bytesPerMs: number;
  /** Bytes the queue in front of the link holds at most; a packet that does not fit is dropped. */
  queueLimitBytes: number;
  /** One-way propagation delay after the link, ms. */
  latencyMs: number;
  /** 0..1: random loss after the link (not congestion). */
  lossRate?: number;
}

interface Queued {
  flow: number;
  departAt: number;
  bytes: number;
  packet: OutgoingPacket;
}

/**
 * A rate-limited link with a bounded FIFO drop-tail queue, shared by any number of flows (one
 * `port()` each), seeded random loss after it. What congestion control is tested against: the
 * queue is where real congestion shows, as delay and then as drops.
 */
export class Bottleneck {
  private readonly random: () => number;
  /** Packets queued or on the wire, in departure order. */
  private queue: Queued[] = [];
  private queueHead = 0;
  private lastDeparture = -Infinity;
  private readonly flows: Scheduled[][] = [];
  private order = 0;
  /** Largest number of bytes waiting in the queue seen so far. */
  peakQueueBytes = 0;
  droppedAtQueue = 0;
  lostRandomly = 0;
  /** Payload bytes that left the link, per flow. */
  readonly departedBytes: number[] = [];

  constructor(
    public profile: BottleneckProfile,
    seed: number,
  ) {
    this.random = mulberry32(seed);
  }

  /** Bytes waiting (not yet serialised) at `now`. */
  queuedBytes(now: number): number {
    this.advance(now);
    let bytes = 0;
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const item = this.queue[i];
      // Still being serialised or waiting its turn.
      if (item.departAt > now) bytes += item.bytes;
    }
    return bytes;
  }

  /** Queueing delay a packet arriving at `now` would see, ms. */
  queueDelayMs(now: number): number {
    return Math.max(0, this.lastDeparture - now);
  }

  port(): PacketPath {
    const flow = this.flows.length;
    this.flows.push([]);
    this.departedBytes.push(0);
    return {
      send: (packet, now) => this.enqueue(flow, packet, now),
      due: (now) => this.due(flow, now),
    };
  }

  private enqueue(flow: number, packet: OutgoingPacket, now: number): void {
    const bytes = packet.payload.length;
    const waiting = this.queuedBytes(now);
    if (waiting + bytes > this.profile.queueLimitBytes) {
      this.droppedAtQueue++;
      return;
    }
    const departAt = Math.max(now, this.lastDeparture) + bytes / this.profile.bytesPerMs;
    this.lastDeparture = departAt;
    this.queue.push({ flow, departAt, bytes, packet: copyPacket(packet) });
    this.peakQueueBytes = Math.max(this.peakQueueBytes, waiting + bytes);
  }

  /** Moves packets that finished serialising onto their flow's propagation delay. */
  private advance(now: number): void {
    while (this.queueHead < this.queue.length && this.queue[this.queueHead].departAt <= now) {
      const item = this.queue[this.queueHead++];
      this.departedBytes[item.flow] += item.bytes;
      if (this.random() < (this.profile.lossRate ?? 0)) {
        this.lostRandomly++;
        continue;
      }
      this.flows[item.flow].push({ deliverAt: item.departAt + this.profile.latencyMs, order: this.order++, packet: item.packet });
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private due(flow: number, now: number): OutgoingPacket[] {
    this.advance(now);
    const pending = this.flows[flow];
    let n = 0;
    while (n < pending.length && pending[n].deliverAt <= now) n++;
    return pending.splice(0, n).map((item) => item.packet);
  }
}

/**
 * A token-bucket policer in front of a link, as the relay's per-session and per-destination
 * budgets are: a packet passes while the bucket holds its bytes (plus `overheadBytes`, what the
 * relay charges a datagram on top) and is dropped otherwise; no queue, so no delay builds. The
 * bucket starts full and refills at `bytesPerMs` up to `burstBytes`.
 */
export class Policer implements PacketPath {
  passed = 0;
  dropped = 0;
  private tokens: number;
  private refilledAt: number | null = null;

  constructor(
    readonly bytesPerMs: number,
    readonly burstBytes: number,
    private readonly after: PacketPath,
    private readonly overheadBytes = 64,
  ) {
    this.tokens = burstBytes;
  }

  send(packet: OutgoingPacket, now: number): void {
    if (this.refilledAt !== null) this.tokens = Math.min(this.burstBytes, this.tokens + (now - this.refilledAt) * this.bytesPerMs);
    this.refilledAt = now;
    const cost = packet.payload.length + this.overheadBytes;
    if (this.tokens < cost) {
      this.dropped++;
      return;
    }
    this.tokens -= cost;
    this.passed++;
    this.after.send(packet, now);
  }

  due(now: number): OutgoingPacket[] {
    return this.after.due(now);
  }
}

/** What a link keeps of a packet in flight: its own copy of the payload. */
function copyPacket(packet: OutgoingPacket): OutgoingPacket {
  const payload = packet.payload.slice();
  return { packetNumber: packet.packetNumber, payload, payloadBytes: payload.length, datagram: payload };
}
