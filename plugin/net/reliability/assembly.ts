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
  bytes = 0;
  private whole: Uint8Array | null = null;
  readonly parts: Map<number, Uint8Array> | null;

  constructor(readonly count: number) {
    this.parts = count > 1 ? new Map() : null;
  }

  get complete(): boolean {
    return this.received === this.count;
  }

  /** Bytes charged against the memory bounds while it is stored. */
  get charge(): number {
    return this.bytes + MESSAGE_CHARGE_OVERHEAD;
  }

  /** Stores `data` (already copied) as the whole message. */
  setWhole(data: Uint8Array): void {
    if (this.whole !== null || this.parts !== null) return;
    this.whole = data;
    this.received = 1;
    this.bytes = data.length;
  }

  /** Stores fragment `index` (already admitted and copied); a repeat is ignored. */
  addPart(index: number, data: Uint8Array): void {
    if (this.parts === null || this.parts.has(index)) return;
    this.parts.set(index, data);
    this.received++;
    this.bytes += data.length;
  }

  /** The message, once complete. */
  assemble(): Uint8Array {
    if (this.parts === null) return this.whole ?? new Uint8Array(0);
    const out = new Uint8Array(this.bytes);
    let offset = 0;
    for (let i = 0; i < this.count; i++) {
      const part = this.parts.get(i);
      if (part === undefined) break;
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}
