/**
 * The per-peer reliability engine: packet numbers, acks, RTT, loss detection and resends,
 * congestion window and pacing, reliable ordered and unreliable sequenced channels, fragments,
 * keepalive. Pure logic: no sockets, no crypto, no timers — time comes in as `now` (ms).
 */
import { Result } from '../result';
import { ByteWriter } from '../wire';
import { validateReliabilityConfig, type ReliabilityConfig } from './config';
import {
  ACK_DELAY_UNIT_MS,
  MAX_PACKET_NUMBER,
  MAX_RTO_MS,
  MAX_TRACKED_PACKETS,
  PERSISTENT_CONGESTION_PROBES,
} from './constants';
import { CongestionController } from './congestion';
import { decodeFrames, fitAckFrame, frameSize, isAckEliciting, type AckFrame, type Frame } from './frames';
import { Inbound, type DeliveredMessage } from './inbound';
import { Outbound, type OutboundChunk } from './outbound';
import { PacketAssembler, type AssembledPacket } from './packet-assembler';
import { Pacer } from './pacer';
import { ReceivedPackets } from './received-packets';
import { RttEstimator } from './rtt';
import { SentPacketLog, type SentPacket } from './sent-packets';

/** One growable packet buffer for all connections (a per-peer one costs ~1.2 KiB of every idle peer). */
const sharedPacketWriter = new ByteWriter(1500);
/** One assembler for all connections, over that buffer: poll() and closePacket() never run re-entrantly. */
const sharedAssembler = new PacketAssembler(sharedPacketWriter);
const PING_FRAME: Frame = Object.freeze({ type: 'ping' });
const ACCEPTED: ReceiveOutcome = Object.freeze({ accepted: true });

export type { DeliveredMessage } from './inbound';

export interface OutgoingPacket {
  readonly packetNumber: number;
  /** The frames (a view of `datagram`, made when read). */
  readonly payload: Uint8Array;
  /** The frames' length: what sealing in place needs, without making that view. */
  readonly payloadBytes: number;
  /**
   * The packet's own buffer: `datagramHeadroomBytes`, the payload, `datagramTailroomBytes` (see
   * ReliabilityTuning). The caller may write headers and seal in place in it and hand it on.
   */
  datagram: Uint8Array;
}

/** Not accepted = the packet must be treated as never received (the sender will resend). */
export type ReceiveOutcome =
  | { accepted: true }
  /**
   * `peerAlive`: refused only for lack of room, so the (authenticated) packet still shows the peer
   * is alive. The caller marks it in the replay window first, then calls `notePeerAlive` — so a
   * replay of it can never refresh liveness again (PROTOCOL.md §5.6 rule 6).
   */
  | { accepted: false; reason: string; peerAlive?: true };

export interface ReliabilityStats {
  /** Smoothed round-trip time, ms (the initial estimate before the first sample). */
  rttMs: number;
  /**
   * Share of ack-eliciting packets lost, over roughly the last thousand: declared lost and never
   * acknowledged after (a late acknowledgement makes the loss spurious, not counted here).
   */
  lossRate: number;
  /** Packets declared lost and then acknowledged after all (held back, not lost). */
  spuriousLosses: number;
  sentPackets: number;
  /** Packets accepted. */
  receivedPackets: number;
  /** Packets that carried a chunk sent before. */
  resentPackets: number;
  /** Plaintext frame bytes. */
  sentBytes: number;
  receivedBytes: number;
  /** Reliable bytes accepted by send() and not yet acknowledged. */
  pendingReliableBytes: number;
  /** Unreliable messages dropped: not sent in their poll, or dropped on receipt. */
  droppedUnreliable: number;
  congestionWindowBytes: number;
  pacingRateBytesPerSecond: number;
  /** Reliable bytes held for channels the local side has not opened as reliable. */
  heldBytes: number;
  /** Ack-eliciting bytes sent and not yet acknowledged or declared lost. */
  bytesInFlight: number;
  /** Partial and out-of-order message bytes stored, with per-message overhead. */
  reassemblyBytes: number;
}

/** Internal limits that are not part of the public configuration. */
export interface ReliabilityTuning {
  /** Delivered messages waiting for takeDelivered() at most (bytes with overhead; default 8 MiB). */
  maxUndeliveredBytes: number;
  /** Unreliable bytes send() queues between two polls at most (default 1 MiB). */
  maxQueuedUnreliableBytes: number;
  /** First sequence of every channel (protocol: 0). Only for tests of sequence wrap-around. */
  initialSequence: number;
  /** First packet number (protocol: 0). Only for tests that cross 2^32 or reach MAX_PACKET_NUMBER. */
  firstPacketNumber: number;
  /** Bytes each outgoing datagram keeps free before the payload, for headers written in place (default 0). */
  datagramHeadroomBytes: number;
  /** Bytes each outgoing datagram keeps free after the payload, for the AEAD tag (default 0). */
  datagramTailroomBytes: number;
}

export const defaultReliabilityTuning: ReliabilityTuning = Object.freeze({
  maxUndeliveredBytes: 8 * 1024 * 1024,
  maxQueuedUnreliableBytes: 1024 * 1024,
  initialSequence: 0,
  firstPacketNumber: 0,
  datagramHeadroomBytes: 0,
  datagramTailroomBytes: 0,
});

/** Packet numbers poll() leaves unused for closePacket(). */
const CLOSE_PACKET_RESERVE = 64;

export class ReliableConnection {
  private readonly config: ReliabilityConfig;
  private readonly outbound: Outbound;
  private readonly inbound: Inbound;
  private readonly sent = new SentPacketLog();
  private readonly received = new ReceivedPackets();
  private readonly rtt: RttEstimator;
  private readonly congestion: CongestionController;
  private readonly pacer: Pacer;
  /** Shared by every connection: poll() copies each finished packet out, and never runs re-entrantly. */
  private readonly assembler = sharedAssembler;
  /** Packet numbers for poll() (keeping CLOSE_PACKET_RESERVE back) and for closePacket(): made once, not per poll. */
  private readonly allocateForPoll = (): number | null => this.allocate(MAX_PACKET_NUMBER - CLOSE_PACKET_RESERVE);
  private readonly allocateForClose = (): number | null => this.allocate(MAX_PACKET_NUMBER);
  /** Frame bytes charged in the current poll. */
  private pollBytes = 0;
  private readonly headroom: number;
  private readonly tailroom: number;

  private packetNumber = 0;
  /** An ack-eliciting packet arrived since the last ACK frame we sent. */
  private ackPending = false;
  /** Any packet arrived since the last ACK frame we sent. */
  private ackDirty = false;
  private pingQueued = false;
  private closeReason: number | null = null;
  private probePending = false;
  private probeBytes = 0;
  private probeCount = 0;
  private lastReceive: number;
  private lastSend: number;
  private lastAckElicitingSend = -Infinity;
  private closedByPeer = false;

  private sentPackets = 0;
  private receivedPackets = 0;
  private resentPackets = 0;
  private sentBytes = 0;
  private receivedBytes = 0;
  private droppedOnSend = 0;
  private spuriousLosses = 0;
  /** Decayed counts of ack-eliciting packets acknowledged and lost, for lossRate. */
  private ackedTally = 0;
  private lostTally = 0;

  constructor(config: ReliabilityConfig, startTimeMs: number, tuning: Partial<ReliabilityTuning> = {}) {
    const checked = validateReliabilityConfig(config);
    if (!checked.ok) throw new RangeError(`ReliableConnection: ${checked.error}`);
    this.config = checked.config;
    const t: ReliabilityTuning = { ...defaultReliabilityTuning, ...tuning };
    const initialSequence = t.initialSequence >>> 0;
    if (!Number.isSafeInteger(t.firstPacketNumber) || t.firstPacketNumber < 0) throw new RangeError(`ReliableConnection: firstPacketNumber must be a safe non-negative integer, got ${t.firstPacketNumber}`);
    this.packetNumber = t.firstPacketNumber;
    this.headroom = roomBytes(t.datagramHeadroomBytes, 'datagramHeadroomBytes');
    this.tailroom = roomBytes(t.datagramTailroomBytes, 'datagramTailroomBytes');
    this.outbound = new Outbound(this.config, t.maxQueuedUnreliableBytes, initialSequence);
    this.inbound = new Inbound(this.config, t.maxUndeliveredBytes, initialSequence);
    this.rtt = new RttEstimator(this.config.initialRttMs);
    this.congestion = new CongestionController(this.config.maxPacketBytes);
    this.pacer = new Pacer(this.config.maxPacketBytes, startTimeMs);
    this.lastReceive = startTimeMs;
    this.lastSend = startTimeMs;
  }

  /**
   * Queues a copy of `data`. Ok; InvalidPayload when over the size limit for its reliability (or
   * not a Uint8Array); InsufficientBuffer when pending reliable bytes (or this poll's queued
   * unreliable bytes) would pass their limit — nothing is queued then; InvalidChannel outside 0..127.
   */
  send(channelId: number, reliable: boolean, data: Uint8Array): Result {
    return this.outbound.enqueue(channelId, reliable === true, data);
  }

  /** The local side opened a channel (reliable or not) or closed it (null). */
  setChannel(channelId: number, reliable: boolean | null): void {
    this.inbound.setChannel(channelId, reliable);
  }

  /** Forces an ack-eliciting packet at the next poll. */
  queuePing(): void {
    this.pingQueued = true;
  }

  /** The next poll sends a CLOSE frame (best effort, once). */
  queueClose(reason: number): void {
    this.closeReason = reason & 0xff;
  }

  /**
   * The path to the peer changed (relay reconnect, new keys): probe at once rather than wait out a
   * backed-off timer.
   */
  onPathChanged(_now: number): void {
    this.probeCount = 0;
    if (this.sent.packetsInFlight > 0) this.startProbe();
    else this.pingQueued = true;
  }

  get remoteClosed(): boolean {
    return this.closedByPeer;
  }

  /** A packet refused only for room (`peerAlive`) was committed to the replay window: the peer is alive. */
  notePeerAlive(now: number): void {
    this.lastReceive = Math.max(this.lastReceive, now);
  }

  lastReceiveTime(): number {
    return this.lastReceive;
  }

  isTimedOut(now: number): boolean {
    return now - this.lastReceive >= this.config.timeoutMs;
  }

  nextPacketNumber(): number {
    return this.packetNumber;
  }

  stats(): ReliabilityStats {
    const judged = this.ackedTally + this.lostTally;
    return {
      rttMs: this.rtt.smoothedMs,
      lossRate: judged === 0 ? 0 : this.lostTally / judged,
      spuriousLosses: this.spuriousLosses,
      sentPackets: this.sentPackets,
      receivedPackets: this.receivedPackets,
      resentPackets: this.resentPackets,
      sentBytes: this.sentBytes,
      receivedBytes: this.receivedBytes,
      pendingReliableBytes: this.outbound.pendingReliableBytes,
      droppedUnreliable: this.droppedOnSend + this.inbound.droppedUnreliable,
      congestionWindowBytes: Math.round(this.congestion.windowBytes),
      pacingRateBytesPerSecond: Math.round(this.pacingRate() * 1000),
      heldBytes: this.inbound.heldBytes,
      bytesInFlight: this.sent.bytesInFlight,
      reassemblyBytes: this.inbound.reassemblyBytes,
    };
  }

  takeDelivered(): DeliveredMessage[] {
    return this.inbound.takeDelivered();
  }

  // ---- receiving ----

  /**
   * One packet's frames. The packet is handed over: whole messages delivered from it are views of
   * `payload` (no copy), so the caller must not write to it afterwards. Messages stored for later
   * (out of order, fragments) are copied.
   */
  receive(packetNumber: number, payload: Uint8Array, now: number): ReceiveOutcome {
    if (!Number.isInteger(packetNumber) || packetNumber < 0 || packetNumber > MAX_PACKET_NUMBER) {
      return refuse(`packet number ${packetNumber} is not an integer in 0..2^53-1`);
    }
    const decoded = decodeFrames(payload);
    if (!decoded.ok) return refuse(decoded.error);
    const frames = decoded.value;
    // A packet holds one ACK frame as a rule: no array for it (the protocol allows more).
    let firstAck: AckFrame | null = null;
    let moreAcks: AckFrame[] | null = null;
    let ackEliciting = false;
    let close = false;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i];
      if (frame.type === 'ack') {
        if (frame.ranges[0].largest >= this.packetNumber) {
          return refuse(`ack of packet ${frame.ranges[0].largest}, which was never sent (next is ${this.packetNumber})`);
        }
        if (firstAck === null) firstAck = frame;
        else (moreAcks ??= []).push(frame);
      } else if (frame.type === 'close') {
        close = true;
      }
      if (isAckEliciting(frame)) ackEliciting = true;
    }
    // plan() takes the data frames among them.
    const planned = this.inbound.plan(frames);
    if (!planned.ok) {
      // Liveness only once the caller has committed the packet (notePeerAlive): not here.
      return planned.capacity ? { accepted: false, reason: planned.error, peerAlive: true } : refuse(planned.error);
    }

    this.lastReceive = Math.max(this.lastReceive, now);
    this.receivedPackets++;
    this.receivedBytes += payload.length;
    this.received.add(packetNumber, now);
    this.ackDirty = true;
    if (ackEliciting) this.ackPending = true;
    if (firstAck !== null) this.onAck(firstAck, now);
    if (moreAcks !== null) for (const ack of moreAcks) this.onAck(ack, now);
    this.inbound.apply(planned.plan);
    if (close) this.closedByPeer = true;
    return ACCEPTED;
  }

  private onAck(ack: AckFrame, now: number): void {
    const acked = this.sent.onAck(ack.ranges);
    this.onLateAcks(this.sent.spuriouslyLost(ack.ranges));
    const largest = acked.length > 0 ? acked[acked.length - 1] : undefined;
    let rttSample: number | null = null;
    if (largest !== undefined && largest.packetNumber === ack.ranges[0].largest) {
      rttSample = now - largest.sentTime;
      this.rtt.addSample(rttSample, ack.ackDelay * ACK_DELAY_UNIT_MS);
    }
    this.congestion.onAck(acked, rttSample, this.sent.bytesInFlight, now);
    for (const packet of acked) {
      for (const chunk of packet.chunks) this.outbound.onChunkAcked(chunk);
      if (packet.ackLargest >= 0) this.received.forgetAcknowledgedBelow(packet.ackLargest);
    }
    if (acked.length > 0) {
      this.probeCount = 0;
      this.tally(acked.length, 0);
    }
    this.detectLosses(now);
  }

  private detectLosses(now: number): void {
    const lost = this.sent.detectLosses(now, this.rtt.lossDelayMs(), this.rtt.smoothedMs);
    if (lost.length === 0) return;
    for (const packet of lost) {
      for (const chunk of packet.chunks) this.outbound.requeue(chunk, packet.packetNumber);
    }
    this.congestion.onPacketsLost(lost);
    this.tally(0, lost.length);
  }

  /** Packets declared lost were acknowledged after all: not a loss; their data needs no resend. */
  private onLateAcks(late: readonly SentPacket[]): void {
    if (late.length === 0) return;
    this.spuriousLosses += late.length;
    this.congestion.onSpuriousLosses(late);
    // Move them from lost to acknowledged in the decayed tally (never below zero after a halving).
    const undo = Math.min(late.length, this.lostTally);
    this.lostTally -= undo;
    this.ackedTally += undo;
    for (const packet of late) {
      for (const chunk of packet.chunks) this.outbound.onChunkAcked(chunk);
    }
  }

  private tally(acked: number, lost: number): void {
    this.ackedTally += acked;
    this.lostTally += lost;
    if (this.ackedTally + this.lostTally > 2000) {
      this.ackedTally /= 2;
      this.lostTally /= 2;
    }
  }

  // ---- sending ----

  /**
   * Everything to send now, called once per flush: an ACK first, then CLOSE, this poll's
   * unreliable messages, resends, new reliable chunks (channels in turn), and a PING when one is
   * owed. Data is limited by the congestion window and the pacer; unreliable messages that cannot
   * go now are dropped and counted.
   */
  poll(now: number): readonly OutgoingPacket[] {
    this.pacer.refill(now, this.pacingRate());
    this.detectLosses(now);
    this.checkProbeTimeout(now);

    const keepaliveDue = now - this.lastSend >= this.config.keepaliveMs;
    const assembler = this.assembler.begin(this.config.maxPacketBytes, this.allocateForPoll, this.headroom, this.tailroom);
    // Piggyback an ACK of non-eliciting packets only on packets that go out anyway: an ack-only
    // reply to an ack-only packet would start an endless exchange between two blocked senders.
    const windowOpen =
      this.sent.packetsInFlight < MAX_TRACKED_PACKETS && this.sent.bytesInFlight < this.congestion.windowBytes && this.pacer.available > 0;
    const reliableReady = this.outbound.peekResend() !== null || this.outbound.peekNewChunk() !== null;
    const somethingToSend =
      (this.outbound.hasUnreliable && windowOpen) ||
      (reliableReady && (windowOpen || this.probeBytes > 0)) ||
      this.pingQueued ||
      this.probePending ||
      keepaliveDue ||
      this.closeReason !== null;
    let ackSent = false;
    if (this.ackPending || (this.ackDirty && somethingToSend)) ackSent = this.addAck(assembler, now);
    if (this.closeReason !== null) {
      assembler.add({ type: 'close', reason: this.closeReason }, 2);
      this.closeReason = null;
    }

    this.pollBytes = 0;
    let limited = false;
    // 1. Unreliable messages of this poll, whole or not at all.
    if (this.outbound.hasUnreliable) {
      for (const message of this.outbound.takeUnreliable()) {
        if (!this.canSend(false)) {
          this.droppedOnSend++;
          limited = true;
          continue;
        }
        for (const chunk of message.chunks) {
          if (assembler.addChunk(chunk) === null) break;
          this.charge(chunk.frameBytes, false);
        }
      }
    } else {
      this.outbound.pollWithoutUnreliable();
    }
    // 2. Resends, oldest loss first.
    for (let chunk = this.outbound.peekResend(); chunk !== null; chunk = this.outbound.peekResend()) {
      if (!this.canSend(true)) {
        limited = true;
        break;
      }
      if (!this.sendChunk(chunk)) break;
    }
    // 3. New reliable chunks, channels in turn.
    for (let chunk = this.outbound.peekNewChunk(); chunk !== null; chunk = this.outbound.peekNewChunk()) {
      if (!this.canSend(true)) {
        limited = true;
        break;
      }
      if (!this.sendChunk(chunk)) break;
    }
    // 4. A PING when an ack-eliciting packet is owed and none is going out.
    if ((this.pingQueued || this.probePending || keepaliveDue) && assembler.ackElicitingPackets === 0) {
      assembler.add(PING_FRAME, 1);
    }
    this.probeBytes = 0;
    // Sent all it had: rate samples until this flight is acknowledged show the app, not the path.
    if (!limited && this.outbound.peekResend() === null && this.outbound.peekNewChunk() === null) {
      this.congestion.onAppLimited(this.sent.bytesInFlight + this.pollBytes);
    }
    return this.finishPoll(assembler.finish(), now, ackSent);
  }

  /** Whether more may go in this poll. A probe may pass the window and the pacer, for reliable data only. */
  private canSend(probe: boolean): boolean {
    if (this.sent.packetsInFlight + this.assembler.ackElicitingPackets >= MAX_TRACKED_PACKETS) return false;
    if (probe && this.probeBytes > 0) return true;
    return this.sent.bytesInFlight + this.pollBytes < this.congestion.windowBytes && this.pacer.available > 0;
  }

  private charge(bytes: number, probe: boolean): void {
    this.pollBytes += bytes;
    this.pacer.spend(bytes);
    if (probe) this.probeBytes = Math.max(0, this.probeBytes - bytes);
  }

  private sendChunk(chunk: OutboundChunk): boolean {
    const packet = this.assembler.addChunk(chunk);
    if (packet === null) return false;
    if (this.outbound.onChunkSent(chunk, packet.packetNumber)) packet.resend = true;
    packet.addChunk(chunk);
    this.charge(chunk.frameBytes, true);
    return true;
  }

  /**
   * A packet holding an ACK (when there is one to send) and a CLOSE frame with `reason`, outside
   * the congestion window and not tracked, for a peer being closed. Uses packet numbers poll()
   * keeps in reserve; null (never a throw: it runs inside flush) once even those are used up,
   * and then the peer simply stops hearing from us.
   */
  closePacket(reason: number, now: number): OutgoingPacket | null {
    const assembler = this.assembler.begin(this.config.maxPacketBytes, this.allocateForClose, this.headroom, this.tailroom);
    const ackSent = this.addAck(assembler, now);
    if (assembler.add({ type: 'close', reason: reason & 0xff }, 2) === null) {
      assembler.finish();
      return null;
    }
    return this.finishPoll(assembler.finish(), now, ackSent)[0];
  }

  /** True once poll() has no packet number left to give (MAX_PACKET_NUMBER; protocol §5.6 rule 8). */
  get packetNumbersExhausted(): boolean {
    return this.packetNumber > MAX_PACKET_NUMBER - CLOSE_PACKET_RESERVE;
  }

  private addAck(assembler: PacketAssembler, now: number): boolean {
    const full = this.received.ackFrame(now);
    if (full === null) return false;
    const frame = fitAckFrame(full, this.config.maxPacketBytes);
    if (frame === null) return false;
    return assembler.add(frame, frameSize(frame)) !== null;
  }

  private finishPoll(packets: readonly AssembledPacket[], now: number, ackSent: boolean): readonly OutgoingPacket[] {
    let elicited = false;
    for (const packet of packets) {
      this.sentPackets++;
      this.sentBytes += packet.payloadBytes;
      if (packet.resend) this.resentPackets++;
      if (packet.ackEliciting) {
        elicited = true;
        const sent: SentPacket = {
          packetNumber: packet.packetNumber,
          sentTime: now,
          bytes: packet.payloadBytes,
          chunks: packet.chunks,
          ackLargest: packet.ackLargest,
          done: false,
          delivered: 0,
          deliveredTime: 0,
          firstSentTime: 0,
          appLimited: false,
        };
        this.congestion.onPacketSent(sent, this.sent.bytesInFlight);
        this.sent.add(sent);
      }
    }
    if (packets.length > 0) this.lastSend = now;
    if (elicited) {
      this.lastAckElicitingSend = now;
      this.pingQueued = false;
      this.probePending = false;
    }
    if (ackSent) {
      this.ackPending = false;
      this.ackDirty = false;
    }
    // The assembler's packets are the outgoing ones: no second object per packet.
    return packets;
  }

  private allocate(limit: number): number | null {
    if (this.packetNumber > limit) return null;
    return this.packetNumber++;
  }

  private pacingRate(): number {
    return this.congestion.pacingRate(this.rtt.smoothedMs);
  }

  /** Probe timeout (RFC 9002 §6.2): no ack for a while after the last ack-eliciting packet. */
  private checkProbeTimeout(now: number): void {
    if (this.sent.packetsInFlight === 0) {
      this.probeCount = 0;
      return;
    }
    const timeout = Math.min(MAX_RTO_MS, this.rtt.retransmitTimeoutMs() * 2 ** this.probeCount);
    if (now < this.lastAckElicitingSend + timeout) return;
    this.probeCount++;
    if (this.probeCount === PERSISTENT_CONGESTION_PROBES) this.congestion.onPersistentCongestion(now);
    this.startProbe();
  }

  /**
   * Probe (RFC 9002 §6.2.4): resend the oldest unacknowledged reliable data, up to two packets'
   * worth, outside the congestion window — or, with none in flight, a PING.
   */
  private startProbe(): void {
    this.probePending = true;
    this.probeBytes = 2 * this.config.maxPacketBytes;
    let requeued = 0;
    for (const packet of this.sent.inFlightPackets()) {
      for (const chunk of packet.chunks) {
        if (requeued >= this.probeBytes) return;
        if (this.outbound.requeue(chunk, chunk.lastSentPacket)) requeued += chunk.length;
      }
    }
  }
}

function roomBytes(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 256) throw new RangeError(`ReliableConnection: ${name} must be an integer in 0..256, got ${String(value)}`);
  return value;
}

function refuse(reason: string): ReceiveOutcome {
  return { accepted: false, reason };
}
