/**
 * Serial-number arithmetic (RFC 1982) over 32-bit message sequences, so sequences may wrap:
 * `a` is newer than `b` when (a − b) mod 2^32 is in 1..2^31−1.
 */

export function sequenceAdd(sequence: number, count: number): number {
  return (sequence + count) >>> 0;
}

/** How far `to` is ahead of `from`, mod 2^32 (0..2^32−1). */
export function sequenceDistance(from: number, to: number): number {
  return (to - from) >>> 0;
}

export function sequenceNewer(a: number, b: number): boolean {
  const distance = (a - b) >>> 0;
  return distance !== 0 && distance < 0x80000000;
}
