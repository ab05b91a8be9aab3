import { expect } from 'chai';
import { SessionSecretPool } from '../../plugin/net/relay-core/session-secrets';

describe('relay core: session secrets in shared slabs', () => {
  it('hands out zeroed, non-overlapping records, 256 to a slab', () => {
    const pool = new SessionSecretPool(16);
    const handles = Array.from({ length: 300 }, () => pool.take());
    expect(pool.slabs).to.equal(2);
    expect(new Set(handles).size).to.equal(300);
    for (const [i, handle] of handles.entries()) {
      const secret = pool.view(handle);
      expect(secret.length).to.equal(16);
      expect(secret.every((b) => b === 0)).to.equal(true);
      secret.fill(i & 0xff);
    }
    // Writing one record changed no other.
    for (const [i, handle] of handles.entries()) expect(pool.view(handle).every((b) => b === (i & 0xff))).to.equal(true);
  });

  it('zeroes a released record (the secret does not outlive its session) and reuses it before making a slab', () => {
    const pool = new SessionSecretPool(16);
    const a = pool.take();
    const view = pool.view(a);
    view.fill(0xab);
    pool.release(a);
    expect(view.every((b) => b === 0)).to.equal(true);
    const freeBefore = pool.free;
    expect(pool.take()).to.equal(a);
    expect(pool.free).to.equal(freeBefore - 1);
    for (let i = 0; i < 1000; i++) pool.release(pool.take());
    expect(pool.slabs).to.equal(1);
  });
});
