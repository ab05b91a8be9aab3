import { ACK_DELAY_UNIT_MS, MAX_ACK_RANGE_PAIRS } from './constants';
import type { AckFrame, AckRange } from './frames';

const MAX_RANGES = MAX_ACK_RANGE_PAIRS + 1;

/**
 * Packet numbers received, as at most 1 + MAX_ACK_RANGE_PAIRS descending ranges (the oldest are
 * forgotten first), from which ACK frames are built.
 */
export class ReceivedPackets {
  /** Descending, disjoint, never adjacent. */
  private readonly ranges: AckRange[] = [];
  private largestReceivedTime = 0;
  /** Reused by every ackFrame(): its ranges are the live list, not a copy. */
  private readonly frame: AckFrame = { type: 'ack', ackDelay: 0, ranges: this.ranges };

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  get largest(): number {
    return this.ranges.length === 0 ? -1 : this.ranges[0].largest;
  }

  add(packetNumber: number, now: number): void {
    const ranges = this.ranges;
    if (ranges.length === 0 || packetNumber > ranges[0].largest) this.largestReceivedTime = now;
    // First range whose largest is below the new number: the new one goes before it.
    let i = 0;
    while (i < ranges.length && ranges[i].largest >= packetNumber) i++;
    if (i > 0 && ranges[i - 1].smallest <= packetNumber) return; // already there
    const joinsAbove = i > 0 && ranges[i - 1].smallest === packetNumber + 1;
    const joinsBelow = i < ranges.length && ranges[i].largest === packetNumber - 1;
    if (joinsAbove && joinsBelow) {
      ranges[i - 1].smallest = ranges[i].smallest;
      ranges.splice(i, 1);
    } else if (joinsAbove) {
      ranges[i - 1].smallest = packetNumber;
    } else if (joinsBelow) {
      ranges[i].largest = packetNumber;
    } else {
      ranges.splice(i, 0, { smallest: packetNumber, largest: packetNumber });
      if (ranges.length > MAX_RANGES) ranges.pop();
    }
  }

  /**
   * An ACK frame of everything remembered, its delay measured from the largest one's arrival.
   * Not a copy (a poll writes it at once): valid until the next add() or forget.
   */
  ackFrame(now: number): AckFrame | null {
    if (this.ranges.length === 0) return null;
    this.frame.ackDelay = Math.min(0xffffffff, Math.max(0, Math.floor((now - this.largestReceivedTime) / ACK_DELAY_UNIT_MS)));
    return this.frame;
  }

  /**
   * The peer has our ACK frame whose largest was `largest`: it no longer needs packets up to it
   * acknowledged (RFC 9000 §13.2.4). The range holding `largest` is kept so acks stay anchored.
   */
  forgetAcknowledgedBelow(largest: number): void {
    const ranges = this.ranges;
    let keep = ranges.length;
    while (keep > 1 && ranges[keep - 1].largest < largest) keep--;
    if (keep < ranges.length) ranges.length = keep;
  }
}
