import { expect } from 'chai';
import fc from 'fast-check';
import { jsonCodec, structCodec } from '../../plugin/components/codecs';

describe('plugin message codecs', () => {
  describe('jsonCodec', () => {
    interface Chat {
      from: string;
      text: string;
    }
    const isChat = (v: unknown): v is Chat => typeof v === 'object' && v !== null && typeof (v as Chat).from === 'string' && typeof (v as Chat).text === 'string';

    it('round-trips a value through UTF-8 JSON', () => {
      const codec = jsonCodec(isChat);
      const bytes = codec.encode({ from: 'ana', text: 'olá 👋' });
      expect(codec.decode(bytes)).to.deep.equal({ ok: true, value: { from: 'ana', text: 'olá 👋' } });
    });

    it('returns errors for bad bytes, bad JSON and a refusing guard, never throws', () => {
      const codec = jsonCodec(isChat);
      expect(codec.decode(new Uint8Array([0xff, 0xfe]))).to.have.property('ok', false);
      expect(codec.decode(new TextEncoder().encode('{"from":'))).to.have.property('ok', false);
      const refused = codec.decode(new TextEncoder().encode('{"from":1}'));
      expect(refused.ok).to.equal(false);
      if (!refused.ok) expect(refused.error).to.contain('guard');
      fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(() => codec.decode(bytes)).to.not.throw();
      }), { seed: 5, numRuns: 300 });
    });

    it('bounds the size on both ends', () => {
      const codec = jsonCodec<string>(undefined, { maxBytes: 8 });
      expect(() => codec.encode('0123456789')).to.throw(RangeError, /maxBytes 8/);
      const decoded = codec.decode(new Uint8Array(9));
      expect(decoded.ok).to.equal(false);
      expect(() => jsonCodec<unknown>().encode(undefined)).to.throw(TypeError, /no JSON form/);
    });
  });

  describe('structCodec', () => {
    const player = structCodec({ x: 'f32', y: 'f32', id: 'u16' });

    it('encodes the schema in key order, big-endian, in a fixed size', () => {
      expect(player.byteLength).to.equal(10);
      expect(player.fields).to.deep.equal(['x', 'y', 'id']);
      const bytes = player.encode({ x: 1, y: -2, id: 0x1234 });
      expect(Array.from(bytes)).to.deep.equal([0x3f, 0x80, 0, 0, 0xc0, 0, 0, 0, 0x12, 0x34]);
      expect(player.decode(bytes)).to.deep.equal({ ok: true, value: { x: 1, y: -2, id: 0x1234 } });
    });

    it('round-trips every field type (property)', () => {
      const all = structCodec({ a: 'u8', b: 'u16', c: 'u32', d: 'u64', e: 'i8', f: 'i16', g: 'i32', h: 'f64', i: 'bool', j: 'f32' });
      fc.assert(
        fc.property(
          fc.record({
            a: fc.integer({ min: 0, max: 255 }),
            b: fc.integer({ min: 0, max: 0xffff }),
            c: fc.integer({ min: 0, max: 0xffffffff }),
            d: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
            e: fc.integer({ min: -128, max: 127 }),
            f: fc.integer({ min: -32768, max: 32767 }),
            g: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
            h: fc.double({ noNaN: true }),
            i: fc.boolean(),
            j: fc.float({ noNaN: true }),
          }),
          (value) => {
            const decoded = all.decode(all.encode(value));
            expect(decoded).to.deep.equal({ ok: true, value });
          },
        ),
        { seed: 11, numRuns: 300 },
      );
    });

    it('decodes a view into a larger buffer', () => {
      const bytes = player.encode({ x: 0.5, y: 0.25, id: 7 });
      const padded = new Uint8Array(20);
      padded.set(bytes, 5);
      expect(player.decode(padded.subarray(5, 15))).to.deep.equal({ ok: true, value: { x: 0.5, y: 0.25, id: 7 } });
    });

    it('refuses wrong lengths and bool bytes other than 0/1 with an error naming the problem', () => {
      expect(player.decode(new Uint8Array(9))).to.deep.equal({ ok: false, error: 'struct: expected 10 bytes, got 9' });
      const flag = structCodec({ alive: 'bool' });
      expect(flag.decode(new Uint8Array([2]))).to.deep.equal({ ok: false, error: `struct: field 'alive': expected a bool byte 0 or 1, got 2` });
    });

    it('throws on values out of range, naming the field', () => {
      expect(() => player.encode({ x: 0, y: 0, id: 70000 })).to.throw(RangeError, /field 'id': expected an integer 0\.\.65535 \(u16\), got 70000/);
      expect(() => player.encode({ x: 0, y: 0, id: 1.5 })).to.throw(RangeError, /field 'id'/);
      expect(() => player.encode({ x: 'a', y: 0, id: 1 } as unknown as { x: number; y: number; id: number })).to.throw(TypeError, /field 'x'/);
    });

    it('refuses a bad schema', () => {
      expect(() => structCodec({})).to.throw(TypeError, /1\.\.64 fields/);
      expect(() => structCodec({ x: 'f16' } as never)).to.throw(TypeError, /field 'x'/);
    });
  });
});
