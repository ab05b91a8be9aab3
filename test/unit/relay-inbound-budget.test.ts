import { expect } from 'chai';
import { InboundBudget } from '../../server/relay/inbound-budget';

/** Issue 13.8, in virtual time: one destination's inbound budget shared fairly among its sources. */
describe('relay inbound budget (per destination, fair among sources)', () => {
  // 100 units/ms, burst 10,000.
  const make = (maxSources = 64): InboundBudget => new InboundBudget(100, 10_000, maxSources, 1000, 0);

  it('a source within its fair share is never dropped while another floods; the total stays within rate × time + bursts', () => {
    const budget = make();
    let honestDropped = 0;
    let floodPassed = 0;
    for (let ms = 0; ms < 10_000; ms++) {
      // The flooder offers 10× the whole rate; the honest source 40% of it (its share is 50%).
      for (let i = 0; i < 10; i++) if (budget.take(1, 100, ms)) floodPassed += 100;
      if (!budget.take(2, 40, ms)) honestDropped++;
    }
    expect(honestDropped).to.equal(0);
    // 10 s at 100/ms is 1,000,000; the flooder gets what the honest source leaves, within three bursts.
    expect(floodPassed).to.be.at.most(1_000_000 - 400_000 + 30_000);
    expect(floodPassed).to.be.at.least(1_000_000 - 400_000 - 30_000);
  });

  it('with many flooders each gets about an equal part', () => {
    const budget = make();
    const passed = [0, 0, 0, 0];
    for (let ms = 0; ms < 5_000; ms++) for (let i = 0; i < 4; i++) for (let k = 0; k < 5; k++) if (budget.take(10 + i, 50, ms)) passed[i] += 50;
    const least = Math.min(...passed);
    const most = Math.max(...passed);
    expect(most / least).to.be.lessThan(1.1);
  });

  it('forgets idle sources and then needs no state; sources beyond maxSources share one share', () => {
    const budget = make(2);
    expect(budget.take(1, 10, 0)).to.equal(true);
    expect(budget.take(2, 10, 0)).to.equal(true);
    expect(budget.take(3, 10, 0)).to.equal(true);
    expect(budget.take(4, 10, 0)).to.equal(true);
    expect(budget.sources).to.equal(3);
    expect(budget.prune(500)).to.equal(false);
    expect(budget.prune(2_000)).to.equal(true);
    expect(budget.sources).to.equal(0);
  });
});
