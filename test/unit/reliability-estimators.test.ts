/** The small parts of the reliability engine on their own: RTT, congestion, pacing, ack ranges, sequences. */
import { expect } from 'chai';
import fc from 'fast-check';
import { CongestionController, type CongestionPacket } from '../../plugin/net/reliability/congestion';
import { Pacer } from '../../plugin/net/reliability/pacer';
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

    it('subtracts the ack delay (bounded), down to one assumed frame (25 ms) below the smallest sample', () => {
      const rtt = new RttEstimator(100);
      rtt.addSample(66, 16); // held one frame: the network took 50
      expect(rtt.smoothedMs).to.equal(50);
      rtt.addSample(70, 20); // adjusted 50, although below the smallest raw sample (66)
      expect(rtt.smoothedMs).to.equal(50);
      rtt.addSample(60, 55); // 5 would be below 60 (the smallest sample now) − 25: floored at 35
      expect(rtt.smoothedMs).to.equal(0.875 * 50 + 0.125 * 35);
      const liar = new RttEstimator(100);
      liar.addSample(600, 10_000); // the delay is bounded by 500 ms (and the floor applies)
      expect(liar.smoothedMs).to.equal(575);
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

  describe('CongestionController (BBR-style)', () => {
    const P = 1000;
    interface Flight {
      packet: CongestionPacket;
      lost: boolean;
      ackAt: number;
    }
    /**
     * A pipe of `rate` bytes/ms and `rttMs`: sends full packets at the controller's pacing rate
     * within its window, acknowledges each rttMs later (every `loseEvery`-th one is lost instead).
     */
    function drive(cc: CongestionController, o: { rate: number; rttMs: number; ms: number; start?: number; loseEvery?: number; loseFrom?: number }) {
      const flights: Flight[] = [];
      let inFlight = 0;
      let credit = 0;
      let n = o.start ?? 0;
      let linkFree = o.start ?? 0;
      const end = (o.start ?? 0) + o.ms;
      for (let now = o.start ?? 0; now < end; now++) {
        credit = Math.min(credit + cc.pacingRate(o.rttMs), 4 * P);
        while (credit >= P && inFlight + P <= cc.windowBytes) {
          const packet: CongestionPacket = { packetNumber: n, sentTime: now, bytes: P, delivered: 0, deliveredTime: 0, firstSentTime: 0, appLimited: false };
          cc.onPacketSent(packet, inFlight);
          inFlight += P;
          credit -= P;
          // Serialised at the link rate: the ack comes back after the queue and the RTT.
          linkFree = Math.max(linkFree, now) + P / o.rate;
          const lost = o.loseEvery !== undefined && n >= (o.loseFrom ?? 0) && n % o.loseEvery === 0;
          flights.push({ packet, lost, ackAt: linkFree + o.rttMs });
          n++;
        }
        const due: CongestionPacket[] = [];
        const lostNow: CongestionPacket[] = [];
        while (flights.length > 0 && flights[0].ackAt <= now) {
          const f = flights.shift() as Flight;
          inFlight -= P;
          (f.lost ? lostNow : due).push(f.packet);
        }
        if (lostNow.length > 0) cc.onPacketsLost(lostNow);
        if (due.length > 0) cc.onAck(due, now - due[due.length - 1].sentTime, inFlight, now);
      }
      return { end, next: n };
    }

    it('starts with 10 packets in startup, pacing 2/ln2 × window / srtt', () => {
      const cc = new CongestionController(P);
      expect(cc.windowBytes).to.equal(10 * P);
      expect(cc.phase).to.equal('startup');
      expect(cc.pacingRate(100)).to.be.closeTo(((2 / Math.LN2) * 10 * P) / 100, 1e-9);
    });

    it('measures the bottleneck and the minimum RTT, then paces at the rate with a window of ~2 BDP', () => {
      const cc = new CongestionController(P);
      drive(cc, { rate: 100, rttMs: 50, ms: 5000 });
      expect(cc.phase).to.be.oneOf(['probeBw', 'probeRtt']);
      expect(cc.bandwidthBytesPerMs).to.be.within(95, 110);
      expect(cc.minRttMs).to.be.within(50, 70);
      const bdp = cc.bandwidthBytesPerMs * cc.minRttMs;
      // 2 BDP, plus ack aggregation (at most 25 ms of the rate) and 4 packets.
      expect(cc.windowBytes).to.be.within(2 * bdp, 2 * bdp + 25 * cc.bandwidthBytesPerMs + 4 * P + 1);
    });

    it('random loss under the threshold changes neither the estimate nor the window; heavy loss cuts the estimate', () => {
      const clean = new CongestionController(P);
      const lossy = new CongestionController(P);
      const heavy = new CongestionController(P);
      drive(clean, { rate: 100, rttMs: 50, ms: 6000 });
      drive(lossy, { rate: 100, rttMs: 50, ms: 6000, loseEvery: 20 }); // 5%
      const warm = drive(heavy, { rate: 100, rttMs: 50, ms: 3000 });
      const before = heavy.bandwidthBytesPerMs;
      drive(heavy, { rate: 100, rttMs: 50, ms: 1000, start: warm.end, loseEvery: 3, loseFrom: warm.next }); // 33%
      expect(lossy.congestionRounds).to.equal(clean.congestionRounds);
      expect(lossy.bandwidthBytesPerMs).to.be.at.least(0.9 * clean.bandwidthBytesPerMs);
      expect(lossy.windowBytes).to.be.at.least(0.85 * clean.windowBytes);
      expect(heavy.congestionRounds).to.be.above(0);
      expect(heavy.bandwidthBytesPerMs).to.be.below(0.8 * before);
    });

    it('persistent congestion starts over from four packets', () => {
      const cc = new CongestionController(P);
      drive(cc, { rate: 100, rttMs: 50, ms: 2000 });
      cc.onPersistentCongestion(2000);
      expect(cc.windowBytes).to.equal(4 * P);
      expect(cc.phase).to.equal('startup');
      expect(cc.bandwidthBytesPerMs).to.equal(0);
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
