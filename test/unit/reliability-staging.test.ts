/**
 * The memory sendMessage() copies unreliable messages into: cut from reused arenas, never two
 * live copies in the same bytes, and nothing held once a peer stops sending.
 */
import { expect } from 'chai';
import { MAX_OPEN_SLABS, OWN_COPY_MAX_BYTES, ReliableStaging, STAGED_MAX_BYTES, UnreliableStaging, type StagedCopy } from '../../plugin/net/reliability/send-staging';

function filled(n: number, value: number): Uint8Array {
  return new Uint8Array(n).fill(value);
}

describe('unreliable staging', () => {
  it('small and large messages get their own buffers; the ones between share arena memory without overlapping', () => {
    const staging = new UnreliableStaging();
    const small = staging.copy(filled(OWN_COPY_MAX_BYTES, 1), OWN_COPY_MAX_BYTES);
    const large = staging.copy(filled(STAGED_MAX_BYTES + 1, 2), STAGED_MAX_BYTES + 1);
    expect(small.buffer.byteLength).to.equal(OWN_COPY_MAX_BYTES);
    expect(large.buffer.byteLength).to.equal(STAGED_MAX_BYTES + 1);
    const staged = Array.from({ length: 40 }, (_, i) => staging.copy(filled(OWN_COPY_MAX_BYTES + 1 + i * 20, i), OWN_COPY_MAX_BYTES + 1 + i * 20));
    expect(new Set(staged.map((c) => c.buffer)).size, 'cut from a few arena buffers').to.be.lessThan(staged.length);
    staged.forEach((c, i) => expect(c, `copy ${i}`).to.deep.equal(filled(OWN_COPY_MAX_BYTES + 1 + i * 20, i)));
  });

  it('copies queued before a poll stay unchanged while the next poll’s are made', () => {
    const staging = new UnreliableStaging();
    const first = staging.copy(filled(300, 7), 300);
    staging.takeQueue();
    for (let i = 0; i < 50; i++) staging.copy(filled(300, 9), 300);
    expect(first).to.deep.equal(filled(300, 7));
  });

  it('holds nothing once the peer stops sending', () => {
    const staging = new UnreliableStaging();
    for (let poll = 0; poll < 10; poll++) {
      for (let i = 0; i < 5; i++) staging.copy(filled(500, i), 500);
      staging.takeQueue();
    }
    expect(staging.heldBytes).to.be.greaterThan(0).and.at.most(2 * 8 * 1024);
    for (let poll = 0; poll < 4; poll++) staging.takeQueue();
    expect(staging.heldBytes).to.equal(0);
  });

  it('reliable copies: slabs are never reused, at most MAX_OPEN_SLABS stay open, retired messages close theirs', () => {
    const staging = new ReliableStaging();
    const copies: StagedCopy[] = [];
    for (let i = 0; i < 2000; i++) copies.push(staging.copy(filled(200, i & 0xff), 200));
    expect(staging.openSlabs).to.equal(MAX_OPEN_SLABS);
    const slabs = new Set(copies.map((c) => c.slab).filter((s) => s !== null));
    expect(slabs.size).to.equal(MAX_OPEN_SLABS);
    const own = copies.filter((c) => c.slab === null);
    expect(own.length, 'past the bound, own copies').to.be.greaterThan(0);
    for (const c of own) expect(c.bytes.buffer.byteLength).to.equal(200);
    copies.forEach((c, i) => expect(c.bytes, `copy ${i}`).to.deep.equal(filled(200, i & 0xff)));
    // Retire all but one message: its slab stays open, and so does the current one.
    const kept = copies.find((c) => c.slab !== null && c.slab !== copies[copies.length - 1].slab && c.slab === copies[0].slab)!;
    for (const c of copies) if (c.slab !== null && c !== kept) staging.release(c.slab);
    expect(staging.openSlabs).to.equal(2);
    // New copies go to a fresh slab, never into one that still holds bytes someone may read.
    const next = staging.copy(filled(300, 1), 300);
    expect(slabs.has(next.slab!)).to.equal(false);
    expect(kept.bytes).to.deep.equal(filled(200, 0));
    staging.release(kept.slab!);
    expect(staging.openSlabs, 'only the slab taking copies').to.equal(1);
  });
});
