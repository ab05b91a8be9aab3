/**
 * Receive-side bounds against a hostile (authenticated but misbehaving) peer: every bad frame is
 * refused with a reason and leaves no trace; memory stays bounded; nothing throws.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  ReliableConnection,
  defaultReliabilityConfig,
  encodeFrames,
  type Frame,
  type FragmentFrame,
  type MessageFrame,
  type ReceiveOutcome,
} from '../../plugin/net/reliability';
import { RELIABLE_WINDOW_MESSAGES } from '../../plugin/net/reliability/constants';

const config = defaultReliabilityConfig;

function message(channelId: number, reliable: boolean, sequence: number, length: number, fill = 1): MessageFrame {
  return { type: 'message', channelId, reliable, sequence, data: new Uint8Array(length).fill(fill) };
}

function fragment(channelId: number, reliable: boolean, sequence: number, index: number, count: number, length: number): FragmentFrame {
  return { type: 'fragment', channelId, reliable, sequence, fragmentIndex: index, fragmentCount: count, data: new Uint8Array(length).fill(index & 0xff) };
}

/** A receiver with every channel open: 0–63 reliable, 64–127 unreliable. */
function receiver(): ReliableConnection {
  const c = new ReliableConnection(config, 0);
  for (let ch = 0; ch < 128; ch++) c.setChannel(ch, ch < 64);
  return c;
}

class Feeder {
  private packetNumber = 0;
  constructor(readonly to: ReliableConnection) {}
  send(...frames: Frame[]): ReceiveOutcome {
    return this.to.receive(this.packetNumber++, encodeFrames(frames), 1);
  }
}

function refusedWith(outcome: ReceiveOutcome, reason: RegExp): void {
  expect(outcome.accepted, 'refused').to.equal(false);
  if (!outcome.accepted) expect(outcome.reason).to.match(reason);
}

describe('reliability against hostile frames', () => {
  const refusals: [string, Frame[][], RegExp][] = [
    ['a reliable message over maxReliableMessageBytes', [[message(1, true, 0, config.maxReliableMessageBytes + 1)]], /above 1048576/],
    ['an unreliable message over maxUnreliableMessageBytes', [[message(70, false, 0, config.maxUnreliableMessageBytes + 1)]], /above 65536/],
    ['a huge fragment count (reliable)', [[fragment(1, true, 0, 0, 1_000_000, 500)]], /fragment count 1000000 above 8192/],
    ['a huge fragment count (unreliable)', [[fragment(70, false, 0, 0, 100_000, 500)]], /fragment count 100000 above 512/],
    ['a fragment count implying a message over the limit', [[fragment(1, true, 0, 0, 4000, 1000)]], /4000 fragments make a message of at least/],
    ['a fragment but the last below 128 bytes', [[fragment(1, true, 0, 0, 3, 100)]], /below the minimum of 128/],
    ['fragments of different sizes', [[fragment(1, true, 0, 0, 3, 500)], [fragment(1, true, 0, 1, 3, 600)]], /600 bytes where the others have 500/],
    ['a last fragment longer than the others', [[fragment(1, true, 0, 0, 3, 500)], [fragment(1, true, 0, 2, 3, 501)]], /last fragment \(501 bytes\) longer/],
    ['a changing fragment count', [[fragment(1, true, 0, 0, 3, 500)], [fragment(1, true, 0, 1, 4, 500)]], /count 4 where earlier fragments said 3/],
    ['a fragment repeated with another length', [[fragment(1, true, 0, 2, 3, 10)], [fragment(1, true, 0, 2, 3, 11)]], /repeated with another length/],
    ['a message both whole and fragmented', [[message(1, true, 1, 10)], [fragment(1, true, 1, 0, 3, 500)]], /count 3 where earlier fragments said 1/],
    ['a message both fragmented and whole', [[fragment(1, true, 1, 0, 3, 500)], [message(1, true, 1, 10)]], /sent both whole and in fragments/],
    ['fragments of one message inconsistent within one packet', [[fragment(1, true, 5, 0, 3, 500), fragment(1, true, 5, 1, 3, 400)]], /400 bytes where the others have 500/],
    ['a reliable sequence a whole window ahead', [[message(1, true, RELIABLE_WINDOW_MESSAGES, 1)]], /outside the window of 1024 from 0/],
    ['a reliable sequence far behind', [[message(1, true, 0x80000000, 1)]], /outside the window/],
    ['an ack of a packet never sent', [[{ type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 0 }] }]], /never sent/],
    ['an ack covering every packet number', [[{ type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 0xffffffff }] }]], /never sent/],
  ];
  for (const [name, packets, reason] of refusals) {
    it(`refuses ${name}`, () => {
      const feeder = new Feeder(receiver());
      const last = packets[packets.length - 1];
      for (const p of packets.slice(0, -1)) expect(feeder.send(...p).accepted, 'setup packet').to.equal(true);
      refusedWith(feeder.send(...last), reason);
    });
  }

  it('refuses a packet number that is not an integer in 0..2^53-1, and a payload that does not decode', () => {
    const c = receiver();
    refusedWith(c.receive(-1, encodeFrames([{ type: 'ping' }]), 1), /not an integer in 0\.\.2\^53-1/);
    refusedWith(c.receive(2 ** 53, encodeFrames([{ type: 'ping' }]), 1), /not an integer in 0\.\.2\^53-1/);
    refusedWith(c.receive(1.5, encodeFrames([{ type: 'ping' }]), 1), /not an integer in 0\.\.2\^53-1/);
    refusedWith(c.receive(0, new Uint8Array(0), 1), /no frames/);
    refusedWith(c.receive(0, new Uint8Array([9]), 1), /unknown frame type/);
  });

  it('a refused packet leaves no trace: good frames in it are not delivered, it is not acked', () => {
    const c = receiver();
    const feeder = new Feeder(c);
    refusedWith(feeder.send(message(1, true, 0, 10), fragment(2, true, 0, 0, 3, 50)), /below the minimum/);
    expect(c.takeDelivered()).to.deep.equal([]);
    expect(c.poll(2), 'nothing to ack').to.deep.equal([]);
    expect(c.stats().receivedPackets).to.equal(0);
    expect(c.stats().reassemblyBytes).to.equal(0);
    // The honest resend is accepted and delivered once.
    expect(feeder.send(message(1, true, 0, 10)).accepted).to.equal(true);
    expect(feeder.send(message(1, true, 0, 10)).accepted).to.equal(true);
    expect(c.takeDelivered()).to.have.length(1);
  });

  it('accepts the last sequence inside the window and ignores repeats of delivered ones', () => {
    const c = receiver();
    const feeder = new Feeder(c);
    expect(feeder.send(message(1, true, RELIABLE_WINDOW_MESSAGES - 1, 1)).accepted).to.equal(true);
    expect(feeder.send(message(3, true, 0, 1)).accepted).to.equal(true);
    expect(feeder.send(message(3, true, 0, 1), message(3, true, 0xffffffff - 5, 1)).accepted, 'behind: already delivered').to.equal(true);
    expect(c.takeDelivered()).to.have.length(1);
  });

  it('bounds reassembly memory: out-of-order reliable data past the bound is refused', () => {
    const c = receiver();
    const feeder = new Feeder(c);
    const budget = config.maxReassemblyBytes - config.maxUnreliableMessageBytes - 64;
    let refused: ReceiveOutcome | null = null;
    // Sequence 0 never comes, so nothing is deliverable; fragments of 1000 bytes of many messages.
    outer: for (let sequence = 1; sequence < RELIABLE_WINDOW_MESSAGES; sequence++) {
      for (let index = 0; index < 1000; index++) {
        const outcome = feeder.send(fragment(1, true, sequence, index, 1000, 1000));
        if (!outcome.accepted) {
          refused = outcome;
          break outer;
        }
      }
    }
    expect(refused).to.not.equal(null);
    refusedWith(refused as ReceiveOutcome, /reassembly bound/);
    expect(c.stats().reassemblyBytes).to.be.at.most(budget);
    // Each message takes its whole buffer (1000 × 1000 bytes) at its first fragment (§6.7).
    expect(c.stats().reassemblyBytes).to.equal(2 * (1000 * 1000 + 64));
  });

  it('charges a fragmented message its whole buffer from the first fragment that tells its size, the last fragment alone its bytes', () => {
    const c = receiver();
    const feeder = new Feeder(c);
    // The last fragment first: where it goes is not known yet, so it is kept alone.
    expect(feeder.send(fragment(1, true, 1, 9, 10, 300)).accepted).to.equal(true);
    expect(c.stats().reassemblyBytes).to.equal(300 + 64);
    expect(feeder.send(fragment(1, true, 1, 3, 10, 500)).accepted).to.equal(true);
    expect(c.stats().reassemblyBytes).to.equal(10 * 500 + 64);
    for (let index = 0; index < 9; index++) expect(feeder.send(fragment(1, true, 1, index, 10, 500)).accepted).to.equal(true);
    expect(c.stats().reassemblyBytes).to.equal(10 * 500 + 64);
    // Sequence 0 releases both, assembled in place: every byte where its fragment said.
    expect(feeder.send(message(1, true, 0, 5)).accepted).to.equal(true);
    expect(c.stats().reassemblyBytes).to.equal(0);
    const delivered = c.takeDelivered();
    expect(delivered.map((m) => m.data.length)).to.deep.equal([5, 9 * 500 + 300]);
    const data = delivered[1].data;
    for (let index = 0; index < 10; index++) expect(data[index * 500], `fragment ${index}`).to.equal(index);
  });

  it('bounds unreliable partial messages: evicted under pressure and four per channel, counted as dropped', () => {
    const c = receiver();
    const feeder = new Feeder(c);
    // Partials of 60 × 1000 bytes, each charged its whole buffer: memory binds, oldest evicted first.
    for (let i = 0; i < 3000; i++) {
      const channel = 64 + (i % 64);
      expect(feeder.send(fragment(channel, false, i, 0, 60, 1000)).accepted).to.equal(true);
      expect(c.stats().reassemblyBytes).to.be.at.most(config.maxReassemblyBytes);
    }
    expect(c.stats().droppedUnreliable).to.be.at.least(3000 - Math.floor(config.maxReassemblyBytes / (60 * 1000 + 64)));
    // Partials of 2 × 1000 bytes: four per channel binds first, 64 channels × 4 × (2000 + 64) bytes at most.
    const d = receiver();
    const small = new Feeder(d);
    for (let i = 0; i < 3000; i++) expect(small.send(fragment(64 + (i % 64), false, i, 0, 2, 1000)).accepted).to.equal(true);
    expect(d.stats().reassemblyBytes).to.equal(64 * 4 * 2064);
    expect(d.stats().droppedUnreliable).to.equal(3000 - 64 * 4);
  });

  it('unreliable partials give way to reliable data: the two together stay within maxReassemblyBytes', () => {
    const c = receiver();
    const feeder = new Feeder(c);
    // Unreliable partials of 60 × 1000 bytes fill the reassembly memory.
    for (let i = 0; i < 200; i++) expect(feeder.send(fragment(64 + (i % 64), false, i, 0, 60, 1000)).accepted).to.equal(true);
    expect(c.stats().reassemblyBytes).to.be.above(config.maxReassemblyBytes - 61_000);
    const dropped = c.stats().droppedUnreliable;
    // Out-of-order reliable data up to its own bound: the oldest partials are evicted and counted.
    for (let sequence = 1; sequence < 3; sequence++) {
      expect(feeder.send(fragment(1, true, sequence, 0, 1000, 1000)).accepted).to.equal(true);
      expect(c.stats().reassemblyBytes).to.be.at.most(config.maxReassemblyBytes);
    }
    expect(c.stats().droppedUnreliable).to.be.above(dropped);
  });

  it('holds reliable data for unopened channels within maxHeldBytes, refusing the rest', () => {
    const c = new ReliableConnection(config, 0);
    const feeder = new Feeder(c);
    let firstRefused = -1;
    for (let sequence = 0; sequence < 40; sequence++) {
      const outcome = feeder.send(message(7, true, sequence, 60_000));
      if (!outcome.accepted && firstRefused < 0) {
        firstRefused = sequence;
        refusedWith(outcome, /held bound/);
      }
    }
    // In order they go to the held queue until it is full; after the refused one they wait out of order.
    expect(firstRefused).to.equal(Math.floor(config.maxHeldBytes / (60_000 + 64)));
    expect(c.stats().heldBytes).to.equal(firstRefused * 60_000);
    expect(c.stats().reassemblyBytes).to.be.at.most(config.maxReassemblyBytes - config.maxUnreliableMessageBytes - 64);
    c.setChannel(7, true);
    expect(c.takeDelivered()).to.have.length(firstRefused);
    expect(feeder.send(message(7, true, firstRefused, 60_000)).accepted).to.equal(true);
    expect(c.takeDelivered().length).to.be.above(10);
  });

  it('property: arbitrary frames from a hostile peer never throw and never pass the bounds', () => {
    const channel = fc.integer({ min: 0, max: 127 });
    const sequence = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffffffff }));
    const frameArb: fc.Arbitrary<Frame> = fc.oneof(
      fc.record({ type: fc.constant('message' as const), channelId: channel, reliable: fc.boolean(), sequence, data: fc.oneof(fc.uint8Array({ maxLength: 50 }), fc.integer({ min: 0, max: 70_000 }).map((n) => new Uint8Array(n))) }),
      fc
        .record({ channelId: channel, reliable: fc.boolean(), sequence, count: fc.oneof(fc.integer({ min: 2, max: 5 }), fc.integer({ min: 2, max: 10_000 })), index: fc.nat(), length: fc.oneof(fc.constant(200), fc.integer({ min: 1, max: 3000 })) })
        .map((r) => fragment(r.channelId, r.reliable, r.sequence, r.index % r.count, r.count, r.length)),
      fc.nat().map((ackDelay): Frame => ({ type: 'ack', ackDelay, ranges: [{ smallest: 0, largest: 0 }] })),
      fc.constant({ type: 'ping' as const }),
      fc.record({ type: fc.constant('close' as const), reason: fc.integer({ min: 0, max: 255 }) }),
    );
    const packetArb = fc.oneof(
      fc.array(frameArb, { minLength: 1, maxLength: 6 }).map((frames) => encodeFrames(frames)),
      fc.uint8Array({ maxLength: 200 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 3000 }), packetArb), { minLength: 1, maxLength: 60 }), fc.boolean(), (packets, openSome) => {
        const c = new ReliableConnection(config, 0);
        if (openSome) for (let ch = 0; ch < 128; ch += 3) c.setChannel(ch, ch % 2 === 0);
        let now = 0;
        for (const [packetNumber, payload] of packets) {
          now += 5;
          c.receive(packetNumber, payload, now);
          const stats = c.stats();
          expect(stats.reassemblyBytes).to.be.at.most(config.maxReassemblyBytes);
          expect(stats.heldBytes).to.be.at.most(config.maxHeldBytes);
          if (packetNumber % 7 === 0) c.takeDelivered();
          if (packetNumber % 5 === 0) c.poll(now);
        }
        c.poll(now + 1000);
      }),
      { numRuns: 300 },
    );
  });
});
