import { MAX_ACK_DELAY_MS, MAX_PEER_ACK_DELAY_MS, MAX_RTO_MS, MIN_RTO_MS, TIME_THRESHOLD } from './constants';

/**
 * Round-trip time estimate, RFC 6298 / RFC 9002 §5: smoothed RTT and variation from samples
 * taken when the largest acknowledged packet is newly acknowledged, with the time the peer held
 * the acknowledgement (its reported ack delay, at most MAX_PEER_ACK_DELAY_MS) subtracted: the
 * network's round trip, not the peers' frame cadence. RFC 9002 only subtracts down to the
 * smallest raw sample, which assumes some acks are immediate; here every ack waits for the peer's
 * next flush, so the floor is that sample minus one assumed frame (MAX_ACK_DELAY_MS) — a peer
 * overstating its delay can shave at most that much off.
 */
export class RttEstimator {
  private smoothed: number;
  private variation: number;
  private latest: number;
  private minimum = Infinity;
  private sampled = false;
  /** Recent largest ack delay the peer reported (it acks at its next flush: a frame or so). */
  private peerAckDelay = MAX_ACK_DELAY_MS;

  constructor(initialRttMs: number) {
    this.smoothed = initialRttMs;
    this.variation = initialRttMs / 2;
    this.latest = initialRttMs;
  }

  get smoothedMs(): number {
    return this.smoothed;
  }

  addSample(sampleMs: number, ackDelayMs: number): void {
    if (!Number.isFinite(sampleMs) || sampleMs < 0) return;
    // Slowly forget a long delay, never below the assumed default.
    this.peerAckDelay = Math.max(MAX_ACK_DELAY_MS, Math.min(MAX_PEER_ACK_DELAY_MS, Math.max(ackDelayMs, this.peerAckDelay * 0.95)));
    this.latest = sampleMs;
    this.minimum = Math.min(this.minimum, sampleMs);
    const delay = Number.isFinite(ackDelayMs) ? Math.min(MAX_PEER_ACK_DELAY_MS, Math.max(0, ackDelayMs)) : 0;
    const adjusted = Math.max(sampleMs - delay, this.minimum - MAX_ACK_DELAY_MS, 0);
    if (!this.sampled) {
      this.sampled = true;
      this.smoothed = adjusted;
      this.variation = adjusted / 2;
      return;
    }
    this.variation = 0.75 * this.variation + 0.25 * Math.abs(this.smoothed - adjusted);
    this.smoothed = 0.875 * this.smoothed + 0.125 * adjusted;
  }

  /**
   * Base retransmission (probe) timeout, before backoff: srtt + max(4·rttvar, 1) + the peer's ack
   * delay (at least MAX_ACK_DELAY_MS, more when it reports longer delays), clamped.
   */
  retransmitTimeoutMs(): number {
    const raw = this.smoothed + Math.max(4 * this.variation, 1) + this.peerAckDelay;
    return Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, raw));
  }

  /** How long after a later packet was acknowledged an earlier unacknowledged one counts as lost. */
  lossDelayMs(): number {
    return Math.max(TIME_THRESHOLD * Math.max(this.smoothed, this.latest), 1);
  }
}
