/**
 * Thin wrappers over audited libraries for the handshake and packet protection: hashing, HKDF,
 * X25519 and ChaCha20-Poly1305. No primitive is implemented here; these only fix the conventions
 * (PROTOCOL.md §5.6). X25519 and the packet AEAD run on Node's crypto where there is one
 * (node-backend.ts) and on @noble elsewhere: the same bytes either way.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { equalBytes } from '@noble/ciphers/utils.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { clean, randomBytes } from '@noble/hashes/utils.js';
import { isLibsodiumAead, libsodiumPacketAead } from './libsodium-backend';
import { loadNodeCryptoBackend, type CryptoBackend } from './node-backend';

export const KEY_BYTES = 32;
export const TAG_BYTES = 16;
export const NONCE_BYTES = 12;

/** Source of random bytes; injectable so tests and test vectors are repeatable. */
export type RandomSource = (length: number) => Uint8Array;
export const secureRandom: RandomSource = (length) => randomBytes(length);

const EMPTY = new Uint8Array(0);

const nobleBackend: CryptoBackend = {
  name: 'noble',
  sealPacket: (key, nonce, associatedData, plaintext, output) => void chacha20poly1305(key, nonce, associatedData).encrypt(plaintext, output),
  openPacket: (key, nonce, associatedData, sealed) => {
    try {
      return chacha20poly1305(key, nonce, associatedData).decrypt(sealed);
    } catch {
      return null;
    }
  },
  publicKeyOf: (secretKey) => x25519.getPublicKey(secretKey),
  sharedSecret: (secretKey, publicKey) => {
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(secretKey, publicKey);
    } catch {
      return null;
    }
    return isAllZero(shared) ? null : shared;
  },
};

const nodeBackend = loadNodeCryptoBackend();
let libsodiumBackend: CryptoBackend | null = null;
let backend: CryptoBackend = nodeBackend ?? nobleBackend;

/** Which implementation seals packets: 'node' on Node, 'noble' in browsers, 'libsodium' after useLibsodium(). */
export function cryptoBackendName(): CryptoBackend['name'] {
  return backend.name;
}

/** For tests that check the backends give the same bytes. Returns false when `name` is not available here. */
export function useCryptoBackend(name: CryptoBackend['name']): boolean {
  const wanted = name === 'node' ? nodeBackend : name === 'libsodium' ? libsodiumBackend : nobleBackend;
  if (wanted === null) return false;
  backend = wanted;
  return true;
}

/**
 * Seals and opens packets with libsodium's WebAssembly ChaCha20-Poly1305: the same bytes (checked
 * here against noble before switching), several times faster than noble in a browser and about
 * twice as fast as Node's OpenSSL per packet (one WebAssembly call against OpenSSL's per-call
 * cipher set-up: ~4 vs ~9 µs for 383 B on the bench machine). Pass the ready instance
 * (`await sodium.ready`). X25519 stays where it was (Node's OpenSSL, else noble). Returns the
 * backend that seals packets now; call it before creating managers, sessions already open keep
 * working either way.
 */
export function useLibsodium(sodium: unknown): 'libsodium' {
  if (!isLibsodiumAead(sodium)) throw new TypeError('useLibsodium: expected the ready libsodium-wrappers instance (await sodium.ready first), got an object without crypto_aead_chacha20poly1305_ietf_encrypt/decrypt');
  const packets = libsodiumPacketAead(sodium);
  // Same bytes as noble on a fixed packet, and a forged tag refused, or no switch.
  const key = Uint8Array.from({ length: KEY_BYTES }, (_, i) => i);
  const nonce = Uint8Array.from({ length: NONCE_BYTES }, (_, i) => 0xa0 + i);
  const aad = Uint8Array.of(3, 0, 0, 0, 0, 1);
  const plaintext = Uint8Array.from({ length: 77 }, (_, i) => (i * 13) & 0xff);
  const expected = new Uint8Array(plaintext.length + TAG_BYTES);
  nobleBackend.sealPacket(key, nonce, aad, plaintext, expected);
  const sealed = new Uint8Array(expected.length);
  packets.sealPacket(key, nonce, aad, plaintext, sealed);
  if (!equalBytes(sealed, expected)) throw new Error('useLibsodium: libsodium sealed a test packet differently from noble; not switching');
  const opened = packets.openPacket(key, nonce, aad, sealed);
  const forged = sealed.slice();
  forged[forged.length - 1] ^= 1;
  if (opened === null || !equalBytes(opened, plaintext) || packets.openPacket(key, nonce, aad, forged) !== null) throw new Error('useLibsodium: libsodium did not open a test packet as noble does; not switching');
  // The key-exchange half from the fastest backend here: OpenSSL's X25519 is ~20× noble's.
  libsodiumBackend = { ...(nodeBackend ?? nobleBackend), name: 'libsodium', ...packets };
  backend = libsodiumBackend;
  return 'libsodium';
}

const ZERO_NONCE = new Uint8Array(NONCE_BYTES);

/** SHA-256(a ‖ b): Noise's MixHash. */
export function hashConcat(a: Uint8Array, b: Uint8Array): Uint8Array {
  return sha256.create().update(a).update(b).digest();
}

export function hash(data: Uint8Array): Uint8Array {
  return sha256(data);
}

/** HKDF-SHA256 with salt `chainingKey`, empty info, 64 bytes, split into two 32-byte keys (Noise's HKDF). */
export function hkdfPair(chainingKey: Uint8Array, inputKeyMaterial: Uint8Array = EMPTY): [Uint8Array, Uint8Array] {
  const out = hkdf(sha256, inputKeyMaterial, chainingKey, EMPTY, 2 * KEY_BYTES);
  const pair: [Uint8Array, Uint8Array] = [out.slice(0, KEY_BYTES), out.slice(KEY_BYTES)];
  out.fill(0);
  return pair;
}

/** An ephemeral key pair from `random`. */
export function ephemeralKeyPair(random: RandomSource): { secretKey: Uint8Array; publicKey: Uint8Array } {
  if (random === secureRandom && backend.generateKeyPair) return backend.generateKeyPair();
  const secretKey = random(KEY_BYTES);
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== KEY_BYTES) {
    throw new RangeError(`random source returned ${String((secretKey as Uint8Array | undefined)?.length)} bytes, wanted ${KEY_BYTES}`);
  }
  return { secretKey, publicKey: backend.publicKeyOf(secretKey) };
}

/**
 * X25519, or null when the public key is a low-order point (noble throws) or the result is all
 * zero: such a result carries no secret and must end the handshake attempt.
 */
export function diffieHellman(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  // An all-zero secret is an erased key (eraseSecretKey): it must not keep working on any backend.
  if (isAllZero(secretKey)) return null;
  return backend.sharedSecret(secretKey, publicKey);
}

/**
 * Zeroes a secret key and drops what any backend keeps for it, so DH with it fails from now on.
 * Best-effort, as all erasure in JavaScript: copies the engine or OpenSSL made are out of reach.
 */
export function eraseSecretKey(secretKey: Uint8Array): void {
  nodeBackend?.forgetSecretKey?.(secretKey);
  secretKey.fill(0);
}

/** Zeroes key material that is no longer needed (symmetric keys, chaining keys, DH results). */
export function eraseBytes(...keys: (Uint8Array | null | undefined)[]): void {
  clean(...keys.filter((key): key is Uint8Array => key instanceof Uint8Array)); // @noble's own zeroing helper
}

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i];
  return acc === 0;
}

/** Handshake AEAD: ChaCha20-Poly1305 with nonce 0 (each handshake key seals exactly one message). */
export function sealHandshake(key: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array, output: Uint8Array): void {
  chacha20poly1305(key, ZERO_NONCE, associatedData).encrypt(plaintext, output);
}

/** Opens a handshake payload; null when it does not authenticate. */
export function openHandshake(key: Uint8Array, associatedData: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
  try {
    return chacha20poly1305(key, ZERO_NONCE, associatedData).decrypt(ciphertext);
  } catch {
    return null;
  }
}

/**
 * Seals `plaintext` into `output` (exactly plaintext.length + 16 bytes) under a 12-byte nonce the
 * caller keeps and rewrites per packet, so the per-packet path allocates nothing but noble's instance.
 */
export function sealPacket(key: Uint8Array, nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array, output: Uint8Array): void {
  backend.sealPacket(key, nonce, associatedData, plaintext, output);
}

/** Opens ciphertext‖tag; null when it does not authenticate. */
export function openPacket(key: Uint8Array, nonce: Uint8Array, associatedData: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  return backend.openPacket(key, nonce, associatedData, sealed);
}
