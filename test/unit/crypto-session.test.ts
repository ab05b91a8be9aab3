import { expect } from 'chai';
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  INIT_BYTES,
  MAX_INIT_CLOCK_SKEW_MS,
  MAX_PACKET_NUMBER,
  PeerPacketType,
  peerPacketType,
  RESP_BYTES,
  roleFor,
  SecureSession,
  type HandshakeOutcome,
  type OpenResult,
  type SecureSessionOptions,
} from '../../plugin/net/crypto';
import { useCryptoBackend } from '../../plugin/net/crypto/primitives';
import { Identity } from '../../plugin/net/identity';
import type { Clock } from '../../plugin/net/types';

/** Virtual time: tests move it by hand. */
class ManualClock implements Clock {
  constructor(public time = 0) {}
  now(): number {
    return this.time;
  }
}

/** Seeded random bytes (test only): SHA-256 of seed and counter. */
function seededRandom(seed: number): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let offset = 0; offset < n; offset += 32) {
      const block = sha256(new TextEncoder().encode(`seed ${seed} block ${counter++}`));
      out.set(block.subarray(0, Math.min(32, n - offset)), offset);
    }
    return out;
  };
}

function identityFromSeed(seed: number): Identity {
  return Identity.fromSecretKey(sha256(new TextEncoder().encode(`identity ${seed}`)));
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

interface Pair {
  clock: ManualClock;
  wall: ManualClock;
  initiatorIdentity: Identity;
  responderIdentity: Identity;
  initiator: SecureSession;
  responder: SecureSession;
}

function makeSession(
  local: Identity,
  remote: Identity,
  clock: ManualClock,
  wall: ManualClock,
  overrides: Partial<SecureSessionOptions> = {},
): SecureSession {
  return new SecureSession({
    identity: local,
    remotePublicKey: remote.publicKey,
    role: roleFor(local.peerId, remote.peerId),
    incarnation: 1n,
    clock,
    wallClock: wall,
    random: seededRandom(Number(local.peerId % 1000n)),
    ...overrides,
  });
}

function makePair(overrides: Partial<SecureSessionOptions> = {}): Pair {
  const a = identityFromSeed(1);
  const b = identityFromSeed(2);
  const [initiatorIdentity, responderIdentity] = a.peerId < b.peerId ? [a, b] : [b, a];
  const clock = new ManualClock(1000);
  const wall = new ManualClock(1_700_000_000_000);
  return {
    clock,
    wall,
    initiatorIdentity,
    responderIdentity,
    initiator: makeSession(initiatorIdentity, responderIdentity, clock, wall, overrides),
    responder: makeSession(responderIdentity, initiatorIdentity, clock, wall, { incarnation: 2n, ...overrides }),
  };
}

function expectKind<K extends HandshakeOutcome['kind']>(outcome: HandshakeOutcome, kind: K): Extract<HandshakeOutcome, { kind: K }> {
  expect(outcome.kind, `handshake outcome ${JSON.stringify(outcome, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`).to.equal(kind);
  return outcome as Extract<HandshakeOutcome, { kind: K }>;
}

function expectOpened(result: OpenResult): Extract<OpenResult, { ok: true }> {
  expect(result.ok, `open failed: ${result.ok ? '' : result.reason}`).to.equal(true);
  return result as Extract<OpenResult, { ok: true }>;
}

/** INIT → RESP between the pair; returns what each side reported. */
function handshake(pair: Pair): { reply: Extract<HandshakeOutcome, { kind: 'reply' }>; established: Extract<HandshakeOutcome, { kind: 'established' }> } {
  const init = pair.initiator.pollHandshake(pair.clock.now());
  expect(init, 'initiator INIT').to.not.equal(null);
  const reply = expectKind(pair.responder.handleHandshake(init!, pair.clock.now()), 'reply');
  const established = expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now()), 'established');
  return { reply, established };
}

/** Sends one packet each way so both sides hold confirmed keys. */
function exchange(pair: Pair, counters: { i: number; r: number }, label = 'x'): void {
  const fromInitiator = pair.initiator.seal(counters.i++, bytes(`i:${label}`));
  expectOpened(pair.responder.open(fromInitiator)).commit();
  const fromResponder = pair.responder.seal(counters.r++, bytes(`r:${label}`));
  expectOpened(pair.initiator.open(fromResponder)).commit();
}

describe('crypto: roles and packet types', () => {
  it('the smaller peer id initiates', () => {
    expect(roleFor(1n, 2n)).to.equal('initiator');
    expect(roleFor(2n, 1n)).to.equal('responder');
    expect(roleFor(0xffff_ffff_ffff_fffen, 0xffff_ffff_ffff_ffffn)).to.equal('initiator');
  });

  it('peerPacketType names the four types and nothing else', () => {
    expect(peerPacketType(new Uint8Array(0))).to.equal(null);
    expect(peerPacketType(Uint8Array.of(0))).to.equal(null);
    expect(peerPacketType(Uint8Array.of(5))).to.equal(null);
    expect(peerPacketType(Uint8Array.of(0x83))).to.equal(null);
    expect(peerPacketType(Uint8Array.of(1, 9))).to.equal(PeerPacketType.HandshakeInit);
    expect(peerPacketType(Uint8Array.of(2))).to.equal(PeerPacketType.HandshakeResp);
    expect(peerPacketType(Uint8Array.of(3))).to.equal(PeerPacketType.Data);
    expect(peerPacketType(Uint8Array.of(4))).to.equal(PeerPacketType.Hello);
  });

  it('packet numbers run to 2^53 - 1 (issue 13.3; the connection stops short of it, packet-number-wrap.test.ts)', () => {
    expect(MAX_PACKET_NUMBER).to.equal(Number.MAX_SAFE_INTEGER);
  });
});

describe('crypto: handshake', () => {
  it('completes INIT → RESP and both sides can seal', () => {
    const pair = makePair();
    expect(pair.initiator.isEstablished).to.equal(false);
    expect(pair.responder.isEstablished).to.equal(false);
    const { reply, established } = handshake(pair);
    expect(reply.packet.length).to.equal(RESP_BYTES);
    expect(reply.established).to.deep.equal({ remoteIncarnation: 1n, remoteRestarted: false });
    expect(established.established).to.deep.equal({ remoteIncarnation: 2n, remoteRestarted: false });
    expect(pair.initiator.isEstablished).to.equal(true);
    expect(pair.responder.isEstablished).to.equal(true);
    expect(pair.initiator.remoteIncarnation).to.equal(2n);
    expect(pair.responder.remoteIncarnation).to.equal(1n);
    expect(pair.initiator.pollHandshake(pair.clock.now()), 'no INIT once established').to.equal(null);
    expect(pair.responder.pollHandshake(pair.clock.now()), 'no HELLO once established').to.equal(null);
    exchange(pair, { i: 0, r: 0 });
    expect(pair.initiator.stats()).to.include({ handshakesSent: 1, handshakesCompleted: 1, keyPhase: 0 });
    expect(pair.responder.stats()).to.include({ handshakesSent: 1, handshakesCompleted: 1, keyPhase: 0 });
  });

  it('the INIT is 65 bytes and the initiator retries it with backoff until answered', () => {
    const pair = makePair();
    const sentAt: number[] = [];
    for (let t = 0; t <= 6000; t += 50) {
      pair.clock.time = 1000 + t;
      const packet = pair.initiator.pollHandshake(pair.clock.now());
      if (packet) {
        expect(packet.length).to.equal(INIT_BYTES);
        sentAt.push(t);
      }
    }
    expect(sentAt).to.deep.equal([0, 250, 750, 1750, 3750, 5750]);
    // Only the latest INIT's answer is accepted.
    pair.clock.time += 1;
    const latest = pair.initiator.pollHandshake(pair.clock.now() + 10_000)!;
    const reply = expectKind(pair.responder.handleHandshake(latest, pair.clock.now()), 'reply');
    expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now()), 'established');
  });

  it('a RESP to an INIT that was superseded by a retry is dropped; the retry completes', () => {
    const pair = makePair();
    const first = pair.initiator.pollHandshake(pair.clock.now())!;
    const reply1 = expectKind(pair.responder.handleHandshake(first, pair.clock.now()), 'reply');
    pair.clock.time += 250;
    const second = pair.initiator.pollHandshake(pair.clock.now())!;
    expect(second).to.not.equal(null);
    expect(expectKind(pair.initiator.handleHandshake(reply1.packet, pair.clock.now()), 'dropped').reason).to.equal('resp-auth');
    const reply2 = expectKind(pair.responder.handleHandshake(second, pair.clock.now()), 'reply');
    expectKind(pair.initiator.handleHandshake(reply2.packet, pair.clock.now()), 'established');
    exchange(pair, { i: 0, r: 0 });
  });

  it('HELLO: the responder asks, the initiator sends INIT at once instead of at its next retry', () => {
    const pair = makePair();
    // Four INITs lost: the initiator's next retry is 2 s away.
    for (const t of [0, 250, 750, 1750]) {
      pair.clock.time = 1000 + t;
      expect(pair.initiator.pollHandshake(pair.clock.now())).to.not.equal(null);
    }
    pair.clock.time = 1000 + 2000;
    expect(pair.initiator.pollHandshake(pair.clock.now())).to.equal(null);
    const hello = pair.responder.pollHandshake(pair.clock.now());
    expect(hello).to.deep.equal(Uint8Array.of(PeerPacketType.Hello));
    expectKind(pair.initiator.handleHandshake(hello!, pair.clock.now()), 'hello');
    const init = pair.initiator.pollHandshake(pair.clock.now());
    expect(init, 'INIT right after HELLO').to.not.equal(null);
    const reply = expectKind(pair.responder.handleHandshake(init!, pair.clock.now()), 'reply');
    expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now()), 'established');
    expect(pair.responder.stats().hellosSent).to.equal(1);
  });

  it('HELLOs never make the initiator send more than one INIT per minimum retry interval', () => {
    const pair = makePair();
    let inits = 0;
    for (let t = 0; t < 1000; t += 10) {
      pair.clock.time = 1000 + t;
      pair.initiator.handleHandshake(Uint8Array.of(PeerPacketType.Hello), pair.clock.now());
      if (pair.initiator.pollHandshake(pair.clock.now())) inits++;
    }
    expect(inits).to.equal(4); // t = 0, 250, 500, 750
  });

  it('the responder sends HELLO with backoff only until DATA confirms its keys', () => {
    const pair = makePair();
    const sentAt: number[] = [];
    for (let t = 0; t <= 4000; t += 50) {
      pair.clock.time = 1000 + t;
      if (pair.responder.pollHandshake(pair.clock.now())) sentAt.push(t);
    }
    expect(sentAt).to.deep.equal([0, 250, 750, 1750, 3750]);
    handshake(pair);
    // Unconfirmed keys: no HELLO while the initiator would ignore it, then one every 2 s.
    expect(pair.responder.pollHandshake(pair.clock.now() + 1999)).to.equal(null);
    expect(pair.responder.pollHandshake(pair.clock.now() + 2000)).to.not.equal(null);
    exchange(pair, { i: 0, r: 0 });
    pair.clock.time += 10_000;
    expect(pair.responder.pollHandshake(pair.clock.now())).to.equal(null);
  });

  it("a stranger's INIT (unknown static key) is dropped", () => {
    const pair = makePair();
    const stranger = identityFromSeed(99);
    const strangerSession = new SecureSession({
      identity: stranger,
      remotePublicKey: pair.responderIdentity.publicKey,
      role: 'initiator',
      incarnation: 7n,
      clock: pair.clock,
      wallClock: pair.wall,
    });
    const init = strangerSession.pollHandshake(pair.clock.now())!;
    expect(expectKind(pair.responder.handleHandshake(init, pair.clock.now()), 'dropped').reason).to.equal('init-auth');
    expect(pair.responder.isEstablished).to.equal(false);
    expect(pair.responder.stats().dropped['init-auth']).to.equal(1);
  });

  it('a replayed INIT, or an older one arriving late, is dropped', () => {
    const pair = makePair();
    const older = pair.initiator.pollHandshake(pair.clock.now())!;
    pair.clock.time += 250;
    pair.wall.time += 250;
    const newer = pair.initiator.pollHandshake(pair.clock.now())!;
    const reply = expectKind(pair.responder.handleHandshake(newer, pair.clock.now()), 'reply');
    expect(expectKind(pair.responder.handleHandshake(newer, pair.clock.now()), 'dropped').reason).to.equal('init-replay');
    expect(expectKind(pair.responder.handleHandshake(older, pair.clock.now()), 'dropped').reason).to.equal('init-replay');
    expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now()), 'established');
    exchange(pair, { i: 0, r: 0 });
  });

  it('an INIT stamped beyond the allowed clock skew is dropped and locks nobody out (issue 16 item 2)', () => {
    const pair = makePair();
    // The same initiator key with a wall clock a year ahead: what a KCI forger or a clock jump sends.
    const ahead = makeSession(pair.initiatorIdentity, pair.responderIdentity, pair.clock, new ManualClock(pair.wall.time + 365 * 86_400_000));
    const future = ahead.pollHandshake(pair.clock.now())!;
    expect(expectKind(pair.responder.handleHandshake(future, pair.clock.now()), 'dropped').reason).to.equal('init-future');
    // Just inside the bound is accepted.
    const near = makeSession(pair.initiatorIdentity, pair.responderIdentity, pair.clock, new ManualClock(pair.wall.time + MAX_INIT_CLOCK_SKEW_MS - 1000));
    pair.clock.time += 250;
    expectKind(pair.responder.handleHandshake(near.pollHandshake(pair.clock.now())!, pair.clock.now()), 'reply');
    // The genuine initiator gets in once its clock passes the accepted stamp, within the skew.
    pair.wall.time += MAX_INIT_CLOCK_SKEW_MS;
    pair.clock.time += 250;
    handshake(pair);
    exchange(pair, { i: 0, r: 0 });
  });

  it('INIT timestamps grow even when the wall clock stands still or goes back', () => {
    const pair = makePair();
    const first = pair.initiator.pollHandshake(pair.clock.now())!;
    pair.clock.time += 250;
    pair.wall.time -= 60_000;
    const second = pair.initiator.pollHandshake(pair.clock.now())!;
    expectKind(pair.responder.handleHandshake(first, pair.clock.now()), 'reply');
    expectKind(pair.responder.handleHandshake(second, pair.clock.now()), 'reply');
  });

  it('tampered, truncated, misdirected and low-order handshake packets are dropped, never thrown', () => {
    const pair = makePair();
    const init = pair.initiator.pollHandshake(pair.clock.now())!;
    for (let i = 1; i < init.length; i++) {
      const bad = init.slice();
      bad[i] ^= 0x01;
      const outcome = pair.responder.handleHandshake(bad, pair.clock.now());
      expect(outcome.kind, `INIT byte ${i} flipped`).to.equal('dropped');
      pair.clock.time += 1000; // keep the handshake budget out of the picture
    }
    const lowOrder = init.slice();
    lowOrder.fill(0, 1, 33);
    expect(expectKind(pair.responder.handleHandshake(lowOrder, pair.clock.now()), 'dropped').reason).to.equal('init-bad-key');
    expect(expectKind(pair.responder.handleHandshake(init.subarray(0, 64), pair.clock.now()), 'dropped').reason).to.equal('init-malformed');
    expect(expectKind(pair.initiator.handleHandshake(init, pair.clock.now()), 'dropped').reason).to.equal('init-unexpected');
    expect(expectKind(pair.responder.handleHandshake(Uint8Array.of(3, 0, 0, 0, 0, 0), pair.clock.now()), 'dropped').reason).to.equal('not-handshake');
    expect(expectKind(pair.responder.handleHandshake(Uint8Array.of(4), pair.clock.now()), 'dropped').reason).to.equal('hello-unexpected');

    pair.clock.time += 1000;
    const reply = expectKind(pair.responder.handleHandshake(init, pair.clock.now()), 'reply');
    expect(expectKind(pair.responder.handleHandshake(reply.packet, pair.clock.now()), 'dropped').reason).to.equal('resp-unexpected');
    for (let i = 1; i < reply.packet.length; i++) {
      const bad = reply.packet.slice();
      bad[i] ^= 0x80;
      expect(pair.initiator.handleHandshake(bad, pair.clock.now()).kind, `RESP byte ${i} flipped`).to.equal('dropped');
      pair.clock.time += 1000;
    }
    expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now()), 'established');
    expect(expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now()), 'dropped').reason).to.equal('resp-unexpected');
  });

  it('a flood of handshake packets is cut off by the handshake budget', () => {
    const pair = makePair();
    const init = pair.initiator.pollHandshake(pair.clock.now())!;
    const reasons: string[] = [];
    for (let i = 0; i < 10; i++) {
      const forged = init.slice();
      forged[40] ^= i + 1;
      const outcome = pair.responder.handleHandshake(forged, pair.clock.now());
      reasons.push(outcome.kind === 'dropped' ? outcome.reason : outcome.kind);
    }
    expect(reasons.slice(0, 4)).to.deep.equal(['init-auth', 'init-auth', 'init-auth', 'init-auth']);
    expect(reasons.slice(4).every((r) => r === 'rate-limited')).to.equal(true);
    // The budget refills with time, and the real INIT gets through.
    pair.clock.time += 125;
    expectKind(pair.responder.handleHandshake(init, pair.clock.now()), 'reply');
  });

  it('a remote key that is a low-order point never handshakes and never throws', () => {
    const clock = new ManualClock(0);
    const session = new SecureSession({
      identity: identityFromSeed(1),
      remotePublicKey: new Uint8Array(32),
      role: 'initiator',
      incarnation: 1n,
      clock,
    });
    expect(session.pollHandshake(0)).to.equal(null);
    expect(session.stats().dropped['bad-remote-key']).to.equal(1);
    const responder = new SecureSession({
      identity: identityFromSeed(2),
      remotePublicKey: new Uint8Array(32),
      role: 'responder',
      incarnation: 1n,
      clock,
    });
    const init = new Uint8Array(INIT_BYTES);
    init[0] = PeerPacketType.HandshakeInit;
    expect(responder.handleHandshake(init, 0).kind).to.equal('dropped');
  });

  it('handleHandshake and open never throw on arbitrary bytes (property)', () => {
    const pair = makePair();
    handshake(pair);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 4 }), (data, type) => {
        const packet = data.slice();
        if (packet.length > 0 && data[0] % 2 === 0) packet[0] = type;
        pair.clock.time += 200;
        for (const session of [pair.initiator, pair.responder]) {
          const outcome = session.handleHandshake(packet, pair.clock.now());
          expect(['dropped', 'hello']).to.include(outcome.kind);
          expect(session.open(packet).ok).to.equal(false);
        }
      }),
      { seed: 1234, numRuns: 300 },
    );
  });
});

describe('crypto: DATA packets', () => {
  it('seal/open round trip both ways; the packet is header + ciphertext + tag', () => {
    const pair = makePair();
    handshake(pair);
    const packet = pair.initiator.seal(7, bytes('hello responder'));
    expect(packet.length).to.equal(6 + 15 + 16);
    expect(Array.from(packet.subarray(0, 6))).to.deep.equal([3, 0, 0, 0, 0, 7]);
    expect(text(packet.subarray(6, 21))).to.not.equal('hello responder');
    const opened = expectOpened(pair.responder.open(packet));
    expect(opened.packetNumber).to.equal(7);
    expect(text(opened.plaintext)).to.equal('hello responder');
    opened.commit();
    const back = expectOpened(pair.initiator.open(pair.responder.seal(0xffff_fff0, new Uint8Array(0))));
    expect(back.packetNumber).to.equal(0xffff_fff0);
    expect(back.plaintext.length).to.equal(0);
  });

  it('flipping any single byte of a sealed packet stops it from opening', () => {
    const pair = makePair();
    handshake(pair);
    exchange(pair, { i: 0, r: 0 });
    const packet = pair.initiator.seal(5, bytes('every byte counts'));
    for (let i = 0; i < packet.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const tampered = packet.slice();
        tampered[i] ^= mask;
        expect(pair.responder.open(tampered).ok, `byte ${i} ^ ${mask}`).to.equal(false);
      }
    }
    expectOpened(pair.responder.open(packet)).commit();
  });

  it('truncated packets are malformed; DATA before any handshake has no key', () => {
    const pair = makePair();
    expect(pair.responder.open(Uint8Array.of(3, 0, 0, 0, 0, 1))).to.deep.equal({ ok: false, reason: 'malformed' });
    expect(pair.responder.open(new Uint8Array(0))).to.deep.equal({ ok: false, reason: 'malformed' });
    expect(pair.responder.open(new Uint8Array(40).fill(3))).to.deep.equal({ ok: false, reason: 'no-key' });
  });

  it('a replayed packet is refused once committed, and the window is marked only by commit()', () => {
    const pair = makePair();
    handshake(pair);
    const packet = pair.initiator.seal(1, bytes('once'));
    const first = expectOpened(pair.responder.open(packet));
    // Not committed (say the reliability layer refused it): it may come again.
    expectOpened(pair.responder.open(packet)).commit();
    first.commit();
    expect(pair.responder.open(packet)).to.deep.equal({ ok: false, reason: 'replay' });
    expect(pair.responder.stats().dropped['data-replay']).to.equal(1);
  });

  it('packets older than the 2048-number window are refused; those inside it open once', () => {
    const pair = makePair();
    handshake(pair);
    const old = pair.initiator.seal(2952, bytes('too old'));
    const edge = pair.initiator.seal(2953, bytes('just inside'));
    const latest = pair.initiator.seal(5000, bytes('latest'));
    expectOpened(pair.responder.open(latest)).commit();
    expect(pair.responder.open(old)).to.deep.equal({ ok: false, reason: 'replay' });
    expectOpened(pair.responder.open(edge)).commit();
    expect(pair.responder.open(edge)).to.deep.equal({ ok: false, reason: 'replay' });
  });

  it('reordered packets open in any order within the window', () => {
    const pair = makePair();
    handshake(pair);
    const packets = Array.from({ length: 50 }, (_, i) => pair.initiator.seal(i, bytes(`p${i}`)));
    const order = packets.map((_, i) => i).sort((a, b) => ((a * 37) % 50) - ((b * 37) % 50));
    for (const i of order) expect(text(expectOpened(pair.responder.open(packets[i])).plaintext)).to.equal(`p${i}`);
  });

  it('seal refuses (throws) before establishment and when a packet number would repeat', () => {
    const pair = makePair();
    expect(() => pair.initiator.seal(0, bytes('x'))).to.throw(/not established/);
    handshake(pair);
    pair.initiator.seal(10, bytes('x'));
    expect(() => pair.initiator.seal(10, bytes('x'))).to.throw(/nonce would repeat/);
    expect(() => pair.initiator.seal(9, bytes('x'))).to.throw(/nonce would repeat/);
    expect(() => pair.initiator.seal(2 ** 53, bytes('x'))).to.throw(/0\.\.2\^53-1/);
    expect(() => pair.initiator.seal(1.5, bytes('x'))).to.throw(/0\.\.2\^53-1/);
  });

  it('a packet from another pair of peers does not open', () => {
    const pair = makePair();
    handshake(pair);
    const other = makePair();
    other.initiator = makeSession(other.initiatorIdentity, other.responderIdentity, other.clock, other.wall, { random: seededRandom(77) });
    handshake(other);
    const foreign = other.initiator.seal(1, bytes('not for you'));
    expect(pair.responder.open(foreign)).to.deep.equal({ ok: false, reason: 'auth' });
  });
});

describe('crypto: rekey and restarts', () => {
  it('rekey keeps traffic flowing both ways with packets in flight', () => {
    const pair = makePair({ rekeyAfterMs: 60_000 });
    const n = { i: 0, r: 0 };
    handshake(pair);
    exchange(pair, n, 'before');
    pair.clock.time += 60_000;

    const init = pair.initiator.pollHandshake(pair.clock.now());
    expect(init, 'rekey INIT when rekeyAfterMs passed').to.not.equal(null);
    const oldFromInitiator = pair.initiator.seal(n.i++, bytes('i old key, in flight'));

    const reply = expectKind(pair.responder.handleHandshake(init!, pair.clock.now()), 'reply');
    expect(reply.established.remoteRestarted).to.equal(false);
    // The responder keeps sending under the old keys until the initiator confirms the new ones.
    expect(pair.responder.stats().keyPhase).to.equal(0);
    const oldFromResponder = pair.responder.seal(n.r++, bytes('r old key, in flight'));

    expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now()), 'established');
    expect(pair.initiator.stats().keyPhase).to.equal(1);
    const newFromInitiator = pair.initiator.seal(n.i++, bytes('i new key'));
    expect(newFromInitiator[1]).to.equal(1);

    expect(text(expectOpened(pair.responder.open(oldFromInitiator)).plaintext)).to.equal('i old key, in flight');
    expect(text(expectOpened(pair.responder.open(newFromInitiator)).plaintext)).to.equal('i new key');
    expect(pair.responder.stats().keyPhase, 'responder switched on key confirmation').to.equal(1);
    const newFromResponder = pair.responder.seal(n.r++, bytes('r new key'));
    expect(newFromResponder[1]).to.equal(1);

    expect(text(expectOpened(pair.initiator.open(oldFromResponder)).plaintext)).to.equal('r old key, in flight');
    expect(text(expectOpened(pair.initiator.open(newFromResponder)).plaintext)).to.equal('r new key');
    exchange(pair, n, 'after');
    expect(pair.initiator.pollHandshake(pair.clock.now()), 'no second rekey at once').to.equal(null);
    expect(pair.initiator.stats().handshakesCompleted).to.equal(2);
  });

  it('old-key stragglers are refused once the grace period is over', () => {
    const pair = makePair({ rekeyAfterPackets: 4 });
    const n = { i: 0, r: 0 };
    handshake(pair);
    exchange(pair, n);
    exchange(pair, n);
    const straggler = pair.responder.seal(n.r++, bytes('straggler'));
    const init = pair.initiator.pollHandshake(pair.clock.now());
    expect(init, 'rekey INIT after rekeyAfterPackets').to.not.equal(null);
    const reply = expectKind(pair.responder.handleHandshake(init!, pair.clock.now()), 'reply');
    expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now()), 'established');
    expectOpened(pair.responder.open(pair.initiator.seal(n.i++, bytes('confirm')))).commit();
    expectOpened(pair.initiator.open(pair.responder.seal(n.r++, bytes('new')))).commit();
    pair.clock.time += 2000;
    expect(pair.initiator.open(straggler).ok).to.equal(false);
  });

  it('key phases wrap around 256 and traffic keeps flowing', function () {
    this.timeout(20_000); // 260 handshakes of pure-JS X25519
    const pair = makePair({ rekeyAfterPackets: 2 });
    const n = { i: 0, r: 0 };
    handshake(pair);
    for (let round = 0; round < 260; round++) {
      exchange(pair, n, `round ${round}`);
      const init = pair.initiator.pollHandshake(pair.clock.now());
      expect(init, `rekey ${round}`).to.not.equal(null);
      pair.clock.time += 1;
      pair.wall.time += 1;
      const reply = expectKind(pair.responder.handleHandshake(init!, pair.clock.now() + round * 1000), 'reply');
      expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now() + round * 1000), 'established');
    }
    exchange(pair, n, 'end');
    expect(pair.initiator.stats().keyPhase).to.equal(260 % 256);
    expect(pair.responder.stats().keyPhase).to.equal(260 % 256);
  });

  it('initiator restart: the responder reports remoteRestarted and switches to the new keys', () => {
    const pair = makePair();
    handshake(pair);
    exchange(pair, { i: 0, r: 0 });
    pair.clock.time += 5000;
    pair.wall.time += 5000;
    const restarted = makeSession(pair.initiatorIdentity, pair.responderIdentity, pair.clock, pair.wall, {
      incarnation: 99n,
      random: seededRandom(555),
    });
    const inFlightFromOldIncarnation = pair.initiator.seal(100, bytes('from the dead incarnation'));
    const init = restarted.pollHandshake(pair.clock.now())!;
    const reply = expectKind(pair.responder.handleHandshake(init, pair.clock.now()), 'reply');
    expect(reply.established).to.deep.equal({ remoteIncarnation: 99n, remoteRestarted: true });
    // The old incarnation's packets must not leak into the new conversation.
    expect(pair.responder.open(inFlightFromOldIncarnation).ok).to.equal(false);
    const established = expectKind(restarted.handleHandshake(reply.packet, pair.clock.now()), 'established');
    expect(established.established).to.deep.equal({ remoteIncarnation: 2n, remoteRestarted: false });
    // Packet numbers start over with the new incarnation; the new keys make that safe.
    exchange({ ...pair, initiator: restarted }, { i: 0, r: 0 }, 'after restart');
    expect(pair.responder.remoteIncarnation).to.equal(99n);
  });

  it('responder restart: HELLO brings the initiator back, which sees remoteRestarted', () => {
    const pair = makePair();
    handshake(pair);
    exchange(pair, { i: 0, r: 0 });
    pair.clock.time += 10_000;
    const restarted = makeSession(pair.responderIdentity, pair.initiatorIdentity, pair.clock, pair.wall, {
      incarnation: 42n,
      random: seededRandom(556),
    });
    // The initiator still sends under the old keys; the restarted responder has none.
    expect(restarted.open(pair.initiator.seal(1, bytes('lost'))).ok).to.equal(false);
    const hello = restarted.pollHandshake(pair.clock.now())!;
    expectKind(pair.initiator.handleHandshake(hello, pair.clock.now()), 'hello');
    const init = pair.initiator.pollHandshake(pair.clock.now())!;
    const reply = expectKind(restarted.handleHandshake(init, pair.clock.now()), 'reply');
    const inFlightFromOldIncarnation = pair.responder.seal(100, bytes('from the dead incarnation'));
    const established = expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now()), 'established');
    expect(established.established).to.deep.equal({ remoteIncarnation: 42n, remoteRestarted: true });
    expect(pair.initiator.open(inFlightFromOldIncarnation).ok).to.equal(false);
    exchange({ ...pair, responder: restarted }, { i: 0, r: 0 }, 'after restart');
  });

  it('a HELLO trailing a fresh handshake is ignored', () => {
    const pair = makePair();
    handshake(pair);
    expect(expectKind(pair.initiator.handleHandshake(Uint8Array.of(4), pair.clock.now()), 'dropped').reason).to.equal('hello-ignored');
    expect(pair.initiator.pollHandshake(pair.clock.now())).to.equal(null);
  });
});

describe('crypto: DATA sealed in place (one buffer per datagram)', () => {
  afterEach(() => {
    useCryptoBackend('node');
  });

  for (const backend of ['node', 'noble'] as const) {
    it(`sealInPlace makes the same bytes as seal() around a plaintext at an offset, and they open (${backend})`, () => {
      if (!useCryptoBackend(backend)) return;
      const pair = makePair();
      handshake(pair);
      const other = makePair();
      handshake(other);
      for (const length of [0, 1, 31, 200, 1163]) {
        const plaintext = Uint8Array.from({ length }, (_, i) => (i * 7 + length) & 0xff);
        const sealed = pair.initiator.seal(length + 1, plaintext);
        // Room for a 9-byte relay header in front, the 6-byte DATA header, the plaintext, the tag.
        const datagram = new Uint8Array(9 + 6 + length + 16).fill(0xee);
        datagram.set(plaintext, 15);
        other.initiator.sealInPlace(length + 1, datagram, 9, length);
        expect(datagram.subarray(0, 9).every((b) => b === 0xee), 'bytes before the offset untouched').to.equal(true);
        expect(datagram.subarray(9)).to.deep.equal(sealed);
        const opened = expectOpened(other.responder.open(datagram.subarray(9)));
        expect(opened.plaintext).to.deep.equal(plaintext);
      }
    });
  }

  it('sealInPlace refuses what does not fit and packet numbers that do not grow', () => {
    const pair = makePair();
    expect(() => pair.initiator.sealInPlace(0, new Uint8Array(64), 0, 10)).to.throw('not established');
    handshake(pair);
    expect(() => pair.initiator.sealInPlace(0, new Uint8Array(31), 0, 10)).to.throw(RangeError, 'do not fit');
    pair.initiator.sealInPlace(3, new Uint8Array(32), 0, 10);
    expect(() => pair.initiator.sealInPlace(3, new Uint8Array(32), 0, 10)).to.throw(RangeError, 'nonce would repeat');
  });
});

/**
 * Two sessions on a lossless link in virtual time, driven the way the manager drives them: each
 * side polls its handshake every tick and, once established, seals a keepalive every second (the
 * reliability layer's default). Returns the virtual ms until both directions open again.
 */
function runUntilBothOpen(
  clock: ManualClock,
  wall: ManualClock,
  initiator: SecureSession,
  responder: SecureSession,
  options: { dropHello?: boolean; limitMs: number },
): number | null {
  const start = clock.time;
  const numbers = { i: 1000, r: 1000 };
  const lastKeepalive = { i: -Infinity, r: -Infinity };
  let openedAtResponder = false;
  let openedAtInitiator = false;
  const deliverHandshake = (to: SecureSession, back: SecureSession, packet: Uint8Array) => {
    const outcome = to.handleHandshake(packet, clock.now());
    if (outcome.kind === 'reply') back.handleHandshake(outcome.packet, clock.now());
  };
  for (let tick = 0; clock.time - start <= options.limitMs; tick++) {
    const fromInitiator = initiator.pollHandshake(clock.now());
    if (fromInitiator) deliverHandshake(responder, initiator, fromInitiator);
    const fromResponder = responder.pollHandshake(clock.now());
    if (fromResponder && !options.dropHello) deliverHandshake(initiator, responder, fromResponder);
    if (initiator.isEstablished && clock.time - lastKeepalive.i >= 1000) {
      lastKeepalive.i = clock.time;
      const opened = responder.open(initiator.seal(numbers.i++, bytes('ping')));
      if (opened.ok) {
        opened.commit();
        openedAtResponder = true;
      }
    }
    if (responder.isEstablished && clock.time - lastKeepalive.r >= 1000) {
      lastKeepalive.r = clock.time;
      const opened = initiator.open(responder.seal(numbers.r++, bytes('ping')));
      if (opened.ok) {
        opened.commit();
        openedAtInitiator = true;
      }
    }
    if (openedAtResponder && openedAtInitiator) return clock.time - start;
    clock.time += 10;
    wall.time += 10;
  }
  return null;
}

describe('crypto: a replayed INIT after a responder restart (issue 16 item 1)', () => {
  /** An established pair, the INIT that set it up, and a restarted responder that has accepted that INIT replayed. */
  function replayAfterRestart(): { pair: Pair; restarted: SecureSession } {
    const pair = makePair();
    const oldInit = pair.initiator.pollHandshake(pair.clock.now())!;
    const reply = expectKind(pair.responder.handleHandshake(oldInit, pair.clock.now()), 'reply');
    expectKind(pair.initiator.handleHandshake(reply.packet, pair.clock.now()), 'established');
    exchange(pair, { i: 0, r: 0 });
    pair.clock.time += 60_000;
    pair.wall.time += 60_000;
    // The responder's process restarts: its timestamp floor was only in memory.
    const restarted = makeSession(pair.responderIdentity, pair.initiatorIdentity, pair.clock, pair.wall, {
      incarnation: 42n,
      random: seededRandom(557),
    });
    // An attacker replays the old INIT before the initiator hears of the restart. It authenticates:
    // the responder answers, with keys the initiator cannot derive (it erased that ephemeral).
    const replayed = expectKind(restarted.handleHandshake(oldInit, pair.clock.now()), 'reply');
    expect(expectKind(pair.initiator.handleHandshake(replayed.packet, pair.clock.now()), 'dropped').reason).to.equal('resp-unexpected');
    return { pair, restarted };
  }

  it('the responder keeps sending HELLO under unconfirmed keys, and the link recovers within 3 s', () => {
    const { pair, restarted } = replayAfterRestart();
    const recoveredAfter = runUntilBothOpen(pair.clock, pair.wall, pair.initiator, restarted, { limitMs: 30_000 });
    expect(recoveredAfter, 'virtual ms until both directions open again').to.not.equal(null);
    expect(recoveredAfter!).to.be.at.most(3000);
    expect(restarted.stats().hellosSent).to.be.greaterThan(0);
    expect(pair.initiator.remoteIncarnation).to.equal(42n);
  });

  it('with every HELLO lost too, the initiator handshakes again after 5 s of unanswered packets', () => {
    const { pair, restarted } = replayAfterRestart();
    const sentBefore = pair.initiator.stats().handshakesSent;
    const recoveredAfter = runUntilBothOpen(pair.clock, pair.wall, pair.initiator, restarted, { dropHello: true, limitMs: 30_000 });
    expect(recoveredAfter, 'virtual ms until both directions open again').to.not.equal(null);
    expect(recoveredAfter!).to.be.at.least(5000).and.at.most(7000);
    expect(pair.initiator.stats().handshakesSent).to.equal(sentBefore + 1);
  });

  it('a responder whose keys were confirmed by DATA stops sending HELLO', () => {
    const pair = makePair();
    handshake(pair);
    exchange(pair, { i: 0, r: 0 });
    for (let t = 0; t < 10_000; t += 250) expect(pair.responder.pollHandshake(pair.clock.now() + t)).to.equal(null);
  });

  it('a replayed packet the caller never committed does not count as hearing back: the initiator still handshakes after 5 s (issue 16.3)', () => {
    const pair = makePair();
    handshake(pair);
    const n = { i: 0, r: 0 };
    exchange(pair, n);
    // One authenticated packet from the responder, refused by the caller (never committed).
    const refused = pair.responder.seal(n.r++, bytes('refused'));
    expectOpened(pair.initiator.open(refused));
    let rehandshakeAt: number | null = null;
    const start = pair.clock.now();
    for (let t = 0; t < 20_000 && rehandshakeAt === null; t += 250) {
      pair.clock.time += 250;
      if (t % 1000 === 0) pair.initiator.seal(n.i++, bytes('ping'));
      // A relay replays it again and again: it still authenticates, and is still not committed.
      const replay = pair.initiator.open(refused);
      if (replay.ok) expect(replay.packetNumber).to.equal(n.r - 1);
      if (pair.initiator.pollHandshake(pair.clock.now()) !== null) rehandshakeAt = pair.clock.now() - start;
    }
    expect(rehandshakeAt, 'virtual ms until the initiator handshakes again').to.not.equal(null);
    expect(rehandshakeAt!).to.be.at.most(7000);
  });

  it('an initiator that hears back keeps its keys: no handshake before the rekey is due', () => {
    const pair = makePair();
    handshake(pair);
    const n = { i: 0, r: 0 };
    for (let t = 0; t < 60_000; t += 1000) {
      pair.clock.time += 1000;
      exchange(pair, n);
      expect(pair.initiator.pollHandshake(pair.clock.now())).to.equal(null);
    }
  });
});
