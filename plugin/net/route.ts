/**
 * Routes (PROTOCOL.md §4): how to reach a peer through a relay — relay id, relay session, the peer's
 * public key and the relay endpoints. By construction a route has no field for the client's own
 * address, so publishing it never reveals a player's IP.
 */
import { diffieHellman } from './crypto/primitives';
import { peerIdFromPublicKey, PUBLIC_KEY_BYTES } from './identity';
import { Result } from './result';
import type { PeerId } from './types';
import { ByteReader, ByteWriter, fromBase64, toBase64 } from './wire';

export const ROUTE_VERSION = 1;
export const RELAY_ID_BYTES = 8;
export const MAX_ROUTE_ENDPOINTS = 4;
export const MAX_ENDPOINT_BYTES = 100;
/** Longest route text accepted; the largest valid route is 608 characters. */
export const MAX_ROUTE_CHARS = 1024;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;

export interface RouteInfo {
  /** The relay process's id (8 bytes, from REGISTERED). */
  relayId: Uint8Array;
  /** The peer's relay session id, never 0. */
  sessionId: bigint;
  /** The peer's X25519 public key (32 bytes). */
  publicKey: Uint8Array;
  /** Relay endpoint URLs, 1 to 4, each 1 to 100 bytes of UTF-8. */
  endpoints: string[];
}

export type RouteRefusal = { ok: false; code: Result.InvalidBase64 | Result.InvalidPayload; error: string };
export type RouteDecoded = { ok: true; route: RouteInfo } | RouteRefusal;
export type RouteCheck = { ok: true } | { ok: false; code: Result.InvalidPayload; error: string };

const utf8Encoder = new TextEncoder();
// fatal: bad UTF-8 is refused, not replaced; ignoreBOM: keep a BOM so text and bytes map one to one.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Encodes a route. The values are ours, so a bad one is a programming error and throws a RangeError. */
export function encodeRoute(info: RouteInfo): string {
  if (!(info.relayId instanceof Uint8Array) || info.relayId.length !== RELAY_ID_BYTES) {
    throw new RangeError(`encodeRoute: relayId must be ${RELAY_ID_BYTES} bytes`);
  }
  if (typeof info.sessionId !== 'bigint' || info.sessionId <= 0n || info.sessionId > MAX_U64) {
    throw new RangeError(`encodeRoute: sessionId must be a uint64 above 0, got ${String(info.sessionId)}`);
  }
  if (!(info.publicKey instanceof Uint8Array) || info.publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new RangeError(`encodeRoute: publicKey must be ${PUBLIC_KEY_BYTES} bytes`);
  }
  if (!Array.isArray(info.endpoints) || info.endpoints.length < 1 || info.endpoints.length > MAX_ROUTE_ENDPOINTS) {
    throw new RangeError(`encodeRoute: 1 to ${MAX_ROUTE_ENDPOINTS} endpoints needed`);
  }
  const writer = new ByteWriter(128);
  writer.u8(ROUTE_VERSION).bytes(info.relayId).u64(info.sessionId).bytes(info.publicKey).u8(info.endpoints.length);
  for (const endpoint of info.endpoints) {
    const bytes = typeof endpoint === 'string' ? utf8Encoder.encode(endpoint) : new Uint8Array(0);
    if (bytes.length < 1 || bytes.length > MAX_ENDPOINT_BYTES) {
      throw new RangeError(`encodeRoute: endpoint must be 1 to ${MAX_ENDPOINT_BYTES} bytes of UTF-8: ${String(endpoint)}`);
    }
    writer.u8(bytes.length).bytes(bytes);
  }
  return toBase64(writer.view());
}

/**
 * Decodes an untrusted route. Never throws; every refusal names what was wrong. Not a string or
 * not strict base64 → InvalidBase64; longer than MAX_ROUTE_CHARS, or bytes that are not a valid
 * route (version, lengths, zero session, bad UTF-8, trailing bytes) → InvalidPayload.
 */
export function decodeRoute(route: unknown): RouteDecoded {
  if (typeof route !== 'string') return refuse(Result.InvalidBase64, `route must be a string, got ${typeof route}`);
  // Bounded before any decoding work; an over-long route is malformed whatever its characters.
  if (route.length > MAX_ROUTE_CHARS) {
    return refuse(Result.InvalidPayload, `route is ${route.length} characters, more than ${MAX_ROUTE_CHARS}`);
  }
  const bytes = fromBase64(route, MAX_ROUTE_CHARS);
  if (bytes === null) return refuse(Result.InvalidBase64, 'route is not strict standard base64');

  const reader = new ByteReader(bytes);
  const version = reader.u8('route version');
  if (!reader.failed && version !== ROUTE_VERSION) return refuse(Result.InvalidPayload, `unsupported route version ${version}`);
  const relayId = reader.bytesView(RELAY_ID_BYTES, 'relay id').slice();
  const sessionId = reader.u64('session id');
  const publicKey = reader.bytesView(PUBLIC_KEY_BYTES, 'public key').slice();
  const count = reader.u8('endpoint count');
  if (reader.failed) return refuse(Result.InvalidPayload, `route truncated: ${reader.error}`);
  if (sessionId === 0n) return refuse(Result.InvalidPayload, 'route session id is 0');
  if (count < 1 || count > MAX_ROUTE_ENDPOINTS) {
    return refuse(Result.InvalidPayload, `route endpoint count ${count} outside 1..${MAX_ROUTE_ENDPOINTS}`);
  }
  const endpoints: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = reader.u8('endpoint length');
    if (!reader.failed && (length < 1 || length > MAX_ENDPOINT_BYTES)) {
      return refuse(Result.InvalidPayload, `route endpoint ${i} is ${length} bytes, outside 1..${MAX_ENDPOINT_BYTES}`);
    }
    const text = reader.bytesView(length, `endpoint ${i}`);
    if (reader.failed) return refuse(Result.InvalidPayload, `route truncated: ${reader.error}`);
    try {
      endpoints.push(utf8Decoder.decode(text));
    } catch {
      return refuse(Result.InvalidPayload, `route endpoint ${i} is not valid UTF-8`);
    }
  }
  if (reader.remaining !== 0) return refuse(Result.InvalidPayload, `route has ${reader.remaining} trailing byte(s)`);
  return { ok: true, route: { relayId, sessionId, publicKey, endpoints } };
}

/**
 * Refuses a route that cannot belong to `peerId`: its key must derive that id (so nobody takes over
 * a known peer id with a forged route) and must be a usable X25519 key (not a low-order point, which
 * could never complete a handshake). Costs one X25519 operation (~1 ms with @noble/curves).
 */
export function checkRouteForPeer(peerId: PeerId, route: RouteInfo): RouteCheck {
  const derived = peerIdFromPublicKey(route.publicKey);
  if (derived !== peerId) {
    return { ok: false, code: Result.InvalidPayload, error: `route key belongs to peer ${derived}, not ${peerId}` };
  }
  if (!isUsablePublicKey(route.publicKey)) {
    return { ok: false, code: Result.InvalidPayload, error: 'route key is not a usable X25519 public key' };
  }
  return { ok: true };
}

/** decodeRoute then checkRouteForPeer: what openPeer/updatePeer need, with the API's result codes. */
export function decodeRouteForPeer(peerId: PeerId, route: unknown): RouteDecoded {
  const decoded = decodeRoute(route);
  if (!decoded.ok) return decoded;
  const check = checkRouteForPeer(peerId, decoded.route);
  return check.ok ? decoded : check;
}

/** True when two routes name the same relay session, key and endpoints. */
export function sameRoute(a: RouteInfo, b: RouteInfo): boolean {
  return (
    a.sessionId === b.sessionId &&
    bytesEqual(a.relayId, b.relayId) &&
    bytesEqual(a.publicKey, b.publicKey) &&
    a.endpoints.length === b.endpoints.length &&
    a.endpoints.every((endpoint, i) => endpoint === b.endpoints[i])
  );
}

// Any fixed scalar works: this only checks the point, the result is thrown away.
const PROBE_SCALAR = new Uint8Array(32).fill(0x5a);

/** Not a low-order point (DH with it would give all zeros); through the backend, OpenSSL's X25519 on Node. */
function isUsablePublicKey(publicKey: Uint8Array): boolean {
  const shared = diffieHellman(PROBE_SCALAR, publicKey);
  shared?.fill(0);
  return shared !== null;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function refuse(code: Result.InvalidBase64 | Result.InvalidPayload, error: string): RouteRefusal {
  return { ok: false, code, error };
}
