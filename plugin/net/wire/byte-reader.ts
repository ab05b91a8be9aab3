/**
 * Bounds-checked reader over untrusted bytes. It never throws and never reads past the end:
 * a read that does not fit sets `failed` (with the first reason) and returns a zero value, so a
 * decoder can read a whole structure and check `failed` once.
 */
export class ByteReader {
  private offset = 0;
  private failure: string | null = null;

  constructor(private readonly bytes: Uint8Array, start = 0, private readonly end = bytes.length) {
    this.offset = start;
    if (end > bytes.length || start > end) this.fail('reader bounds outside the buffer');
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  /** The first reason a read failed, or null. */
  get error(): string | null {
    return this.failure;
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  fail(reason: string): void {
    if (this.failure === null) this.failure = reason;
  }

  u8(what = 'u8'): number {
    if (!this.need(1, what)) return 0;
    return this.bytes[this.offset++];
  }

  u16(what = 'u16'): number {
    if (!this.need(2, what)) return 0;
    const b = this.bytes;
    const o = this.offset;
    this.offset += 2;
    return (b[o] << 8) | b[o + 1];
  }

  u32(what = 'u32'): number {
    if (!this.need(4, what)) return 0;
    const b = this.bytes;
    const o = this.offset;
    this.offset += 4;
    return ((b[o] << 24) >>> 0) + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);
  }

  u64(what = 'u64'): bigint {
    const high = this.u32(what);
    const low = this.u32(what);
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /**
   * Unsigned LEB128 varint of at most 5 bytes holding a value below 2^32.
   * Overlong encodings (a trailing zero byte) are refused so every value has one encoding.
   */
  varint(what = 'varint'): number {
    return this.leb128(what, 5, 0xffffffff, 'varint above 2^32-1');
  }

  /** The same LEB128 for packet numbers: at most 8 bytes, a value up to 2^53 − 1. */
  varint53(what = 'varint'): number {
    return this.leb128(what, 8, Number.MAX_SAFE_INTEGER, 'varint above 2^53-1');
  }

  private leb128(what: string, maxBytes: number, max: number, tooBig: string): number {
    if (this.failure !== null) return 0;
    const bytes = this.bytes;
    let offset = this.offset;
    // One byte (below 128) is most varints on the wire: lengths, small sequences, ACK deltas.
    if (offset < this.end && bytes[offset] < 0x80) {
      this.offset = offset + 1;
      return bytes[offset];
    }
    let value = 0;
    let scale = 1; // 128^i, exact in a double up to 2^56
    for (let i = 0; i < maxBytes; i++) {
      if (offset >= this.end) {
        this.offset = offset;
        this.fail(`${what}: needs 1 byte(s), 0 left`);
        return 0;
      }
      const byte = bytes[offset++];
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) {
        this.offset = offset;
        if (i > 0 && byte === 0) {
          this.fail(`${what}: overlong varint`);
          return 0;
        }
        if (value > max) {
          this.fail(`${what}: ${tooBig}`);
          return 0;
        }
        return value;
      }
    }
    this.offset = offset;
    this.fail(`${what}: varint longer than ${maxBytes} bytes`);
    return 0;
  }

  /** A view (no copy) of the next `length` bytes. `length` is checked against what remains first. */
  bytesView(length: number, what = 'bytes'): Uint8Array {
    if (!Number.isInteger(length) || length < 0) {
      this.fail(`${what}: bad length ${length}`);
      return new Uint8Array(0);
    }
    if (!this.need(length, what)) return new Uint8Array(0);
    const view = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return view;
  }

  /** The rest of the bytes as a view. */
  rest(): Uint8Array {
    const view = this.bytes.subarray(this.offset, this.end);
    this.offset = this.end;
    return view;
  }

  private need(count: number, what: string): boolean {
    if (this.failure !== null) return false;
    if (this.end - this.offset < count) {
      this.fail(`${what}: needs ${count} byte(s), ${this.end - this.offset} left`);
      return false;
    }
    return true;
  }
}
