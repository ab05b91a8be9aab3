/**
 * Property tests for every decoder of untrusted input, fed MUTATIONS of real valid inputs (the
 * PROTOCOL.md vectors, real routes, real handshake and DATA packets, real tokens): bit flips,
 * truncation, extension, insertion, splicing, type-byte swaps. Random bytes mostly die at the first
 * check; mutants of valid input reach the later ones. Every decoder must never throw, and what it
 * accepts must be exactly what its encoder would have produced (no second spelling of one value),
 * or, for authenticated input, nothing but the original.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeTransformSnapshot, encodeTransformSnapshot } from '../../plugin/components/networked-transform/snapshot-codec';
import { SecureSession, roleFor } from '../../plugin/net/crypto';
import { Identity, formatPeerId, parsePeerId, peerIdFromPublicKey } from '../../plugin/net/identity';
import { checkMetadataUpdate, defaultLobbyMetadataLimits } from '../../plugin/lobby/metadata-rules';
import { decodeFrames, encodeFrames } from '../../plugin/net/reliability';
import { Result } from '../../plugin/net/result';
import { decodeRoute, decodeRouteForPeer, encodeRoute } from '../../plugin/net/route';
import type { Clock } from '../../plugin/net/types';
import { fromBase64, fromHex, toBase64, toHex } from '../../plugin/net/wire';
import {
  decodeRelayDatagram,
  decodeRtcSignal,
  encodeData,
  encodeDelivery,
  encodeKeepalive,
  encodeKeepaliveAck,
  encodeLeave,
  encodeRefused,
  encodeRegister,
  encodeRegistered,
  encodeRtcAnswer,
  encodeRtcClose,
  encodeRtcOffer,
  type RelayDatagram,
  type RtcSignalDatagram,
} from '../../plugin/net/wire/relay-codec';
import { createRelayToken, verifyRelayToken } from '../../server/relay/token';
import { sanitizeOffer } from '../../server/relay/webrtc';
import { Mutator } from '../../fuzz/mutators';
import { protocolVectors } from '../helpers/protocol-vectors';
import { testRelaySecret } from '../helpers/secrets';

/** Runs per property; the long fuzz runner raises it with FUZZ_DECODER_RUNS. */
const RUNS = Number(process.env.FUZZ_DECODER_RUNS ?? 3000);
const RELAY_TYPES = [0x01, 0x02, 0x03, 0x04, 0x81, 0x82, 0x83, 0x84, 0x10, 0x11, 0x90, 0x00, 0x05, 0x7f, 0x80, 0xff];

function hexBytes(hex: string): Uint8Array {
  const bytes = fromHex(hex.replace(/\s+/g, ''));
  if (bytes === null) throw new Error(`bad hex: ${hex}`);
  return bytes;
}

function vectorsStartingWith(prefix: string): Uint8Array[] {
  return [...protocolVectors()].filter(([name]) => name.startsWith(prefix)).map(([, hex]) => hexBytes(hex));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** A mutant of one corpus entry per run; fast-check picks the seed, so a failure names its seed. */
function mutants(corpus: readonly Uint8Array[], types: readonly number[] = RELAY_TYPES): fc.Arbitrary<Uint8Array> {
  return fc.integer().map((seed) => new Mutator(seed, types).mutate(corpus).bytes);
}

function encodeRelay(value: RelayDatagram, length: number): Uint8Array {
  switch (value.kind) {
    case 'register':
      return encodeRegister({ nonce: value.nonce, token: value.token, padToBytes: length });
    case 'keepalive':
      return encodeKeepalive(value.sessionId, value.secret);
    case 'leave':
      return encodeLeave(value.sessionId, value.secret);
    case 'data':
      return encodeData(value.destination, value.payload);
    case 'delivery':
      return encodeDelivery(value.source, value.payload);
    case 'registered':
      return encodeRegistered(value);
    case 'keepaliveAck':
      return encodeKeepaliveAck(value.sessionId);
    case 'refused':
      return encodeRefused(value.reference, value.reason, value.detail) as Uint8Array;
  }
}

function encodeRtc(value: RtcSignalDatagram): Uint8Array {
  switch (value.kind) {
    case 'rtcOffer':
      return encodeRtcOffer(value.sessionId, value.attempt, value.sdp);
    case 'rtcClose':
      return encodeRtcClose(value.sessionId, value.attempt);
    case 'rtcAnswer':
      return encodeRtcAnswer(value.sessionId, value.attempt, value.status, value.text);
  }
}

class ManualClock implements Clock {
  time = 1_000;
  now(): number {
    return this.time;
  }
}

function identityFromSeed(seed: number): Identity {
  return Identity.fromSecretKey(sha256(new TextEncoder().encode(`fuzz identity ${seed}`)));
}

describe('decoders under mutation (fast-check over mutated valid inputs)', function () {
  this.timeout(60_000);

  it('relay datagrams (§3) and WebRTC signals: never throw; what decodes re-encodes to the same bytes', () => {
    const sdp = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\n';
    const rtc = [encodeRtcOffer(0x0123456789abcdefn, 7, sdp), encodeRtcClose(5n, 1), encodeRtcAnswer(5n, 1, 0, sdp), encodeRtcAnswer(5n, 1, 2, 'busy')];
    const corpus = [...vectorsStartingWith('relay-'), ...vectorsStartingWith('rtc-'), encodeRegister({ nonce: new Uint8Array(8), token: 'v1.x.y', padToBytes: 256 }), ...rtc];
    const kinds: Record<string, number> = {};
    fc.assert(
      fc.property(mutants(corpus), (bytes) => {
        const relay = decodeRelayDatagram(bytes);
        if (relay.ok) {
          kinds[relay.value.kind] = (kinds[relay.value.kind] ?? 0) + 1;
          const register = relay.value.kind === 'register' ? relay.value : null;
          // A REGISTER of another version is read only up to its nonce (§3.9).
          if (register === null || register.version === 1) expect(toHex(encodeRelay(relay.value, bytes.length))).to.equal(toHex(bytes));
        }
        const signal = decodeRtcSignal(bytes);
        if (signal.ok) {
          kinds[signal.value.kind] = (kinds[signal.value.kind] ?? 0) + 1;
          expect(toHex(encodeRtc(signal.value))).to.equal(toHex(bytes));
          if (signal.value.kind === 'rtcOffer') sanitizeOffer(signal.value.sdp);
        }
      }),
      { seed: 301, numRuns: RUNS * 2 },
    );
    // The mutants reach every kind, so the later checks of each decoder ran.
    expect(Object.keys(kinds).length, JSON.stringify(kinds)).to.be.at.least(10);
  });

  it('routes (§4): never throw, refuse with InvalidBase64 or InvalidPayload, accept only canonical text, and never accept a key that does not derive the peer id', () => {
    const alice = identityFromSeed(1);
    const route = encodeRoute({ relayId: hexBytes('a0a1a2a3a4a5a6a7'), sessionId: 0x0123456789abcdefn, publicKey: alice.publicKey, endpoints: ['udp://127.0.0.1:7777', 'ws://127.0.0.1:7777'] });
    const corpus = [fromBase64(route) as Uint8Array];
    let accepted = 0;
    const check = (text: string) => {
      const decoded = decodeRoute(text);
      if (!decoded.ok) {
        expect([Result.InvalidBase64, Result.InvalidPayload]).to.include(decoded.code);
        return;
      }
      expect(encodeRoute(decoded.route), 'accepted routes are canonical').to.equal(text);
      const forAlice = decodeRouteForPeer(alice.peerId, text);
      if (forAlice.ok) {
        accepted++;
        expect(peerIdFromPublicKey(forAlice.route.publicKey)).to.equal(alice.peerId);
        expect(equalBytes(forAlice.route.publicKey, alice.publicKey)).to.equal(true);
      } else {
        expect(forAlice.code).to.equal(Result.InvalidPayload);
      }
    };
    fc.assert(fc.property(mutants(corpus, [0x01, 0x00, 0x02, 0xff]), (bytes) => check(toBase64(bytes))), { seed: 303, numRuns: RUNS });
    // Mutations of the text itself: padding, whitespace, the URL-safe alphabet, truncation.
    const routeBytes = new TextEncoder().encode(route);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const mutant = new Mutator(seed, [0x41, 0x2d, 0x5f, 0x3d, 0x20]).mutate([routeBytes]).bytes;
        check(String.fromCharCode(...mutant));
      }),
      { seed: 304, numRuns: RUNS },
    );
    expect(accepted, 'some mutants keep the key and stay valid').to.be.greaterThan(0);
  });

  it('frames (§6): never throw; what decodes encodes and decodes again to the same frames', () => {
    const corpus = vectorsStartingWith('frame-');
    corpus.push(
      encodeFrames([
        { type: 'ack', ackDelay: 40, ranges: [{ smallest: 90, largest: 100 }, { smallest: 10, largest: 50 }, { smallest: 0, largest: 5 }] },
        { type: 'fragment', channelId: 3, reliable: true, sequence: 70000, fragmentIndex: 2, fragmentCount: 9, data: new Uint8Array(200).fill(7) },
        { type: 'message', channelId: 127, reliable: false, sequence: 0xffffffff, data: new Uint8Array(3) },
        { type: 'close', reason: 0 },
      ]),
    );
    let accepted = 0;
    fc.assert(
      fc.property(mutants(corpus, [1, 2, 3, 4, 5, 0, 6, 0x80]), (bytes) => {
        const decoded = decodeFrames(bytes);
        if (!decoded.ok) return;
        accepted++;
        // Not byte equality: a MESSAGE where MESSAGE_NEXT could stand is accepted (§6.2a).
        const again = decodeFrames(encodeFrames(decoded.value));
        expect(again.ok && again.value).to.deep.equal(decoded.value);
      }),
      { seed: 305, numRuns: RUNS * 2 },
    );
    expect(accepted).to.be.greaterThan(100);
  });

  it('peer packets (§5): mutated INIT, RESP, HELLO and DATA never throw, and none but the original authenticates', () => {
    const clock = new ManualClock();
    const wall = new ManualClock();
    const one = identityFromSeed(11);
    const two = identityFromSeed(12);
    const make = (local: Identity, remote: Identity, incarnation: bigint) =>
      new SecureSession({ identity: local, remotePublicKey: remote.publicKey, role: roleFor(local.peerId, remote.peerId), incarnation, clock, wallClock: wall });
    const [initiatorId, responderId] = one.peerId < two.peerId ? [one, two] : [two, one];
    const initiator = make(initiatorId, responderId, 1n);
    const responder = make(responderId, initiatorId, 2n);
    const init = initiator.pollHandshake(clock.now()) as Uint8Array;
    const hello = responder.pollHandshake(clock.now()) as Uint8Array;
    // A second responder that never sees the real INIT: any mutant that it accepts must be the INIT itself.
    const untouchedResponder = make(responderId, initiatorId, 3n);
    const reply = responder.handleHandshake(init, clock.now());
    if (reply.kind !== 'reply') throw new Error(`handshake: ${reply.kind}`);
    const resp = reply.packet;
    // An initiator waiting for the RESP to a newer INIT: mutants of that RESP must never complete it.
    const waitingInitiator = make(initiatorId, responderId, 4n);
    const waitingInit = waitingInitiator.pollHandshake(clock.now()) as Uint8Array;
    const waitingReply = make(responderId, initiatorId, 5n).handleHandshake(waitingInit, clock.now());
    if (waitingReply.kind !== 'reply') throw new Error('second handshake');
    const waitingResp = waitingReply.packet;
    expect(initiator.handleHandshake(resp, clock.now()).kind).to.equal('established');
    const data = [initiator.seal(1, new TextEncoder().encode('frames go here')), initiator.seal(2, new Uint8Array(0)), initiator.seal(3, new Uint8Array(900).fill(3))];
    const corpus = [init, resp, hello, waitingResp, ...data];
    const outcomes: Record<string, number> = {};
    fc.assert(
      fc.property(mutants(corpus, [1, 2, 3, 4, 0, 5, 0x83]), (bytes) => {
        clock.time += 200; // past the handshake budget, so every mutant reaches the crypto
        const original = corpus.find((c) => equalBytes(c, bytes));
        for (const [name, session] of [['untouched', untouchedResponder], ['waiting', waitingInitiator], ['responder', responder], ['initiator', initiator]] as const) {
          const outcome = session.handleHandshake(bytes, clock.now());
          outcomes[`${name}:${outcome.kind}:${outcome.kind === 'dropped' ? outcome.reason : ''}`] = (outcomes[`${name}:${outcome.kind}:${outcome.kind === 'dropped' ? outcome.reason : ''}`] ?? 0) + 1;
          if (outcome.kind === 'reply' || outcome.kind === 'established') expect(original, `${name} accepted a mutant: ${toHex(bytes)}`).to.not.equal(undefined);
          const opened = session.open(bytes);
          if (opened.ok) expect(original, `${name} opened a mutant DATA: ${toHex(bytes)}`).to.not.equal(undefined);
        }
      }),
      { seed: 306, numRuns: RUNS },
    );
    // The crypto ran (auth failures), not only the cheap length checks.
    expect(Object.keys(outcomes).some((k) => /auth/.test(k)), JSON.stringify(outcomes)).to.equal(true);
  });

  it('relay tokens (§8): never throw, and no mutant of a valid token is accepted', () => {
    const secret = testRelaySecret('fuzz');
    const now = 1_750_000_000;
    const tokens = [createRelayToken(secret, { ttlSeconds: 60, subject: 'alice' }, now), createRelayToken(secret, { ttlSeconds: 3600 }, now)];
    const corpus = tokens.map((t) => new TextEncoder().encode(t));
    const statuses: Record<string, number> = {};
    fc.assert(
      fc.property(mutants(corpus, [0x76, 0x2e, 0x41, 0x2d, 0x5f, 0x3d]), (bytes) => {
        const text = String.fromCharCode(...bytes);
        const status = verifyRelayToken(secret, text, now);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 'ok') expect(tokens, `accepted a mutant token ${JSON.stringify(text)}`).to.include(text);
        expect(verifyRelayToken(secret, text, now + 10_000)).to.not.equal('ok');
      }),
      { seed: 307, numRuns: RUNS },
    );
    expect(statuses.invalid).to.be.greaterThan(0);
  });

  it('lobby metadata and peer ids: never throw; what is accepted obeys every rule', () => {
    const limits = defaultLobbyMetadataLimits;
    const key = fc.oneof(fc.constantFrom('peer_id', 'route', '__proto__', 'constructor', 'toString', ''), fc.string({ maxLength: 70 }), fc.string({ unit: 'binary', maxLength: 70 }));
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('v'.repeat(1024), 'v'.repeat(1025), ''), fc.anything({ withBigInt: true, maxDepth: 1 }));
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 20 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 16 }), (entries, current) => {
        const verdict = checkMetadataUpdate(new Map(Object.entries(current)), entries, limits);
        if (!verdict.ok) return;
        const merged = new Set([...Object.keys(current), ...verdict.entries.map(([k]) => k)]);
        expect(merged.size).to.be.at.most(limits.maxKeys);
        for (const [k, v] of verdict.entries) {
          expect(k).to.match(/^[A-Za-z0-9_.:-]{1,64}$/);
          expect(k).to.not.equal('__proto__');
          expect(typeof v).to.equal('string');
          expect(v.length).to.be.at.most(limits.maxValueLength);
        }
      }),
      { seed: 308, numRuns: Math.ceil(RUNS / 4) },
    );
    const valid = [formatPeerId(1n), formatPeerId(2n ** 64n - 1n), formatPeerId(identityFromSeed(3).peerId)].map((s) => new TextEncoder().encode(s));
    fc.assert(
      fc.property(fc.oneof(mutants(valid, [0x30, 0x31, 0x39, 0x2d, 0x2b, 0x20]).map((b) => String.fromCharCode(...b)), fc.string({ maxLength: 30 })), (text) => {
        const id = parsePeerId(text);
        if (id === null) return;
        expect(formatPeerId(id), 'only the canonical decimal form is accepted').to.equal(text);
        expect(id >= 1n && id < 2n ** 64n).to.equal(true);
      }),
      { seed: 309, numRuns: RUNS },
    );
  });

  it('transform snapshots: never throw; what decodes is a finite position and a unit quaternion that encodes again', () => {
    const corpus = [
      encodeTransformSnapshot({ entityId: 7, timeMs: 123456, pose: { position: [1.5, -2.25, 100], rotation: [0, 0, 0, 1] } }),
      encodeTransformSnapshot({ entityId: 2 ** 31, timeMs: 0xffffffff, pose: { position: [-1000, 0.001, 5000], rotation: [0.5, 0.5, 0.5, 0.5] } }),
    ];
    fc.assert(
      fc.property(mutants(corpus, [0x54, 0x00, 0xff]), (bytes) => {
        const decoded = decodeTransformSnapshot(bytes);
        if (!decoded.ok) return;
        for (const n of [...decoded.value.pose.position, ...decoded.value.pose.rotation]) expect(Number.isFinite(n)).to.equal(true);
        const [x, y, z, w] = decoded.value.pose.rotation;
        expect(Math.hypot(x, y, z, w)).to.be.closeTo(1, 1e-6);
        // Quantization is lossy (a rotation has several 32-bit spellings), so no byte equality here.
        expect(decodeTransformSnapshot(encodeTransformSnapshot(decoded.value)).ok).to.equal(true);
      }),
      { seed: 310, numRuns: RUNS },
    );
  });
});
