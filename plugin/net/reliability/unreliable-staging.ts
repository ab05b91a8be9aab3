/**
 * The copies sendMessage() takes of unreliable messages, cut from a buffer the connection reuses
 * instead of one allocation each. A Uint8Array above 64 bytes is backed by memory outside V8's
 * heap and costs about 1 µs to allocate (50 ns at 64 bytes and below), which made a frame of
 * 65-byte sends cost 2.7× one of 64-byte sends.
 *
 * Safe to reuse because an unreliable message lives exactly one poll: the poll that takes the
 * queue writes every message into its datagram or drops it, and nothing keeps it afterwards. Two
 * arenas alternate: messages queued after a poll go into the other one, and the arena the last
 * poll's messages used is rewound only when the next poll takes the queue.
 *
 * Bounds: an arena grows only while the queue does (the queue is bounded in bytes by the caller),
 * keeps one buffer of ARENA_BYTES once rewound, and lets it go after a poll that found it unused,
 * so a peer that stops sending holds nothing.
 */

/** Messages of this size and below get their own (on-heap, cheap) copy. */
export const OWN_COPY_MAX_BYTES = 64;
/** Larger messages get their own copy too: one would waste too much of an arena's tail. */
export const STAGED_MAX_BYTES = 1024;
const ARENA_BYTES = 8 * 1024;

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
