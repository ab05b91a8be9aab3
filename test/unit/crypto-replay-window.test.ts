import { expect } from 'chai';
import fc from 'fast-check';
import { REPLAY_WINDOW_SIZE, ReplayWindow } from '../../plugin/net/crypto';

/** The rule the window implements, stated plainly: a set of every number marked so far. */
class ReferenceWindow {
  private readonly seen = new Set<number>();
  private highest = -1;
  check(n: number): boolean {
    if (n > this.highest) return true;
    if (this.highest - n >= REPLAY_WINDOW_SIZE) return false;
    return !this.seen.has(n);
  }
  mark(n: number): void {
    if (n <= this.highest && this.highest - n >= REPLAY_WINDOW_SIZE) return;
    this.seen.add(n);
    if (n > this.highest) this.highest = n;
  }
}

describe('crypto: replay window', () => {
  it('accepts new numbers, refuses duplicates and numbers 2048 or more below the highest', () => {
    const window = new ReplayWindow();
    expect(window.check(0)).to.equal(true);
    window.mark(0);
    expect(window.check(0)).to.equal(false);
    window.mark(5000);
    expect(window.check(5000 - 2048)).to.equal(false);
    expect(window.check(5000 - 2047)).to.equal(true);
    window.mark(5000 - 2047);
    expect(window.check(5000 - 2047)).to.equal(false);
    expect(window.check(4999)).to.equal(true);
    expect(window.check(5001)).to.equal(true);
    expect(window.highestMarked).to.equal(5000);
  });

  it('remembers every number of the window across word boundaries while sliding', () => {
    const window = new ReplayWindow();
    for (let n = 0; n < 10_000; n += 1) {
      window.mark(n);
      // The oldest number still inside the window must stay refused (a ring slot reused too early would let it in).
      const oldest = Math.max(0, n - (REPLAY_WINDOW_SIZE - 1));
      expect(window.check(oldest), `oldest ${oldest} at ${n}`).to.equal(false);
    }
  });

  it('handles the top of the u32 range', () => {
    const window = new ReplayWindow();
    window.mark(0xffff_fffe);
    expect(window.check(0xffff_ffff)).to.equal(true);
    window.mark(0xffff_ffff);
    expect(window.check(0xffff_ffff)).to.equal(false);
    expect(window.check(0xffff_fffe)).to.equal(false);
    expect(window.check(0xffff_fffd)).to.equal(true);
  });

  it('agrees with the reference rule for any sequence (property)', () => {
    const step = fc.oneof(
      fc.integer({ min: -3000, max: 3000 }),
      fc.integer({ min: -2100, max: -2000 }), // around the window edge
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: -70_000, max: 70_000 }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.array(fc.tuple(step, fc.boolean()), { maxLength: 400 }), (start, steps) => {
        const window = new ReplayWindow();
        const reference = new ReferenceWindow();
        let n = start;
        for (const [delta, doMark] of steps) {
          n = Math.min(0xffff_ffff, Math.max(0, n + delta));
          expect(window.check(n), `check ${n}`).to.equal(reference.check(n));
          if (doMark && reference.check(n)) {
            window.mark(n);
            reference.mark(n);
          }
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
