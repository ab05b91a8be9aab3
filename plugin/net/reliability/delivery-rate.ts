/**
 * Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation): each packet remembers how
 * much had been delivered when it was sent; when it is acknowledged, the bytes delivered since
 * over the time they took is one sample of the path's rate. Samples taken while the sender had
 * too little to send say only "at least this much" (app-limited).
 */

/** What a packet carries from its send time for the estimator. */
export interface DeliveryStamp {
  sentTime: number;
  bytes: number;
  /** Bytes delivered (acknowledged) when it was sent. */
  delivered: number;
  /** When `delivered` last grew, as of its send time. */
  deliveredTime: number;
  /** Send time of the packet whose acknowledgement opened the current sampling interval. */
  firstSentTime: number;
  /** Sent while the sender was not using the whole window. */
  appLimited: boolean;
}

export interface RateSample {
  /** Bytes per ms. */
  rate: number;
  /** Bytes delivered over the interval. */
  delivered: number;
  intervalMs: number;
  appLimited: boolean;
}

export class DeliveryRateEstimator {
  /** Bytes acknowledged so far. */
  delivered = 0;
  private deliveredTime = 0;
  private firstSentTime = 0;
  /** Nonzero while app-limited: the `delivered` figure after which samples are trusted again. */
  private appLimitedUntil = 0;

  // The sample being built from one ACK frame's newly acknowledged packets.
  private priorDelivered = -1;
  private priorTime = 0;
  private sendElapsed = 0;
  private sampleAppLimited = false;

  /** The sender ran out of data and what it sent then is not yet all delivered. */
  get appLimited(): boolean {
    return this.appLimitedUntil !== 0;
  }

  /** Fills the stamp of a packet about to be sent with `bytesInFlight` already in flight. */
  stamp(packet: DeliveryStamp, bytesInFlight: number): void {
    if (bytesInFlight === 0) {
      this.firstSentTime = packet.sentTime;
      this.deliveredTime = packet.sentTime;
    }
    packet.delivered = this.delivered;
    packet.deliveredTime = this.deliveredTime;
    packet.firstSentTime = this.firstSentTime;
    packet.appLimited = this.appLimitedUntil !== 0;
  }

  /** The sender has nothing more to send: samples until what is in flight now is delivered are app-limited. */
  markAppLimited(bytesInFlight: number): void {
    this.appLimitedUntil = Math.max(this.delivered + bytesInFlight, 1);
  }

  onPacketAcked(packet: DeliveryStamp, now: number): void {
    this.delivered += packet.bytes;
    this.deliveredTime = now;
    if (packet.delivered >= this.priorDelivered) {
      this.priorDelivered = packet.delivered;
      this.priorTime = packet.deliveredTime;
      this.sendElapsed = packet.sentTime - packet.firstSentTime;
      this.sampleAppLimited = packet.appLimited;
      this.firstSentTime = packet.sentTime;
    }
  }

  /**
   * The sample of the packets acknowledged since the last call, or null (none, or an interval
   * shorter than `minRttMs`, which would overstate the rate).
   */
  takeSample(minRttMs: number): RateSample | null {
    if (this.appLimitedUntil !== 0 && this.delivered > this.appLimitedUntil) this.appLimitedUntil = 0;
    const prior = this.priorDelivered;
    this.priorDelivered = -1;
    if (prior < 0) return null;
    const delivered = this.delivered - prior;
    const intervalMs = Math.max(this.sendElapsed, this.deliveredTime - this.priorTime);
    if (delivered <= 0 || intervalMs <= 0 || intervalMs < minRttMs) return null;
    return { rate: delivered / intervalMs, delivered, intervalMs, appLimited: this.sampleAppLimited };
  }
}
