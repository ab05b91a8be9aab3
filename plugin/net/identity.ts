/**
 * A peer's long-term X25519 key pair and the peer id derived from its public key (PROTOCOL.md §4).
 * The secret key stays in a private field; only `exportSecretKey()` hands out a copy.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { diffieHellman, eraseSecretKey } from './crypto/primitives';
import type { PeerId } from './types';

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 32;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;
const PEER_ID_DOMAIN = new TextEncoder().encode('switchboard/peer-id/v1');

export class Identity {
  readonly publicKey: Uint8Array;
  readonly peerId: PeerId;
  readonly #secretKey: Uint8Array;
  #disposed = false;

  private constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey;
    this.publicKey = x25519.getPublicKey(secretKey);
    this.peerId = peerIdFromPublicKey(this.publicKey);
  }

  /** A fresh key pair from the platform's secure random source (crypto.getRandomValues). */
  static generate(): Identity {
    return new Identity(x25519.utils.randomSecretKey());
  }

  /** Rebuilds an identity from a saved 32-byte secret key (the bytes are copied). */
  /** True only for a real Identity (the private field is there), whatever the object looks like. */
  static isIdentity(value: unknown): value is Identity {
    return typeof value === 'object' && value !== null && #secretKey in value;
  }

  static fromSecretKey(secretKey: Uint8Array): Identity {
    if (!(secretKey instanceof Uint8Array)) {
      throw new TypeError('Identity.fromSecretKey: secret key must be a Uint8Array');
    }
    if (secretKey.length !== SECRET_KEY_BYTES) {
      throw new RangeError(`Identity.fromSecretKey: secret key must be ${SECRET_KEY_BYTES} bytes, got ${secretKey.length}`);
    }
    return new Identity(new Uint8Array(secretKey)); // a copy: a Buffer's slice() would be a view
  }

  /** A copy of the secret key, for saving the identity. Treat it like a password. */
  exportSecretKey(): Uint8Array {
    this.#checkUsable('exportSecretKey');
    return this.#secretKey.slice();
  }

  /**
   * Zeroes the secret key; sharedSecret() and exportSecretKey() throw from then on. The public key
   * and peer id stay readable. Best-effort, as all erasure in JavaScript (SECURITY.md).
   */
  dispose(): void {
    // Zeroed, and the crypto backend drops what it keeps for it (Node's KeyObject).
    eraseSecretKey(this.#secretKey);
    this.#disposed = true;
  }

  get isDisposed(): boolean {
    return this.#disposed;
  }

  #checkUsable(method: string): void {
    if (this.#disposed) throw new Error(`Identity.${method}: the identity was disposed (its secret key is erased)`);
  }

  /**
   * X25519 with a remote public key. Throws an Error naming the problem when the key has the wrong
   * length or is a low-order point (the result would be all zero and carry no secret).
   */
  sharedSecret(remotePublicKey: Uint8Array): Uint8Array {
    this.#checkUsable('sharedSecret');
    if (!(remotePublicKey instanceof Uint8Array) || remotePublicKey.length !== PUBLIC_KEY_BYTES) {
      throw new RangeError(`Identity.sharedSecret: remote public key must be ${PUBLIC_KEY_BYTES} bytes`);
    }
    // Through the crypto backend: Node's OpenSSL X25519 where there is one (~70 µs). A handshake
    // does two of these; noble's JavaScript ladder takes 1.3 ms each in a warm Node process.
    const shared = diffieHellman(this.#secretKey, remotePublicKey);
    if (shared === null) throw new Error('Identity.sharedSecret: remote public key is not usable (low-order point: the shared secret would be all zero)');
    return shared;
  }
}

/** u64 (big-endian) of the first 8 bytes of SHA-256("switchboard/peer-id/v1" ‖ publicKey); 0 becomes 1. */
export function peerIdFromPublicKey(publicKey: Uint8Array): PeerId {
  const input = new Uint8Array(PEER_ID_DOMAIN.length + publicKey.length);
  input.set(PEER_ID_DOMAIN, 0);
  input.set(publicKey, PEER_ID_DOMAIN.length);
  const digest = sha256(input);
  let id = 0n;
  for (let i = 0; i < 8; i++) id = (id << 8n) | BigInt(digest[i]);
  return id === 0n ? 1n : id;
}

/**
 * A peer id from its canonical decimal text (lobby metadata `peer_id`): digits only, no sign,
 * no leading zero, no whitespace, within 1..2^64-1. Anything else gives null.
 */
export function parsePeerId(text: string): PeerId | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 20) return null;
  if (!/^[1-9][0-9]*$/.test(text)) return null;
  const value = BigInt(text);
  return value > MAX_U64 ? null : value;
}

/** The decimal text of a peer id, as published in lobby metadata. */
export function formatPeerId(peerId: PeerId): string {
  return peerId.toString(10);
}
