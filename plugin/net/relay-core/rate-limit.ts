/** Token buckets: the relay's rate limits, with a bounded table for per-IP buckets. */

export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  /** @param ratePerSecond refill rate; @param burst capacity (the bucket starts full). */
  constructor(private readonly ratePerSecond: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.refilledAt = now;
  }

  /** Takes `cost` tokens if there are enough. `now` in milliseconds. */
  take(now: number, cost = 1): boolean {
    this.refill(now);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** True when the bucket has refilled completely (its entry can be forgotten). */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    const elapsed = now - this.refilledAt;
    if (elapsed <= 0) return;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
    this.refilledAt = now;
  }
}

/**
 * Buckets by key (an IP address), at most `maxEntries`: when full, the oldest entry is evicted —
 * a flood of new keys costs memory only up to the bound. Full buckets are pruned by `prune`.
 */
export class BoundedBucketMap {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly ratePerSecond: number, private readonly burst: number, private readonly maxEntries: number) {}

  get size(): number {
    return this.buckets.size;
  }

  take(key: string, now: number, cost = 1): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxEntries) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
      bucket = new TokenBucket(this.ratePerSecond, this.burst, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now, cost);
  }

  /** Forgets buckets that have refilled: they behave exactly like new ones. */
  prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.isFull(now)) this.buckets.delete(key);
    }
  }
}
