/** Standard base64 and hex without Node's Buffer, so the same code runs in browsers. */

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_LOOKUP = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < BASE64_ALPHABET.length; i++) table[BASE64_ALPHABET.charCodeAt(i)] = i;
  return table;
})();

export function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += BASE64_ALPHABET[n >>> 18] + BASE64_ALPHABET[(n >>> 12) & 63] + BASE64_ALPHABET[(n >>> 6) & 63] + BASE64_ALPHABET[n & 63];
  }
  const left = bytes.length - i;
  if (left === 1) {
    const n = bytes[i] << 16;
    out += BASE64_ALPHABET[n >>> 18] + BASE64_ALPHABET[(n >>> 12) & 63] + '==';
  } else if (left === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += BASE64_ALPHABET[n >>> 18] + BASE64_ALPHABET[(n >>> 12) & 63] + BASE64_ALPHABET[(n >>> 6) & 63] + '=';
  }
  return out;
}

/**
 * Strict standard base64 (RFC 4648 §4, padded). Returns null for anything else, including
 * non-canonical trailing bits, so one byte string has exactly one accepted text.
 */
export function fromBase64(text: string, maxBytes = 4096): Uint8Array | null {
  if (typeof text !== 'string' || text.length === 0 || text.length % 4 !== 0) return null;
  if ((text.length / 4) * 3 > maxBytes + 2) return null;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const c0 = sextet(text, i);
    const c1 = sextet(text, i + 1);
    const c2 = last && padding === 2 ? 0 : sextet(text, i + 2);
    const c3 = last && padding >= 1 ? 0 : sextet(text, i + 3);
    if (c0 < 0 || c1 < 0 || c2 < 0 || c3 < 0) return null;
    const n = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
    out[o++] = n >>> 16;
    if (o < out.length) out[o++] = (n >>> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
    if (last && padding === 2 && (c1 & 0x0f) !== 0) return null;
    if (last && padding === 1 && (c2 & 0x03) !== 0) return null;
  }
  return out;
}

function sextet(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 128 ? BASE64_LOOKUP[code] : -1;
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Hex with optional whitespace between bytes; null when not hex. */
export function fromHex(text: string): Uint8Array | null {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) return null;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}
