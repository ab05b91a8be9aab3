/** The small parts of the reliability engine on their own: RTT, congestion, pacing, ack ranges, sequences. */
import { expect } from 'chai';
import fc from 'fast-check';
import { CongestionController, Pacer } from '../../plugin/net/reliability/congestion';
import { MAX_ACK_RANGE_PAIRS, MAX_RTO_MS, MIN_RTO_MS } from '../../plugin/net/reliability/constants';
import { ReceivedPackets } from '../../plugin/net/reliability/received-packets';
import { RttEstimator } from '../../plugin/net/reliability/rtt';
import { sequenceDistance, sequenceNewer } from '../../plugin/net/reliability/sequence';

describe('reliability estimators', () => {
  describe('RttEstimator (RFC 6298 / RFC 9002 §5)', () => {
    it('starts from the initial RTT, takes the first sample whole, then smooths 1/8 and 1/4', () => {
      const rtt = new RttEstimator(100);
      expect(rtt.smoothedMs).to.equal(100);
      rtt.addSample(40, 0);
      expect(rtt.smoothedMs).to.equal(40); // rttvar 20
      rtt.addSample(80, 0);
      expect(rtt.smoothedMs).to.equal(0.875 * 40 + 0.125 * 80);
      // rttvar = 0.75·20 + 0.25·|40 − 80| = 25; RTO = 45 + 100 + 25 = 170
      expect(rtt.retransmitTimeoutMs()).to.equal(45 + 4 * 25 + 25);
    });

    it('subtracts the ack delay unless that goes below the smallest RTT seen', () => {
      const rtt = new RttEstimator(100);
      rtt.addSample(50, 0);
      rtt.addSample(70, 20); // adjusted 50
      expect(rtt.smoothedMs).to.equal(50);
      rtt.addSample(60, 30); // 30 < min 50: the delay is not subtracted
      expect(rtt.smoothedMs).to.equal(0.875 * 50 + 0.125 * 60);
    });

    it('clamps the retransmission timeout to its minimum and maximum', () => {
      const fast = new RttEstimator(100);
      fast.addSample(1, 0);
      for (let i = 0; i < 50; i++) fast.addSample(1, 0);
      expect(fast.retransmitTimeoutMs()).to.equal(MIN_RTO_MS);
      const slow = new RttEstimator(100);
      slow.addSample(5000, 0);
      expect(slow.retransmitTimeoutMs()).to.equal(MAX_RTO_MS);
    });

    it('allows for a peer that reports long ack delays, within bounds', () => {
      const rtt = new RttEstimator(100);
      rtt.addSample(100, 0);
      const before = rtt.retransmitTimeoutMs();
      rtt.addSample(300, 200);
      expect(rtt.retransmitTimeoutMs()).to.equal(100 + 4 * 37.5 + 200); // srtt unchanged (delay subtracted), rttvar 37.5, D 200
      expect(rtt.retransmitTimeoutMs()).to.be.above(before);
      rtt.addSample(100, 60_000);
      expect(rtt.retransmitTimeoutMs()).to.be.at.most(MAX_RTO_MS);
    });

    it('ignores nonsense samples', () => {
      const rtt = new RttEstimator(100);
      rtt.addSample(-5, 0);
      rtt.addSample(Number.NaN, 0);
      expect(rtt.smoothedMs).to.equal(100);
    });
  });

  describe('CongestionController (NewReno)', () => {
    const P = 1000;
    it('starts at 10 packets, grows by the bytes acked in slow start, halves once per recovery period', () => {
      const cc = new CongestionController(P);
      expect(cc.windowBytes).to.equal(10 * P);
      cc.onPacketAcked(P, 0, true);
      expect(cc.windowBytes).to.equal(11 * P);
      cc.onPacketAcked(P, 0, false);
      expect(cc.windowBytes, 'no growth while not using the window').to.equal(11 * P);
      cc.onPacketsLost(5, 10);
      expect(cc.windowBytes).to.equal(5.5 * P);
      cc.onPacketsLost(8, 12); // sent before the recovery started: same loss event
      expect(cc.windowBytes).to.equal(5.5 * P);
      cc.onPacketAcked(P, 9, true); // sent during recovery: no growth
      expect(cc.windowBytes).to.equal(5.5 * P);
      cc.onPacketAcked(P, 20, true); // congestion avoidance: + P·acked/window
      expect(cc.windowBytes).to.be.closeTo(5.5 * P + P / 5.5, 1e-9);
      cc.onPacketsLost(30, 40);
      expect(cc.windowBytes).to.be.closeTo((5.5 * P + P / 5.5) / 2, 1e-9);
    });

    it('never goes below two packets; persistent congestion collapses to that', () => {
      const cc = new CongestionController(P);
      for (let t = 1; t < 20; t++) cc.onPacketsLost(t * 10, t * 10 + 1);
      expect(cc.windowBytes).to.equal(2 * P);
      const other = new CongestionController(P);
      other.onPersistentCongestion(0);
      expect(other.windowBytes).to.equal(2 * P);
    });
  });

  describe('Pacer', () => {
    it('starts with a burst of 10 packets, refills at the rate, holds at most its capacity, may go into debt', () => {
      const pacer = new Pacer(1000, 0);
      expect(pacer.available).to.equal(10_000);
      pacer.spend(25_000);
      expect(pacer.available).to.equal(-15_000);
      pacer.refill(10, 1000); // +10 000
      expect(pacer.available).to.equal(-5_000);
      pacer.refill(1000, 1000);
      expect(pacer.available).to.equal(25_000); // max(10 packets, 25 ms · 1000 B/ms)
      expect(Pacer.rateBytesPerMs(10_000, 50)).to.equal(250);
    });
  });

  describe('ReceivedPackets', () => {
    it('keeps descending ranges, merges neighbours, ignores repeats', () => {
      const r = new ReceivedPackets();
      for (const pn of [5, 7, 6, 1, 2, 9, 7, 0]) r.add(pn, 0);
      expect(r.ackFrame(0)?.ranges).to.deep.equal([
        { smallest: 9, largest: 9 },
        { smallest: 5, largest: 7 },
        { smallest: 0, largest: 2 },
      ]);
    });

    it('measures the ack delay from the largest packet’s arrival, in units of 100 µs', () => {
      const r = new ReceivedPackets();
      r.add(3, 10);
      r.add(1, 15);
      expect(r.ackFrame(12.5)?.ackDelay).to.equal(25);
    });

    it('remembers at most 33 ranges, forgetting the oldest; forgets what the peer knows we acked', () => {
      const r = new ReceivedPackets();
      for (let pn = 0; pn < 200; pn += 2) r.add(pn, 0);
      const ranges = r.ackFrame(0)?.ranges ?? [];
      expect(ranges).to.have.length(MAX_ACK_RANGE_PAIRS + 1);
      expect(ranges[0].largest).to.equal(198);
      r.forgetAcknowledgedBelow(190);
      expect(r.ackFrame(0)?.ranges.map((x) => x.largest)).to.deep.equal([198, 196, 194, 192, 190]);
    });

    it('property: every added number (within the newest 33 ranges) is acknowledged, and ranges are well formed', () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 200 }), (numbers) => {
          const r = new ReceivedPackets();
          for (const n of numbers) r.add(n, 0);
          const ranges = r.ackFrame(0)?.ranges ?? [];
          for (let i = 1; i < ranges.length; i++) expect(ranges[i - 1].smallest - ranges[i].largest).to.be.at.least(2);
          const lowest = ranges.length > 0 ? ranges[ranges.length - 1].smallest : Infinity;
          for (const n of numbers) {
            const covered = ranges.some((x) => x.smallest <= n && n <= x.largest);
            if (ranges.length <= MAX_ACK_RANGE_PAIRS || n >= lowest) expect(covered, `packet ${n}`).to.equal(true);
          }
        }),
      );
    });
  });

  describe('sequence arithmetic (RFC 1982)', () => {
    it('wraps at 2^32', () => {
      expect(sequenceNewer(0, 0xffffffff)).to.equal(true);
      expect(sequenceNewer(0xffffffff, 0)).to.equal(false);
      expect(sequenceNewer(5, 5)).to.equal(false);
      expect(sequenceNewer(0x7fffffff, 0)).to.equal(true);
      expect(sequenceNewer(0x80000000, 0)).to.equal(false);
      expect(sequenceDistance(0xfffffffe, 1)).to.equal(3);
    });
  });
});
