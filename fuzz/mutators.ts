/**
 * Seeded mutation of byte strings for fuzzing: bit flips, byte sets, truncation, extension,
 * insertion, deletion, splicing two inputs, swapping the type byte, interesting values and fresh
 * random bytes. Every draw comes from one seeded generator, so a seed repeats a run exactly, and
 * every output is bounded in length.
 */
import { mulberry32 } from '../plugin/net/transport/prng';

export const MUTATION_KINDS = [
  'random',
  'bitFlip',
  'byteSet',
  'interesting',
  'truncate',
  'extend',
  'insert',
  'delete',
  'splice',
  'typeSwap',
  'repeat',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

export interface Mutant {
  bytes: Uint8Array;
  kind: MutationKind;
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x10];

export class Mutator {
  readonly random: () => number;

  /**
   * @param seed  seeds every choice
   * @param types type bytes typeSwap picks from (the protocol's own, plus a few it does not know)
   * @param maxLength no output is longer
   */
  constructor(seed: number, private readonly types: readonly number[], private readonly maxLength = 1600) {
    this.random = mulberry32(seed);
  }

  int(bound: number): number {
    return Math.floor(this.random() * bound);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  randomBytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** One mutant of an input picked from `corpus` (an empty corpus gives random bytes). */
  mutate(corpus: readonly Uint8Array[]): Mutant {
    if (corpus.length === 0) return { bytes: this.fresh(), kind: 'random' };
    const kind = this.pick(MUTATION_KINDS);
    const base = this.pick(corpus);
    let bytes = this.apply(kind, base, corpus);
    // Now and then stack a second mutation, as fuzzers do to get past the first check.
    if (this.random() < 0.25) bytes = this.apply(this.pick(MUTATION_KINDS), bytes, corpus);
    if (bytes.length > this.maxLength) bytes = bytes.subarray(0, this.maxLength);
    return { bytes, kind };
  }

  private fresh(): Uint8Array {
    // Mostly short (where the header checks are), sometimes up to the largest datagram and beyond.
    const length = this.random() < 0.9 ? this.int(80) : this.int(this.maxLength + 1);
    const bytes = this.randomBytes(length);
    if (length > 0 && this.random() < 0.7) bytes[0] = this.pick(this.types);
    return bytes;
  }

  private apply(kind: MutationKind, base: Uint8Array, corpus: readonly Uint8Array[]): Uint8Array {
    const out = base.slice();
    switch (kind) {
      case 'random':
        return this.fresh();
      case 'bitFlip': {
        if (out.length === 0) return out;
        const flips = 1 + this.int(4);
        for (let i = 0; i < flips; i++) out[this.int(out.length)] ^= 1 << this.int(8);
        return out;
      }
      case 'byteSet':
        if (out.length > 0) out[this.int(out.length)] = this.int(256);
        return out;
      case 'interesting': {
        if (out.length === 0) return out;
        const at = this.int(out.length);
        const width = 1 + this.int(Math.min(8, out.length - at));
        const value = this.pick(INTERESTING);
        out.fill(value, at, at + width);
        return out;
      }
      case 'truncate':
        return out.subarray(0, this.int(out.length + 1));
      case 'extend': {
        const extra = this.random() < 0.8 ? 1 + this.int(16) : 1 + this.int(this.maxLength);
        const grown = new Uint8Array(out.length + extra);
        grown.set(out);
        grown.set(this.random() < 0.5 ? new Uint8Array(extra) : this.randomBytes(extra), out.length);
        return grown;
      }
      case 'insert': {
        const at = this.int(out.length + 1);
        const count = 1 + this.int(8);
        const grown = new Uint8Array(out.length + count);
        grown.set(out.subarray(0, at));
        grown.set(this.randomBytes(count), at);
        grown.set(out.subarray(at), at + count);
        return grown;
      }
      case 'delete': {
        if (out.length === 0) return out;
        const at = this.int(out.length);
        const count = 1 + this.int(Math.min(8, out.length - at));
        const shrunk = new Uint8Array(out.length - count);
        shrunk.set(out.subarray(0, at));
        shrunk.set(out.subarray(at + count), at);
        return shrunk;
      }
      case 'splice': {
        const other = this.pick(corpus);
        const head = out.subarray(0, this.int(out.length + 1));
        const tail = other.subarray(this.int(other.length + 1));
        const joined = new Uint8Array(head.length + tail.length);
        joined.set(head);
        joined.set(tail, head.length);
        return joined;
      }
      case 'typeSwap':
        if (out.length > 0) out[0] = this.pick(this.types);
        return out;
      case 'repeat': {
        if (out.length === 0) return out;
        const times = 2 + this.int(3);
        const grown = new Uint8Array(out.length * times);
        for (let i = 0; i < times; i++) grown.set(out, i * out.length);
        return grown;
      }
    }
  }
}

/** Counts by key, for summaries. */
export class Tally {
  readonly counts: Record<string, number> = {};

  add(key: string, n = 1): void {
    this.counts[key] = (this.counts[key] ?? 0) + n;
  }

  merge(counts: Readonly<Record<string, number>>, prefix = ''): void {
    for (const [key, n] of Object.entries(counts)) if (n !== 0) this.add(`${prefix}${key}`, n);
  }
}
