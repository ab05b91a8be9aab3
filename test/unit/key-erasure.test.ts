/**
 * Key erasure (issue 16 item 4): secrets that are no longer needed are zeroed and nothing cached
 * keeps them usable. Erasure in JavaScript is best-effort (SECURITY.md); what these tests pin down
 * is what the code can do: no DH works with a zeroed key on either backend, replaced and disposed
 * session keys are zero, and the manager erases what it owned when it lets go.
 */
import { expect } from 'chai';
import { sha256 } from '@noble/hashes/sha2.js';
import { roleFor, SecureSession, type HandshakeOutcome, type OpenResult } from '../../plugin/net/crypto';
import {
  cryptoBackendName,
  diffieHellman,
  ephemeralKeyPair,
  eraseSecretKey,
  secureRandom,
  useCryptoBackend,
} from '../../plugin/net/crypto/primitives';
import { Identity } from '../../plugin/net/identity';
import { Result } from '../../plugin/net/result';
import { MemorySwitch } from '../../plugin/net/transport/memory-switch';
import { connectPair, disposeAll, isConnected } from '../helpers/managers';
import { pumpVirtual, registerVirtual, seededIdentity, virtualPeer } from '../../fuzz/virtual-managers';
import type { Clock } from '../../plugin/net/types';

type Backend = ReturnType<typeof cryptoBackendName>;
const BACKENDS: Backend[] = ['node', 'noble'];

const hex = (bytes: Uint8Array | null) => (bytes === null ? 'null' : Buffer.from(bytes).toString('hex'));
const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

class ManualClock implements Clock {
  constructor(public time = 0) {}
  now(): number {
    return this.time;
  }
}

/**
 * The session's key slots, read through its private fields: the keys never leave the session by
 * any public path, and that is the point, so only a test that looks inside can see them zeroed.
 */
interface KeySlots {
  current: { sendKey: Uint8Array; receive: { key: Uint8Array } } | null;
  pending: { sendKey: Uint8Array; receive: { key: Uint8Array } } | null;
  previous: { receive: { key: Uint8Array } } | null;
  outstanding: { ephemeral: { secretKey: Uint8Array }; state: { ck: Uint8Array } } | null;
  staticShared: Uint8Array | null;
}
const slots = (session: SecureSession) => session as unknown as KeySlots;

function identityFromSeed(seed: number): Identity {
  return Identity.fromSecretKey(sha256(new TextEncoder().encode(`erasure identity ${seed}`)));
}

function expectOpened(result: OpenResult): Extract<OpenResult, { ok: true }> {
  expect(result.ok, `open failed: ${result.ok ? '' : result.reason}`).to.equal(true);
  return result as Extract<OpenResult, { ok: true }>;
}

function makePair(clock: ManualClock) {
  const a = identityFromSeed(1);
  const b = identityFromSeed(2);
  const make = (local: Identity, remote: Identity) =>
    new SecureSession({
      identity: local,
      remotePublicKey: remote.publicKey,
      role: roleFor(local.peerId, remote.peerId),
      incarnation: 1n,
      clock,
      rekeyAfterPackets: 40,
    });
  const [first, second] = [make(a, b), make(b, a)];
  const initiator = first.role === 'initiator' ? first : second;
  const responder = first.role === 'initiator' ? second : first;
  return { initiator, responder };
}

/** Runs handshakes and DATA both ways, as a flush loop would, for `rounds` steps of 100 ms. */
function converse(pair: ReturnType<typeof makePair>, clock: ManualClock, rounds: number, numbers: { i: number; r: number }) {
  for (let step = 0; step < rounds; step++) {
    clock.time += 100;
    const init = pair.initiator.pollHandshake(clock.time);
    if (init !== null) {
      const outcome: HandshakeOutcome = pair.responder.handleHandshake(init, clock.time);
      if (outcome.kind === 'reply') pair.initiator.handleHandshake(outcome.packet, clock.time);
    }
    pair.responder.pollHandshake(clock.time);
    if (pair.initiator.isEstablished) expectOpened(pair.responder.open(pair.initiator.seal(numbers.i++, new Uint8Array([1])))).commit();
    if (pair.responder.isEstablished) expectOpened(pair.initiator.open(pair.responder.seal(numbers.r++, new Uint8Array([2])))).commit();
  }
}

describe('key erasure (issue 16 item 4)', () => {
  let startBackend: Backend;
  before(() => {
    startBackend = cryptoBackendName();
  });
  afterEach(() => void useCryptoBackend(startBackend));

  for (const backend of BACKENDS) {
    it(`${backend}: DH with a generated secret key fails once the key is zeroed in place`, function () {
      if (!useCryptoBackend(backend)) this.skip();
      const mine = ephemeralKeyPair(secureRandom);
      const theirs = ephemeralKeyPair(secureRandom);
      expect(diffieHellman(mine.secretKey, theirs.publicKey)).to.not.equal(null);
      mine.secretKey.fill(0);
      // Before: Node kept the generated KeyObject and went on answering with the old key.
      expect(diffieHellman(mine.secretKey, theirs.publicKey)).to.equal(null);
    });

    it(`${backend}: a key overwritten in place gives the DH of its new bytes, not of a cached copy`, function () {
      if (!useCryptoBackend(backend)) this.skip();
      const mine = ephemeralKeyPair(secureRandom);
      const other = ephemeralKeyPair(secureRandom);
      const theirs = ephemeralKeyPair(secureRandom);
      mine.secretKey.set(other.secretKey);
      expect(hex(diffieHellman(mine.secretKey, theirs.publicKey))).to.equal(hex(diffieHellman(other.secretKey, theirs.publicKey)));
    });

    it(`${backend}: eraseSecretKey zeroes the key and DH with it fails`, function () {
      if (!useCryptoBackend(backend)) this.skip();
      const mine = ephemeralKeyPair(secureRandom);
      const theirs = ephemeralKeyPair(secureRandom);
      eraseSecretKey(mine.secretKey);
      expect(isZero(mine.secretKey)).to.equal(true);
      expect(diffieHellman(mine.secretKey, theirs.publicKey)).to.equal(null);
    });
  }

  it('replaced session keys are zeroed after a rekey, and the handshake leaves no ephemeral secret behind', () => {
    const clock = new ManualClock();
    const pair = makePair(clock);
    const numbers = { i: 0, r: 0 };
    converse(pair, clock, 3, numbers);
    const firstInitiator = slots(pair.initiator).current!;
    const firstResponder = slots(pair.responder).current!;
    const oldKeys = [firstInitiator.sendKey, firstInitiator.receive.key, firstResponder.sendKey, firstResponder.receive.key];
    expect(oldKeys.some(isZero)).to.equal(false);

    // rekeyAfterPackets is 40: enough rounds for a rekey, then past the old keys' grace period.
    converse(pair, clock, 60, numbers);
    expect(pair.initiator.stats().handshakesCompleted).to.be.greaterThan(1);
    converse(pair, clock, 70, numbers);
    expect(slots(pair.initiator).current!.sendKey).to.not.equal(firstInitiator.sendKey);
    // Before: the old keys stayed in memory, whole, until the garbage collector got to them.
    for (const key of oldKeys) expect(isZero(key), 'a replaced key is zero').to.equal(true);
    const live = slots(pair.initiator).current!;
    expect(isZero(live.sendKey) || isZero(live.receive.key)).to.equal(false);
    expect(slots(pair.initiator).outstanding).to.equal(null);
  });

  it('dispose() zeroes every key the session holds and makes it inert', () => {
    const clock = new ManualClock();
    const pair = makePair(clock);
    converse(pair, clock, 3, { i: 0, r: 0 });
    const held = slots(pair.initiator);
    const keys = [held.current!.sendKey, held.current!.receive.key, held.staticShared!];
    const packet = pair.responder.seal(100, new Uint8Array([3]));

    pair.initiator.dispose();
    for (const key of keys) expect(isZero(key)).to.equal(true);
    expect(pair.initiator.isEstablished).to.equal(false);
    expect(() => pair.initiator.seal(101, new Uint8Array(1))).to.throw(/disposed/);
    const refused = pair.initiator.open(packet);
    expect(refused.ok).to.equal(false);
    expect(pair.initiator.pollHandshake(clock.time + 60_000)).to.equal(null);
  });

  it('dispose() during a handshake erases the unanswered INIT ephemeral key', () => {
    const clock = new ManualClock();
    const { initiator } = makePair(clock);
    expect(initiator.pollHandshake(0)).to.not.equal(null);
    const outstanding = slots(initiator).outstanding!;
    initiator.dispose();
    expect(isZero(outstanding.ephemeral.secretKey)).to.equal(true);
    expect(isZero(outstanding.state.ck)).to.equal(true);
  });

  it('Identity.dispose() zeroes the secret key: sharedSecret and exportSecretKey then throw, the peer id stays', () => {
    const identity = Identity.generate();
    const other = Identity.generate();
    const peerId = identity.peerId;
    identity.dispose();
    expect(identity.isDisposed).to.equal(true);
    expect(identity.peerId).to.equal(peerId);
    expect(() => identity.sharedSecret(other.publicKey)).to.throw(/disposed/);
    expect(() => identity.exportSecretKey()).to.throw(/disposed/);
  });

  it('NetworkManager: a closed peer’s session keys are erased after its CLOSE repeats; dispose erases the identity it generated, not one passed in', async () => {
    const sw = new MemorySwitch({ seed: 164, link: { latencyMs: 10 } });
    const passedIn = seededIdentity('erasure a');
    const a = virtualPeer(sw, { identity: passedIn });
    const b = virtualPeer(sw);
    try {
      registerVirtual(sw, [a, b]);
      connectPair(a, b, [{ id: 0, reliable: true }]);
      pumpVirtual(sw, [a, b], 'both ends connected', () => isConnected(a, b.id) && isConnected(b, a.id));
      const link = (a.net as unknown as { peers: Map<bigint, { session: SecureSession }> }).peers.get(b.id)!;
      const sendKey = slots(link.session).current!.sendKey;
      expect(a.net.closePeer(b.id)).to.equal(Result.Ok);
      expect(link.session.isDisposed, 'it still has CLOSE packets to seal').to.equal(false);
      // Before: the closed peer's keys were never zeroed.
      pumpVirtual(sw, [a, b], 'the closed session to be disposed', () => link.session.isDisposed, { maxFrames: 50 });
      expect(isZero(sendKey)).to.equal(true);
    } finally {
      await disposeAll([a, b]);
    }
    expect(passedIn.isDisposed, 'an identity passed in is the caller’s').to.equal(false);
    expect(b.net.getIdentity().isDisposed, 'an identity the manager generated is erased').to.equal(true);
  });
});
