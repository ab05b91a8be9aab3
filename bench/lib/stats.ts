/** Order statistics for benchmark samples: nearest-rank percentiles over a sorted copy. */

export interface Distribution {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile (0 < p ≤ 100) of an ascending array; NaN when it is empty. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function distribution(samples: ArrayLike<number>): Distribution {
  const sorted = Float64Array.from(samples as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  return {
    count: sorted.length,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p99: percentileOfSorted(sorted, 99),
    max: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
  };
}

export function median(values: readonly number[]): number {
  return percentileOfSorted(Float64Array.from(values).sort(), 50);
}

/**
 * A bounded sample store: keeps at most `capacity` samples (reservoir sampling with a seeded
 * generator past that), so a long run never grows memory without bound.
 */
export class SampleReservoir {
  private readonly values: Float64Array;
  private filled = 0;
  private seen = 0;
  private state: number;

  constructor(readonly capacity: number, seed = 1) {
    this.values = new Float64Array(capacity);
    this.state = seed >>> 0;
  }

  add(value: number): void {
    this.seen++;
    if (this.filled < this.capacity) {
      this.values[this.filled++] = value;
      return;
    }
    const slot = Math.floor(this.random() * this.seen);
    if (slot < this.capacity) this.values[slot] = value;
  }

  get count(): number {
    return this.seen;
  }

  samples(): Float64Array {
    return this.values.subarray(0, this.filled);
  }

  private random(): number {
    // mulberry32
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** Ratio a/b, NaN when b is 0 or either is not finite. */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}
