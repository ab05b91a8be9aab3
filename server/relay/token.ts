/**
 * Relay access tokens (PROTOCOL.md §8): an HMAC-SHA256
 * over a versioned payload holding the expiry, a random nonce and an optional subject, as
 * `v1.<base64url payload>.<base64url tag>`. Whoever holds the relay's secret (the lobby server)
 * mints them; the relay checks them on REGISTER.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'crypto';

export const RELAY_TOKEN_PREFIX = 'v1.';
export const MAX_RELAY_TOKEN_LENGTH = 1024;
export const MAX_TOKEN_TTL_SECONDS = 366 * 24 * 3600;
const PAYLOAD_VERSION = 1;
const NONCE_BYTES = 16;
const TAG_BYTES = 32;
const MAX_SUBJECT_BYTES = 255;
/** Domain separation: a MAC made for something else with the same secret is never a token. */
const MAC_CONTEXT = Buffer.from('switchboard/relay-token/v1\0', 'utf8');

export type RelayTokenStatus = 'ok' | 'missing' | 'invalid' | 'expired';

export interface RelayTokenClaims {
  ttlSeconds: number;
  subject?: string;
}

/** Random bytes a relay secret must carry at least: every token lets an attacker test guesses offline. */
export const MIN_RELAY_SECRET_BYTES = 32;
const MAX_RELAY_SECRET_LENGTH = 1024;
const HOW_TO_GENERATE = 'generate one with `npx switchboard secret`, generateRelaySecret() from switchboard-server, or `openssl rand -hex 32`';
/** What a relay secret must be, for error messages. */
export const RELAY_SECRET_RULE =
  `a relay secret must be at least ${MIN_RELAY_SECRET_BYTES} random bytes (${MIN_RELAY_SECRET_BYTES * 8} bits), written as ` +
  `at least ${MIN_RELAY_SECRET_BYTES * 2} hex characters or at least ${Math.ceil((MIN_RELAY_SECRET_BYTES * 4) / 3)} base64/base64url characters; ${HOW_TO_GENERATE}`;

/** A fresh relay secret: 32 random bytes as 43 base64url characters. */
export function generateRelaySecret(): string {
  return randomBytes(MIN_RELAY_SECRET_BYTES).toString('base64url');
}

/**
 * Why `secret` is not a usable relay secret, or null. Randomness cannot be measured, so this
 * catches the obvious mistakes: too short, not hex/base64, a passphrase, all one byte, a short
 * block repeated, a counting sequence, or base64 with a single letter case.
 */
export function relaySecretProblem(secret: unknown): string | null {
  if (typeof secret !== 'string' || secret.length === 0) return `relay secret is missing: ${RELAY_SECRET_RULE}`;
  if (secret.length > MAX_RELAY_SECRET_LENGTH) return `relay secret is longer than ${MAX_RELAY_SECRET_LENGTH} characters: ${RELAY_SECRET_RULE}`;
  let bytes: Buffer;
  if (/^[0-9a-fA-F]+$/.test(secret)) {
    if (secret.length % 2 !== 0 || secret.length < MIN_RELAY_SECRET_BYTES * 2) {
      return `relay secret is too short (${secret.length} hex characters, ${Math.floor(secret.length / 2)} bytes): ${RELAY_SECRET_RULE}`;
    }
    bytes = Buffer.from(secret, 'hex');
  } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(secret)) {
    bytes = Buffer.from(secret.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length < MIN_RELAY_SECRET_BYTES) {
      return `relay secret is too short (${secret.length} base64 characters, ${bytes.length} bytes): ${RELAY_SECRET_RULE}`;
    }
    // 43 random base64 characters without an upper or a lower case letter: odds below 1e-9.
    if (!/[A-Z]/.test(secret) || !/[a-z]/.test(secret)) return `relay secret looks like a word, not random base64 (one letter case only): ${RELAY_SECRET_RULE}`;
  } else {
    return `relay secret is not hex or base64 (a passphrase is not a key): ${RELAY_SECRET_RULE}`;
  }
  if (new Set(bytes).size < 16) return `relay secret is patterned (a byte or short block repeated): ${RELAY_SECRET_RULE}`;
  const step = (bytes[1] - bytes[0]) & 0xff;
  if (bytes.every((byte, i) => i === 0 || ((byte - bytes[i - 1]) & 0xff) === step)) {
    return `relay secret is patterned (bytes counting by a fixed step): ${RELAY_SECRET_RULE}`;
  }
  return null;
}

/** The last secret that passed, so the per-REGISTER check costs one comparison. */
let lastGoodSecret: string | null = null;

function checkSecret(secret: string): Buffer {
  if (secret !== lastGoodSecret || typeof secret !== 'string') {
    const problem = relaySecretProblem(secret);
    if (problem !== null) throw new Error(problem);
    lastGoodSecret = secret;
  }
  return Buffer.from(secret, 'utf8');
}

function mac(key: Buffer, payload: Buffer): Buffer {
  return createHmac('sha256', key).update(MAC_CONTEXT).update(payload).digest();
}

/** Mints a token valid for `ttlSeconds` from now. Throws on a bad secret or claims. */
export function createRelayToken(secret: string, claims: RelayTokenClaims, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const key = checkSecret(secret);
  if (claims === null || typeof claims !== 'object') throw new Error('relay token claims must be an object with ttlSeconds');
  const { ttlSeconds, subject = '' } = claims;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
    throw new Error(`relay token ttlSeconds must be an integer in 1..${MAX_TOKEN_TTL_SECONDS}, got ${String(ttlSeconds)}`);
  }
  if (typeof subject !== 'string') throw new Error('relay token subject must be a string');
  const subjectBytes = Buffer.from(subject, 'utf8');
  if (subjectBytes.length > MAX_SUBJECT_BYTES) throw new Error(`relay token subject is longer than ${MAX_SUBJECT_BYTES} bytes`);
  const payload = Buffer.alloc(1 + 8 + NONCE_BYTES + 1 + subjectBytes.length);
  let offset = payload.writeUInt8(PAYLOAD_VERSION, 0);
  offset = payload.writeBigUInt64BE(BigInt(nowSeconds + ttlSeconds), offset);
  offset += randomBytes(NONCE_BYTES).copy(payload, offset);
  offset = payload.writeUInt8(subjectBytes.length, offset);
  subjectBytes.copy(payload, offset);
  return `${RELAY_TOKEN_PREFIX}${payload.toString('base64url')}.${mac(key, payload).toString('base64url')}`;
}

/** Strict base64url (no padding, canonical): null for anything else. */
function fromBase64Url(text: string): Buffer | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : null;
}

/**
 * Checks a token: 'missing' (absent or empty), 'invalid' (malformed, too long, wrong MAC),
 * 'expired' (valid MAC, expiry at or before `nowSeconds`), else 'ok'. Never throws on the token.
 */
export function verifyRelayToken(secret: string, token: string | undefined | null, nowSeconds: number): RelayTokenStatus {
  const key = checkSecret(secret);
  if (token === undefined || token === null || token === '') return 'missing';
  if (typeof token !== 'string' || token.length > MAX_RELAY_TOKEN_LENGTH || !token.startsWith(RELAY_TOKEN_PREFIX)) return 'invalid';
  const parts = token.slice(RELAY_TOKEN_PREFIX.length).split('.');
  if (parts.length !== 2) return 'invalid';
  const payload = fromBase64Url(parts[0]);
  const tag = fromBase64Url(parts[1]);
  if (payload === null || tag === null || tag.length !== TAG_BYTES) return 'invalid';
  if (!timingSafeEqual(tag, mac(key, payload))) return 'invalid';
  // The MAC is good, so the payload is ours; its layout is still checked before use.
  if (payload.length < 1 + 8 + NONCE_BYTES + 1 || payload[0] !== PAYLOAD_VERSION) return 'invalid';
  const subjectLength = payload[1 + 8 + NONCE_BYTES];
  if (payload.length !== 1 + 8 + NONCE_BYTES + 1 + subjectLength) return 'invalid';
  const expiresAt = payload.readBigUInt64BE(1);
  return BigInt(Math.floor(nowSeconds)) >= expiresAt ? 'expired' : 'ok';
}
