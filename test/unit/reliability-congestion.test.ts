/**
 * Congestion control against a rate-limited link with a bounded queue, in virtual time (seeded):
 * random loss is not congestion, flows share a bottleneck, a rate drop is followed, the queue
 * stays short. The figures these tests measure are printed once per run (`[cc]` lines).
 */
import { expect } from 'chai';
import { Bottleneck, Policer, SimulatedLink, SimulatedPair, type BottleneckProfile } from '../../plugin/net/reliability/simulation';

const STEP_MS = 5;
const CHANNEL = 1;
const MESSAGE_BYTES = 16 * 1024;
/** Reliable bytes a bulk sender keeps queued (well under maxPendingReliableBytes). */
const BACKLOG_BYTES = 512 * 1024;

/** A pair whose a→b direction goes through `bottleneck`; b→a (acks) has the same delay, no limit. */
function flow(seed: number, bottleneck: Bottleneck, startMs = 0): SimulatedPair {
  const pair = new SimulatedPair({
    seed,
    aToBPath: bottleneck.port(),
    bToA: { latencyMs: bottleneck.profile.latencyMs },
    startMs,
  });
  pair.b.setChannel(CHANNEL, true);
  return pair;
}

/** Keeps the sender's backlog full, and counts message bytes the receiver got. */
class BulkFlow {
  delivered = 0;
  private readonly chunk: Uint8Array;

  constructor(
    readonly pair: SimulatedPair,
    private readonly backlogBytes = BACKLOG_BYTES,
    messageBytes = MESSAGE_BYTES,
  ) {
    this.chunk = new Uint8Array(messageBytes).fill(7);
  }

  step(ms: number): void {
    while (this.pair.a.stats().pendingReliableBytes < this.backlogBytes) this.pair.a.send(CHANNEL, true, this.chunk);
    this.pair.step(ms);
    for (const message of this.pair.b.takeDelivered()) this.delivered += message.data.length;
  }
}

function link(overrides: Partial<BottleneckProfile>): BottleneckProfile {
  return { bytesPerMs: 1000, queueLimitBytes: 100_000, latencyMs: 25, ...overrides };
}

function report(line: string): void {
  // One line per figure, for the bench notes; mocha's reporter shows it under the test.
  console.log(`      [cc] ${line}`);
}

describe('congestion control (rate-limited link, virtual time)', () => {
  it('keeps most of the link rate through 5% random loss', () => {
    const bottleneck = new Bottleneck(link({ lossRate: 0.05 }), 41);
    const bulk = new BulkFlow(flow(41, bottleneck));
    const warmupMs = 2000;
    const measureMs = 10_000;
    for (let t = 0; t < warmupMs; t += STEP_MS) bulk.step(STEP_MS);
    const before = bulk.delivered;
    for (let t = 0; t < measureMs; t += STEP_MS) bulk.step(STEP_MS);
    const fraction = (bulk.delivered - before) / (bottleneck.profile.bytesPerMs * measureMs);
    const stats = bulk.pair.a.stats();
    report(`5% loss: ${(fraction * 100).toFixed(1)}% of the link rate kept (goodput, after a 2 s warm-up); lossRate ${stats.lossRate.toFixed(3)}`);
    // 95% is the most a link losing 5% can carry; framing takes about 1% more.
    expect(fraction).to.be.at.least(0.75);
    expect(stats.lossRate).to.be.within(0.03, 0.08);
  });

  it('two flows through one link share it within 30% of each other, and the queue stays short', () => {
    const profile = link({ queueLimitBytes: 400_000 }); // 8 BDP: a deep buffer, which loss-based control would fill
    const bottleneck = new Bottleneck(profile, 42);
    const first = new BulkFlow(flow(42, bottleneck));
    const secondStartMs = 1000;
    let second: BulkFlow | null = null;
    // BBR-style flows converge once both have measured the true minimum RTT (ProbeRTT, every 5 s):
    // the second one started behind the first one's queue. Measured after that.
    const totalMs = 22_000;
    const measureFromMs = 12_000;
    let firstAtMeasure = 0;
    let secondAtMeasure = 0;
    let peakQueueAfterWarmup = 0;
    for (let t = 0; t < totalMs; t += STEP_MS) {
      if (second === null && t >= secondStartMs) second = new BulkFlow(flow(43, bottleneck, first.pair.now));
      first.step(STEP_MS);
      second?.step(STEP_MS);
      if (t === measureFromMs) {
        firstAtMeasure = first.delivered;
        secondAtMeasure = second?.delivered ?? 0;
      }
      if (t > measureFromMs) peakQueueAfterWarmup = Math.max(peakQueueAfterWarmup, bottleneck.queuedBytes(first.pair.now));
    }
    if (second === null) throw new Error('second flow never started');
    const measuredMs = totalMs - measureFromMs;
    const a = first.delivered - firstAtMeasure;
    const b = second.delivered - secondAtMeasure;
    const ratio = Math.max(a, b) / Math.min(a, b);
    const utilisation = (a + b) / (profile.bytesPerMs * measuredMs);
    const bdp = profile.bytesPerMs * 2 * profile.latencyMs;
    report(
      `two flows: share ratio ${ratio.toFixed(2)}, link use ${(utilisation * 100).toFixed(1)}%, peak queue ${(peakQueueAfterWarmup / bdp).toFixed(2)} BDP ` +
        `(${peakQueueAfterWarmup} B of ${profile.queueLimitBytes}), ${bottleneck.droppedAtQueue} queue drops`,
    );
    expect(ratio).to.be.at.most(1.3);
    expect(utilisation).to.be.at.least(0.8);
    // Pacing to the bottleneck with a window of 2 BDP + ack aggregation (≤ 25 ms of the rate) + 4
    // packets keeps the queue near one BDP, whatever the buffer (here 8 BDP).
    expect(peakQueueAfterWarmup).to.be.at.most(2.5 * bdp);
  });

  it('follows a link whose rate drops by half within a few round trips', () => {
    const profile = link({ bytesPerMs: 2000, queueLimitBytes: 400_000 });
    const bottleneck = new Bottleneck(profile, 44);
    const bulk = new BulkFlow(flow(44, bottleneck));
    const dropAtMs = 4000;
    const rttMs = 2 * profile.latencyMs;
    for (let t = 0; t < dropAtMs; t += STEP_MS) bulk.step(STEP_MS);
    const pacingBefore = bulk.pair.a.stats().pacingRateBytesPerSecond / 1000;
    bottleneck.profile = { ...profile, bytesPerMs: 1000 };
    // How long until the pacing rate is near the new rate and the queue back within what a window
    // of ~2 BDP allows (about one BDP: one RTT of queueing delay, plus a few packets).
    let followedAfterMs = -1;
    for (let t = 0; t < 5000; t += STEP_MS) {
      bulk.step(STEP_MS);
      const pacing = bulk.pair.a.stats().pacingRateBytesPerSecond / 1000;
      const settled = bottleneck.queueDelayMs(bulk.pair.now) < 1.5 * rttMs && pacing <= 1.3 * 1000;
      if (settled && followedAfterMs < 0) followedAfterMs = t + STEP_MS;
      if (!settled) followedAfterMs = -1;
      if (followedAfterMs >= 0 && t + STEP_MS - followedAfterMs >= 1000) break; // stayed settled for 1 s
    }
    const before = bulk.delivered;
    for (let t = 0; t < 3000; t += STEP_MS) bulk.step(STEP_MS);
    const kept = (bulk.delivered - before) / (1000 * 3000);
    report(
      `rate halved: pacing ${pacingBefore.toFixed(0)} B/ms before; followed after ${followedAfterMs} ms (${(followedAfterMs / rttMs).toFixed(1)} RTTs); ` +
        `then ${(kept * 100).toFixed(1)}% of the new rate`,
    );
    // Round trips of the base RTT; the queue built meanwhile makes each one 2-4 times longer.
    expect(followedAfterMs).to.be.within(0, 12 * rttMs);
    expect(kept).to.be.at.least(0.8);
  });

  it('backs off when a shallow queue overflows (real congestion): little loss, the link still used', () => {
    const profile = link({ queueLimitBytes: 20_000 }); // 0.4 BDP
    const bottleneck = new Bottleneck(profile, 45);
    const first = new BulkFlow(flow(45, bottleneck));
    const second = new BulkFlow(flow(46, bottleneck));
    const measureFromMs = 3000;
    const totalMs = 13_000;
    let sentAtMeasure = 0;
    let droppedAtMeasure = 0;
    let deliveredAtMeasure = 0;
    for (let t = 0; t < totalMs; t += STEP_MS) {
      if (t === measureFromMs) {
        sentAtMeasure = first.pair.a.stats().sentPackets + second.pair.a.stats().sentPackets;
        droppedAtMeasure = bottleneck.droppedAtQueue;
        deliveredAtMeasure = first.delivered + second.delivered;
      }
      first.step(STEP_MS);
      second.step(STEP_MS);
    }
    const sent = first.pair.a.stats().sentPackets + second.pair.a.stats().sentPackets - sentAtMeasure;
    const dropShare = (bottleneck.droppedAtQueue - droppedAtMeasure) / sent;
    const utilisation = (first.delivered + second.delivered - deliveredAtMeasure) / (profile.bytesPerMs * (totalMs - measureFromMs));
    report(`shallow queue (0.4 BDP), two flows: ${(dropShare * 100).toFixed(1)}% of packets dropped at the queue, link use ${(utilisation * 100).toFixed(1)}%`);
    // Losses under the congestion threshold (15% of a round) are tolerated as random; this stays well below it.
    expect(dropShare).to.be.at.most(0.08);
    expect(utilisation).to.be.at.least(0.75);
  });
});

describe('congestion control against a policer (virtual time)', () => {
  it('a token bucket with a one-second burst (the relay budgets) costs a few lossy rounds at the start, then little loss', () => {
    // The relay's default per-destination budget: 4 MB/s, one second of it as burst; a loopback-like path.
    const bytesPerMs = 4000;
    const policer = new Policer(bytesPerMs, bytesPerMs * 1000, new SimulatedLink({ latencyMs: 0.2 }, 47));
    const pair = new SimulatedPair({ seed: 47, aToBPath: policer, bToA: { latencyMs: 0.2 } });
    pair.b.setChannel(CHANNEL, true);
    // As a bulk sender through the manager does: 64 KiB messages up to the 4 MiB pending limit.
    const bulk = new BulkFlow(pair, 4 * 1024 * 1024 - 64 * 1024, 64 * 1024);
    const steadyFromMs = 2000;
    const totalMs = 7000;
    let passed = 0;
    let dropped = 0;
    let delivered = 0;
    for (let t = 0; t < totalMs; t += STEP_MS) {
      if (t === steadyFromMs) {
        passed = policer.passed;
        dropped = policer.dropped;
        delivered = bulk.delivered;
      }
      bulk.step(STEP_MS);
    }
    const droppedShare = policer.dropped / (policer.dropped + policer.passed);
    const steadyDropped = (policer.dropped - dropped) / (policer.dropped - dropped + policer.passed - passed);
    const steadyGoodput = (bulk.delivered - delivered) / (bytesPerMs * (totalMs - steadyFromMs));
    report(
      `policer (4 MB/s, 1 s burst): ${(droppedShare * 100).toFixed(1)}% of packets dropped over 7 s, ` +
        `${(steadyDropped * 100).toFixed(1)}% after 2 s; goodput after 2 s ${(steadyGoodput * 100).toFixed(1)}% of the policed rate`,
    );
    // Once the burst is spent, the estimate must drop to what gets through in one cut, not by halves.
    expect(droppedShare).to.be.at.most(0.13);
    expect(steadyDropped).to.be.at.most(0.08);
    expect(steadyGoodput).to.be.at.least(0.9);
  });
});

describe('loss tolerance on a jittery path, and a backlog after game traffic (virtual time)', () => {
  /** 1 MiB queued at once on a fast path with 50 ms RTT, 5% loss and ±5 ms jitter each way (it reorders). */
  function transfer(pair: SimulatedPair): number {
    const message = new Uint8Array(MESSAGE_BYTES).fill(3);
    for (let i = 0; i < 64; i++) pair.a.send(CHANNEL, true, message);
    let delivered = 0;
    const start = pair.now;
    const done = pair.runUntil(() => {
      for (const m of pair.b.takeDelivered()) delivered += m.data.length;
      return delivered >= 64 * MESSAGE_BYTES;
    }, 1, 30_000);
    expect(done, '1 MiB delivered').to.equal(true);
    return pair.now - start;
  }

  function jitteryPair(seed: number): SimulatedPair {
    const path = { lossRate: 0.05, latencyMs: 20, jitterMs: 10 };
    const pair = new SimulatedPair({ seed, aToB: path, bToA: path, stampArrivals: true });
    pair.b.setChannel(CHANNEL, true);
    return pair;
  }

  it('reordering from jitter is not loss: the reordering threshold adapts and 1 MiB takes a few dozen round trips', () => {
    for (const seed of [1, 2, 3]) {
      const pair = jitteryPair(seed);
      const ms = transfer(pair);
      const sender = pair.a as unknown as { sent: { reorderingThreshold: number } };
      report(`1 MiB at 5% loss, 50 ms RTT, 20-30 ms each way (seed ${seed}): ${ms} ms; reordering threshold ${sender.sent.reorderingThreshold}`);
      expect(sender.sent.reorderingThreshold, 'threshold raised by spurious losses').to.be.greaterThan(3);
      // Before: ~2.6–3.7 s (each reordering counted as loss, and rounds with 3+ of them as congestion).
      expect(ms).to.be.below(1500);
    }
  });

  it('a backlog after seconds of app-limited 60 Hz traffic searches for the path rate again instead of probing up 25% a cycle', () => {
    const pair = jitteryPair(7);
    const small = new Uint8Array(32);
    for (let frame = 0; frame < 600; frame++) {
      pair.a.send(CHANNEL, true, small);
      for (let i = 0; i < 16; i++) pair.step(1);
      pair.b.takeDelivered();
    }
    const congestion = (pair.a as unknown as { congestion: { phase: string } }).congestion;
    const ms = transfer(pair);
    report(`1 MiB after 10 s of 60 Hz messages: ${ms} ms (phase now ${congestion.phase})`);
    // Before: ~3.5 s, the window starting from the app's rate and growing 25% per 8 round trips.
    expect(ms).to.be.below(1500);
  });
});
