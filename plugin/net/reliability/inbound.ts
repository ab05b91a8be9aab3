/**
 * What a connection receives: reliable channels (in order, exactly once, out-of-order buffer
 * bounded by sequence window and bytes), unreliable channels (sequenced, partial messages evicted
 * under pressure), messages held for channels the local side has not opened, and the queue the
 * application drains.
 *
 * A packet is planned before anything changes: every data frame is checked and the memory it
 * would take is counted. A refused packet leaves no trace, so the sender's resend finds the same
 * state; an accepted packet's reliable data is never dropped.
 */
import { admitFragment, Assembly, maxFragmentCount, reassemblyCharge, type FragmentShape } from './assembly';
import type { ReliabilityConfig } from './config';
import {
  CHANNEL_COUNT,
  MESSAGE_CHARGE_OVERHEAD,
  RELIABLE_WINDOW_MESSAGES,
  UNRELIABLE_PARTIALS_PER_CHANNEL,
} from './constants';
import type { DataFrame, FragmentFrame, Frame, MessageFrame } from './frames';
import { reliableReceiveBudget } from './outbound';
import { sequenceAdd, sequenceDistance, sequenceNewer } from './sequence';

export interface DeliveredMessage {
  channelId: number;
  reliable: boolean;
  data: Uint8Array;
}

class ReliableReceiveChannel {
  /** Messages at or after `nextExpected`, complete or partial. */
  readonly pending = new Map<number, Assembly>();
  constructor(public nextExpected: number) {}
}

class UnreliableReceiveChannel {
  lastDelivered: number | null = null;
  readonly partials = new Map<number, Assembly>();
  /** The sequence last counted as dropped, so a fragmented message counts once. */
  lastCountedDrop: number | null = null;
}

/** What this packet adds to one reliable message (copy-on-write over the stored assembly). */
interface ReliableOverlay extends FragmentShape {
  channelId: number;
  sequence: number;
  existing: Assembly | undefined;
  single: Uint8Array | null;
  newParts: Map<number, Uint8Array> | null;
  addedBytes: number;
}

export interface InboundPlan {
  reliable: Map<number, ReliableOverlay>;
  touchedChannels: Set<number>;
  unreliable: DataFrame[];
  /**
   * An in-order plan (null in a general one): the packet's frames, whose whole reliable messages
   * are each next in order on an open channel with nothing pending (delivered straight away) and
   * whose unreliable frames all passed their checks.
   */
  inOrderFrames: readonly Frame[] | null;
  /** A packet's one reliable frame, a fragment of the next message in order on an open channel with nothing else pending, and the shape it gives that message. */
  inOrderFragment: FragmentFrame | null;
  inOrderShape: FragmentShape | null;
}

// The in-order plan's (never written) reliable side.
const NO_OVERLAYS: Map<number, ReliableOverlay> = new Map();
const NO_CHANNELS: Set<number> = new Set();
const NO_FRAMES: never[] = [];

function isDataFrame(frame: Frame): frame is DataFrame {
  return frame.type === 'message' || frame.type === 'fragment';
}

/** A packet may repeat what is stored already; only new data counts (an empty message is new data). */
function addsData(overlay: ReliableOverlay): boolean {
  return overlay.single !== null || overlay.newParts !== null;
}

export type PlanOutcome = { ok: true; plan: InboundPlan } | { ok: false; error: string; capacity: boolean };

export class Inbound {
  droppedUnreliable = 0;
  /** The in-order plan and its outcome, filled in by each plan() that takes that path: a packet allocates neither. */
  private readonly inOrderPlan: InboundPlan = { reliable: NO_OVERLAYS, touchedChannels: NO_CHANNELS, unreliable: NO_FRAMES, inOrderFrames: null, inOrderFragment: null, inOrderShape: null };
  private readonly inOrderOutcome: PlanOutcome = { ok: true, plan: this.inOrderPlan };
  // Maps, not 128-slot arrays: an idle peer uses one or two channels, and memory per peer counts.
  private readonly reliable = new Map<number, ReliableReceiveChannel>();
  private readonly unreliable = new Map<number, UnreliableReceiveChannel>();
  /** What the local side opened: true reliable, false unreliable, null closed. */
  private readonly local = new Map<number, boolean>();
  private readonly held = new Map<number, DeliveredMessage[]>();
  /** Unreliable partial messages, oldest first, for eviction under pressure. */
  private readonly partialsByAge = new Map<Assembly, { channelId: number; sequence: number }>();
  private delivered: DeliveredMessage[] = [];

  private reliableCharge = 0;
  private unreliableCharge = 0;
  private heldCharge = 0;
  private heldDataBytes = 0;
  private undeliveredCharge = 0;

  private readonly reliableBudget: number;
  private readonly maxReliableFragments: number;
  private readonly maxUnreliableFragments: number;

  constructor(
    private readonly config: ReliabilityConfig,
    private readonly maxUndeliveredBytes: number,
    private readonly initialSequence: number,
  ) {
    this.reliableBudget = reliableReceiveBudget(config);
    this.maxReliableFragments = maxFragmentCount(config.maxReliableMessageBytes);
    this.maxUnreliableFragments = maxFragmentCount(config.maxUnreliableMessageBytes);
  }

  get heldBytes(): number {
    return this.heldDataBytes;
  }

  /** Bytes of partial and out-of-order messages stored (with per-message overhead). */
  get reassemblyBytes(): number {
    return this.reliableCharge + this.unreliableCharge;
  }

  setChannel(channelId: number, reliable: boolean | null): void {
    if (!Number.isInteger(channelId) || channelId < 0 || channelId >= CHANNEL_COUNT) return;
    if (reliable === null) this.local.delete(channelId);
    else this.local.set(channelId, reliable);
    const held = this.held.get(channelId);
    if (reliable !== true || held === undefined) return;
    this.held.delete(channelId);
    for (const message of held) {
      const charge = message.data.length + MESSAGE_CHARGE_OVERHEAD;
      this.heldCharge -= charge;
      this.heldDataBytes -= message.data.length;
      this.delivered.push(message);
      this.undeliveredCharge += charge;
    }
  }

  takeDelivered(): DeliveredMessage[] {
    const taken = this.delivered;
    this.delivered = [];
    this.undeliveredCharge = 0;
    return taken;
  }

  /**
   * Checks the data frames among one packet's frames (others are skipped) and counts what they
   * would store. Changes nothing. The plan is good until the next plan(): apply it before then.
   */
  plan(frames: readonly Frame[]): PlanOutcome {
    if (this.planInOrder(frames)) return this.inOrderOutcome;
    const plan: InboundPlan = { reliable: new Map(), touchedChannels: new Set(), unreliable: [], inOrderFrames: null, inOrderFragment: null, inOrderShape: null };
    for (const frame of frames) {
      if (!isDataFrame(frame)) continue;
      const error = frame.reliable ? this.planReliable(frame, plan) : this.checkUnreliable(frame);
      if (error !== null) return { ok: false, error: `channel ${frame.channelId} ${frame.reliable ? 'reliable' : 'unreliable'} sequence ${frame.sequence}: ${error}`, capacity: false };
      if (!frame.reliable) plan.unreliable.push(frame);
    }
    let added = 0;
    for (const overlay of plan.reliable.values()) {
      if (addsData(overlay)) added += this.overlayChargeDelta(overlay);
    }
    if (this.reliableCharge + added > this.reliableBudget) {
      return { ok: false, error: `reassembly bound: ${this.reliableCharge} + ${added} bytes above ${this.reliableBudget}`, capacity: true };
    }
    let toHeld = 0;
    let toDelivered = 0;
    for (const channelId of plan.touchedChannels) {
      const released = this.releasableCharge(channelId, plan);
      if (this.local.get(channelId) === true) toDelivered += released;
      else toHeld += released;
    }
    if (toHeld > 0 && this.heldCharge + toHeld > this.config.maxHeldBytes) {
      return { ok: false, error: `held bound: ${this.heldCharge} + ${toHeld} bytes above ${this.config.maxHeldBytes}`, capacity: true };
    }
    if (toDelivered > 0 && this.undeliveredCharge > 0 && this.undeliveredCharge + toDelivered > this.maxUndeliveredBytes) {
      return { ok: false, error: `undelivered bound: ${this.undeliveredCharge} + ${toDelivered} bytes above ${this.maxUndeliveredBytes}`, capacity: true };
    }
    return { ok: true, plan };
  }

  /**
   * The common packet, planned without overlays: every reliable frame a whole message, next in
   * order on a locally open channel with nothing pending, and every unreliable frame acceptable.
   * The same bounds as the general plan apply. True: it filled in `inOrderPlan`. False: anything
   * else (the general plan decides, and words any refusal).
   */
  private planInOrder(frames: readonly Frame[]): boolean {
    let sawMessage = false;
    let fragment: FragmentFrame | null = null;
    let added = 0;
    let lastChannel = -1;
    let lastSequence = 0;
    // Channels with a reliable message earlier in this packet, as 4 × 32 bits (channels 0..127).
    let seen0 = 0;
    let seen1 = 0;
    let seen2 = 0;
    let seen3 = 0;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      if (!isDataFrame(frame)) continue;
      if (!frame.reliable) {
        if (this.checkUnreliable(frame) !== null) return false;
        continue;
      }
      if (frame.type === 'fragment') {
        if (fragment !== null || sawMessage) return false;
        fragment = frame;
        continue;
      }
      if (fragment !== null || frame.data.length > this.config.maxReliableMessageBytes) return false;
      const channelId = frame.channelId;
      let expected: number;
      if (channelId === lastChannel) {
        expected = sequenceAdd(lastSequence, 1);
      } else {
        // A channel seen earlier in this packet, then another in between: rare, the general plan.
        const word = channelId >>> 5;
        const bit = 1 << (channelId & 31);
        const seen = word === 0 ? seen0 : word === 1 ? seen1 : word === 2 ? seen2 : seen3;
        if ((seen & bit) !== 0) return false;
        if (word === 0) seen0 |= bit;
        else if (word === 1) seen1 |= bit;
        else if (word === 2) seen2 |= bit;
        else seen3 |= bit;
        if (this.local.get(channelId) !== true) return false;
        const channel = this.reliable.get(channelId);
        if (channel !== undefined && channel.pending.size > 0) return false;
        expected = channel?.nextExpected ?? this.initialSequence;
      }
      if (frame.sequence !== expected) return false;
      lastChannel = channelId;
      lastSequence = expected;
      sawMessage = true;
      added += frame.data.length + MESSAGE_CHARGE_OVERHEAD;
    }
    let shape: FragmentShape | null = null;
    let stored = added;
    if (fragment !== null) {
      const planned = this.planInOrderFragment(fragment);
      if (planned === null) return false;
      shape = planned.shape;
      stored = planned.chargeDelta;
      added = planned.released;
    }
    // As the general plan counts them: stored first (reassembly bound), then released to the application.
    if (this.reliableCharge + stored > this.reliableBudget) return false;
    if (added > 0 && this.undeliveredCharge > 0 && this.undeliveredCharge + added > this.maxUndeliveredBytes) return false;
    const plan = this.inOrderPlan;
    plan.inOrderFrames = frames;
    plan.inOrderFragment = fragment;
    plan.inOrderShape = shape;
    return true;
  }

  /**
   * A fragment of the next message in order on an open channel with nothing else pending (a
   * bulk transfer's packet): the shape it gives, what it adds to the reliable charge and what it
   * releases to the application. Null: anything else, repeats included (the general plan).
   */
  private planInOrderFragment(frame: FragmentFrame): { shape: FragmentShape; chargeDelta: number; released: number } | null {
    const channelId = frame.channelId;
    if (this.local.get(channelId) !== true || frame.fragmentCount > this.maxReliableFragments) return null;
    const channel = this.reliable.get(channelId);
    const expected = channel?.nextExpected ?? this.initialSequence;
    if (frame.sequence !== expected) return null;
    const existing = channel?.pending.get(expected);
    if ((channel?.pending.size ?? 0) !== (existing === undefined ? 0 : 1)) return null;
    if (existing !== undefined && (existing.count !== frame.fragmentCount || existing.has(frame.fragmentIndex))) return null;
    const shape: FragmentShape = { count: frame.fragmentCount, fragmentSize: existing?.fragmentSize ?? 0, lastLength: existing?.lastLength ?? -1 };
    const max = this.config.maxReliableMessageBytes;
    if (admitFragment(shape, frame.fragmentIndex, frame.data.length, max) !== null) return null;
    const bytes = (existing?.bytes ?? 0) + frame.data.length;
    const chargeDelta = reassemblyCharge(shape.count, shape.fragmentSize, bytes, max) - (existing?.charge ?? 0);
    const completes = (existing?.received ?? 0) + 1 === shape.count;
    return { shape, chargeDelta, released: completes ? bytes + MESSAGE_CHARGE_OVERHEAD : 0 };
  }

  /** Stores the fragment planInOrderFragment() accepted, and delivers its message once complete. */
  private applyInOrderFragment(frame: FragmentFrame, shape: FragmentShape): void {
    const channel = this.reliableChannel(frame.channelId);
    const existing = channel.pending.get(frame.sequence);
    const before = existing?.charge ?? 0;
    const assembly = this.reliableAssembly(channel, frame.sequence, existing, shape);
    assembly.addPart(frame.fragmentIndex, frame.data);
    this.reliableCharge += assembly.charge - before;
    if (assembly.complete) this.releaseReliable(frame.channelId);
  }

  /**
   * The assembly of `sequence` on `channel` (`existing`, or a new one stored there) with the shape
   * `shape` gives it: set before any fragment is copied, since it says where each one goes.
   */
  private reliableAssembly(channel: ReliableReceiveChannel, sequence: number, existing: Assembly | undefined, shape: FragmentShape): Assembly {
    let assembly = existing;
    if (assembly === undefined) {
      assembly = new Assembly(shape.count, this.config.maxReliableMessageBytes);
      channel.pending.set(sequence, assembly);
    }
    assembly.fragmentSize = shape.fragmentSize;
    assembly.lastLength = shape.lastLength;
    return assembly;
  }

  /** Stores what a plan from plan() found acceptable and delivers what became deliverable. */
  apply(plan: InboundPlan): void {
    if (plan.inOrderFrames !== null) {
      this.applyInOrder(plan.inOrderFrames, plan.inOrderFragment, plan.inOrderShape);
      plan.inOrderFrames = null; // the packet's frames are not kept
      plan.inOrderFragment = null;
      return;
    }
    for (const overlay of plan.reliable.values()) {
      if (!addsData(overlay)) continue;
      const before = overlay.existing?.charge ?? 0;
      const assembly = this.reliableAssembly(this.reliableChannel(overlay.channelId), overlay.sequence, overlay.existing, overlay);
      if (overlay.single !== null) assembly.setWhole(overlay.single);
      if (overlay.newParts !== null) for (const [index, data] of overlay.newParts) assembly.addPart(index, data);
      this.reliableCharge += assembly.charge - before;
    }
    for (const channelId of plan.touchedChannels) this.releaseReliable(channelId);
    // Reliable data stays within its own bound; unreliable partials give way to it (§6.7).
    this.makeRoom(0, undefined);
    for (const frame of plan.unreliable) this.receiveUnreliable(frame);
  }

  /** An in-order plan: the reliable side in packet order, then the unreliable frames, as apply() orders a general plan. */
  private applyInOrder(frames: readonly Frame[], fragment: FragmentFrame | null, shape: FragmentShape | null): void {
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      if (frame.type !== 'message' || !frame.reliable) continue;
      const channel = this.reliableChannel(frame.channelId);
      channel.nextExpected = sequenceAdd(channel.nextExpected, 1);
      // Delivered as the view it is: receive() owns the packet (see ReliableConnection.receive).
      const data = frame.data;
      this.delivered.push({ channelId: frame.channelId, reliable: true, data });
      this.undeliveredCharge += data.length + MESSAGE_CHARGE_OVERHEAD;
    }
    if (fragment !== null && shape !== null) this.applyInOrderFragment(fragment, shape);
    // Reliable data stays within its own bound; unreliable partials give way to it (§6.7).
    this.makeRoom(0, undefined);
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      if (isDataFrame(frame) && !frame.reliable) this.receiveUnreliable(frame);
    }
  }

  // ---- reliable ----

  private planReliable(frame: DataFrame, plan: InboundPlan): string | null {
    const channel = this.reliable.get(frame.channelId);
    const nextExpected = channel?.nextExpected ?? this.initialSequence;
    if (sequenceDistance(nextExpected, frame.sequence) >= RELIABLE_WINDOW_MESSAGES) {
      // Already delivered (a late resend) unless it is further back than any honest sender goes.
      if (sequenceDistance(frame.sequence, nextExpected) <= RELIABLE_WINDOW_MESSAGES) return null;
      return `outside the window of ${RELIABLE_WINDOW_MESSAGES} from ${nextExpected}`;
    }
    const key = frame.channelId * 0x100000000 + frame.sequence;
    let overlay = plan.reliable.get(key);
    if (overlay === undefined) {
      const existing = channel?.pending.get(frame.sequence);
      overlay = {
        channelId: frame.channelId,
        sequence: frame.sequence,
        existing,
        count: existing?.count ?? (frame.type === 'message' ? 1 : frame.fragmentCount),
        fragmentSize: existing?.fragmentSize ?? 0,
        lastLength: existing?.lastLength ?? -1,
        single: null,
        newParts: null,
        addedBytes: 0,
      };
    }
    const error = frame.type === 'message' ? this.overlayMessage(overlay, frame) : this.overlayFragment(overlay, frame);
    if (error !== null) return error;
    plan.reliable.set(key, overlay);
    plan.touchedChannels.add(frame.channelId);
    return null;
  }

  private overlayMessage(overlay: ReliableOverlay, frame: MessageFrame): string | null {
    if (frame.data.length > this.config.maxReliableMessageBytes) return `${frame.data.length} bytes, above ${this.config.maxReliableMessageBytes}`;
    if (overlay.count !== 1) return 'sent both whole and in fragments';
    if (overlay.single !== null || overlay.existing !== undefined) return null; // a repeat
    overlay.single = frame.data;
    overlay.addedBytes += frame.data.length;
    return null;
  }

  private overlayFragment(overlay: ReliableOverlay, frame: FragmentFrame): string | null {
    if (frame.fragmentCount > this.maxReliableFragments) return `fragment count ${frame.fragmentCount} above ${this.maxReliableFragments}`;
    if (overlay.count !== frame.fragmentCount) return `fragment count ${frame.fragmentCount} where earlier fragments said ${overlay.count}`;
    const index = frame.fragmentIndex;
    const seenLength = overlay.existing?.has(index) === true ? overlay.existing.lengthOf(index) : (overlay.newParts?.get(index)?.length ?? -1);
    if (seenLength >= 0) return seenLength === frame.data.length ? null : `fragment ${index} repeated with another length`;
    const error = admitFragment(overlay, frame.fragmentIndex, frame.data.length, this.config.maxReliableMessageBytes);
    if (error !== null) return error;
    overlay.newParts ??= new Map();
    overlay.newParts.set(frame.fragmentIndex, frame.data);
    overlay.addedBytes += frame.data.length;
    return null;
  }

  /** What storing `overlay` adds to the reliable charge: the assembly's charge after it, less before. */
  private overlayChargeDelta(overlay: ReliableOverlay): number {
    const bytes = (overlay.existing?.bytes ?? 0) + overlay.addedBytes;
    const after = reassemblyCharge(overlay.count, overlay.fragmentSize, bytes, this.config.maxReliableMessageBytes);
    return after - (overlay.existing?.charge ?? 0);
  }

  /** Charge of the messages that would become deliverable in order on `channelId` with this plan. */
  private releasableCharge(channelId: number, plan: InboundPlan): number {
    const channel = this.reliable.get(channelId);
    let sequence = channel?.nextExpected ?? this.initialSequence;
    let released = 0;
    for (let step = 0; step < RELIABLE_WINDOW_MESSAGES; step++) {
      const existing = channel?.pending.get(sequence);
      const overlay = plan.reliable.get(channelId * 0x100000000 + sequence);
      let received = existing?.received ?? 0;
      let bytes = existing?.bytes ?? 0;
      const count = existing?.count ?? overlay?.count ?? 0;
      if (overlay !== undefined) {
        received += (overlay.single !== null ? 1 : 0) + (overlay.newParts?.size ?? 0);
        bytes += overlay.addedBytes;
      }
      if (count === 0 || received !== count) break;
      released += bytes + MESSAGE_CHARGE_OVERHEAD;
      sequence = sequenceAdd(sequence, 1);
    }
    return released;
  }

  private releaseReliable(channelId: number): void {
    const channel = this.reliableChannel(channelId);
    for (;;) {
      const assembly = channel.pending.get(channel.nextExpected);
      if (assembly === undefined || !assembly.complete) return;
      channel.pending.delete(channel.nextExpected);
      channel.nextExpected = sequenceAdd(channel.nextExpected, 1);
      this.reliableCharge -= assembly.charge;
      const message: DeliveredMessage = { channelId, reliable: true, data: assembly.assemble() };
      const charge = message.data.length + MESSAGE_CHARGE_OVERHEAD;
      if (this.local.get(channelId) === true) {
        this.delivered.push(message);
        this.undeliveredCharge += charge;
      } else {
        let held = this.held.get(channelId);
        if (held === undefined) {
          held = [];
          this.held.set(channelId, held);
        }
        held.push(message);
        this.heldCharge += charge;
        this.heldDataBytes += message.data.length;
      }
    }
  }

  private reliableChannel(channelId: number): ReliableReceiveChannel {
    let channel = this.reliable.get(channelId);
    if (channel === undefined) {
      channel = new ReliableReceiveChannel(this.initialSequence);
      this.reliable.set(channelId, channel);
    }
    return channel;
  }

  // ---- unreliable ----

  /** Checks what can be checked of an unreliable frame without state; failures refuse the packet. */
  private checkUnreliable(frame: DataFrame): string | null {
    const max = this.config.maxUnreliableMessageBytes;
    if (frame.type === 'message') return frame.data.length > max ? `${frame.data.length} bytes, above ${max}` : null;
    if (frame.fragmentCount > this.maxUnreliableFragments) return `fragment count ${frame.fragmentCount} above ${this.maxUnreliableFragments}`;
    const fresh: FragmentShape = { count: frame.fragmentCount, fragmentSize: 0, lastLength: -1 };
    return admitFragment(fresh, frame.fragmentIndex, frame.data.length, max);
  }

  private receiveUnreliable(frame: DataFrame): void {
    const channel = this.unreliableChannel(frame.channelId);
    if (this.local.get(frame.channelId) !== false) {
      this.countDrop(channel, frame.sequence);
      return;
    }
    if (channel.lastDelivered !== null && !sequenceNewer(frame.sequence, channel.lastDelivered)) return; // stale or repeated
    if (frame.type === 'message') {
      // Delivered in this packet's receive(), so the view it is (the caller hands the packet over).
      this.deliverUnreliable(channel, frame.channelId, frame.sequence, frame.data);
      return;
    }
    const max = this.config.maxUnreliableMessageBytes;
    let assembly = channel.partials.get(frame.sequence);
    if (assembly?.has(frame.fragmentIndex) === true) return;
    // The shape this fragment would give, checked on a copy: nothing changes until it fits in memory.
    const shape: FragmentShape = { count: frame.fragmentCount, fragmentSize: assembly?.fragmentSize ?? 0, lastLength: assembly?.lastLength ?? -1 };
    if (assembly !== undefined && (assembly.count !== frame.fragmentCount || admitFragment(shape, frame.fragmentIndex, frame.data.length, max) !== null)) {
      this.evictPartial(frame.channelId, frame.sequence, assembly); // inconsistent: the message cannot complete
      return;
    }
    if (assembly === undefined) admitFragment(shape, frame.fragmentIndex, frame.data.length, max); // checked in plan()
    const before = assembly?.charge ?? 0;
    const need = reassemblyCharge(shape.count, shape.fragmentSize, (assembly?.bytes ?? 0) + frame.data.length, max) - before;
    if (!this.makeRoom(need, assembly)) {
      if (assembly !== undefined) this.evictPartial(frame.channelId, frame.sequence, assembly);
      else this.countDrop(channel, frame.sequence);
      return;
    }
    if (assembly === undefined) {
      if (channel.partials.size >= UNRELIABLE_PARTIALS_PER_CHANNEL) this.evictOldestOf(frame.channelId, channel);
      assembly = new Assembly(frame.fragmentCount, max);
      channel.partials.set(frame.sequence, assembly);
      this.partialsByAge.set(assembly, { channelId: frame.channelId, sequence: frame.sequence });
    }
    assembly.fragmentSize = shape.fragmentSize;
    assembly.lastLength = shape.lastLength;
    assembly.addPart(frame.fragmentIndex, frame.data);
    this.unreliableCharge += assembly.charge - before;
    if (!assembly.complete) return;
    this.removePartial(channel, frame.sequence, assembly);
    this.deliverUnreliable(channel, frame.channelId, frame.sequence, assembly.assemble());
  }

  private deliverUnreliable(channel: UnreliableReceiveChannel, channelId: number, sequence: number, data: Uint8Array): void {
    const charge = data.length + MESSAGE_CHARGE_OVERHEAD;
    if (this.undeliveredCharge > 0 && this.undeliveredCharge + charge > this.maxUndeliveredBytes) {
      this.countDrop(channel, sequence);
      return;
    }
    this.delivered.push({ channelId, reliable: false, data });
    this.undeliveredCharge += charge;
    channel.lastDelivered = sequence;
    // Anything older can never be delivered now.
    for (const [partialSequence, partial] of channel.partials) {
      if (!sequenceNewer(partialSequence, sequence)) this.evictPartial(channelId, partialSequence, partial);
    }
  }

  /** Evicts other unreliable partials, oldest first, until `need` more bytes fit. */
  private makeRoom(need: number, keep: Assembly | undefined): boolean {
    const limit = this.config.maxReassemblyBytes;
    while (this.reliableCharge + this.unreliableCharge + need > limit) {
      let victim: [Assembly, { channelId: number; sequence: number }] | undefined;
      for (const entry of this.partialsByAge) {
        if (entry[0] !== keep) {
          victim = entry;
          break;
        }
      }
      if (victim === undefined) return false;
      this.evictPartial(victim[1].channelId, victim[1].sequence, victim[0]);
    }
    return true;
  }

  private evictOldestOf(channelId: number, channel: UnreliableReceiveChannel): void {
    let oldest: number | null = null;
    for (const sequence of channel.partials.keys()) {
      if (oldest === null || sequenceNewer(oldest, sequence)) oldest = sequence;
    }
    if (oldest === null) return;
    const assembly = channel.partials.get(oldest);
    if (assembly !== undefined) this.evictPartial(channelId, oldest, assembly);
  }

  private evictPartial(channelId: number, sequence: number, assembly: Assembly): void {
    const channel = this.unreliableChannel(channelId);
    this.removePartial(channel, sequence, assembly);
    this.countDrop(channel, sequence);
  }

  private removePartial(channel: UnreliableReceiveChannel, sequence: number, assembly: Assembly): void {
    if (channel.partials.get(sequence) !== assembly) return;
    channel.partials.delete(sequence);
    this.partialsByAge.delete(assembly);
    this.unreliableCharge -= assembly.charge;
  }

  private countDrop(channel: UnreliableReceiveChannel, sequence: number): void {
    if (channel.lastCountedDrop === sequence) return;
    channel.lastCountedDrop = sequence;
    this.droppedUnreliable++;
  }

  private unreliableChannel(channelId: number): UnreliableReceiveChannel {
    let channel = this.unreliable.get(channelId);
    if (channel === undefined) {
      channel = new UnreliableReceiveChannel();
      this.unreliable.set(channelId, channel);
    }
    return channel;
  }
}
