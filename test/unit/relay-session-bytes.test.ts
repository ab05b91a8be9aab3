import { expect } from 'chai';
import { SessionBytesPool } from '../../plugin/net/relay-core/session-bytes';

describe('relay core: session bytes in shared slabs', () => {
  it('hands out zeroed, non-overlapping id and secret views, 256 records to a slab', () => {
    const pool = new SessionBytesPool(8, 16);
    const records = Array.from({ length: 300 }, () => pool.take());
    expect(pool.slabs).to.equal(2);
    for (const [i, r] of records.entries()) {
      expect(r.idBytes.length).to.equal(8);
      expect(r.secret.length).to.equal(16);
      expect([...r.idBytes, ...r.secret].every((b) => b === 0)).to.equal(true);
      expect(r.secret.byteOffset).to.equal(r.idBytes.byteOffset + 8);
      r.idBytes.fill(i & 0xff);
      r.secret.fill(~i & 0xff);
    }
    // Writing one record changed no other.
    for (const [i, r] of records.entries()) {
      expect(r.idBytes.every((b) => b === (i & 0xff))).to.equal(true);
      expect(r.secret.every((b) => b === (~i & 0xff))).to.equal(true);
    }
  });

  it('zeroes a released record (the secret does not outlive its session) and reuses it before making a slab', () => {
    const pool = new SessionBytesPool(8, 16);
    const a = pool.take();
    a.secret.fill(0xab);
    a.idBytes.fill(0xcd);
    pool.release(a);
    expect([...a.idBytes, ...a.secret].every((b) => b === 0)).to.equal(true);
    const freeBefore = pool.free;
    const b = pool.take();
    expect(pool.free).to.equal(freeBefore - 1);
    expect(b.idBytes.buffer).to.equal(a.idBytes.buffer);
    expect(b.idBytes.byteOffset).to.equal(a.idBytes.byteOffset);
    for (let i = 0; i < 1000; i++) pool.release(pool.take());
    expect(pool.slabs).to.equal(1);
  });
});
