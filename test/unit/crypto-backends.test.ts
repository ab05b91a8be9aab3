/**
 * The production key path across backends (issue 16 item 8): ephemeral keys come from
 * `generateKeyPair` as shipped (no injected random source), one side runs on Node's crypto and the
 * other on @noble, and handshakes, rekeys and DATA must work both ways. The vector tests inject a
 * fixed random source, so they never reach this path.
 */
import { expect } from 'chai';
import { roleFor, SecureSession, type OpenResult } from '../../plugin/net/crypto';
import { cryptoBackendName, diffieHellman, ephemeralKeyPair, secureRandom, useCryptoBackend } from '../../plugin/net/crypto/primitives';
import { Identity } from '../../plugin/net/identity';

type Backend = 'node' | 'noble';

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

describe('crypto: production key path across the Node and @noble backends', () => {
  let previous: Backend;
  before(function () {
    previous = cryptoBackendName();
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
