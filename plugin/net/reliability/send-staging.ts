/**
 * The copies sendMessage() takes of messages, cut from shared buffers instead of one allocation
 * each. A Uint8Array above 64 bytes is backed by memory outside V8's heap and costs about 1 µs to
 * allocate (50 ns at 64 bytes and below), which made a frame of 65-byte sends cost 2.7× one of
 * 64-byte sends. Messages of 64 bytes and below, and above 1 KiB, keep their own copy.
 *
 * Unreliable (UnreliableStaging): a message lives exactly one poll, which writes it into its
 * datagram or drops it, and nothing keeps it afterwards. Two arenas alternate: messages queued
 * after a poll go into the other one, and the arena the last poll's messages used is rewound only
 * when the next poll takes the queue. An arena grows only while the queue does (bounded in bytes
 * by the caller), keeps one buffer once rewound, and lets it go after a poll that found it unused.
 *
 * Reliable (ReliableStaging): a message lives until it is acknowledged and retired, so slabs are
 * never reused: the garbage collector frees one once no message in it is referenced. A slab is
 * open while it takes copies or holds unretired messages; past MAX_OPEN_SLABS open slabs a peer's
 * messages get their own copies, so one slow message cannot pin memory without bound.
 *
 * The caller passes the source's real length (its intrinsic getter, whatever a subclass claims);
 * %TypedArray%.prototype.set reads a typed-array source through its internal slots too, and throws
 * on a detached one.
 */

/**
 * Messages of this size and below get their own copy when sent: a typed array this small lives on
 * V8's heap and is as cheap to make as a view; a bigger one is backed by memory outside the heap
 * (about 1 µs to allocate). Received whole messages are not copied: they are views of their packet.
 */
export const OWN_COPY_MAX_BYTES = 64;
/** Larger messages get their own copy too: one would waste too much of an arena's tail. */
export const STAGED_MAX_BYTES = 1024;
const ARENA_BYTES = 8 * 1024;
/** Open reliable slabs per peer at most (ARENA_BYTES each). */
export const MAX_OPEN_SLABS = 16;

class Arena {
  private buffer: Uint8Array | null = null;
  private offset = 0;

  /** `length` bytes of this arena's buffer (a new buffer when the current one is full). */
  take(length: number): Uint8Array {
    let buffer = this.buffer;
    if (buffer === null || this.offset + length > buffer.length) {
      // The full buffer stays alive while this poll's messages in it do; then it is garbage.
      buffer = new Uint8Array(ARENA_BYTES);
      this.buffer = buffer;
      this.offset = 0;
    }
    const start = this.offset;
    this.offset = start + length;
    return buffer.subarray(start, start + length);
  }

  get heldBytes(): number {
    return this.buffer?.length ?? 0;
  }

  /** Called once nothing reads what was taken: rewinds, or lets the buffer go if nothing was. */
  rewind(): void {
    if (this.offset === 0) this.buffer = null;
    this.offset = 0;
  }
}

export class UnreliableStaging {
  private filling = new Arena();
  private taken = new Arena();

  /**
   * A copy of `source` (`length` bytes, read through its internal slots) that stays unchanged
   * until the poll after the next takeQueue(). Throws what %TypedArray%.prototype.set throws
   * (a detached source).
   */
  copy(source: Uint8Array, length: number): Uint8Array {
    const copy = length <= OWN_COPY_MAX_BYTES || length > STAGED_MAX_BYTES ? new Uint8Array(length) : this.filling.take(length);
    copy.set(source);
    return copy;
  }

  /** Bytes of arena memory held (not counting full buffers still read by queued messages). */
  get heldBytes(): number {
    return this.filling.heldBytes + this.taken.heldBytes;
  }

  /** The queue was taken by a poll: copies made so far are read by that poll only. */
  takeQueue(): void {
    const consumed = this.taken; // the previous poll's messages: written or dropped by now
    consumed.rewind();
    this.taken = this.filling;
    this.filling = consumed;
  }
}

/** One slab of reliable copies; `live` counts its unretired messages. */
export class StagingSlab {
  live = 0;
  offset = 0;
  readonly buffer = new Uint8Array(ARENA_BYTES);
}

/** A reliable message's copy and the slab it was cut from (null: its own buffer). */
export interface StagedCopy {
  bytes: Uint8Array;
  slab: StagingSlab | null;
}

export class ReliableStaging {
  private current: StagingSlab | null = null;
  private open = 0;

  /** Slabs open now: taking copies or holding unretired messages. */
  get openSlabs(): number {
    return this.open;
  }

  /** A copy of `source` (`length` bytes). Throws what %TypedArray%.prototype.set throws. */
  copy(source: Uint8Array, length: number): StagedCopy {
    let slab = this.current;
    if (length <= OWN_COPY_MAX_BYTES || length > STAGED_MAX_BYTES || (slab === null || slab.offset + length > ARENA_BYTES) && !this.startSlab()) {
      const own = new Uint8Array(length);
      own.set(source);
      return { bytes: own, slab: null };
    }
    slab = this.current as StagingSlab;
    const start = slab.offset;
    const bytes = slab.buffer.subarray(start, start + length);
    bytes.set(source);
    slab.offset = start + length;
    slab.live++;
    return { bytes, slab };
  }

  /** A message cut from `slab` was retired: nothing reads its bytes again. */
  release(slab: StagingSlab): void {
    slab.live--;
    if (slab.live === 0 && slab !== this.current) this.open--;
  }

  /** Replaces the full (or missing) current slab, unless MAX_OPEN_SLABS are open. */
  private startSlab(): boolean {
    const full = this.current;
    const stillOpen = full !== null && full.live > 0 ? 1 : 0;
    if (this.open - (full === null ? 0 : 1) + stillOpen >= MAX_OPEN_SLABS) return false;
    if (full !== null && stillOpen === 0) this.open--;
    this.current = new StagingSlab();
    this.open++;
    return true;
  }
}
