/**
 * The per-session bytes of the relay (the 8-byte id stamped into deliveries and the 16-byte
 * secret) as views into shared slabs instead of two ArrayBuffers per session: an ArrayBuffer costs
 * ~90 B of heap plus its native backing store, several times the 24 bytes it holds. Slabs are kept
 * once made (bounded by the peak session count); a released record is zeroed and reused.
 */
export interface SessionBytes {
  readonly idBytes: Uint8Array;
  readonly secret: Uint8Array;
}

const RECORDS_PER_SLAB = 256;

export class SessionBytesPool {
  private readonly recordBytes: number;
  /** Free records, as (slab, byte offset) pairs: no view is kept for a free record. */
  private readonly freeSlabs: ArrayBuffer[] = [];
  private readonly freeOffsets: number[] = [];
  private slabCount = 0;

  constructor(
    private readonly idLength: number,
    private readonly secretLength: number,
  ) {
    this.recordBytes = idLength + secretLength;
  }

  /** Slabs made so far (each RECORDS_PER_SLAB records). */
  get slabs(): number {
    return this.slabCount;
  }

  get free(): number {
    return this.freeOffsets.length;
  }

  /** A zeroed record. */
  take(): SessionBytes {
    if (this.freeOffsets.length === 0) this.addSlab();
    const slab = this.freeSlabs.pop() as ArrayBuffer;
    const offset = this.freeOffsets.pop() as number;
    return { idBytes: new Uint8Array(slab, offset, this.idLength), secret: new Uint8Array(slab, offset + this.idLength, this.secretLength) };
  }

  /** Zeroes the record (the secret must not outlive its session) and makes it available again. */
  release(record: SessionBytes): void {
    const { buffer, byteOffset } = record.idBytes;
    new Uint8Array(buffer, byteOffset, this.recordBytes).fill(0);
    this.freeSlabs.push(buffer as ArrayBuffer);
    this.freeOffsets.push(byteOffset);
  }

  private addSlab(): void {
    const slab = new ArrayBuffer(this.recordBytes * RECORDS_PER_SLAB);
    this.slabCount++;
    // Pushed in reverse so records are handed out in address order.
    for (let i = RECORDS_PER_SLAB - 1; i >= 0; i--) {
      this.freeSlabs.push(slab);
      this.freeOffsets.push(i * this.recordBytes);
    }
  }
}
