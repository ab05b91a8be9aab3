import { expect } from 'chai';
import fc from 'fast-check';
import { ByteReader, ByteWriter, fromBase64, fromHex, toBase64, toHex, varintSize } from '../../plugin/net/wire';

describe('wire: ByteReader / ByteWriter', () => {
  it('round-trips fixed-width integers and varints', () => {
    const w = new ByteWriter(4);
    w.u8(0xab).u16(0xbeef).u32(0xdeadbeef).u64(0x0123456789abcdefn).varint(0).varint(127).varint(128).varint(0xffffffff);
    const r = new ByteReader(w.toBytes());
    expect(r.u8()).to.equal(0xab);
    expect(r.u16()).to.equal(0xbeef);
    expect(r.u32()).to.equal(0xdeadbeef);
    expect(r.u64()).to.equal(0x0123456789abcdefn);
    expect([r.varint(), r.varint(), r.varint(), r.varint()]).to.deep.equal([0, 127, 128, 0xffffffff]);
    expect(r.failed).to.equal(false);
    expect(r.remaining).to.equal(0);
  });

  it('encodes varints as canonical LEB128 with the documented sizes', () => {
    expect(toHex(new ByteWriter().varint(300).toBytes())).to.equal('ac02');
    for (const v of [0, 127, 128, 16383, 16384, 2097151, 2097152, 268435455, 268435456, 0xffffffff]) {
      expect(new ByteWriter().varint(v).length, `size of ${v}`).to.equal(varintSize(v));
    }
  });

  it('refuses overlong, too long and too large varints without throwing', () => {
    expect(new ByteReader(fromHex('8000')!).varint()).to.equal(0);
    const overlong = new ByteReader(fromHex('8000')!);
    overlong.varint();
    expect(overlong.error).to.match(/overlong/);
    const tooLong = new ByteReader(fromHex('ffffffffff01')!);
    tooLong.varint();
    expect(tooLong.error).to.match(/longer than 5/);
    const tooLarge = new ByteReader(fromHex('ffffffff1f')!);
    tooLarge.varint();
    expect(tooLarge.error).to.match(/above 2\^32/);
  });

  it('reads one-byte and longer varints the same way at every border (end of input, after a failure, 2^53 − 1)', () => {
    const r = new ByteReader(fromHex('7f8001ffffffffffffff0f00')!, 0, 6);
    expect(r.varint()).to.equal(127);
    expect(r.varint()).to.equal(128);
    expect(r.position).to.equal(3);
    // A varint cut by the reader's end fails naming it, with nothing read past the end.
    expect(r.varint53('ack largest')).to.equal(0);
    expect(r.error).to.equal('ack largest: needs 1 byte(s), 0 left');
    expect(r.position).to.equal(6);
    // After a failure even a one-byte varint reads as 0 and moves nothing.
    const failed = new ByteReader(fromHex('0105')!);
    failed.fail('earlier');
    expect(failed.varint()).to.equal(0);
    expect(failed.position).to.equal(0);
    expect(new ByteReader(fromHex('ffffffffffffff0f')!).varint53()).to.equal(Number.MAX_SAFE_INTEGER);
    expect(new ByteReader(new Uint8Array(0)).varint()).to.equal(0);
  });

  it('never reads past the end and keeps the first failure', () => {
    const r = new ByteReader(new Uint8Array([1, 2, 3]));
    expect(r.u32('header')).to.equal(0);
    expect(r.error).to.equal('header: needs 4 byte(s), 3 left');
    expect(r.u8()).to.equal(0);
    expect(r.error).to.equal('header: needs 4 byte(s), 3 left');
    expect(r.bytesView(1_000_000_000).length).to.equal(0);
  });

  it('does not throw on any input (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 20 }), (bytes, ops) => {
        const r = new ByteReader(bytes);
        for (const op of ops) {
          if (op === 0) r.u8();
          else if (op === 1) r.u16();
          else if (op === 2) r.u32();
          else if (op === 3) r.u64();
          else if (op === 4) r.varint();
          else r.bytesView(r.u8());
        }
        expect(r.position).to.be.at.most(bytes.length);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('writer throws a RangeError naming the value for out-of-range input', () => {
    expect(() => new ByteWriter().u32(-1)).to.throw(RangeError, /u32 out of range: -1/);
    expect(() => new ByteWriter().varint(2 ** 32)).to.throw(RangeError, /varint/);
    expect(() => new ByteWriter(4, 8).bytes(new Uint8Array(9))).to.throw(RangeError, /capacity of 8/);
  });
});

describe('wire: base64 and hex', () => {
  it('matches the standard encoding (property against Buffer)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = toBase64(bytes);
        expect(text).to.equal(Buffer.from(bytes).toString('base64'));
        if (bytes.length > 0) expect(fromBase64(text)).to.deep.equal(bytes);
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('refuses non-standard or non-canonical base64', () => {
    for (const bad of ['', 'abc', 'ab-_', 'YQ', 'YR==', 'YWJ=', '====', 'Y===', 'YW Jj', 'éééé']) {
      expect(fromBase64(bad), JSON.stringify(bad)).to.equal(null);
    }
    expect(fromBase64('YQ==')).to.deep.equal(new Uint8Array([0x61]));
  });

  it('parses hex with spaces and refuses the rest', () => {
    expect(fromHex('01 ff')).to.deep.equal(new Uint8Array([1, 255]));
    expect(fromHex('0')).to.equal(null);
    expect(fromHex('zz')).to.equal(null);
  });
});
