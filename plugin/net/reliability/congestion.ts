import {
  MAX_CONGESTION_WINDOW_BYTES,
  PACING_BURST_MS,
  PACING_BURST_PACKETS,
  PACING_GAIN,
} from './constants';

/**
 * NewReno congestion window in bytes (RFC 9002 §7): slow start, congestion avoidance, one window
 * reduction per recovery period, collapse to the minimum on persistent congestion.
 */
export class CongestionController {
  private window: number;
  private slowStartThreshold = Infinity;
  /** Packets sent at or before this time belong to the current recovery period. */
  private recoveryStartTime = -Infinity;
  private readonly minimumWindow: number;
  private readonly initialWindow: number;

  constructor(private readonly maxDatagramBytes: number) {
    this.initialWindow = Math.min(10 * maxDatagramBytes, Math.max(14_720, 2 * maxDatagramBytes));
    this.minimumWindow = 2 * maxDatagramBytes;
    this.window = this.initialWindow;
  }

  get windowBytes(): number {
    return this.window;
  }

  get inSlowStart(): boolean {
    return this.window < this.slowStartThreshold;
  }

  /** `limited`: the sender was using its window (growing an unused window proves nothing). */
  onPacketAcked(bytes: number, sentTime: number, limited: boolean): void {
    if (sentTime <= this.recoveryStartTime || !limited) return;
    if (this.window < this.slowStartThreshold) {
      this.window += bytes;
    } else {
      this.window += (this.maxDatagramBytes * bytes) / this.window;
    }
    this.window = Math.min(this.window, MAX_CONGESTION_WINDOW_BYTES);
  }

  /** Packets were declared lost; `largestLostSentTime` is when the newest of them was sent. */
  onPacketsLost(largestLostSentTime: number, now: number): void {
    if (largestLostSentTime <= this.recoveryStartTime) return;
    this.recoveryStartTime = now;
    this.slowStartThreshold = Math.max(this.window / 2, this.minimumWindow);
    this.window = this.slowStartThreshold;
  }

  onPersistentCongestion(now: number): void {
    this.recoveryStartTime = now;
    this.slowStartThreshold = Math.max(this.window / 2, this.minimumWindow);
    this.window = this.minimumWindow;
  }
}

/**
 * Token bucket pacing (RFC 9002 §7.7): refills at PACING_GAIN × cwnd / srtt; holds at least
 * PACING_BURST_PACKETS packets or PACING_BURST_MS of the rate, so sends spread over the polls of
 * several frames. A sender may go into debt by one message (an unreliable message is sent whole);
 * the debt is paid before anything else goes out.
 */
export class Pacer {
  private tokens: number;
  private lastRefill: number;

  constructor(private readonly maxDatagramBytes: number, now: number) {
    this.tokens = PACING_BURST_PACKETS * maxDatagramBytes;
    this.lastRefill = now;
  }

  static rateBytesPerMs(windowBytes: number, smoothedRttMs: number): number {
    return (PACING_GAIN * windowBytes) / Math.max(smoothedRttMs, 1);
  }

  capacity(rateBytesPerMs: number): number {
    return Math.max(PACING_BURST_PACKETS * this.maxDatagramBytes, rateBytesPerMs * PACING_BURST_MS);
  }

  refill(now: number, rateBytesPerMs: number): void {
    const elapsed = now - this.lastRefill;
    if (elapsed <= 0) return;
    this.lastRefill = now;
    this.tokens = Math.min(this.capacity(rateBytesPerMs), this.tokens + elapsed * rateBytesPerMs);
  }

  get available(): number {
    return this.tokens;
  }

  spend(bytes: number): void {
    this.tokens -= bytes;
  }
}
