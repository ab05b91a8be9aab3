/**
 * Session secrets (16 bytes each) as records in shared slabs, named by a small integer handle the
 * session keeps, instead of a Uint8Array per session: a typed-array view costs ~96 B of heap for
 * 16 bytes, several times what it holds. Slabs are kept once made (bounded by the peak session
 * count); a released record is zeroed and reused.
 */
const RECORDS_PER_SLAB = 256;

export class SessionSecretPool {
  private readonly slabList: Uint8Array[] = [];
  /** Handles of free records; a handle is slab index × RECORDS_PER_SLAB + record. */
  private readonly freeHandles: number[] = [];

  constructor(private readonly secretLength: number) {}

  /** Slabs made so far (each RECORDS_PER_SLAB records). */
  get slabs(): number {
    return this.slabList.length;
  }

  get free(): number {
    return this.freeHandles.length;
  }

  /** A zeroed record's handle. */
  take(): number {
    if (this.freeHandles.length === 0) this.addSlab();
    return this.freeHandles.pop() as number;
  }

  /** The record as a view of its slab: for the control path (registration, KEEPALIVE, LEAVE), not per datagram. */
  view(handle: number): Uint8Array {
    const offset = (handle % RECORDS_PER_SLAB) * this.secretLength;
    return this.slabList[Math.floor(handle / RECORDS_PER_SLAB)].subarray(offset, offset + this.secretLength);
  }

  /** Zeroes the record (the secret must not outlive its session) and makes it available again. */
  release(handle: number): void {
    this.view(handle).fill(0);
    this.freeHandles.push(handle);
  }

  private addSlab(): void {
    const slab = this.slabList.length;
    this.slabList.push(new Uint8Array(this.secretLength * RECORDS_PER_SLAB));
    // Pushed in reverse so records are handed out in address order.
    for (let record = RECORDS_PER_SLAB - 1; record >= 0; record--) this.freeHandles.push(slab * RECORDS_PER_SLAB + record);
  }
}
