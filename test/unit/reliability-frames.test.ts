import { protocolVectors } from '../helpers/protocol-vectors';
import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_ACK_RANGE_PAIRS } from '../../plugin/net/reliability/constants';
import { decodeFrames, encodeFrames, frameSize, fitAckFrame, type AckRange, type Frame } from '../../plugin/net/reliability/frames';
import { fromHex, toHex } from '../../plugin/net/wire';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Expected contents of the vectors in PROTOCOL.md §7.3. */
const expectedVectors: Record<string, Frame[]> = {
  ping: [{ type: 'ping' }],
  close: [{ type: 'close', reason: 1 }],
  ack: [{ type: 'ack', ackDelay: 25, ranges: [{ smallest: 295, largest: 300 }, { smallest: 250, largest: 290 }] }],
  message: [{ type: 'message', channelId: 3, reliable: true, sequence: 5, data: text('hi') }],
  fragment: [{ type: 'fragment', channelId: 127, reliable: false, sequence: 200, fragmentIndex: 1, fragmentCount: 3, data: text('abc') }],
  packet: [
    { type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 9 }] },
    { type: 'message', channelId: 0, reliable: false, sequence: 0, data: text('A') },
    { type: 'message', channelId: 1, reliable: true, sequence: 4294967295, data: new Uint8Array(0) },
    { type: 'ping' },
  ],
  'message-run': [
    { type: 'message', channelId: 2, reliable: true, sequence: 4294967295, data: text('a') },
    { type: 'message', channelId: 2, reliable: true, sequence: 0, data: text('b') },
    { type: 'message', channelId: 2, reliable: true, sequence: 1, data: text('c') },
  ],
};

function readVectors(): Map<string, string> {
  const vectors = new Map<string, string>();
  for (const [name, hex] of protocolVectors()) if (name.startsWith('frame-')) vectors.set(name.slice('frame-'.length), hex);
  return vectors;
}

/** Frames with views turned into plain arrays, for deep comparison. */
function plain(frames: Frame[]): unknown[] {
  return frames.map((f) => ('data' in f ? { ...f, data: Array.from(f.data) } : f));
}

function decodeOrThrow(payload: Uint8Array): Frame[] {
  const decoded = decodeFrames(payload);
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.value;
}

const channelArb = fc.integer({ min: 0, max: 127 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const dataArb = fc.uint8Array({ maxLength: 300 });
const ackArb = fc
  .record({
    largest: u32,
    delay: u32,
    steps: fc.array(fc.record({ length: fc.integer({ min: 0, max: 5000 }), gap: fc.integer({ min: 0, max: 5000 }) }), { minLength: 1, maxLength: MAX_ACK_RANGE_PAIRS + 1 }),
  })
  .map(({ largest, delay, steps }) => {
    const ranges: AckRange[] = [];
    let top = largest;
    for (const step of steps) {
      const smallest = top - Math.min(step.length, top);
      ranges.push({ smallest, largest: top });
      if (smallest - step.gap - 2 < 0) break;
      top = smallest - step.gap - 2;
    }
    return { type: 'ack' as const, ackDelay: delay, ranges };
  });
const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  ackArb,
  fc.record({ type: fc.constant('message' as const), channelId: channelArb, reliable: fc.boolean(), sequence: u32, data: dataArb }),
  fc
    .record({ channelId: channelArb, reliable: fc.boolean(), sequence: u32, count: fc.integer({ min: 2, max: 100_000 }), index: fc.nat(), data: fc.uint8Array({ minLength: 1, maxLength: 300 }) })
    .map((r) => ({ type: 'fragment' as const, channelId: r.channelId, reliable: r.reliable, sequence: r.sequence, fragmentIndex: r.index % r.count, fragmentCount: r.count, data: r.data })),
  fc.constant({ type: 'ping' as const }),
  fc.record({ type: fc.constant('close' as const), reason: fc.integer({ min: 0, max: 255 }) }),
);

describe('reliability frames', () => {
  describe('test vectors in PROTOCOL.md §7.3', () => {
    const vectors = readVectors();

    it('lists every expected vector', () => {
      expect([...vectors.keys()].sort()).to.deep.equal(Object.keys(expectedVectors).sort());
    });

    for (const [name, frames] of Object.entries(expectedVectors)) {
      it(`vector ${name} decodes to its frames and they encode back to it`, () => {
        const hex = vectors.get(name);
        expect(hex, `vector ${name} in frames.md`).to.be.a('string');
        const bytes = fromHex(hex ?? '');
        expect(bytes).to.not.equal(null);
        expect(plain(decodeOrThrow(bytes as Uint8Array))).to.deep.equal(plain(frames));
        expect(toHex(encodeFrames(frames))).to.equal(toHex(bytes as Uint8Array));
      });
    }
  });

  it('round-trips any sequence of frames, and frameSize bounds the encoded size', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 8 }), (frames) => {
        const bytes = encodeFrames(frames);
        // MESSAGE_NEXT makes a run of one channel's messages shorter than frameSize says.
        expect(bytes.length).to.be.at.most(frames.reduce((n, f) => n + frameSize(f), 0));
        expect(plain(decodeOrThrow(bytes))).to.deep.equal(plain(frames));
      }),
      { numRuns: 300 },
    );
  });

  describe('refuses malformed payloads with a reason', () => {
    const cases: [string, string, RegExp][] = [
      ['empty payload', '', /no frames/],
      ['unknown type', '07', /unknown frame type 0x07/],
      ['MESSAGE_NEXT first in the packet', '06 00', /does not follow a MESSAGE/],
      ['MESSAGE_NEXT after a PING', '04 06 00', /does not follow a MESSAGE/],
      ['MESSAGE_NEXT after a FRAGMENT', '03 01 00 00 02 01 aa 06 00', /does not follow a MESSAGE/],
      ['truncated MESSAGE_NEXT data', '02 01 00 00 06 02 68', /message data/],
      ['type 0x00', '00', /unknown frame type 0x00/],
      ['truncated message data', '02 01 00 05 6869', /message data/],
      ['message length beyond the packet', '02 01 00 ffffffff0f 00', /message data/],
      ['overlong varint', '02 01 8000 00', /overlong/],
      ['varint of six bytes', '02 01 ffffffffff01 00', /longer than 5 bytes/],
      ['ack with 33 range pairs', '01 64 00 21 00', /range count 33 above 32/],
      ['ack first range below packet 0', '01 05 00 00 06', /below packet 0/],
      ['ack range below packet 0', '01 0a 00 01 00 08 01', /below packet 0/],
      ['truncated ack', '01 0a 00 01 00 08', /ack/],
      ['fragment count 1', '03 01 00 00 01 01 aa', /count 1 below 2/],
      ['fragment index = count', '03 01 00 02 02 01 aa', /index 2 not below count 2/],
      ['truncated close', '05', /close reason/],
      ['trailing garbage after a ping', '04 ff', /unknown frame type 0xff/],
    ];
    for (const [name, hex, reason] of cases) {
      it(name, () => {
        const decoded = decodeFrames(fromHex(hex) as Uint8Array);
        expect(decoded.ok).to.equal(false);
        if (!decoded.ok) expect(decoded.error).to.match(reason);
      });
    }
  });

  it('writes consecutive messages of one channel as MESSAGE_NEXT, and only those', () => {
    const m = (channelId: number, reliable: boolean, sequence: number): Frame => ({ type: 'message', channelId, reliable, sequence, data: text('x') });
    const hex = (frames: Frame[]) => toHex(encodeFrames(frames));
    expect(hex([m(1, true, 7), m(1, true, 8), m(1, true, 9)])).to.equal('02810701780601780601' + '78');
    expect(hex([m(1, true, 7), m(1, true, 9)])).to.equal('0281070178' + '0281090178'); // a gap in sequence
    expect(hex([m(1, true, 7), m(2, true, 8)])).to.equal('0281070178' + '0282080178'); // another channel
    expect(hex([m(1, true, 7), m(1, false, 8)])).to.equal('0281070178' + '0201080178'); // other reliability
    expect(hex([m(1, true, 7), { type: 'ping' }, m(1, true, 8)])).to.equal('0281070178' + '04' + '0281080178');
  });

  it('decoding random or mutated bytes never throws and keeps ACK ranges bounded', () => {
    const valid = fc.array(frameArb, { minLength: 1, maxLength: 4 }).map((frames) => encodeFrames(frames));
    const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat()).map(([bytes, edits, cut]) => {
      const copy = bytes.slice(0, bytes.length === 0 ? 0 : (cut % bytes.length) + 1);
      for (const [at, value] of edits) if (copy.length > 0) copy[at % copy.length] = value;
      return copy;
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 1500 }), mutated), (bytes) => {
        const decoded = decodeFrames(bytes);
        if (decoded.ok) {
          for (const frame of decoded.value) {
            if (frame.type === 'ack') expect(frame.ranges.length).to.be.at.most(MAX_ACK_RANGE_PAIRS + 1);
            if (frame.type === 'fragment') expect(frame.fragmentIndex).to.be.below(frame.fragmentCount);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('fitAckFrame keeps the newest ranges that fit the budget', () => {
    const ranges: AckRange[] = [];
    for (let i = 0; i < 40; i++) ranges.push({ smallest: 100_000 - i * 1000 - 10, largest: 100_000 - i * 1000 });
    const full = { type: 'ack' as const, ackDelay: 3, ranges };
    const capped = fitAckFrame(full, 10_000);
    expect(capped?.ranges.length).to.equal(MAX_ACK_RANGE_PAIRS + 1);
    const small = fitAckFrame(full, 40);
    expect(small).to.not.equal(null);
    expect(frameSize(small as Frame)).to.be.at.most(40);
    expect(small?.ranges[0]).to.deep.equal(ranges[0]);
    expect(fitAckFrame(full, 5)).to.equal(null);
  });
});
