import { PACING_BURST_MS, PACING_BURST_PACKETS } from './constants';

/**
 * Token bucket pacing (RFC 9002 §7.7): refills at the congestion controller's pacing rate; holds at least
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
