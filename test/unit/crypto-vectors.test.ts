/**
 * Handshake and DATA test vectors (PROTOCOL.md §5.6 and §7.2). The same
 * bytes are checked twice: against SecureSession, and against an independent derivation written with
 * node:crypto straight from the §5.6 text, so the text, the vectors and the code cannot drift apart.
 */
import sodium from 'libsodium-wrappers';
import { cryptoBackendName, useCryptoBackend, useLibsodium } from '../../plugin/net/crypto/primitives';
import { protocolVector } from '../helpers/protocol-vectors';
import { expect } from 'chai';
import {
  createCipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
} from 'node:crypto';
import { roleFor, SecureSession } from '../../plugin/net/crypto';
import { initialState, readInit, readResp, writeInit, writeResp } from '../../plugin/net/crypto/handshake';
import { x25519 } from '@noble/curves/ed25519.js';
import { Identity } from '../../plugin/net/identity';
import { fromHex, toHex } from '../../plugin/net/wire';

const seq = (start: number) => Uint8Array.from({ length: 32 }, (_, i) => start + i);

// Inputs.
const INITIATOR_STATIC_SECRET = seq(0x20); // 20 21 … 3f
const RESPONDER_STATIC_SECRET = seq(0x00); // 00 01 … 1f
const INITIATOR_EPHEMERAL_SECRET = seq(0x40); // 40 41 … 5f
const RESPONDER_EPHEMERAL_SECRET = seq(0x60); // 60 61 … 7f
const INITIATOR_INCARNATION = 0x0102030405060708n;
const RESPONDER_INCARNATION = 0x1112131415161718n;
const TIMESTAMP = 1_700_000_000_000n; // 0x0000018bcfe56800
const DATA_PACKET_NUMBER = 1;
const DATA_PLAINTEXT = new TextEncoder().encode('switchboard');

// Outputs: read from PROTOCOL.md §7.2, so the written protocol is what the code must produce.
const V = {
  initiatorPeerId: 4978404116881286160n,
  responderPeerId: 14388123395273537531n,
  initiatorStaticPublic: protocolVector('crypto-initiator-static-public'),
  responderStaticPublic: protocolVector('crypto-responder-static-public'),
  init: protocolVector('crypto-init'),
  resp: protocolVector('crypto-resp'),
  handshakeHash: protocolVector('crypto-handshake-hash'),
  keyInitiatorToResponder: protocolVector('crypto-key-initiator-to-responder'),
  keyResponderToInitiator: protocolVector('crypto-key-responder-to-initiator'),
  dataInitiatorToResponder: protocolVector('crypto-data-initiator-to-responder'),
  dataResponderToInitiator: protocolVector('crypto-data-responder-to-initiator'),
};

function fixedRandom(bytes: Uint8Array): (n: number) => Uint8Array {
  return (n) => {
    expect(n).to.equal(32);
    return bytes.slice();
  };
}

function runSessions(): { init: Uint8Array; resp: Uint8Array; dataI: Uint8Array; dataR: Uint8Array } {
  const initiator = Identity.fromSecretKey(INITIATOR_STATIC_SECRET);
  const responder = Identity.fromSecretKey(RESPONDER_STATIC_SECRET);
  const clock = { now: () => 0 };
  const wallClock = { now: () => Number(TIMESTAMP) };
  const a = new SecureSession({
    identity: initiator,
    remotePublicKey: responder.publicKey,
    role: roleFor(initiator.peerId, responder.peerId),
    incarnation: INITIATOR_INCARNATION,
    clock,
    wallClock,
    random: fixedRandom(INITIATOR_EPHEMERAL_SECRET),
  });
  const b = new SecureSession({
    identity: responder,
    remotePublicKey: initiator.publicKey,
    role: roleFor(responder.peerId, initiator.peerId),
    incarnation: RESPONDER_INCARNATION,
    clock,
    wallClock,
    random: fixedRandom(RESPONDER_EPHEMERAL_SECRET),
  });
  expect(a.role).to.equal('initiator');
  const init = a.pollHandshake(0)!;
  const reply = b.handleHandshake(init, 0);
  if (reply.kind !== 'reply') throw new Error(`responder: ${JSON.stringify(reply)}`);
  const established = a.handleHandshake(reply.packet, 0);
  if (established.kind !== 'established') throw new Error(`initiator: ${JSON.stringify(established)}`);
  return {
    init,
    resp: reply.packet,
    dataI: a.seal(DATA_PACKET_NUMBER, DATA_PLAINTEXT),
    dataR: b.seal(DATA_PACKET_NUMBER, DATA_PLAINTEXT),
  };
}

// ---- independent derivation with node:crypto, following the §5.6 text ----

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

function nodePublicKey(secret: Uint8Array): Buffer {
  const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return spki.subarray(X25519_SPKI_PREFIX.length);
}

function nodeDh(secret: Uint8Array, publicKey: Uint8Array): Buffer {
  return diffieHellman({
    privateKey: createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' }),
    publicKey: createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }),
  });
}

const sha = (...parts: Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

function nodeHkdf(ck: Uint8Array, ikm: Uint8Array): [Buffer, Buffer] {
  const out = Buffer.from(hkdfSync('sha256', ikm, ck, new Uint8Array(0), 64));
  return [out.subarray(0, 32), out.subarray(32)];
}

function nodeSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

const u64 = (value: bigint) => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(value);
  return out;
};

function independentDerivation() {
  const si = nodePublicKey(INITIATOR_STATIC_SECRET);
  const sr = nodePublicKey(RESPONDER_STATIC_SECRET);
  const ei = nodePublicKey(INITIATOR_EPHEMERAL_SECRET);
  const er = nodePublicKey(RESPONDER_EPHEMERAL_SECRET);
  const zeroNonce = new Uint8Array(12);

  // The name is exactly 32 bytes, so Noise uses it as it is; then the prologue.
  let h = Buffer.from('Noise_KK_25519_ChaChaPoly_SHA256');
  expect(h.length).to.equal(32);
  let ck: Buffer = h;
  let k: Buffer;
  h = sha(h, Buffer.from('switchboard peer protocol 2'));
  h = sha(h, si);
  h = sha(h, sr);
  // INIT
  h = sha(h, ei);
  [ck, k] = nodeHkdf(ck, nodeDh(INITIATOR_EPHEMERAL_SECRET, sr));
  [ck, k] = nodeHkdf(ck, nodeDh(INITIATOR_STATIC_SECRET, sr));
  const c1 = nodeSeal(k, zeroNonce, h, Buffer.concat([u64(INITIATOR_INCARNATION), u64(TIMESTAMP)]));
  h = sha(h, c1);
  const init = Buffer.concat([Buffer.of(0x01), ei, c1]);
  // RESP
  h = sha(h, er);
  [ck, k] = nodeHkdf(ck, nodeDh(RESPONDER_EPHEMERAL_SECRET, ei));
  [ck, k] = nodeHkdf(ck, nodeDh(RESPONDER_EPHEMERAL_SECRET, si));
  const c2 = nodeSeal(k, zeroNonce, h, u64(RESPONDER_INCARNATION));
  h = sha(h, c2);
  const resp = Buffer.concat([Buffer.of(0x02), er, c2]);
  // Split and one DATA packet each way: AAD = 6 header bytes, nonce = 4 zero bytes ‖ little-endian u64 packet number.
  const [kIR, kRI] = nodeHkdf(ck, new Uint8Array(0));
  const header = Buffer.from([0x03, 0x00, 0, 0, 0, DATA_PACKET_NUMBER]);
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(BigInt(DATA_PACKET_NUMBER), 4);
  const dataI = Buffer.concat([header, nodeSeal(kIR, nonce, header, DATA_PLAINTEXT)]);
  const dataR = Buffer.concat([header, nodeSeal(kRI, nonce, header, DATA_PLAINTEXT)]);
  return { si, sr, init, resp, h, kIR, kRI, dataI, dataR };
}

for (const backendName of ['node', 'noble', 'libsodium'] as const) describe(`crypto: test vectors (${backendName} backend)`, () => {
  let previous: ReturnType<typeof cryptoBackendName>;
  before(async function () {
    previous = cryptoBackendName();
    if (backendName === 'libsodium') {
      await sodium.ready;
      useLibsodium(sodium);
    }
    if (!useCryptoBackend(backendName)) this.skip(); // 'node' exists only where Node's crypto has ChaCha20-Poly1305
  });
  after(() => void useCryptoBackend(previous));

  it('static keys and peer ids', () => {
    const initiator = Identity.fromSecretKey(INITIATOR_STATIC_SECRET);
    const responder = Identity.fromSecretKey(RESPONDER_STATIC_SECRET);
    expect(toHex(initiator.publicKey)).to.equal(V.initiatorStaticPublic);
    expect(toHex(responder.publicKey)).to.equal(V.responderStaticPublic);
    expect(initiator.peerId).to.equal(V.initiatorPeerId);
    expect(responder.peerId).to.equal(V.responderPeerId);
    expect(roleFor(initiator.peerId, responder.peerId)).to.equal('initiator');
  });

  it('SecureSession produces the recorded INIT, RESP and DATA bytes', () => {
    const out = runSessions();
    expect(toHex(out.init)).to.equal(V.init);
    expect(toHex(out.resp)).to.equal(V.resp);
    expect(toHex(out.dataI)).to.equal(V.dataInitiatorToResponder);
    expect(toHex(out.dataR)).to.equal(V.dataResponderToInitiator);
  });

  it('an independent node:crypto derivation from the §5.6 text gives the same bytes', () => {
    const d = independentDerivation();
    expect(d.si.toString('hex')).to.equal(V.initiatorStaticPublic);
    expect(d.sr.toString('hex')).to.equal(V.responderStaticPublic);
    expect(d.init.toString('hex')).to.equal(V.init);
    expect(d.resp.toString('hex')).to.equal(V.resp);
    expect(d.h.toString('hex')).to.equal(V.handshakeHash);
    expect(d.kIR.toString('hex')).to.equal(V.keyInitiatorToResponder);
    expect(d.kRI.toString('hex')).to.equal(V.keyResponderToInitiator);
    expect(d.dataI.toString('hex')).to.equal(V.dataInitiatorToResponder);
    expect(d.dataR.toString('hex')).to.equal(V.dataResponderToInitiator);
  });

  it('the handshake functions derive the recorded hash and transport keys on both sides', () => {
    const initiator = Identity.fromSecretKey(INITIATOR_STATIC_SECRET);
    const responder = Identity.fromSecretKey(RESPONDER_STATIC_SECRET);
    const base = initialState(initiator.publicKey, responder.publicKey);
    const staticShared = initiator.sharedSecret(responder.publicKey);
    const keyPair = (secretKey: Uint8Array) => ({ secretKey, publicKey: x25519.getPublicKey(secretKey) });
    const init = writeInit({
      base,
      staticShared,
      responderStatic: responder.publicKey,
      ephemeral: keyPair(INITIATOR_EPHEMERAL_SECRET),
      incarnation: INITIATOR_INCARNATION,
      timestamp: TIMESTAMP,
    })!;
    expect(toHex(init.packet)).to.equal(V.init);
    const read = readInit({ base, staticShared: responder.sharedSecret(initiator.publicKey), responder, packet: init.packet });
    if (!read.ok) throw new Error(read.reason);
    expect(read.accepted.incarnation).to.equal(INITIATOR_INCARNATION);
    expect(read.accepted.timestamp).to.equal(TIMESTAMP);
    const resp = writeResp({
      accepted: read.accepted,
      initiatorStatic: initiator.publicKey,
      ephemeral: keyPair(RESPONDER_EPHEMERAL_SECRET),
      incarnation: RESPONDER_INCARNATION,
    })!;
    expect(toHex(resp.packet)).to.equal(V.resp);
    const done = readResp({ handshake: init.handshake, initiator, packet: resp.packet });
    if (!done.ok) throw new Error(done.reason);
    expect(done.incarnation).to.equal(RESPONDER_INCARNATION);
    expect(toHex(done.keys.handshakeHash)).to.equal(V.handshakeHash);
    expect(toHex(resp.keys.handshakeHash)).to.equal(V.handshakeHash);
    expect(toHex(done.keys.sendKey)).to.equal(V.keyInitiatorToResponder);
    expect(toHex(done.keys.receiveKey)).to.equal(V.keyResponderToInitiator);
    expect(toHex(resp.keys.receiveKey)).to.equal(V.keyInitiatorToResponder);
    expect(toHex(resp.keys.sendKey)).to.equal(V.keyResponderToInitiator);
  });

  it('the recorded packets have the §5 sizes and open on the other side', () => {
    expect(fromHex(V.init)!.length).to.equal(65);
    expect(fromHex(V.resp)!.length).to.equal(57);
    expect(fromHex(V.dataInitiatorToResponder)!.length).to.equal(6 + DATA_PLAINTEXT.length + 16);
    const responder = new SecureSession({
      identity: Identity.fromSecretKey(RESPONDER_STATIC_SECRET),
      remotePublicKey: fromHex(V.initiatorStaticPublic)!,
      role: 'responder',
      incarnation: RESPONDER_INCARNATION,
      clock: { now: () => 0 },
      random: fixedRandom(RESPONDER_EPHEMERAL_SECRET),
    });
    const reply = responder.handleHandshake(fromHex(V.init)!, 0);
    expect(reply.kind).to.equal('reply');
    const opened = responder.open(fromHex(V.dataInitiatorToResponder)!);
    expect(opened.ok && new TextDecoder().decode(opened.plaintext)).to.equal('switchboard');
  });
});
