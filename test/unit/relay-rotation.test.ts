import { expect } from 'chai';
import { RelayRotation } from '../../plugin/net/relay-rotation';

describe('RelayRotation (which relay of a list a manager uses)', () => {
  it('goes through the list in order and wraps around; one relay has nowhere to move', () => {
    const r = new RelayRotation(['a', 'b', 'c']);
    expect(r.url).to.equal('a');
    expect([r.advance(), r.advance(), r.advance()]).to.deep.equal(['b', 'c', 'a']);
    const single = new RelayRotation(['only']);
    expect(single.canMoveOn).to.equal(false);
    expect(single.advance()).to.equal(null);
    expect(single.url).to.equal('only');
    expect(() => new RelayRotation([])).to.throw(RangeError);
  });

  it('a whole turn of unreachable relays is reported once per turn, and each failed turn doubles the first retry wait up to 5 s', () => {
    const r = new RelayRotation(['a', 'b']);
    expect(r.retryDelayMs()).to.equal(100);
    const turns: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      turns.push(r.noteUnreachable());
      r.advance();
    }
    expect(turns).to.deep.equal([false, true, false, true, false, true]);
    expect(r.retryDelayMs()).to.equal(800);
    for (let i = 0; i < 20; i++) r.noteUnreachable();
    expect(r.retryDelayMs()).to.equal(5000);
    r.noteRegistered();
    expect(r.retryDelayMs()).to.equal(100);
    expect(r.noteUnreachable(), 'a registration starts a new turn').to.equal(false);
  });

  it('a relay that refused is skipped from then on; with only the current one left there is nowhere to move', () => {
    const r = new RelayRotation(['a', 'b', 'c']);
    r.noteRefused();
    expect(r.advance()).to.equal('b');
    expect([r.advance(), r.advance()]).to.deep.equal(['c', 'b']);
    expect(r.usableCount).to.equal(2);
    r.noteRefused();
    expect(r.canMoveOn).to.equal(true);
    expect(r.advance()).to.equal('c');
    expect(r.canMoveOn).to.equal(false);
  });
});
