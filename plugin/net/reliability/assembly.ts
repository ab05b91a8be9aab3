/**
 * One message being received: a whole MESSAGE, or the FRAGMENTs of one, checked against the
 * fragment rules before anything is stored (PROTOCOL.md §6.3).
 */
import { MESSAGE_CHARGE_OVERHEAD, MIN_FRAGMENT_BYTES } from './constants';

/** The shape a message's fragments have shown so far. */
export interface FragmentShape {
  count: number;
  /** Bytes of every fragment but the last; 0 until one of them arrived. */
  fragmentSize: number;
  /** Bytes of the last fragment; -1 until it arrived. */
  lastLength: number;
}

/** Most fragments a message of at most `maxMessageBytes` can have under the fragment rules. */
export function maxFragmentCount(maxMessageBytes: number): number {
  return Math.floor((maxMessageBytes - 1) / MIN_FRAGMENT_BYTES) + 1;
}

/**
 * Checks fragment `index` of `length` bytes against `shape` and, when it fits, records what it
 * tells (fragment size, last length). Returns the reason it does not fit, or null.
 */
export function admitFragment(shape: FragmentShape, index: number, length: number, maxMessageBytes: number): string | null {
  if (length === 0) return `fragment ${index} is empty`;
  const last = index === shape.count - 1;
  let fragmentSize = shape.fragmentSize;
  let lastLength = shape.lastLength;
  if (!last) {
    if (length < MIN_FRAGMENT_BYTES) return `fragment ${index} has ${length} bytes, below the minimum of ${MIN_FRAGMENT_BYTES}`;
    if (fragmentSize !== 0 && length !== fragmentSize) return `fragment ${index} has ${length} bytes where the others have ${fragmentSize}`;
    if (lastLength > length) return `last fragment (${lastLength} bytes) longer than fragment ${index} (${length})`;
    fragmentSize = length;
  } else {
    if (fragmentSize !== 0 && length > fragmentSize) return `last fragment (${length} bytes) longer than the others (${fragmentSize})`;
    lastLength = length;
  }
  const total = (shape.count - 1) * (fragmentSize || MIN_FRAGMENT_BYTES) + (lastLength >= 0 ? lastLength : 1);
  if (total > maxMessageBytes) return `${shape.count} fragments make a message of at least ${total} bytes, above ${maxMessageBytes}`;
  shape.fragmentSize = fragmentSize;
  shape.lastLength = lastLength;
  return null;
}

export class Assembly implements FragmentShape {
  fragmentSize = 0;
  lastLength = -1;
  received = 0;
  /** Data bytes received. */
  bytes = 0;
  private whole: Uint8Array | null = null;
  /** A fragmented message's bytes, written in place from its first fragment that tells the fragment size. */
  private buffer: Uint8Array | null = null;
  /** The last fragment, while no other fragment has told where it goes. */
  private lastPart: Uint8Array | null = null;
  /** One bit per fragment received. */
  private readonly seen: Uint8Array | null;

  constructor(
    readonly count: number,
    private readonly maxMessageBytes: number,
  ) {
    this.seen = count > 1 ? new Uint8Array((count + 7) >> 3) : null;
  }

  get complete(): boolean {
    return this.received === this.count;
  }

  /** Bytes charged against the memory bounds while it is stored (what it allocated). */
  get charge(): number {
    return reassemblyCharge(this.count, this.fragmentSize, this.bytes, this.maxMessageBytes);
  }

  /** Whether fragment `index` was stored. */
  has(index: number): boolean {
    return this.seen !== null && (this.seen[index >> 3] & (1 << (index & 7))) !== 0;
  }

  /** Bytes of fragment `index` once stored (every fragment but the last has the fragment size). */
  lengthOf(index: number): number {
    return index === this.count - 1 ? this.lastLength : this.fragmentSize;
  }

  /** Copies `data` as the whole message. */
  setWhole(data: Uint8Array): void {
    if (this.whole !== null || this.seen !== null) return;
    this.whole = data.slice();
    this.received = 1;
    this.bytes = data.length;
  }

  /**
   * Copies fragment `index`, already admitted (the shape records its length), into place; a
   * repeat is ignored. `data` may be a view of the datagram: nothing keeps it.
   */
  addPart(index: number, data: Uint8Array): void {
    const seen = this.seen;
    if (seen === null || this.has(index)) return;
    seen[index >> 3] |= 1 << (index & 7);
    this.received++;
    this.bytes += data.length;
    const fragmentSize = this.fragmentSize;
    if (fragmentSize === 0) {
      // Only the last fragment can come before the size is known: kept aside until it is.
      this.lastPart = data.slice();
      return;
    }
    let buffer = this.buffer;
    if (buffer === null) {
      buffer = new Uint8Array(Math.min(this.count * fragmentSize, this.maxMessageBytes));
      this.buffer = buffer;
      if (this.lastPart !== null) {
        buffer.set(this.lastPart, (this.count - 1) * fragmentSize);
        this.lastPart = null;
      }
    }
    buffer.set(data, index * fragmentSize);
  }

  /** The message, once complete: a view of the buffer it was assembled in, no copy. */
  assemble(): Uint8Array {
    if (this.seen === null) return this.whole ?? new Uint8Array(0);
    if (this.buffer === null) return this.lastPart ?? new Uint8Array(0);
    return this.buffer.subarray(0, (this.count - 1) * this.fragmentSize + this.lastLength);
  }
}

/**
 * Bytes a receiver charges for a message it stores (PROTOCOL.md §6.7): a fragmented one, once a
 * fragment other than the last told the fragment size, takes a buffer for all its fragments
 * (count × fragment size, at most the message limit); before that, and a whole message, its data.
 * Plus MESSAGE_CHARGE_OVERHEAD. A sender charges its messages the same way.
 */
export function reassemblyCharge(count: number, fragmentSize: number, bytes: number, maxMessageBytes: number): number {
  const stored = count > 1 && fragmentSize > 0 ? Math.min(count * fragmentSize, maxMessageBytes) : bytes;
  return stored + MESSAGE_CHARGE_OVERHEAD;
}
