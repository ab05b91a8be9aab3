import { expect } from 'chai';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { formatPeerId, Identity, parsePeerId, peerIdFromPublicKey } from '../../plugin/net/identity';
import { fromHex, toHex } from '../../plugin/net/wire';

// RFC 7748 §6.1 key pairs.
const ALICE_SECRET = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const ALICE_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const BOB_SECRET = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb';
const BOB_PUBLIC = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
// u64 of the first 8 bytes of SHA-256("switchboard/peer-id/v1" ‖ ALICE_PUBLIC).
const ALICE_PEER_ID = 0x9879af44d272cc7fn; // 10987005476070411391

const hex = (text: string) => fromHex(text)!;

describe('identity', () => {
  it('derives the RFC 7748 public keys and shared secret', () => {
    const alice = Identity.fromSecretKey(hex(ALICE_SECRET));
    const bob = Identity.fromSecretKey(hex(BOB_SECRET));
    expect(toHex(alice.publicKey)).to.equal(ALICE_PUBLIC);
    expect(toHex(bob.publicKey)).to.equal(BOB_PUBLIC);
    expect(toHex(alice.sharedSecret(bob.publicKey))).to.equal(SHARED);
    expect(toHex(bob.sharedSecret(alice.publicKey))).to.equal(SHARED);
  });

  it('peer id known vector: u64 of SHA-256("switchboard/peer-id/v1" ‖ key)[0..8]', () => {
    const alice = Identity.fromSecretKey(hex(ALICE_SECRET));
    expect(alice.peerId).to.equal(ALICE_PEER_ID);
    expect(formatPeerId(alice.peerId)).to.equal('10987005476070411391');
    expect(peerIdFromPublicKey(hex(ALICE_PUBLIC))).to.equal(ALICE_PEER_ID);
  });

  it('peer id matches an independent SHA-256 (node:crypto) for any key, and is never 0 (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        const digest = createHash('sha256').update('switchboard/peer-id/v1').update(key).digest();
        const expected = digest.readBigUInt64BE(0);
        expect(peerIdFromPublicKey(key)).to.equal(expected === 0n ? 1n : expected);
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it('generate() gives distinct identities; the secret key round-trips and is copied', () => {
    const a = Identity.generate();
    const b = Identity.generate();
    expect(toHex(a.publicKey)).to.not.equal(toHex(b.publicKey));
    const secret = a.exportSecretKey();
    const again = Identity.fromSecretKey(secret);
    expect(toHex(again.publicKey)).to.equal(toHex(a.publicKey));
    expect(again.peerId).to.equal(a.peerId);
    secret.fill(0);
    expect(toHex(again.exportSecretKey())).to.equal(toHex(a.exportSecretKey()));
  });

  it('the secret key is not reachable as a property', () => {
    const alice = Identity.fromSecretKey(hex(ALICE_SECRET));
    const visible = JSON.stringify(alice, (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? toHex(v) : v));
    expect(visible).to.not.include(ALICE_SECRET);
    expect(Object.values(alice).some((v) => v instanceof Uint8Array && toHex(v) === ALICE_SECRET)).to.equal(false);
  });

  it('fromSecretKey refuses a wrong length or type with a clear error', () => {
    expect(() => Identity.fromSecretKey(new Uint8Array(31))).to.throw(RangeError, /32 bytes, got 31/);
    expect(() => Identity.fromSecretKey(new Uint8Array(33))).to.throw(RangeError, /32 bytes, got 33/);
    expect(() => Identity.fromSecretKey('abc' as unknown as Uint8Array)).to.throw(TypeError, /Uint8Array/);
  });

  it('sharedSecret refuses low-order and wrong-length keys with a clear error', () => {
    const alice = Identity.fromSecretKey(hex(ALICE_SECRET));
    expect(() => alice.sharedSecret(new Uint8Array(32))).to.throw(/low-order/);
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(() => alice.sharedSecret(one)).to.throw(/low-order/);
    expect(() => alice.sharedSecret(new Uint8Array(16))).to.throw(/32 bytes/);
  });

  it('parsePeerId accepts canonical uint64 decimals only', () => {
    expect(parsePeerId('1')).to.equal(1n);
    expect(parsePeerId('10987005476070411391')).to.equal(ALICE_PEER_ID);
    expect(parsePeerId('18446744073709551615')).to.equal(0xffff_ffff_ffff_ffffn);
    for (const bad of ['', '0', '00', '01', '-1', '+1', ' 1', '1 ', '1e3', '0x10', '1.0', '18446744073709551616',
      '99999999999999999999', '123456789012345678901', '１２', '12a', 'NaN']) {
      expect(parsePeerId(bad), JSON.stringify(bad)).to.equal(null);
    }
    expect(parsePeerId(12 as unknown as string)).to.equal(null);
    expect(parsePeerId(undefined as unknown as string)).to.equal(null);
  });

  it('parsePeerId inverts formatPeerId for every uint64 above 0 (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 0xffff_ffff_ffff_ffffn }), (id) => {
        expect(parsePeerId(formatPeerId(id))).to.equal(id);
      }),
      { seed: 8, numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const parsed = parsePeerId(text);
        if (parsed !== null) expect(formatPeerId(parsed)).to.equal(text);
      }),
      { seed: 9, numRuns: 500 },
    );
  });
});
