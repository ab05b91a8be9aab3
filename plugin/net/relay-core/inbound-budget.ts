/**
 * A destination session's inbound budget (issue 13.8): what all sources together may forward to
 * one session, shared fairly among them. No Node imports, time passed in: the relay core can use it.
 *
 * Each source active at the destination has its own share, refilled at rate / n (n = active
 * sources) and capped at burst / n; what overflows a full share goes to a common spare pool (at
 * most one burst), which any source may draw from once its own share is empty. So a source that
 * sends within its fair share is never dropped however hard another floods, and capacity a quiet
 * source leaves unused still goes to the busy ones. Per-source credit is one running total (the
 * "virtual time" of fair queueing), so a refill costs O(1) whatever n is.
 *
 * Bounds: at most `maxSources` shares (later sources share one overflow share); a share idle for
 * `idleMs` is forgotten (its tokens go to the spare). Over any interval T the destination gets at
 * most rate × T plus one burst of spare, plus the shares' caps (one burst together), plus the first
 * share of each source new to it.
 */

interface Share {
  tokens: number;
  /** `credit` when this share last took its part. */
  creditSeen: number;
  lastActiveMs: number;
}

/** Sources beyond maxSources all use this key. */
const OVERFLOW_KEY = -1;

export class InboundBudget {
  private readonly shares = new Map<number, Share>();
  private spare: number;
  /** Credit per share handed out so far (cost units). */
  private credit = 0;
  private refilledAtMs: number;
  private lastKey = Number.NaN;
  private lastShare: Share | null = null;

  /**
   * @param ratePerMs cost units per millisecond for the destination, all sources together
   * @param burst cost units held at most (the spare pool's bound, and all shares' caps together)
   */
  constructor(private readonly ratePerMs: number, private readonly burst: number, private readonly maxSources: number, private readonly idleMs: number, nowMs: number) {
    this.spare = burst;
    this.refilledAtMs = nowMs;
  }

  /** Active sources (shares) now. */
  get sources(): number {
    return this.shares.size;
  }

  /** Takes `cost` for a datagram from source `key` (a non-negative integer); false when over budget. */
  take(key: number, cost: number, nowMs: number): boolean {
    this.refill(nowMs);
    const share = this.shareOf(key, nowMs);
    share.lastActiveMs = nowMs;
    this.accrue(share);
    if (share.tokens >= cost) {
      share.tokens -= cost;
      return true;
    }
    if (this.spare >= cost) {
      this.spare -= cost;
      return true;
    }
    return false;
  }

  /** Forgets shares idle for idleMs; true when none is left (the whole budget can be dropped once it is full again). */
  prune(nowMs: number): boolean {
    this.refill(nowMs);
    for (const [key, share] of this.shares) {
      if (nowMs - share.lastActiveMs <= this.idleMs) continue;
      this.accrue(share);
      this.spare = Math.min(this.burst, this.spare + share.tokens);
      this.shares.delete(key);
      if (this.lastShare === share) {
        this.lastShare = null;
        this.lastKey = Number.NaN;
      }
    }
    return this.shares.size === 0 && this.spare >= this.burst;
  }

  private refill(nowMs: number): void {
    const elapsed = nowMs - this.refilledAtMs;
    if (elapsed <= 0) return;
    this.refilledAtMs = nowMs;
    const n = this.shares.size;
    if (n === 0) this.spare = Math.min(this.burst, this.spare + elapsed * this.ratePerMs);
    else this.credit += (elapsed * this.ratePerMs) / n;
  }

  private shareOf(key: number, nowMs: number): Share {
    if (key === this.lastKey && this.lastShare !== null) return this.lastShare;
    let share = this.shares.get(key);
    if (share === undefined) {
      if (this.shares.size >= this.maxSources) key = OVERFLOW_KEY;
      share = this.shares.get(key);
      if (share === undefined) {
        // A source new here starts with its fair share of one burst, so its first datagrams do not
        // wait on a pool a flooder keeps empty.
        share = { tokens: this.burst / (this.shares.size + 1), creditSeen: this.credit, lastActiveMs: nowMs };
        this.shares.set(key, share);
      }
    }
    this.lastKey = key;
    this.lastShare = share;
    return share;
  }

  private accrue(share: Share): void {
    const gained = this.credit - share.creditSeen;
    share.creditSeen = this.credit;
    const cap = this.burst / Math.max(1, this.shares.size);
    let tokens = share.tokens + gained;
    if (tokens > cap) {
      this.spare = Math.min(this.burst, this.spare + tokens - cap);
      tokens = cap;
    }
    share.tokens = tokens;
  }
}
