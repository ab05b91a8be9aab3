/**
 * Our handshake against a Noise implementation written from the specification alone (Noise
 * Protocol Framework, revision 34, §5 "Processing rules": CipherState, SymmetricState,
 * HandshakeState, and §12 for the 25519 / ChaChaPoly / SHA256 functions), on @noble primitives and
 * nothing of plugin/net/crypto. The KK pattern is interpreted token by token, as §5.3 says, so this
 * is no transcription of handshake.ts. Issue 16 item 6.
 */
import { expect } from 'chai';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { PROLOGUE, PROTOCOL_NAME, readInit, readResp, writeInit, writeResp, initialState } from '../../plugin/net/crypto/handshake';
import { SecureSession } from '../../plugin/net/crypto';
import { Identity } from '../../plugin/net/identity';
import { protocolVector } from '../helpers/protocol-vectors';
import { toHex } from '../../plugin/net/wire';

// ---- Noise rev 34, §4 and §12 ----
const HASHLEN = 32;
const DHLEN = 32;
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const HASH = (data: Uint8Array) => sha256(data);
const HMAC_HASH = (key: Uint8Array, data: Uint8Array) => hmac(sha256, key, data);
/** §4.3 HKDF with two outputs. */
function HKDF2(chainingKey: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const tempKey = HMAC_HASH(chainingKey, ikm);
  const output1 = HMAC_HASH(tempKey, Uint8Array.of(0x01));
  const output2 = HMAC_HASH(tempKey, concat(output1, Uint8Array.of(0x02)));
  return [output1, output2];
}
/** §12.3 ChaChaPoly: 32 bits of zeros, then the little-endian 64-bit n. */
function chachaNonce(n: bigint): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, n, true);
  return nonce;
}
const ENCRYPT = (k: Uint8Array, n: bigint, ad: Uint8Array, plaintext: Uint8Array) => chacha20poly1305(k, chachaNonce(n), ad).encrypt(plaintext);
const DECRYPT = (k: Uint8Array, n: bigint, ad: Uint8Array, ciphertext: Uint8Array) => chacha20poly1305(k, chachaNonce(n), ad).decrypt(ciphertext);
const DH = (secretKey: Uint8Array, publicKey: Uint8Array) => x25519.getSharedSecret(secretKey, publicKey);

interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** §5.1 */
class CipherState {
  k: Uint8Array | null = null;
  n = 0n;
  initializeKey(key: Uint8Array | null): void {
    this.k = key;
    this.n = 0n;
  }
  hasKey(): boolean {
    return this.k !== null;
  }
  /** §11.4 out-of-order transport messages: the application sets n explicitly. */
  setNonce(n: bigint): void {
    this.n = n;
  }
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.k === null) return plaintext;
    const out = ENCRYPT(this.k, this.n, ad, plaintext);
    this.n++;
    return out;
  }
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.k === null) return ciphertext;
    const out = DECRYPT(this.k, this.n, ad, ciphertext);
    this.n++;
    return out;
  }
}

/** §5.2 */
class SymmetricState {
  readonly cipher = new CipherState();
  ck: Uint8Array;
  h: Uint8Array;
  constructor(protocolName: string) {
    const name = new TextEncoder().encode(protocolName);
    this.h = name.length <= HASHLEN ? concat(name, new Uint8Array(HASHLEN - name.length)) : HASH(name);
    this.ck = this.h;
  }
  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = HKDF2(this.ck, ikm);
    this.ck = ck;
    this.cipher.initializeKey(tempK.slice(0, 32)); // HASHLEN 32: no truncation needed
  }
  mixHash(data: Uint8Array): void {
    this.h = HASH(concat(this.h, data));
  }
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipher.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipher.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }
  split(): [CipherState, CipherState] {
    const [k1, k2] = HKDF2(this.ck, new Uint8Array(0));
    const c1 = new CipherState();
    const c2 = new CipherState();
    c1.initializeKey(k1);
    c2.initializeKey(k2);
    return [c1, c2];
  }
}

type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss';
/** §7.5 KK:  -> s  <- s  ...  -> e, es, ss  <- e, ee, se */
const KK = { preInitiator: ['s'] as Token[], preResponder: ['s'] as Token[], messages: [['e', 'es', 'ss'], ['e', 'ee', 'se']] as Token[][] };

/** §5.3, for patterns without PSK and with pre-messages of static keys only. */
class HandshakeState {
  readonly ss: SymmetricState;
  e: KeyPair | null = null;
  re: Uint8Array | null = null;
  private messageIndex = 0;
  constructor(
    readonly initiator: boolean,
    prologue: Uint8Array,
    readonly s: KeyPair,
    readonly rs: Uint8Array,
    private readonly nextEphemeral: () => KeyPair,
  ) {
    this.ss = new SymmetricState(PROTOCOL_NAME);
    this.ss.mixHash(prologue);
    // Pre-messages: the initiator's first, then the responder's.
    for (const _ of KK.preInitiator) this.ss.mixHash(initiator ? s.publicKey : rs);
    for (const _ of KK.preResponder) this.ss.mixHash(initiator ? rs : s.publicKey);
  }
  private dhToken(token: 'ee' | 'es' | 'se' | 'ss'): Uint8Array {
    // The first letter names the initiator's key, the second the responder's (§5.3).
    const local = (letter: string) => (letter === 'e' ? this.e!.secretKey : this.s.secretKey);
    const remote = (letter: string) => (letter === 'e' ? this.re! : this.rs);
    const [i, r] = [token[0], token[1]];
    return this.initiator ? DH(local(i), remote(r)) : DH(local(r), remote(i));
  }
  writeMessage(payload: Uint8Array): Uint8Array {
    const parts: Uint8Array[] = [];
    for (const token of KK.messages[this.messageIndex++]) {
      if (token === 'e') {
        this.e = this.nextEphemeral();
        parts.push(this.e.publicKey);
        this.ss.mixHash(this.e.publicKey);
      } else if (token === 's') {
        parts.push(this.ss.encryptAndHash(this.s.publicKey));
      } else {
        this.ss.mixKey(this.dhToken(token));
      }
    }
    parts.push(this.ss.encryptAndHash(payload));
    return concat(...parts);
  }
  readMessage(message: Uint8Array): Uint8Array {
    let at = 0;
    for (const token of KK.messages[this.messageIndex++]) {
      if (token === 'e') {
        this.re = message.slice(at, at + DHLEN);
        at += DHLEN;
        this.ss.mixHash(this.re);
      } else if (token === 's') {
        throw new Error('KK sends no static key in its messages');
      } else {
        this.ss.mixKey(this.dhToken(token));
      }
    }
    return this.ss.decryptAndHash(message.subarray(at));
  }
}

// ---- the comparison ----
const seq = (start: number) => Uint8Array.from({ length: 32 }, (_, i) => start + i);
const keyPair = (secretKey: Uint8Array): KeyPair => ({ secretKey, publicKey: x25519.getPublicKey(secretKey) });
const u64 = (...values: bigint[]) => {
  const out = new Uint8Array(8 * values.length);
  values.forEach((v, i) => new DataView(out.buffer).setBigUint64(8 * i, v));
  return out;
};

/** Both sides of a KK handshake in the reference, with the §7.2 inputs. */
function referenceHandshake(inputs: { si: Uint8Array; sr: Uint8Array; ei: Uint8Array; er: Uint8Array; incI: bigint; incR: bigint; timestamp: bigint }) {
  const si = keyPair(inputs.si);
  const sr = keyPair(inputs.sr);
  const prologue = new TextEncoder().encode(PROLOGUE);
  const initiator = new HandshakeState(true, prologue, si, sr.publicKey, () => keyPair(inputs.ei));
  const responder = new HandshakeState(false, prologue, sr, si.publicKey, () => keyPair(inputs.er));
  const message1 = initiator.writeMessage(u64(inputs.incI, inputs.timestamp));
  const payload1 = responder.readMessage(message1);
  const message2 = responder.writeMessage(u64(inputs.incR));
  const payload2 = initiator.readMessage(message2);
  expect(toHex(initiator.ss.h)).to.equal(toHex(responder.ss.h));
  const [iSend, iReceive] = initiator.ss.split();
  const [rReceive, rSend] = responder.ss.split();
  return { message1, message2, payload1, payload2, h: initiator.ss.h, iSend, iReceive, rReceive, rSend };
}

const INPUTS = {
  si: seq(0x20),
  sr: seq(0x00),
  ei: seq(0x40),
  er: seq(0x60),
  incI: 0x0102030405060708n,
  incR: 0x1112131415161718n,
  timestamp: 1_700_000_000_000n,
};

describe('crypto: the handshake is Noise_KK_25519_ChaChaPoly_SHA256 (a reference written from the Noise spec, rev 34)', () => {
  it('the protocol name is the standard one, so Noise initialises h with it unhashed', () => {
    expect(PROTOCOL_NAME).to.equal('Noise_KK_25519_ChaChaPoly_SHA256');
    expect(new TextEncoder().encode(PROTOCOL_NAME).length).to.equal(HASHLEN);
  });

  it('INIT and RESP are the Noise messages behind a type byte; the handshake hash and split keys agree (§7.2 vectors)', () => {
    const ref = referenceHandshake(INPUTS);
    expect('01' + toHex(ref.message1)).to.equal(protocolVector('crypto-init'));
    expect('02' + toHex(ref.message2)).to.equal(protocolVector('crypto-resp'));
    expect(toHex(ref.payload1)).to.equal(toHex(u64(INPUTS.incI, INPUTS.timestamp)));
    expect(toHex(ref.payload2)).to.equal(toHex(u64(INPUTS.incR)));
    expect(toHex(ref.h)).to.equal(protocolVector('crypto-handshake-hash'));
    expect(toHex(ref.iSend.k!)).to.equal(protocolVector('crypto-key-initiator-to-responder'));
    expect(toHex(ref.iReceive.k!)).to.equal(protocolVector('crypto-key-responder-to-initiator'));
  });

  it('our code interoperates with the reference for other keys too: reference INIT → our responder, our RESP → reference initiator', () => {
    for (let round = 0; round < 8; round++) {
      const inputs = { ...INPUTS, si: seq(0x80 + round), sr: seq(0x10 + round), ei: seq(0x30 + round), er: seq(0x50 + round) };
      const ref = referenceHandshake(inputs);
      const initiator = Identity.fromSecretKey(inputs.si);
      const responder = Identity.fromSecretKey(inputs.sr);
      const base = initialState(initiator.publicKey, responder.publicKey);
      const read = readInit({ base, staticShared: responder.sharedSecret(initiator.publicKey), responder, packet: concat(Uint8Array.of(1), ref.message1) });
      if (!read.ok) throw new Error(`round ${round}: our responder refused the reference INIT: ${read.reason}`);
      expect(read.accepted.timestamp).to.equal(inputs.timestamp);
      const resp = writeResp({ accepted: read.accepted, initiatorStatic: initiator.publicKey, ephemeral: keyPair(inputs.er), incarnation: inputs.incR })!;
      expect(toHex(resp.packet), `round ${round} RESP`).to.equal('02' + toHex(ref.message2));
      expect(toHex(resp.keys.receiveKey)).to.equal(toHex(ref.rReceive.k!));
      expect(toHex(resp.keys.sendKey)).to.equal(toHex(ref.rSend.k!));
      // And the other way round: our INIT, read by our initiator's RESP reader, matches the reference keys.
      const init = writeInit({ base, staticShared: initiator.sharedSecret(responder.publicKey), responderStatic: responder.publicKey, ephemeral: keyPair(inputs.ei), incarnation: inputs.incI, timestamp: inputs.timestamp })!;
      expect(toHex(init.packet)).to.equal('01' + toHex(ref.message1));
      const done = readResp({ handshake: init.handshake, initiator, packet: concat(Uint8Array.of(2), ref.message2) });
      if (!done.ok) throw new Error(`round ${round}: our initiator refused the reference RESP: ${done.reason}`);
      expect(toHex(done.keys.handshakeHash)).to.equal(toHex(ref.h));
    }
  });

  it('DATA is a Noise transport message with the packet number as explicit nonce (§11.4) and the header as associated data', () => {
    const ref = referenceHandshake(INPUTS);
    const plaintext = new TextEncoder().encode('switchboard');
    for (const [vector, cipher] of [
      ['crypto-data-initiator-to-responder', ref.iSend],
      ['crypto-data-responder-to-initiator', ref.rSend],
    ] as const) {
      const header = Uint8Array.of(0x03, 0x00, 0, 0, 0, 1);
      cipher.setNonce(1n);
      expect(toHex(header) + toHex(cipher.encryptWithAd(header, plaintext))).to.equal(protocolVector(vector));
    }
    // A packet number past 2^8 shows the byte order: our session and the reference agree.
    const initiator = Identity.fromSecretKey(INPUTS.si);
    const responder = Identity.fromSecretKey(INPUTS.sr);
    const clock = { now: () => 0 };
    const wallClock = { now: () => Number(INPUTS.timestamp) };
    const randomFrom = (bytes: Uint8Array) => () => bytes.slice();
    const a = new SecureSession({ identity: initiator, remotePublicKey: responder.publicKey, role: 'initiator', incarnation: INPUTS.incI, clock, wallClock, random: randomFrom(INPUTS.ei) });
    const b = new SecureSession({ identity: responder, remotePublicKey: initiator.publicKey, role: 'responder', incarnation: INPUTS.incR, clock, wallClock, random: randomFrom(INPUTS.er) });
    const reply = b.handleHandshake(a.pollHandshake(0)!, 0);
    if (reply.kind !== 'reply') throw new Error(reply.kind);
    a.handleHandshake(reply.packet, 0);
    const packetNumber = 0x01020304;
    const packet = a.seal(packetNumber, plaintext);
    const receiver = new CipherState();
    receiver.initializeKey(ref.rReceive.k);
    receiver.setNonce(BigInt(packetNumber));
    expect(new TextDecoder().decode(receiver.decryptWithAd(packet.subarray(0, 6), packet.subarray(6)))).to.equal('switchboard');
  });
});
