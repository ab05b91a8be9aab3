/**
 * Honest RTT and loss, in virtual time: with game frames (packets handed over once a frame, with
 * the time they arrived), rttMs is the network's round trip, not the frame cadence; late
 * acknowledgements are not counted as loss.
 */
import { expect } from 'chai';
import { SimulatedPair, type SimulatedLinkProfile } from '../../plugin/net/reliability/simulation';

const FRAME_MS = 16;

/** Both sides send a small reliable message every frame for `frames` frames. */
function chatter(profile: SimulatedLinkProfile, frames: number, seed: number): SimulatedPair {
  const pair = new SimulatedPair({ seed, aToB: profile, bToA: profile, stampArrivals: true });
  pair.a.setChannel(1, true);
  pair.b.setChannel(1, true);
  const message = new Uint8Array(100);
  for (let i = 0; i < frames; i++) {
    pair.a.send(1, true, message);
    pair.b.send(1, true, message);
    pair.step(FRAME_MS);
    pair.a.takeDelivered();
    pair.b.takeDelivered();
  }
  return pair;
}

describe('honest RTT and loss (virtual time, 60 Hz frames)', () => {
  for (const latencyMs of [5, 20, 45]) {
    it(`rttMs is the network round trip (${2 * latencyMs} ms), not the frame cadence`, () => {
      const pair = chatter({ latencyMs }, 200, latencyMs);
      const network = 2 * latencyMs;
      for (const side of [pair.a, pair.b]) {
        const rtt = side.stats().rttMs;
        console.log(`      [rtt] network ${network} ms, frames ${FRAME_MS} ms: rttMs ${rtt.toFixed(2)} (error ${(rtt - network).toFixed(2)} ms)`);
        expect(rtt).to.be.within(network - 1, network + 2);
      }
    });
  }

  it('a late acknowledgement of a packet declared lost is spurious: lossRate counts only packets really lost', () => {
    // Reordering holds some packets back past the loss thresholds; nothing is lost.
    const reordered = chatter({ latencyMs: 20, reorderRate: 0.1 }, 300, 7);
    const stats = reordered.a.stats();
    expect(stats.spuriousLosses, 'late acks seen').to.be.above(0);
    expect(stats.lossRate).to.equal(0);
    // Real loss still counts.
    const lossy = chatter({ latencyMs: 20, lossRate: 0.1 }, 300, 8).a.stats();
    expect(lossy.lossRate).to.be.within(0.05, 0.15);
  });
});
