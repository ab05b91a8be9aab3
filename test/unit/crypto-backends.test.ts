/**
 * The production key path across backends (issue 16 item 8): ephemeral keys come from
 * `generateKeyPair` as shipped (no injected random source), one side runs on Node's crypto and the
 * other on @noble, and handshakes, rekeys and DATA must work both ways. The vector tests inject a
 * fixed random source, so they never reach this path.
 */
import { expect } from 'chai';
import { roleFor, SecureSession, type OpenResult } from '../../plugin/net/crypto';
import sodium from 'libsodium-wrappers';
import { cryptoBackendName, diffieHellman, ephemeralKeyPair, openPacket, sealPacket, secureRandom, useCryptoBackend, useLibsodium } from '../../plugin/net/crypto/primitives';
import { Identity } from '../../plugin/net/identity';

type Backend = ReturnType<typeof cryptoBackendName>;

/** Runs `fn` with `name` as the active backend, restoring the previous one after. */
function under<T>(name: Backend, fn: () => T): T {
  const previous = cryptoBackendName();
  if (!useCryptoBackend(name)) throw new Error(`backend ${name} is not available`);
  try {
    return fn();
  } finally {
    useCryptoBackend(previous);
  }
}

function expectOpened(result: OpenResult): Extract<OpenResult, { ok: true }> {
  expect(result.ok, `open failed: ${result.ok ? '' : result.reason}`).to.equal(true);
  return result as Extract<OpenResult, { ok: true }>;
}

describe('crypto: production key path across the Node, @noble and libsodium backends', () => {
  let previous: Backend;
  before(async function () {
    previous = cryptoBackendName();
    await sodium.ready;
    useLibsodium(sodium);
    if (!useCryptoBackend('node')) this.skip(); // Node's crypto without ChaCha20-Poly1305: nothing to cross
  });
  after(() => void useCryptoBackend(previous));

  it('generateKeyPair as shipped gives keys both backends agree on', () => {
    for (let i = 0; i < 20; i++) {
      const a = under('node', () => ephemeralKeyPair(secureRandom));
      const b = under('noble', () => ephemeralKeyPair(secureRandom));
      expect(a.secretKey.length).to.equal(32);
      expect(a.publicKey.length).to.equal(32);
      const viaNode = under('node', () => diffieHellman(a.secretKey, b.publicKey));
      const viaNoble = under('noble', () => diffieHellman(b.secretKey, a.publicKey));
      const fromNobleWithNodeKey = under('noble', () => diffieHellman(a.secretKey, b.publicKey));
      expect(viaNode).to.not.equal(null);
      expect(Buffer.from(viaNode!).toString('hex')).to.equal(Buffer.from(viaNoble!).toString('hex'));
      expect(Buffer.from(fromNobleWithNodeKey!).toString('hex')).to.equal(Buffer.from(viaNode!).toString('hex'));
    }
  });

  for (const [initiatorBackend, responderBackend] of [
    ['node', 'noble'],
    ['noble', 'node'],
    ['libsodium', 'node'],
    ['noble', 'libsodium'],
  ] as const) {
    it(`initiator on ${initiatorBackend}, responder on ${responderBackend}: handshakes, rekeys and DATA both ways`, () => {
      const x = Identity.generate();
      const y = Identity.generate();
      const [i, r] = x.peerId < y.peerId ? [x, y] : [y, x];
      let time = 1000;
      const clock = { now: () => time };
      // No `random`: the sessions draw their ephemeral keys exactly as a shipped build does.
      const initiator = new SecureSession({ identity: i, remotePublicKey: r.publicKey, role: roleFor(i.peerId, r.peerId), incarnation: 1n, clock, rekeyAfterMs: 5000 });
      const responder = new SecureSession({ identity: r, remotePublicKey: i.publicKey, role: roleFor(r.peerId, i.peerId), incarnation: 2n, clock, rekeyAfterMs: 5000 });
      expect(initiator.role).to.equal('initiator');
      const onI = <T>(fn: () => T) => under(initiatorBackend, fn);
      const onR = <T>(fn: () => T) => under(responderBackend, fn);
      const n = { i: 0, r: 0 };
      for (let round = 0; round < 3; round++) {
        const init = onI(() => initiator.pollHandshake(time));
        expect(init, `round ${round}: INIT`).to.not.equal(null);
        const reply = onR(() => responder.handleHandshake(init!, time));
        expect(reply.kind, `round ${round}: ${JSON.stringify(responder.stats().dropped)}`).to.equal('reply');
        if (reply.kind !== 'reply') return;
        const done = onI(() => initiator.handleHandshake(reply.packet, time));
        expect(done.kind, `round ${round}: ${JSON.stringify(initiator.stats().dropped)}`).to.equal('established');
        for (let k = 0; k < 5; k++) {
          const toR = onI(() => initiator.seal(n.i++, new TextEncoder().encode(`i${round}.${k}`)));
          const atR = expectOpened(onR(() => responder.open(toR)));
          atR.commit();
          expect(new TextDecoder().decode(atR.plaintext)).to.equal(`i${round}.${k}`);
          const toI = onR(() => responder.seal(n.r++, new TextEncoder().encode(`r${round}.${k}`)));
          const atI = expectOpened(onI(() => initiator.open(toI)));
          atI.commit();
          expect(new TextDecoder().decode(atI.plaintext)).to.equal(`r${round}.${k}`);
        }
        time += 6000; // past rekeyAfterMs: the next round is a rekey under fresh ephemeral keys
      }
      expect(initiator.stats().handshakesCompleted).to.equal(3);
      expect(responder.stats().handshakesCompleted).to.equal(3);
    });
  }
});

describe('crypto: useLibsodium', () => {
  let previous: Backend;
  beforeEach(async () => {
    previous = cryptoBackendName();
    await sodium.ready;
  });
  afterEach(() => void useCryptoBackend(previous));

  it('replaces Node\'s OpenSSL for packets (faster per packet) and keeps its X25519', () => {
    if (!useCryptoBackend('node')) return;
    const a = ephemeralKeyPair(secureRandom);
    const b = ephemeralKeyPair(secureRandom);
    const viaNode = diffieHellman(a.secretKey, b.publicKey);
    expect(useLibsodium(sodium)).to.equal('libsodium');
    expect(cryptoBackendName()).to.equal('libsodium');
    // The key exchange after the switch agrees with the one before it (same secret).
    expect(Buffer.from(diffieHellman(b.secretKey, a.publicKey)!).toString('hex')).to.equal(Buffer.from(viaNode!).toString('hex'));
    const key = new Uint8Array(32).fill(3);
    const nonce = new Uint8Array(12).fill(4);
    const aad = Uint8Array.of(3, 0, 0, 0, 0, 9);
    const plaintext = new TextEncoder().encode('same bytes as OpenSSL');
    const viaSodium = new Uint8Array(plaintext.length + 16);
    sealPacket(key, nonce, aad, plaintext, viaSodium);
    const viaOpenSsl = under('node', () => {
      const out = new Uint8Array(plaintext.length + 16);
      sealPacket(key, nonce, aad, plaintext, out);
      return out;
    });
    expect(Buffer.from(viaSodium).toString('hex')).to.equal(Buffer.from(viaOpenSsl).toString('hex'));
  });

  it('replaces noble (a browser\'s backend) and seals the same bytes', () => {
    useCryptoBackend('noble');
    const key = new Uint8Array(32).fill(9);
    const nonce = new Uint8Array(12).fill(1);
    const aad = Uint8Array.of(3, 1, 2, 3, 4, 5);
    const plaintext = new TextEncoder().encode('loot always gets there');
    const viaNoble = new Uint8Array(plaintext.length + 16);
    sealPacket(key, nonce, aad, plaintext, viaNoble);
    expect(useLibsodium(sodium)).to.equal('libsodium');
    expect(cryptoBackendName()).to.equal('libsodium');
    const viaSodium = new Uint8Array(plaintext.length + 16);
    sealPacket(key, nonce, aad, plaintext, viaSodium);
    expect(Buffer.from(viaSodium).toString('hex')).to.equal(Buffer.from(viaNoble).toString('hex'));
    // Sealed in place: the output overlaps the plaintext, as the DATA path does.
    const inPlace = new Uint8Array(plaintext.length + 16);
    inPlace.set(plaintext);
    sealPacket(key, nonce, aad, inPlace.subarray(0, plaintext.length), inPlace);
    expect(Buffer.from(inPlace).toString('hex')).to.equal(Buffer.from(viaNoble).toString('hex'));
    expect(new TextDecoder().decode(openPacket(key, nonce, aad, viaSodium)!)).to.equal('loot always gets there');
    viaSodium[3] ^= 1;
    expect(openPacket(key, nonce, aad, viaSodium)).to.equal(null);
  });

  it('refuses what is not a ready libsodium instance, naming what it expected', () => {
    useCryptoBackend('noble');
    expect(() => useLibsodium({})).to.throw(TypeError, /ready libsodium-wrappers instance/);
    expect(() => useLibsodium(null)).to.throw(TypeError, /await sodium.ready/);
    expect(cryptoBackendName()).to.equal('noble');
  });

  it('does not switch to an instance that seals differently from noble or accepts a forged tag', () => {
    useCryptoBackend('noble');
    const wrongBytes = {
      crypto_aead_chacha20poly1305_ietf_encrypt: (m: Uint8Array) => new Uint8Array(m.length + 16),
      crypto_aead_chacha20poly1305_ietf_decrypt: (_: null, c: Uint8Array) => c.subarray(0, c.length - 16),
    };
    expect(() => useLibsodium(wrongBytes)).to.throw(/sealed a test packet differently/);
    const acceptsForgeries = {
      crypto_aead_chacha20poly1305_ietf_encrypt: sodium.crypto_aead_chacha20poly1305_ietf_encrypt,
      crypto_aead_chacha20poly1305_ietf_decrypt: (_: null, c: Uint8Array, ad: Uint8Array | null, n: Uint8Array, k: Uint8Array) => {
        try {
          return sodium.crypto_aead_chacha20poly1305_ietf_decrypt(null, c, ad, n, k);
        } catch {
          return new Uint8Array(c.length - 16);
        }
      },
    };
    expect(() => useLibsodium(acceptsForgeries)).to.throw(/did not open a test packet as noble does/);
    expect(cryptoBackendName()).to.equal('noble');
  });
});
