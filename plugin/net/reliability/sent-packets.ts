import { MAX_PACKET_THRESHOLD, MAX_TIME_THRESHOLD_EXTRA, PACKET_THRESHOLD, TIME_THRESHOLD_STEP } from './constants';

/** Packets declared lost that are remembered, to recognise a late acknowledgement (spurious loss). */
const REMEMBERED_LOSSES = 256;
import type { DeliveryStamp } from './delivery-rate';
import type { AckRange } from './frames';
import type { OutboundChunk } from './outbound';

/** An ack-eliciting packet we sent, kept until it is acknowledged or declared lost. */
export interface SentPacket extends DeliveryStamp {
  packetNumber: number;
  /** Reliable chunks it carried (unreliable data is never resent, so it is not tracked). */
  chunks: OutboundChunk[];
  /** Largest packet number acknowledged by an ACK frame it carried, or -1. */
  ackLargest: number;
  /** Acknowledged or declared lost. */
  done: boolean;
}

/**
 * Ack-eliciting packets in flight, in packet-number order, with loss detection by packet and time
 * threshold (RFC 9002 §6.1).
 */
export class SentPacketLog {
  private packets: SentPacket[] = [];
  private head = 0;
  private inFlight = 0;
  private inFlightBytes = 0;
  /** Largest packet number the peer acknowledged (tracked or not); -1 before any. */
  largestAcked = -1;
  /** Recently declared lost, ascending packet numbers, at most REMEMBERED_LOSSES. */
  private recentlyLost: SentPacket[] = [];
  /** For each of recentlyLost: how many numbers behind the largest acknowledged it was when declared lost (0: by time). */
  private recentlyLostGap: number[] = [];
  /**
   * Reordering thresholds (RFC 9002 §6.1 lets them adapt; Linux and RACK do): a loss that turns
   * out spurious shows the path reorders that far, so later packets get that much more room
   * before they are declared lost (a jittery path reorders packets sent 1 ms apart by several).
   */
  private packetThreshold = PACKET_THRESHOLD;
  private timeThresholdExtra = 0;

  get bytesInFlight(): number {
    return this.inFlightBytes;
  }

  get packetsInFlight(): number {
    return this.inFlight;
  }

  /** The packet reordering threshold in use (PACKET_THRESHOLD until a spurious loss raised it). */
  get reorderingThreshold(): number {
    return this.packetThreshold;
  }

  /** Extra time threshold, in RTTs, on top of TIME_THRESHOLD (0 until a spurious loss by time raised it). */
  get timeThresholdExtraRtts(): number {
    return this.timeThresholdExtra;
  }

  add(packet: SentPacket): void {
    this.packets.push(packet);
    this.inFlight++;
    this.inFlightBytes += packet.bytes;
  }

  /** Marks the packets in `ranges` acknowledged; returns those newly acknowledged, ascending. */
  onAck(ranges: readonly AckRange[]): SentPacket[] {
    const acked: SentPacket[] = [];
    for (let r = ranges.length - 1; r >= 0; r--) {
      const range = ranges[r];
      for (let i = this.firstIndexAtOrAbove(range.smallest); i < this.packets.length; i++) {
        const packet = this.packets[i];
        if (packet.packetNumber > range.largest) break;
        if (packet.done) continue;
        this.finish(packet);
        acked.push(packet);
      }
    }
    if (ranges.length > 0) this.largestAcked = Math.max(this.largestAcked, ranges[0].largest);
    this.compact();
    return acked;
  }

  /**
   * Packets declared lost that `ranges` acknowledge after all (they were late, not lost), each
   * returned once, ascending. Call with the same ranges as onAck.
   */
  spuriouslyLost(ranges: readonly AckRange[]): readonly SentPacket[] {
    const lost = this.recentlyLost;
    if (lost.length === 0 || ranges.length === 0) return NONE;
    let found: SentPacket[] | null = null;
    let kept = 0;
    const gaps = this.recentlyLostGap;
    for (let i = 0; i < lost.length; i++) {
      const packet = lost[i];
      if (covers(ranges, packet.packetNumber)) {
        (found ??= []).push(packet);
        const gap = gaps[i];
        if (gap > 0) this.packetThreshold = Math.min(MAX_PACKET_THRESHOLD, Math.max(this.packetThreshold, gap + 1));
        else this.timeThresholdExtra = Math.min(MAX_TIME_THRESHOLD_EXTRA, this.timeThresholdExtra + TIME_THRESHOLD_STEP);
      } else {
        gaps[kept] = gaps[i];
        lost[kept++] = packet;
      }
    }
    lost.length = kept;
    gaps.length = kept;
    return found ?? NONE;
  }

  /**
   * Declares lost every packet below the largest acknowledged one that is the reordering threshold
   * (PACKET_THRESHOLD at first) numbers behind it or was sent `lossDelayMs` (plus the adapted
   * extra, in `rttMs`) or more ago. Returns them, ascending (a shared empty array when none: it
   * runs on every ACK and every poll).
   */
  detectLosses(now: number, lossDelayMs: number, rttMs = 0): readonly SentPacket[] {
    let lost: SentPacket[] | null = null;
    const delay = lossDelayMs + this.timeThresholdExtra * rttMs;
    for (let i = this.head; i < this.packets.length; i++) {
      const packet = this.packets[i];
      if (packet.packetNumber >= this.largestAcked) break;
      if (packet.done) continue;
      const gap = this.largestAcked - packet.packetNumber;
      const byNumber = gap >= this.packetThreshold;
      if (byNumber || packet.sentTime <= now - delay) {
        this.finish(packet);
        (lost ??= []).push(packet);
        this.recentlyLost.push(packet);
        this.recentlyLostGap.push(byNumber ? gap : 0);
        if (this.recentlyLost.length > REMEMBERED_LOSSES) {
          this.recentlyLost.shift();
          this.recentlyLostGap.shift();
        }
      }
    }
    this.compact();
    return lost ?? NONE;
  }

  /** Packets still in flight, oldest first. */
  *inFlightPackets(): IterableIterator<SentPacket> {
    for (let i = this.head; i < this.packets.length; i++) {
      if (!this.packets[i].done) yield this.packets[i];
    }
  }

  private finish(packet: SentPacket): void {
    packet.done = true;
    this.inFlight--;
    this.inFlightBytes -= packet.bytes;
  }

  private firstIndexAtOrAbove(packetNumber: number): number {
    let low = this.head;
    let high = this.packets.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.packets[mid].packetNumber < packetNumber) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private compact(): void {
    while (this.head < this.packets.length && this.packets[this.head].done) this.head++;
    if (this.head === this.packets.length) {
      this.packets = [];
      this.head = 0;
    } else if (this.head >= 256 && this.head * 2 >= this.packets.length) {
      this.packets = this.packets.slice(this.head);
      this.head = 0;
    }
  }
}

/** Returned for "none": never written to. */
const NONE: readonly SentPacket[] = Object.freeze([]);

/** Whether descending `ranges` hold `packetNumber`. */
function covers(ranges: readonly AckRange[], packetNumber: number): boolean {
  for (const range of ranges) {
    if (packetNumber > range.largest) return false;
    if (packetNumber >= range.smallest) return true;
  }
  return false;
}
