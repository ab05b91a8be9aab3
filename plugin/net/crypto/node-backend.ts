/**
 * The same primitives through Node's own crypto (OpenSSL), used on Node because it is several
 * times faster than pure JavaScript on the per-packet path (ARCHITECTURE.md: ~11 µs vs ~19–50 µs
 * for a seal+open, ~0.1 ms vs ~1 ms for X25519). Same algorithms, same bytes: the PROTOCOL.md
 * vectors are checked through both backends. Loaded through a require bundlers do not follow, so
 * browser bundles never include it.
 */
import type * as NodeCrypto from 'crypto';
import { loadNodeModule } from '../transport/node-require';

export interface CryptoBackend {
  readonly name: 'node' | 'noble' | 'libsodium';
  sealPacket(key: Uint8Array, nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array, output: Uint8Array): void;
  openPacket(key: Uint8Array, nonce: Uint8Array, associatedData: Uint8Array, sealed: Uint8Array): Uint8Array | null;
  /** X25519 public key of a 32-byte secret. */
  publicKeyOf(secretKey: Uint8Array): Uint8Array;
  /** A fresh random key pair, where the backend has a faster way than publicKeyOf(random bytes). */
  generateKeyPair?(): { secretKey: Uint8Array; publicKey: Uint8Array };
  /** X25519; null when the peer key is invalid or the result carries no secret (all zero). */
  sharedSecret(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;
  /** Drops whatever the backend keeps for this secret key (Node: its cached KeyObject). */
  forgetSecretKey?(secretKey: Uint8Array): void;
}

const TAG_BYTES = 16;
// DER framing of a raw X25519 secret key (RFC 8410, PKCS#8).
const PKCS8_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20);

export function loadNodeCryptoBackend(): CryptoBackend | null {
  let crypto: typeof NodeCrypto | null;
  try {
    crypto = loadNodeModule<typeof NodeCrypto>('crypto');
  } catch {
    return null;
  }
  if (crypto === null || !crypto.getCiphers().includes('chacha20-poly1305')) return null;
  const c = crypto;

  // Importing a raw secret as PKCS#8 costs ~0.5 ms (OpenSSL derives its public key); keys made by
  // generateKeyPair, and any secret imported once (an Identity's long-term key), keep their
  // KeyObject here, so a handshake's DH calls on them cost ~50 µs. Weakly keyed by the secret's
  // array, and used only while the bytes are what they were (a SHA-256 fingerprint, not the key): a
  // key zeroed or overwritten in place is imported from its new bytes, so DH always follows the
  // bytes, as on @noble.
  const keyObjects = new WeakMap<Uint8Array, { keyObject: NodeCrypto.KeyObject; fingerprint: Buffer }>();
  const fingerprintOf = (secret: Uint8Array) => c.createHash('sha256').update(secret).digest();
  const privateKey = (secret: Uint8Array) => {
    const cached = keyObjects.get(secret);
    if (cached !== undefined) {
      if (c.timingSafeEqual(cached.fingerprint, fingerprintOf(secret))) return cached.keyObject;
      keyObjects.delete(secret);
    }
    const der = Buffer.concat([PKCS8_PREFIX, secret]);
    try {
      const keyObject = c.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      keyObjects.set(secret, { keyObject, fingerprint: fingerprintOf(secret) });
      return keyObject;
    } finally {
      der.fill(0);
    }
  };
  const fromBase64Url = (text: string | undefined) => {
    const decoded = Buffer.from(text ?? '', 'base64url');
    const bytes = new Uint8Array(decoded);
    decoded.fill(0); // Buffer.from may use the shared pool; leave no copy of a secret there
    return bytes;
  };

  return {
    name: 'node',
    sealPacket(key, nonce, associatedData, plaintext, output) {
      const cipher = c.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(associatedData, { plaintextLength: plaintext.length });
      const body = cipher.update(plaintext);
      cipher.final();
      output.set(body, 0);
      output.set(cipher.getAuthTag(), plaintext.length);
    },
    openPacket(key, nonce, associatedData, sealed) {
      if (sealed.length < TAG_BYTES) return null;
      const bodyLength = sealed.length - TAG_BYTES;
      try {
        const decipher = c.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
        decipher.setAAD(associatedData, { plaintextLength: bodyLength });
        decipher.setAuthTag(sealed.subarray(bodyLength));
        const body = decipher.update(sealed.subarray(0, bodyLength));
        decipher.final();
        return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      } catch {
        return null;
      }
    },
    generateKeyPair() {
      const pair = c.generateKeyPairSync('x25519');
      const jwk = pair.privateKey.export({ format: 'jwk' });
      const secretKey = fromBase64Url(jwk.d);
      keyObjects.set(secretKey, { keyObject: pair.privateKey, fingerprint: fingerprintOf(secretKey) });
      return { secretKey, publicKey: fromBase64Url(jwk.x) };
    },
    publicKeyOf(secretKey) {
      const spki = c.createPublicKey(privateKey(secretKey)).export({ format: 'der', type: 'spki' });
      return new Uint8Array(spki.subarray(spki.length - 32));
    },
    sharedSecret(secretKey, publicKey) {
      try {
        const shared = c.diffieHellman({
          privateKey: privateKey(secretKey),
          publicKey: c.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' }),
        });
        let acc = 0;
        for (let i = 0; i < shared.length; i++) acc |= shared[i];
        const result = acc === 0 ? null : new Uint8Array(shared);
        shared.fill(0);
        return result;
      } catch {
        return null;
      }
    },
    forgetSecretKey(secretKey) {
      keyObjects.delete(secretKey);
    },
  };
}
