/**
 * Flow of the reliability engine in virtual time: packing, acks, keepalive and timeout, backpressure,
 * holding until both ends opened a channel, pacing and congestion control, probes.
 */
import { expect } from 'chai';
import {
  ReliableConnection,
  decodeFrames,
  defaultReliabilityConfig,
  encodeFrames,
  type DeliveredMessage,
  type Frame,
  type OutgoingPacket,
  type ReliabilityConfig,
} from '../../plugin/net/reliability';
import { PACING_BURST_MS, PACING_BURST_PACKETS } from '../../plugin/net/reliability/constants';
import { SimulatedPair } from '../../plugin/net/reliability/simulation';
import { Result } from '../../plugin/net/result';

const STEP_MS = 10;
const P = defaultReliabilityConfig.maxPacketBytes;

function framesOf(packet: OutgoingPacket): Frame[] {
  const decoded = decodeFrames(packet.payload);
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.value;
}

function types(packets: readonly OutgoingPacket[]): string[][] {
  return packets.map((p) => framesOf(p).map((f) => f.type));
}

function bytes(n: number, fill = 1): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

function config(overrides: Partial<ReliabilityConfig>): ReliabilityConfig {
  return { ...defaultReliabilityConfig, ...overrides };
}

describe('reliability flow (virtual time)', () => {
  describe('packing', () => {
    it('each packet comes in its own datagram range, never reused, with the room asked for around the same frames', () => {
      const plain = new ReliableConnection(defaultReliabilityConfig, 0);
      const roomy = new ReliableConnection(defaultReliabilityConfig, 0, { datagramHeadroomBytes: 15, datagramTailroomBytes: 16 });
      for (const c of [plain, roomy]) {
        for (let i = 0; i < 40; i++) expect(c.send(i % 2, i % 3 === 0, bytes(100, i))).to.equal(Result.Ok);
      }
      const a = plain.poll(1);
      const b = roomy.poll(1);
      expect(b.map((p) => p.packetNumber)).to.deep.equal(a.map((p) => p.packetNumber));
      expect(b.length).to.be.greaterThan(1);
      for (let i = 0; i < a.length; i++) {
        expect(b[i].payload).to.deep.equal(a[i].payload);
        expect(b[i].datagram.length).to.equal(15 + a[i].payload.length + 16);
        expect(b[i].payload.buffer).to.equal(b[i].datagram.buffer);
        expect(b[i].payload.byteOffset - b[i].datagram.byteOffset).to.equal(15);
      }
      // Datagrams may be cut from one slab, but no two overlap, and later polls never write over
      // one handed out earlier (a socket may still hold it).
      const ranges = [...a, ...b].map((p) => ({ buffer: p.datagram.buffer, start: p.datagram.byteOffset, end: p.datagram.byteOffset + p.datagram.length }));
      for (let i = 0; i < ranges.length; i++) {
        for (let j = i + 1; j < ranges.length; j++) {
          const overlap = ranges[i].buffer === ranges[j].buffer && ranges[i].start < ranges[j].end && ranges[j].start < ranges[i].end;
          expect(overlap, `datagrams ${i} and ${j} overlap`).to.equal(false);
        }
      }
      const before = b.map((p) => p.datagram.slice());
      for (let round = 0; round < 200; round++) {
        for (let i = 0; i < 5; i++) expect(roomy.send(0, false, bytes(300, round + i))).to.equal(Result.Ok);
        roomy.poll(2 + round);
      }
      b.forEach((p, i) => expect(p.datagram, `datagram ${i} after later polls`).to.deep.equal(before[i]));
      expect(() => new ReliableConnection(defaultReliabilityConfig, 0, { datagramHeadroomBytes: -1 })).to.throw(RangeError, 'datagramHeadroomBytes');
    });

    it('delivered whole messages are views of the packet they came in (handed over at receive), side by side, not overlapping', () => {
      const a = new ReliableConnection(defaultReliabilityConfig, 0);
      const b = new ReliableConnection(defaultReliabilityConfig, 0);
      b.setChannel(1, true);
      b.setChannel(2, false);
      const sizes = [10, 64, 65, 200, 3, 100];
      sizes.forEach((n, i) => expect(a.send(i % 2 === 0 ? 1 : 2, i % 2 === 0, bytes(n, i + 1))).to.equal(Result.Ok));
      const packets = a.poll(1);
      expect(packets).to.have.length(1);
      const payload = packets[0].payload;
      expect(b.receive(packets[0].packetNumber, payload, 2)).to.deep.equal({ accepted: true });
      const got = b.takeDelivered();
      const bySize = new Map(got.map((m) => [m.data.length, m.data]));
      expect([...bySize.keys()].sort((x, y) => x - y)).to.deep.equal([...sizes].sort((x, y) => x - y));
      sizes.forEach((n, i) => expect(bySize.get(n), `${n} bytes`).to.deep.equal(bytes(n, i + 1)));
      // No copy: every message is a view into the packet's own buffer, inside its payload.
      for (const data of bySize.values()) {
        expect(data.buffer).to.equal(payload.buffer);
        expect(data.byteOffset).to.be.at.least(payload.byteOffset);
        expect(data.byteOffset + data.length).to.be.at.most(payload.byteOffset + payload.length);
      }
      // Not views of each other: writing one changes no other message.
      bySize.get(65)!.fill(0xee);
      sizes.forEach((n, i) => {
        if (n !== 65) expect(bySize.get(n), `${n} bytes after writing the 65-byte one`).to.deep.equal(bytes(n, i + 1));
      });
    });

    it('messages are copied at send, and copies cut from shared memory stay intact until delivered, through loss', () => {
      const a = new ReliableConnection(defaultReliabilityConfig, 0);
      const b = new ReliableConnection(defaultReliabilityConfig, 0);
      b.setChannel(1, true);
      b.setChannel(2, false);
      // One source buffer, rewritten after every send, as a game reuses its snapshot buffer.
      const source = new Uint8Array(4000);
      let seed = 12345;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed % n;
      };
      const sizes = [1, 64, 65, 200, 1023, 1024, 1025, 3000];
      const expectedReliable: Uint8Array[] = [];
      const gotReliable: Uint8Array[] = [];
      for (let round = 0; round < 120; round++) {
        const now = 1 + round * 20;
        const expectedUnreliable: Uint8Array[] = [];
        // Some rounds send nothing (a peer that pauses lets its staging memory go); the last 40 only drain.
        const count = round >= 80 || round % 7 === 3 || round % 7 === 4 ? 0 : 1 + random(12);
        for (let i = 0; i < count; i++) {
          const size = sizes[random(sizes.length)];
          const reliable = random(2) === 0;
          for (let k = 0; k < size; k++) source[k] = random(256);
          expect(a.send(reliable ? 1 : 2, reliable, source.subarray(0, size))).to.equal(Result.Ok);
          (reliable ? expectedReliable : expectedUnreliable).push(source.slice(0, size));
          source.fill(0xaa); // what a copy that aliased the caller's buffer would now read
        }
        // One packet in five is lost, so reliable copies must survive resends.
        for (const packet of a.poll(now)) {
          if (random(5) === 0) continue;
          expect(b.receive(packet.packetNumber, packet.payload, now)).to.deep.equal({ accepted: true });
        }
        for (const packet of b.poll(now)) a.receive(packet.packetNumber, packet.payload, now);
        const got = b.takeDelivered();
        gotReliable.push(...got.filter((m) => m.reliable).map((m) => m.data));
        const unreliable = got.filter((m) => !m.reliable).map((m) => m.data);
        // A lost packet loses its unreliable messages; every one that arrives is intact.
        for (const data of unreliable) expect(expectedUnreliable.some((e) => e.length === data.length && e.every((v, k) => v === data[k])), `round ${round}`).to.equal(true);
      }
      expect(gotReliable).to.deep.equal(expectedReliable);
      expect(a.stats().pendingReliableBytes).to.equal(0);
    });

    it('small messages of one poll share one packet', () => {
      const a = new ReliableConnection(defaultReliabilityConfig, 0);
      for (let i = 0; i < 50; i++) expect(a.send(i % 3, i % 2 === 0, bytes(10, i))).to.equal(Result.Ok);
      const packets = a.poll(1);
      expect(packets).to.have.length(1);
      expect(framesOf(packets[0]).filter((f) => f.type === 'message')).to.have.length(50);
      expect(packets[0].packetNumber).to.equal(0);
      expect(a.nextPacketNumber()).to.equal(1);
    });

    it('fills packets up to maxPacketBytes and never past it', () => {
      const a = new ReliableConnection(config({ maxPacketBytes: 600 }), 0);
      for (let i = 0; i < 60; i++) a.send(1, true, bytes(90 + (i % 7) * 10));
      const packets = a.poll(1);
      const total = packets.reduce((n, p) => n + p.payload.length, 0);
      for (const p of packets) expect(p.payload.length).to.be.at.most(600);
      // Greedy packing in order wastes less than one largest frame per packet.
      expect(packets.length).to.be.at.most(Math.ceil(total / (600 - 160)));
      expect(packets.map((p) => p.packetNumber)).to.deep.equal(packets.map((_, i) => i));
    });

    it('fragments a message larger than a packet; each fragment fills its packet', () => {
      const a = new ReliableConnection(defaultReliabilityConfig, 0);
      a.send(0, true, bytes(3 * P));
      const packets = a.poll(1);
      expect(packets).to.have.length(4);
      const fragments = packets.flatMap(framesOf).filter((f) => f.type === 'fragment');
      expect(fragments.map((f) => (f.type === 'fragment' ? [f.fragmentIndex, f.fragmentCount, f.data.length] : []))).to.deep.equal([
        [0, 4, P - 20],
        [1, 4, P - 20],
        [2, 4, P - 20],
        [3, 4, 3 * P - 3 * (P - 20)],
      ]);
    });
    it('takes the channels with data in turn, one chunk each, wrapping past 127; drained channels drop out', () => {
      const a = new ReliableConnection(config({ maxPacketBytes: 600 }), 0);
      // Two fragments (two chunks) on 127 and 3, one message on 64: 127 is queued first.
      a.send(127, true, bytes(900, 127));
      a.send(3, true, bytes(900, 3));
      a.send(64, true, bytes(100, 64));
      const order = a
        .poll(1)
        .flatMap(framesOf)
        .flatMap((f) => (f.type === 'message' || f.type === 'fragment' ? [f.channelId] : []));
      expect(order).to.deep.equal([3, 64, 127, 3, 127]);
      a.send(5, true, bytes(10, 5));
      const next = a.poll(2).flatMap(framesOf).filter((f) => f.type === 'message');
      expect(next.map((f) => (f.type === 'message' ? f.channelId : -1))).to.deep.equal([5]);
    });
  });

  describe('acks', () => {
    it('acks every ack-eliciting packet in the next poll, and never an ack-only packet', () => {
      const a = new ReliableConnection(defaultReliabilityConfig, 0);
      const b = new ReliableConnection(defaultReliabilityConfig, 0);
      a.send(0, true, bytes(5));
      const [data] = a.poll(1);
      expect(b.receive(data.packetNumber, data.payload, 2)).to.deep.equal({ accepted: true });
      const [ackPacket, ...rest] = b.poll(3);
      expect(rest).to.deep.equal([]);
      const ack = framesOf(ackPacket)[0];
      expect(ack).to.deep.include({ type: 'ack', ackDelay: 10 }); // 1 ms = 10 units of 100 µs
      expect(ack.type === 'ack' && ack.ranges).to.deep.equal([{ smallest: 0, largest: 0 }]);
      expect(types([ackPacket])).to.deep.equal([['ack']]);
      expect(a.receive(ackPacket.packetNumber, ackPacket.payload, 4)).to.deep.equal({ accepted: true });
      expect(a.poll(5), 'an ack-only packet is not acked').to.deep.equal([]);
      expect(a.stats().pendingReliableBytes).to.equal(0);
      expect(a.stats().rttMs).to.be.within(2, 4);
    });

    it('two senders blocked on their windows do not trade ack-only packets forever', () => {
      // Tiny receive budget: the second message may not start before the first is acknowledged.
      const cfg = config({ maxReliableMessageBytes: 1000, maxUnreliableMessageBytes: 1000, maxReassemblyBytes: 2128 });
      const a = new ReliableConnection(cfg, 0);
      const b = new ReliableConnection(cfg, 0);
      for (const c of [a, b]) {
        c.setChannel(1, true);
        c.send(1, true, bytes(900));
        c.send(1, true, bytes(900));
        expect(types(c.poll(0))).to.deep.equal([['message']]); // lost
      }
      b.queuePing();
      const ackOnly: string[] = [];
      const carry = (from: string, packets: readonly OutgoingPacket[], to: ReliableConnection, t: number) => {
        for (const p of packets) {
          const kinds = framesOf(p).map((f) => f.type);
          if (kinds.includes('message')) continue; // data keeps being lost
          if (kinds.every((k) => k === 'ack')) ackOnly.push(`${from}@${t}`);
          to.receive(p.packetNumber, p.payload, t);
        }
      };
      for (let t = 1; t <= 200; t++) {
        const fromA = a.poll(t);
        const fromB = b.poll(t);
        carry('a', fromA, b, t);
        carry('b', fromB, a, t);
      }
      // a acks b's PING; b has nothing owed to it, so it does not answer that ack.
      expect(ackOnly).to.deep.equal(['a@2']);
    });

    it('reports received packets as descending ranges with the gaps left by loss', () => {
      const a = new ReliableConnection(defaultReliabilityConfig, 0);
      const b = new ReliableConnection(defaultReliabilityConfig, 0);
      const packets: OutgoingPacket[] = [];
      for (let i = 0; i < 8; i++) {
        a.queuePing();
        packets.push(...a.poll(i));
      }
      for (const p of packets) if (![2, 3, 5].includes(p.packetNumber)) b.receive(p.packetNumber, p.payload, 10);
      const ack = framesOf(b.poll(11)[0])[0];
      expect(ack.type === 'ack' && ack.ranges).to.deep.equal([
        { smallest: 6, largest: 7 },
        { smallest: 4, largest: 4 },
        { smallest: 0, largest: 1 },
      ]);
    });
  });

  describe('keepalive and timeout', () => {
    it('sends a PING after keepaliveMs without sending; an idle pair never times out', () => {
      const pair = new SimulatedPair({ seed: 1, aToB: { latencyMs: 20 }, bToA: { latencyMs: 20 } });
      const sent: { side: string; now: number; kinds: string[][] }[] = [];
      pair.onPoll = (side, packets, now) => {
        if (packets.length > 0) sent.push({ side, now, kinds: types(packets) });
      };
      for (let i = 0; i < 3000; i++) {
        pair.step(STEP_MS);
        expect(pair.a.isTimedOut(pair.now)).to.equal(false);
        expect(pair.b.isTimedOut(pair.now)).to.equal(false);
      }
      const first = sent[0];
      expect(first.now).to.equal(defaultReliabilityConfig.keepaliveMs);
      expect(first.kinds).to.deep.equal([['ping']]);
      // About one PING a second per side (each side also acks the other's), over 30 s.
      for (const side of ['a', 'b']) {
        const pings = sent.filter((s) => s.side === side && s.kinds.flat().includes('ping')).length;
        expect(pings, `PINGs from ${side}`).to.be.within(14, 31);
      }
    });

    it('times out after timeoutMs without receiving, not before', () => {
      const pair = new SimulatedPair({ seed: 1, aToB: { latencyMs: 20 }, bToA: { latencyMs: 20 } });
      pair.runUntil(() => pair.now >= 2000, STEP_MS, 1000);
      pair.dropFilter = () => true;
      const last = pair.a.lastReceiveTime();
      expect(last).to.be.above(0);
      pair.runUntil(() => pair.now >= last + defaultReliabilityConfig.timeoutMs - STEP_MS, STEP_MS, 2000);
      expect(pair.a.isTimedOut(pair.now)).to.equal(false);
      pair.step(STEP_MS);
      expect(pair.a.isTimedOut(pair.now)).to.equal(true);
      expect(pair.a.lastReceiveTime()).to.equal(last);
    });

    it('queuePing forces an ack-eliciting packet; queueClose sends CLOSE and the peer sees remoteClosed', () => {
      const a = new ReliableConnection(defaultReliabilityConfig, 0);
      const b = new ReliableConnection(defaultReliabilityConfig, 0);
      expect(a.poll(1)).to.deep.equal([]);
      a.queuePing();
      const pings = a.poll(2);
      expect(types(pings)).to.deep.equal([['ping']]);
      expect(a.poll(3)).to.deep.equal([]);
      a.queueClose(7);
      const [close] = a.poll(4);
      expect(framesOf(close)).to.deep.equal([{ type: 'close', reason: 7 }]);
      expect(b.remoteClosed).to.equal(false);
      expect(b.receive(close.packetNumber, close.payload, 5)).to.deep.equal({ accepted: true });
      expect(b.remoteClosed).to.equal(true);
      expect(b.poll(6), 'CLOSE does not elicit an ack').to.deep.equal([]);
    });

    it('closePacket builds an ACK + CLOSE packet with a fresh packet number', () => {
      const a = new ReliableConnection(defaultReliabilityConfig, 0);
      const b = new ReliableConnection(defaultReliabilityConfig, 0);
      b.queuePing();
      const [ping] = b.poll(1);
      a.receive(ping.packetNumber, ping.payload, 2);
      const first = a.closePacket(0, 3)!;
      const second = a.closePacket(0, 4)!;
      expect(second.packetNumber).to.equal(first.packetNumber + 1);
      expect(types([first])).to.deep.equal([['ack', 'close']]);
      expect(b.receive(first.packetNumber, first.payload, 5)).to.deep.equal({ accepted: true });
      expect(b.remoteClosed).to.equal(true);
    });
  });

  describe('backpressure', () => {
    it('a message refused for lack of room (or size) is not copied first', () => {
      const c = new ReliableConnection(config({ maxPendingReliableBytes: 10_000 }), 0);
      expect(c.send(1, true, bytes(9000))).to.equal(Result.Ok);
      // A copy is a slice or a set into a fresh array; count both, on the intrinsic prototype.
      const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as { slice: typeof Uint8Array.prototype.slice; set: typeof Uint8Array.prototype.set };
      const slice = typedArrayPrototype.slice;
      const set = typedArrayPrototype.set;
      let copies = 0;
      typedArrayPrototype.slice = function (this: Uint8Array, ...args: [number?, number?]) {
        copies++;
        return slice.apply(this, args);
      } as typeof slice;
      typedArrayPrototype.set = function (this: Uint8Array, ...args: [ArrayLike<number>, number?]) {
        copies++;
        return set.apply(this, args);
      } as typeof set;
      try {
        expect(c.send(1, true, bytes(64 * 1024))).to.equal(Result.InsufficientBuffer);
        expect(c.send(1, false, bytes(defaultReliabilityConfig.maxUnreliableMessageBytes + 1))).to.equal(Result.InvalidPayload);
        expect(copies).to.equal(0);
        expect(c.send(1, true, bytes(1000))).to.equal(Result.Ok);
        expect(copies).to.equal(1);
      } finally {
        typedArrayPrototype.slice = slice;
        typedArrayPrototype.set = set;
      }
    });

    it('refuses with InsufficientBuffer past maxPendingReliableBytes, queuing nothing, and accepts again once acked', () => {
      const cfg = config({ maxPendingReliableBytes: 10_000 });
      const pair = new SimulatedPair({ seed: 4, config: cfg, aToB: { latencyMs: 10, lossRate: 0.2 }, bToA: { latencyMs: 10 } });
      pair.b.setChannel(2, true);
      expect(pair.a.send(2, true, bytes(4000, 1))).to.equal(Result.Ok);
      expect(pair.a.send(2, true, bytes(4000, 2))).to.equal(Result.Ok);
      expect(pair.a.send(2, true, bytes(4000, 3))).to.equal(Result.InsufficientBuffer);
      expect(pair.a.stats().pendingReliableBytes).to.equal(8000);
      expect(pair.a.send(2, true, bytes(2000, 4))).to.equal(Result.Ok);
      expect(pair.a.send(2, true, bytes(1, 5))).to.equal(Result.InsufficientBuffer);
      expect(pair.a.send(2, false, bytes(1000, 6)), 'unreliable is not counted as pending').to.equal(Result.Ok);
      const got: DeliveredMessage[] = [];
      expect(pair.runUntil(() => (got.push(...pair.b.takeDelivered()), pair.a.stats().pendingReliableBytes === 0), STEP_MS, 5000)).to.equal(true);
      expect(got.map((m) => [m.data.length, m.data[0]])).to.deep.equal([
        [4000, 1],
        [4000, 2],
        [2000, 4],
      ]);
      expect(pair.a.send(2, true, bytes(10_000, 7))).to.equal(Result.Ok);
    });

    it('bounds the unreliable bytes queued between two polls', () => {
      const a = new ReliableConnection(defaultReliabilityConfig, 0, { maxQueuedUnreliableBytes: 100_000 });
      expect(a.send(3, false, bytes(60_000))).to.equal(Result.Ok);
      expect(a.send(3, false, bytes(60_000))).to.equal(Result.InsufficientBuffer);
      a.poll(1);
      expect(a.send(3, false, bytes(60_000))).to.equal(Result.Ok);
    });
  });

  describe('both ends open', () => {
    it('holds reliable messages until the channel is opened reliable, then delivers them in order; drops unreliable ones', () => {
      const pair = new SimulatedPair({ seed: 6, aToB: { latencyMs: 10, reorderRate: 0.3 }, bToA: { latencyMs: 10, lossRate: 0.2 } });
      for (let i = 0; i < 5; i++) {
        pair.a.send(3, true, bytes(1000 + i, i));
        pair.a.send(4, false, bytes(10, i));
        pair.a.send(6, true, bytes(10, i));
        pair.step(STEP_MS);
      }
      pair.b.setChannel(6, false); // opened, but unreliable: reliable messages for it are held too
      expect(pair.runUntil(() => pair.a.stats().pendingReliableBytes === 0, STEP_MS, 2000)).to.equal(true);
      expect(pair.b.takeDelivered()).to.deep.equal([]);
      expect(pair.b.stats().heldBytes).to.equal(5 * 1000 + 10 + 5 * 10);
      expect(pair.b.stats().droppedUnreliable).to.equal(5);
      pair.b.setChannel(3, true);
      expect(pair.b.takeDelivered().map((m) => [m.channelId, m.data.length, m.data[0]])).to.deep.equal([0, 1, 2, 3, 4].map((i) => [3, 1000 + i, i]));
      expect(pair.b.stats().heldBytes).to.equal(50);
      pair.b.setChannel(6, null);
      pair.b.setChannel(6, true);
      expect(pair.b.takeDelivered().map((m) => m.data[0])).to.deep.equal([0, 1, 2, 3, 4]);
      expect(pair.b.stats().heldBytes).to.equal(0);
      // Now open: delivered directly.
      pair.a.send(3, true, bytes(7, 9));
      const got: DeliveredMessage[] = [];
      pair.runUntil(() => (got.push(...pair.b.takeDelivered()), got.length === 1), STEP_MS, 100);
      expect(got[0].data.length).to.equal(7);
    });

    it('drops an unreliable message for a channel opened reliable', () => {
      const b = new ReliableConnection(defaultReliabilityConfig, 0);
      b.setChannel(9, true);
      const payload = encodeFrames([{ type: 'message', channelId: 9, reliable: false, sequence: 0, data: bytes(3) }]);
      expect(b.receive(0, payload, 1)).to.deep.equal({ accepted: true });
      expect(b.takeDelivered()).to.deep.equal([]);
      expect(b.stats().droppedUnreliable).to.equal(1);
    });

    it('past maxHeldBytes refuses packets (the sender resends), and loses nothing once the channel opens', () => {
      const cfg = config({ maxHeldBytes: 5000 });
      const pair = new SimulatedPair({ seed: 8, config: cfg, aToB: { latencyMs: 10 }, bToA: { latencyMs: 10 } });
      for (let i = 0; i < 20; i++) pair.a.send(3, true, bytes(1000, i));
      pair.runUntil(() => false, STEP_MS, 300);
      expect(pair.b.stats().heldBytes).to.be.at.most(5000);
      expect(pair.b.stats().heldBytes).to.be.at.least(3000);
      expect(pair.refused.some((r) => r.side === 'b' && /held bound/.test(r.reason))).to.equal(true);
      expect(pair.a.stats().pendingReliableBytes).to.be.above(0);
      expect(pair.b.isTimedOut(pair.now), 'refused-for-room packets still show the peer alive').to.equal(false);
      pair.b.setChannel(3, true);
      const got: DeliveredMessage[] = [];
      expect(pair.runUntil(() => (got.push(...pair.b.takeDelivered()), got.length >= 20), STEP_MS, 3000)).to.equal(true);
      expect(got.map((m) => m.data[0])).to.deep.equal([...Array(20).keys()]);
    });
  });

  describe('congestion control and pacing', () => {
    it('paces a 1 MiB send over many polls: no poll sends more than the burst allowance', () => {
      const pair = new SimulatedPair({ seed: 9, aToB: { latencyMs: 40 }, bToA: { latencyMs: 40 } });
      pair.b.setChannel(1, true);
      pair.a.send(1, true, bytes(1024 * 1024));
      const perPoll: number[] = [];
      pair.onPoll = (side, packets) => {
        if (side !== 'a') return;
        perPoll.push(packets.length);
        // The bucket holds max(10 packets, 25 ms at the pacing rate); the last frame may overshoot.
        const rate = pair.a.stats().pacingRateBytesPerSecond / 1000;
        const allowance = Math.ceil(Math.max(PACING_BURST_PACKETS * P, rate * PACING_BURST_MS) / P) + 1;
        expect(packets.length, `poll ${perPoll.length}`).to.be.at.most(allowance);
      };
      const got: DeliveredMessage[] = [];
      pair.runUntil(() => (got.push(...pair.b.takeDelivered()), got.length > 0), STEP_MS, 5000);
      expect(got).to.have.length(1);
      expect(perPoll[0]).to.be.at.most(PACING_BURST_PACKETS + 1);
      const busyPolls = perPoll.filter((n) => n > 0).length;
      expect(busyPolls).to.be.at.least(20);
      // Slow start opened the window well past its initial 10 packets on a clean path.
      expect(pair.a.stats().congestionWindowBytes).to.be.above(10 * P * 4);
      expect(pair.a.stats().rttMs).to.be.within(80, 110);
    });

    it('shrinks the window under heavy loss (20%: past the congestion threshold) and never below four packets', () => {
      const run = (lossRate: number) => {
        const pair = new SimulatedPair({ seed: 10, aToB: { latencyMs: 20, lossRate }, bToA: { latencyMs: 20 } });
        pair.b.setChannel(1, true);
        pair.a.send(1, true, bytes(300_000));
        let smallest = Infinity;
        pair.runUntil(() => {
          smallest = Math.min(smallest, pair.a.stats().congestionWindowBytes);
          return pair.a.stats().pendingReliableBytes === 0;
        }, STEP_MS, 20_000);
        return { window: pair.a.stats().congestionWindowBytes, smallest, stats: pair.a.stats() };
      };
      const clean = run(0);
      const lossy = run(0.2);
      expect(lossy.window).to.be.below(clean.window);
      expect(lossy.smallest).to.be.at.least(4 * P);
      expect(lossy.stats.resentPackets).to.be.above(0);
      expect(lossy.stats.lossRate).to.be.within(0.1, 0.3);
      expect(clean.stats.lossRate).to.equal(0);
      expect(clean.stats.resentPackets).to.equal(0);
    });

    it('sends unreliable messages in their own poll or never: the ones that do not fit are dropped and counted', () => {
      const pair = new SimulatedPair({ seed: 12, aToB: { latencyMs: 50 }, bToA: { latencyMs: 50 } });
      pair.b.setChannel(2, false);
      const queuedAtPoll = new Map<number, number>(); // sequence → poll index when queued
      let poll = 0;
      pair.onPoll = (side, packets) => {
        if (side !== 'a') return;
        for (const f of packets.flatMap(framesOf)) {
          if ((f.type === 'message' || f.type === 'fragment') && !f.reliable) {
            expect(queuedAtPoll.get(f.sequence), `unreliable ${f.sequence} sent in the poll it was queued for`).to.equal(poll);
          }
        }
        poll++;
      };
      for (let i = 0; i < 60; i++) {
        expect(pair.a.send(2, false, bytes(20_000, i))).to.equal(Result.Ok);
        queuedAtPoll.set(i, poll);
        pair.step(STEP_MS);
      }
      pair.runUntil(() => false, STEP_MS, 100);
      const dropped = pair.a.stats().droppedUnreliable;
      const delivered = pair.b.takeDelivered();
      expect(dropped).to.be.above(0);
      expect(delivered.length).to.be.above(0);
      expect(delivered.length + dropped).to.equal(60);
    });

    it('backs off probe timeouts while nothing gets through, and probes at once when the path changes', () => {
      // Keepalive out of the way: a PING is ack-eliciting and would restart the probe timer.
      const cfg = config({ keepaliveMs: 60_000, timeoutMs: 120_000 });
      const pair = new SimulatedPair({ seed: 13, config: cfg, aToB: { latencyMs: 10 }, bToA: { latencyMs: 10 } });
      pair.b.setChannel(1, true);
      pair.dropFilter = (side) => side === 'a';
      pair.a.send(1, true, bytes(100));
      const sendTimes: number[] = [];
      pair.onPoll = (side, packets, now) => {
        if (side === 'a' && packets.some((p) => framesOf(p).some((f) => f.type === 'message'))) sendTimes.push(now);
      };
      pair.runUntil(() => false, STEP_MS, 1500); // 15 s
      const gaps = sendTimes.slice(1).map((t, i) => t - sendTimes[i]);
      // 330 ms (srtt 100 + 4·50 + 25), then doubling, capped at 3 s.
      expect(gaps.slice(0, 4)).to.deep.equal([330, 650, 1300, 2600]);
      for (const gap of gaps.slice(4)) expect(gap).to.equal(3000);
      expect(pair.a.stats().resentPackets).to.equal(sendTimes.length - 1);
      expect(pair.a.stats().congestionWindowBytes, 'persistent congestion').to.equal(4 * P);
      // The relay path came back: probe now instead of waiting out the backed-off timer.
      pair.dropFilter = null;
      sendTimes.length = 0;
      pair.a.onPathChanged(pair.now);
      pair.step(STEP_MS);
      expect(sendTimes).to.have.length(1);
      const got: DeliveredMessage[] = [];
      expect(pair.runUntil(() => (got.push(...pair.b.takeDelivered()), got.length === 1), STEP_MS, 20)).to.equal(true);
    });
  });
});
