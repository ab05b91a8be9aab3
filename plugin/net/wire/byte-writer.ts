/**
 * Writer into a caller-supplied or growable buffer. Encoders run on trusted values; a value out of
 * range is a programming error and throws a RangeError naming it.
 */
export class ByteWriter {
  private buffer: Uint8Array;
  private offset = 0;

  constructor(initialCapacity = 256, private readonly maxCapacity = Number.MAX_SAFE_INTEGER) {
    this.buffer = new Uint8Array(initialCapacity);
  }

  get length(): number {
    return this.offset;
  }

  /** Start over, keeping the allocated buffer (hot paths reuse one writer). */
  reset(): this {
    this.offset = 0;
    return this;
  }

  u8(value: number): this {
    this.ensure(1);
    this.buffer[this.offset++] = value & 0xff;
    return this;
  }

  u16(value: number): this {
    this.ensure(2);
    this.buffer[this.offset++] = (value >>> 8) & 0xff;
    this.buffer[this.offset++] = value & 0xff;
    return this;
  }

  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`u32 out of range: ${value}`);
    this.ensure(4);
    const b = this.buffer;
    b[this.offset++] = value >>> 24;
    b[this.offset++] = (value >>> 16) & 0xff;
    b[this.offset++] = (value >>> 8) & 0xff;
    b[this.offset++] = value & 0xff;
    return this;
  }

  u64(value: bigint): this {
    if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`u64 out of range: ${value}`);
    this.u32(Number(value >> 32n));
    this.u32(Number(value & 0xffffffffn));
    return this;
  }

  varint(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`varint out of range: ${value}`);
    return this.leb128(value, 5);
  }

  /** The same LEB128 for values up to 2^53 − 1 (packet numbers): at most 8 bytes, the same bytes below 2^32. */
  varint53(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint53 out of range: ${value}`);
    return this.leb128(value, 8);
  }

  private leb128(value: number, maxBytes: number): this {
    this.ensure(maxBytes);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.offset++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buffer[this.offset++] = v;
    return this;
  }

  bytes(data: Uint8Array): this {
    this.ensure(data.length);
    this.buffer.set(data, this.offset);
    this.offset += data.length;
    return this;
  }

  /** A view of what was written (valid until the next write or reset). */
  view(): Uint8Array {
    return this.buffer.subarray(0, this.offset);
  }

  /** A copy of what was written. */
  toBytes(): Uint8Array {
    return this.buffer.slice(0, this.offset);
  }

  private ensure(extra: number): void {
    const needed = this.offset + extra;
    if (needed <= this.buffer.length) return;
    if (needed > this.maxCapacity) throw new RangeError(`ByteWriter over its capacity of ${this.maxCapacity} bytes`);
    let capacity = this.buffer.length * 2 || 64;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(Math.min(capacity, this.maxCapacity));
    grown.set(this.buffer.subarray(0, this.offset));
    this.buffer = grown;
  }
}

/** Bytes a varint (or varint53) of `value` takes on the wire. */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  if (value < 2 ** 35) return 5;
  if (value < 2 ** 42) return 6;
  if (value < 2 ** 49) return 7;
  return 8;
}
