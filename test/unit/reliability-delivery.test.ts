/**
 * Delivery guarantees of the reliability engine over a seeded simulated link, in virtual time:
 * reliable exactly once and in order per channel, unreliable never duplicated nor older, big
 * fragmented messages, sequence wrap-around, no head-of-line blocking across channels.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { mulberry32 } from '../../plugin/net/transport/prng';
import { defaultReliabilityConfig, encodeFrames, decodeFrames, ReliableConnection, type DeliveredMessage, type Frame } from '../../plugin/net/reliability';
import { SimulatedPair, type Side, type SimulatedLinkProfile } from '../../plugin/net/reliability/simulation';
import { Result } from '../../plugin/net/result';

const STEP_MS = 10;
const RELIABLE_CHANNELS = [0, 1, 77];
const UNRELIABLE_CHANNELS = [5, 127];

/** Message `index` of a stream: the index in the first 4 bytes, then bytes derived from it. */
function makeMessage(index: number, size: number, salt: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 7 + i * 13 + salt) & 0xff;
  if (size >= 4) new DataView(data.buffer).setUint32(0, index);
  return data;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function openAll(connection: ReliableConnection): void {
  for (const c of RELIABLE_CHANNELS) connection.setChannel(c, true);
  for (const c of UNRELIABLE_CHANNELS) connection.setChannel(c, false);
}

/** Messages sent on each (channel, reliable) stream and messages delivered, for one direction. */
class Streams {
  readonly sent = new Map<string, Uint8Array[]>();
  readonly delivered = new Map<string, Uint8Array[]>();

  static key(channelId: number, reliable: boolean): string {
    return `${channelId}/${reliable ? 'r' : 'u'}`;
  }

  recordSent(channelId: number, reliable: boolean, data: Uint8Array): number {
    const list = this.sent.get(Streams.key(channelId, reliable)) ?? [];
    list.push(data);
    this.sent.set(Streams.key(channelId, reliable), list);
    return list.length - 1;
  }

  recordDelivered(messages: DeliveredMessage[]): void {
    for (const m of messages) {
      const key = Streams.key(m.channelId, m.reliable);
      const list = this.delivered.get(key) ?? [];
      list.push(m.data);
      this.delivered.set(key, list);
    }
  }

  reliableDone(): boolean {
    for (const [key, sent] of this.sent) {
      if (key.endsWith('/r') && (this.delivered.get(key)?.length ?? 0) < sent.length) return false;
    }
    return true;
  }

  /** Reliable: exactly the sent list. Unreliable: a strictly increasing subsequence, bytes intact. */
  check(): void {
    for (const [key, delivered] of this.delivered) {
      const sent = this.sent.get(key) ?? [];
      if (key.endsWith('/r')) {
        expect(delivered.length, `${key} delivered count`).to.equal(sent.length);
        delivered.forEach((data, i) => expect(sameBytes(data, sent[i]), `${key} message ${i} intact and in order`).to.equal(true));
      } else {
        let previous = -1;
        for (const data of delivered) {
          const index = new DataView(data.buffer, data.byteOffset).getUint32(0);
          expect(index, `${key} never a duplicate nor older`).to.be.above(previous);
          expect(sameBytes(data, sent[index]), `${key} message ${index} intact`).to.equal(true);
          previous = index;
        }
      }
    }
    for (const [key, sent] of this.sent) {
      if (key.endsWith('/r')) expect(this.delivered.get(key)?.length ?? 0, `${key} all delivered`).to.equal(sent.length);
    }
  }
}

interface Op {
  from: Side;
  channel: number;
  size: number;
  wait: number;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  from: fc.constantFrom<Side>('a', 'a', 'b'),
  channel: fc.constantFrom(...RELIABLE_CHANNELS, ...UNRELIABLE_CHANNELS),
  size: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 4, max: 200 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1100, max: 5000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 40_000 }) },
  ),
  wait: fc.integer({ min: 0, max: 3 }),
});

const percent = (max: number) => fc.noBias(fc.integer({ min: 0, max })).map((p) => p / 100);
const profileArb: fc.Arbitrary<SimulatedLinkProfile> = fc.record({
  lossRate: percent(30),
  duplicateRate: percent(20),
  reorderRate: percent(30),
  latencyMs: fc.noBias(fc.integer({ min: 1, max: 60 })),
  jitterMs: fc.noBias(fc.integer({ min: 0, max: 30 })),
});

/** Runs `ops` over a pair with the given link, then until every reliable message arrived. */
function runScenario(seed: number, aToB: SimulatedLinkProfile, bToA: SimulatedLinkProfile, ops: Op[]) {
  const pair = new SimulatedPair({ seed, aToB, bToA });
  openAll(pair.a);
  openAll(pair.b);
  const toB = new Streams();
  const toA = new Streams();
  let largestPacket = 0;
  pair.onPoll = (_side, packets) => {
    for (const p of packets) largestPacket = Math.max(largestPacket, p.payload.length);
  };
  const drain = (): void => {
    toB.recordDelivered(pair.b.takeDelivered());
    toA.recordDelivered(pair.a.takeDelivered());
  };
  for (const op of ops) {
    const reliable = RELIABLE_CHANNELS.includes(op.channel);
    const streams = op.from === 'a' ? toB : toA;
    const sender = op.from === 'a' ? pair.a : pair.b;
    const index = (streams.sent.get(Streams.key(op.channel, reliable))?.length ?? 0);
    const data = makeMessage(index, op.size, op.channel);
    const result = sender.send(op.channel, reliable, data);
    if (result === Result.Ok) streams.recordSent(op.channel, reliable, data);
    else expect(result, 'only backpressure may refuse').to.equal(Result.InsufficientBuffer);
    for (let i = 0; i < op.wait; i++) {
      pair.step(STEP_MS);
      drain();
    }
  }
  const finished = pair.runUntil(() => {
    drain();
    return toB.reliableDone() && toA.reliableDone();
  }, STEP_MS, 200_000);
  return { pair, toB, toA, finished, largestPacket };
}

describe('reliability delivery (simulated link, virtual time)', () => {
  it('property: reliable exactly once in order, unreliable sequenced, through loss 0–30%, duplication, reordering, latency', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), profileArb, profileArb, fc.array(opArb, { minLength: 40, maxLength: 150 }), (seed, aToB, bToA, ops) => {
        const { pair, toB, toA, finished, largestPacket } = runScenario(seed, aToB, bToA, ops);
        expect(finished, 'every reliable message arrived').to.equal(true);
        toB.check();
        toA.check();
        expect(largestPacket).to.be.at.most(defaultReliabilityConfig.maxPacketBytes);
        // Nothing refused by an honest peer for want of room.
        expect(pair.refused.filter((r) => /bound/.test(r.reason))).to.deep.equal([]);
      }),
      { numRuns: 30 },
    );
  });

  it('delivers a 1 MiB reliable message intact across 10% loss both ways, with sane stats', () => {
    const lossy: SimulatedLinkProfile = { lossRate: 0.1, latencyMs: 20, jitterMs: 5 };
    const pair = new SimulatedPair({ seed: 11, aToB: lossy, bToA: lossy });
    openAll(pair.a);
    openAll(pair.b);
    const big = makeMessage(0, 1024 * 1024, 3);
    expect(pair.a.send(1, true, big)).to.equal(Result.Ok);
    expect(pair.a.stats().pendingReliableBytes).to.equal(big.length);
    const got: DeliveredMessage[] = [];
    expect(pair.runUntil(() => (got.push(...pair.b.takeDelivered()), got.length > 0), STEP_MS, 100_000)).to.equal(true);
    expect(got).to.have.length(1);
    expect(sameBytes(got[0].data, big)).to.equal(true);
    expect(pair.runUntil(() => pair.a.stats().pendingReliableBytes === 0, STEP_MS, 10_000)).to.equal(true);
    const stats = pair.a.stats();
    expect(stats.resentPackets).to.be.above(0);
    expect(stats.lossRate).to.be.within(0.05, 0.16);
    expect(stats.rttMs).to.be.within(40, 120);
    expect(stats.sentPackets).to.be.above(Math.ceil(big.length / defaultReliabilityConfig.maxPacketBytes));
    expect(pair.b.stats().receivedBytes).to.be.above(big.length);
    expect(pair.b.stats().reassemblyBytes).to.equal(0);
  });

  it('delivers 64 KiB unreliable messages whole; under loss some are lost whole, none arrive damaged or out of order', () => {
    for (const lossRate of [0, 0.02]) {
      const pair = new SimulatedPair({ seed: 5, aToB: { lossRate, latencyMs: 15 }, bToA: { latencyMs: 15 } });
      openAll(pair.a);
      openAll(pair.b);
      const streams = new Streams();
      for (let i = 0; i < 20; i++) {
        const data = makeMessage(i, 64 * 1024, 9);
        expect(pair.a.send(5, false, data)).to.equal(Result.Ok);
        streams.recordSent(5, false, data);
        for (let s = 0; s < 30; s++) {
          pair.step(STEP_MS);
          streams.recordDelivered(pair.b.takeDelivered());
        }
      }
      streams.check();
      const delivered = streams.delivered.get('5/u')?.length ?? 0;
      if (lossRate === 0) expect(delivered).to.equal(20);
      else expect(delivered).to.be.within(1, 19);
      expect(pair.b.stats().reassemblyBytes).to.be.at.most(defaultReliabilityConfig.maxReassemblyBytes);
    }
  });

  it('refuses a message over its size limit with InvalidPayload, queuing nothing', () => {
    const c = new ReliableConnection(defaultReliabilityConfig, 0);
    expect(c.send(1, true, new Uint8Array(defaultReliabilityConfig.maxReliableMessageBytes + 1))).to.equal(Result.InvalidPayload);
    expect(c.send(1, false, new Uint8Array(defaultReliabilityConfig.maxUnreliableMessageBytes + 1))).to.equal(Result.InvalidPayload);
    expect(c.send(1, true, 'text' as unknown as Uint8Array)).to.equal(Result.InvalidPayload);
    expect(c.send(128, true, new Uint8Array(1))).to.equal(Result.InvalidChannel);
    expect(c.stats().pendingReliableBytes).to.equal(0);
    expect(c.poll(1)).to.deep.equal([]);
  });

  it('copies the data on send: the caller may reuse its buffer at once', () => {
    const pair = new SimulatedPair({ seed: 2, aToB: { latencyMs: 5 }, bToA: { latencyMs: 5 } });
    openAll(pair.a);
    openAll(pair.b);
    const buffer = new Uint8Array([1, 2, 3]);
    pair.a.send(0, true, buffer);
    buffer.fill(9);
    const got: DeliveredMessage[] = [];
    pair.runUntil(() => (got.push(...pair.b.takeDelivered()), got.length === 1), STEP_MS, 100);
    expect(Array.from(got[0].data)).to.deep.equal([1, 2, 3]);
  });

  it('keeps order and exactly-once across sequence wrap-around (2^32 − 1 → 0)', () => {
    const pair = new SimulatedPair({
      seed: 3,
      tuning: { initialSequence: 0xffffffff - 4 },
      aToB: { lossRate: 0.2, reorderRate: 0.2, duplicateRate: 0.1, latencyMs: 10 },
      bToA: { latencyMs: 10 },
    });
    openAll(pair.a);
    openAll(pair.b);
    const streams = new Streams();
    for (let i = 0; i < 40; i++) {
      for (const [channel, reliable] of [[1, true], [5, false]] as const) {
        const data = makeMessage(streams.sent.get(Streams.key(channel, reliable))?.length ?? 0, 4 + (i % 3) * 700, channel);
        pair.a.send(channel, reliable, data);
        streams.recordSent(channel, reliable, data);
      }
      pair.step(STEP_MS);
      streams.recordDelivered(pair.b.takeDelivered());
    }
    expect(pair.runUntil(() => (streams.recordDelivered(pair.b.takeDelivered()), streams.reliableDone()), STEP_MS, 10_000)).to.equal(true);
    streams.check();
    expect(streams.delivered.get('5/u')?.length ?? 0).to.be.above(10);
  });

  describe('no head-of-line blocking across channels', () => {
    it('a gap on one reliable channel holds only that channel (receiver side, exact packets)', () => {
      const b = new ReliableConnection(defaultReliabilityConfig, 0);
      openAll(b);
      const frame = (channelId: number, reliable: boolean, sequence: number, text: string): Frame => ({
        type: 'message',
        channelId,
        reliable,
        sequence,
        data: new TextEncoder().encode(text),
      });
      const deliver = (packetNumber: number, frames: Frame[]) => expect(b.receive(packetNumber, encodeFrames(frames), 1)).to.deep.equal({ accepted: true });
      deliver(1, [frame(1, true, 1, 'one-1')]); // channel 1 sequence 0 is missing
      deliver(2, [frame(0, true, 0, 'zero-0'), frame(5, false, 0, 'u-0')]);
      deliver(3, [frame(1, true, 2, 'one-2'), frame(0, true, 1, 'zero-1')]);
      const names = (ms: DeliveredMessage[]) => ms.map((m) => new TextDecoder().decode(m.data));
      expect(names(b.takeDelivered())).to.deep.equal(['zero-0', 'u-0', 'zero-1']);
      deliver(4, [frame(1, true, 0, 'one-0')]);
      expect(names(b.takeDelivered())).to.deep.equal(['one-0', 'one-1', 'one-2']);
    });

    it('while every packet carrying channel 1 message 0 is lost, channel 2 and unreliable channel 5 keep delivering', () => {
      const pair = new SimulatedPair({ seed: 21, aToB: { latencyMs: 20 }, bToA: { latencyMs: 20 } });
      for (const c of [pair.a, pair.b]) {
        c.setChannel(1, true);
        c.setChannel(2, true);
        c.setChannel(5, false);
      }
      let blocking = true;
      let droppedCarriers = 0;
      pair.dropFilter = (side, packet) => {
        if (side !== 'a' || !blocking) return false;
        const decoded = decodeFrames(packet.payload);
        const carries = decoded.ok && decoded.value.some((f) => (f.type === 'message' || f.type === 'fragment') && f.channelId === 1 && f.sequence === 0);
        if (carries) droppedCarriers++;
        return carries;
      };
      // Message 0 fills a packet by itself, so the frames lost with it are its own.
      pair.a.send(1, true, makeMessage(0, defaultReliabilityConfig.maxPacketBytes - 12, 1));
      pair.step(STEP_MS);
      const counts = { 1: 0, 2: 0, 5: 0 } as Record<number, number>;
      let sentOn2 = 0;
      const tally = () => {
        for (const m of pair.b.takeDelivered()) counts[m.channelId]++;
      };
      for (let frame = 0; frame < 150; frame++) {
        pair.a.send(1, true, makeMessage(frame + 1, 50, 1));
        pair.a.send(2, true, makeMessage(frame, 50, 2));
        pair.a.send(5, false, makeMessage(frame, 50, 5));
        sentOn2++;
        pair.step(STEP_MS);
        tally();
      }
      expect(droppedCarriers, 'channel 1 message 0 was lost repeatedly').to.be.at.least(5);
      expect(counts[1], 'channel 1 waits for its message 0').to.equal(0);
      // All but the last few frames' messages, still in flight.
      expect(counts[2], 'channel 2 kept delivering').to.be.at.least(sentOn2 - 5);
      expect(counts[5], 'unreliable channel 5 kept delivering').to.be.at.least(sentOn2 - 5);
      blocking = false;
      expect(pair.runUntil(() => (tally(), counts[1] === 151 && counts[2] === 150), STEP_MS, 5000)).to.equal(true);
    });
  });

  it('a seeded run repeats exactly', () => {
    const run = () => {
      const ops: Op[] = [];
      const random = mulberry32(99);
      for (let i = 0; i < 60; i++) ops.push({ from: random() < 0.7 ? 'a' : 'b', channel: [0, 1, 5][Math.floor(random() * 3)], size: 4 + Math.floor(random() * 3000), wait: 1 });
      const lossy = { lossRate: 0.15, duplicateRate: 0.05, reorderRate: 0.1, latencyMs: 25, jitterMs: 10 };
      const { pair } = runScenario(77, lossy, lossy, ops);
      return { a: pair.a.stats(), b: pair.b.stats(), now: pair.now };
    };
    expect(run()).to.deep.equal(run());
  });
});
