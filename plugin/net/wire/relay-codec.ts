/**
 * Relay datagrams (PROTOCOL.md §3): the only bytes the relay reads. One codec for the relay
 * server and the client link. Decoders take untrusted bytes, never throw and never read past the
 * end; encoders take trusted values and throw a RangeError naming a value out of range.
 */
import { decodeError, decodeOk, type Decoded } from '../result';
import { ByteReader } from './byte-reader';
import { ByteWriter, varintSize } from './byte-writer';

export const RELAY_PROTOCOL_VERSION = 1;

export const RelayType = {
  Register: 0x01,
  Keepalive: 0x02,
  Data: 0x03,
  Leave: 0x04,
  Registered: 0x81,
  KeepaliveAck: 0x82,
  Delivery: 0x83,
  Refused: 0x84,
} as const;

/** REFUSED reasons (§3.8). */
export enum RefusalReason {
  TokenMissing = 1,
  TokenInvalid = 2,
  TokenExpired = 3,
  RelayFull = 4,
  RateLimited = 5,
  UnknownSession = 6,
  UnsupportedVersion = 7,
  Malformed = 8,
}

/** Reasons after which a client stays unregistered instead of retrying. */
export function isFinalRefusal(reason: number): boolean {
  return (
    reason === RefusalReason.TokenMissing ||
    reason === RefusalReason.TokenInvalid ||
    reason === RefusalReason.TokenExpired ||
    reason === RefusalReason.UnsupportedVersion
  );
}

export const NONCE_BYTES = 8;
export const SESSION_ID_BYTES = 8;
export const SESSION_SECRET_BYTES = 16;
export const RELAY_ID_BYTES = 8;
/** Over UDP a REGISTER is padded to at least this, so answering it never amplifies. */
export const MIN_UDP_REGISTER_BYTES = 256;
export const MAX_TOKEN_BYTES = 1024;
export const MAX_RELAY_DATAGRAM_BYTES = 1500;
/** Type byte + session id: the header in front of the payload of DATA 0x03 and 0x83. */
export const DATA_HEADER_BYTES = 1 + SESSION_ID_BYTES;
/** KEEPALIVE and LEAVE: type, session id, secret. */
export const SESSION_PROOF_BYTES = 1 + SESSION_ID_BYTES + SESSION_SECRET_BYTES;
export const KEEPALIVE_ACK_BYTES = 1 + SESSION_ID_BYTES;
/** REFUSED with an empty detail. */
export const MIN_REFUSED_BYTES = 1 + 8 + 1 + 1;
export const MAX_ENDPOINTS = 4;

export interface RegisterDatagram {
  kind: 'register';
  version: number;
  nonce: Uint8Array;
  /** '' when the REGISTER carries no token. Always '' for a version this codec does not know. */
  token: string;
}
export interface KeepaliveDatagram {
  kind: 'keepalive';
  sessionId: bigint;
  secret: Uint8Array;
}
export interface DataDatagram {
  kind: 'data';
  destination: bigint;
  payload: Uint8Array;
}
export interface LeaveDatagram {
  kind: 'leave';
  sessionId: bigint;
  secret: Uint8Array;
}
export interface RegisteredDatagram {
  kind: 'registered';
  nonce: Uint8Array;
  relayId: Uint8Array;
  sessionId: bigint;
  secret: Uint8Array;
  keepaliveMs: number;
  endpoints: string[];
}
export interface KeepaliveAckDatagram {
  kind: 'keepaliveAck';
  sessionId: bigint;
}
export interface DeliveryDatagram {
  kind: 'delivery';
  source: bigint;
  payload: Uint8Array;
}
export interface RefusedDatagram {
  kind: 'refused';
  reference: bigint;
  reason: number;
  detail: string;
}

export type ClientToRelayDatagram = RegisterDatagram | KeepaliveDatagram | DataDatagram | LeaveDatagram;
export type RelayToClientDatagram = RegisteredDatagram | KeepaliveAckDatagram | DeliveryDatagram | RefusedDatagram;
export type RelayDatagram = ClientToRelayDatagram | RelayToClientDatagram;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes any relay datagram. Byte arrays in the result are views into `bytes` (no copy): copy
 * what you keep. Refuses unknown types, short input, bad lengths and trailing bytes.
 */
export function decodeRelayDatagram(bytes: Uint8Array): Decoded<RelayDatagram> {
  if (!(bytes instanceof Uint8Array)) return decodeError('relay datagram: not a Uint8Array');
  if (bytes.length === 0) return decodeError('relay datagram: empty');
  if (bytes.length > 65535) return decodeError(`relay datagram: ${bytes.length} bytes is too long`);
  const reader = new ByteReader(bytes);
  const type = reader.u8('type');
  switch (type) {
    case RelayType.Register:
      return decodeRegister(reader);
    case RelayType.Keepalive:
    case RelayType.Leave: {
      const sessionId = reader.u64('session id');
      const secret = reader.bytesView(SESSION_SECRET_BYTES, 'session secret');
      const kind = type === RelayType.Keepalive ? 'keepalive' : 'leave';
      return finish(reader, kind, { kind, sessionId, secret });
    }
    case RelayType.Data:
    case RelayType.Delivery: {
      const session = reader.u64('session id');
      const payload = reader.rest();
      if (!reader.failed && payload.length === 0) return decodeError(`relay ${type === RelayType.Data ? 'DATA' : 'delivery'}: empty payload`);
      const value: DataDatagram | DeliveryDatagram =
        type === RelayType.Data ? { kind: 'data', destination: session, payload } : { kind: 'delivery', source: session, payload };
      return finish(reader, value.kind, value);
    }
    case RelayType.Registered:
      return decodeRegistered(reader);
    case RelayType.KeepaliveAck: {
      const sessionId = reader.u64('session id');
      return finish(reader, 'keepaliveAck', { kind: 'keepaliveAck', sessionId });
    }
    case RelayType.Refused: {
      const reference = reader.u64('reference');
      const reason = reader.u8('reason');
      const detail = readStr8(reader, 'detail');
      if (!reader.failed && reason === 0) reader.fail('reason 0');
      return finish(reader, 'refused', { kind: 'refused', reference, reason, detail: detail ?? '' });
    }
    default:
      return decodeError(`relay datagram: unknown type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

function decodeRegister(reader: ByteReader): Decoded<RelayDatagram> {
  const version = reader.u8('register version');
  const nonce = reader.bytesView(NONCE_BYTES, 'register nonce');
  if (reader.failed) return decodeError(`register: ${reader.error}`);
  // The layout after the nonce belongs to the version: for another version stop here, so the
  // relay can still answer "unsupported version" to the right attempt.
  if (version !== RELAY_PROTOCOL_VERSION) return decodeOk({ kind: 'register', version, nonce, token: '' });
  const tokenLength = reader.varint('token length');
  if (!reader.failed && tokenLength > MAX_TOKEN_BYTES) return decodeError(`register: token of ${tokenLength} bytes is over ${MAX_TOKEN_BYTES}`);
  const tokenBytes = reader.bytesView(tokenLength, 'token');
  if (reader.failed) return decodeError(`register: ${reader.error}`);
  const token = decodeUtf8(tokenBytes);
  if (token === null) return decodeError('register: token is not UTF-8');
  const padding = reader.rest();
  for (let i = 0; i < padding.length; i++) {
    if (padding[i] !== 0) return decodeError('register: padding is not zero');
  }
  return decodeOk({ kind: 'register', version, nonce, token });
}

function decodeRegistered(reader: ByteReader): Decoded<RelayDatagram> {
  const nonce = reader.bytesView(NONCE_BYTES, 'nonce');
  const relayId = reader.bytesView(RELAY_ID_BYTES, 'relay id');
  const sessionId = reader.u64('session id');
  const secret = reader.bytesView(SESSION_SECRET_BYTES, 'session secret');
  const keepaliveMs = reader.u16('keepaliveMs');
  const count = reader.u8('endpoint count');
  if (reader.failed) return decodeError(`registered: ${reader.error}`);
  if (sessionId === 0n) return decodeError('registered: session id 0');
  if (keepaliveMs === 0) return decodeError('registered: keepaliveMs 0');
  if (count < 1 || count > MAX_ENDPOINTS) return decodeError(`registered: endpoint count ${count} is outside 1..${MAX_ENDPOINTS}`);
  const endpoints: string[] = [];
  for (let i = 0; i < count; i++) {
    const endpoint = readStr8(reader, `endpoint ${i}`);
    if (endpoint === null) return decodeError(`registered: ${reader.error ?? `endpoint ${i} is not UTF-8`}`);
    if (endpoint.length === 0) return decodeError(`registered: endpoint ${i} is empty`);
    endpoints.push(endpoint);
  }
  return finish(reader, 'registered', { kind: 'registered', nonce, relayId, sessionId, secret, keepaliveMs, endpoints });
}

function finish<T extends RelayDatagram>(reader: ByteReader, what: string, value: T): Decoded<RelayDatagram> {
  if (reader.failed) return decodeError(`${what}: ${reader.error}`);
  if (reader.remaining !== 0) return decodeError(`${what}: ${reader.remaining} trailing byte(s)`);
  return decodeOk(value);
}

/** Reads a str8; null (with the reader failed, or for bad UTF-8) when it cannot. */
function readStr8(reader: ByteReader, what: string): string | null {
  const length = reader.u8(`${what} length`);
  const bytes = reader.bytesView(length, what);
  if (reader.failed) return null;
  const text = decodeUtf8(bytes);
  if (text === null) reader.fail(`${what}: not UTF-8`);
  return text;
}

function decodeUtf8(bytes: Uint8Array): string | null {
  if (bytes.length === 0) return '';
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Hot-path helpers: the relay forwards DATA without decoding it into objects.

/** High 32 bits of the u64 session id that follows the type byte (DATA, KEEPALIVE, LEAVE). */
export function sessionIdHighAt(datagram: Uint8Array, offset = 1): number {
  return ((datagram[offset] << 24) >>> 0) + ((datagram[offset + 1] << 16) | (datagram[offset + 2] << 8) | datagram[offset + 3]);
}

/** Low 32 bits of the u64 session id that follows the type byte. */
export function sessionIdLowAt(datagram: Uint8Array, offset = 1): number {
  return sessionIdHighAt(datagram, offset + 4);
}

/**
 * Turns a client DATA (0x03, destination) into a relay DATA (0x83, source) in place: both have
 * the same length, so the relay forwards the very bytes it received.
 */
export function rewriteDataAsDelivery(datagram: Uint8Array, sourceIdHigh: number, sourceIdLow: number): void {
  datagram[0] = RelayType.Delivery;
  writeU32At(datagram, 1, sourceIdHigh);
  writeU32At(datagram, 5, sourceIdLow);
}

export function sessionIdToBytes(sessionId: bigint): Uint8Array {
  checkU64(sessionId, 'session id');
  const out = new Uint8Array(SESSION_ID_BYTES);
  writeU64At(out, 0, sessionId);
  return out;
}

export function sessionIdFromBytes(bytes: Uint8Array, offset = 0): bigint {
  return (BigInt(sessionIdHighAt(bytes, offset)) << 32n) | BigInt(sessionIdHighAt(bytes, offset + 4));
}

// ---------------------------------------------------------------------------------------------
// Encoding

/**
 * REGISTER. `padToBytes` pads with zeros up to that length (use MIN_UDP_REGISTER_BYTES over UDP).
 * `version` other than 1 exists for tests of the version refusal.
 */
export function encodeRegister(options: { nonce: Uint8Array; token?: string; padToBytes?: number; version?: number }): Uint8Array {
  const { nonce, token = '', padToBytes = 0, version = RELAY_PROTOCOL_VERSION } = options;
  checkLength(nonce, NONCE_BYTES, 'nonce');
  checkByte(version, 'version');
  const tokenBytes = utf8Encoder.encode(token);
  if (tokenBytes.length > MAX_TOKEN_BYTES) throw new RangeError(`token of ${tokenBytes.length} bytes is over ${MAX_TOKEN_BYTES}`);
  const length = 2 + NONCE_BYTES + varintSize(tokenBytes.length) + tokenBytes.length;
  const writer = new ByteWriter(Math.max(length, padToBytes));
  writer.u8(RelayType.Register).u8(version).bytes(nonce).varint(tokenBytes.length).bytes(tokenBytes);
  const out = new Uint8Array(Math.max(length, padToBytes));
  out.set(writer.view());
  return out;
}

export function encodeKeepalive(sessionId: bigint, secret: Uint8Array): Uint8Array {
  return encodeSessionProof(RelayType.Keepalive, sessionId, secret);
}

export function encodeLeave(sessionId: bigint, secret: Uint8Array): Uint8Array {
  return encodeSessionProof(RelayType.Leave, sessionId, secret);
}

/** Client DATA 0x03. Copies `payload`. */
export function encodeData(destination: bigint, payload: Uint8Array): Uint8Array {
  return encodeDataLike(RelayType.Data, destination, payload);
}

/** Relay DATA 0x83. Copies `payload`. */
export function encodeDelivery(source: bigint, payload: Uint8Array): Uint8Array {
  return encodeDataLike(RelayType.Delivery, source, payload);
}

export function encodeRegistered(value: Omit<RegisteredDatagram, 'kind'>): Uint8Array {
  checkLength(value.nonce, NONCE_BYTES, 'nonce');
  checkLength(value.relayId, RELAY_ID_BYTES, 'relay id');
  checkLength(value.secret, SESSION_SECRET_BYTES, 'session secret');
  checkU64(value.sessionId, 'session id');
  if (value.sessionId === 0n) throw new RangeError('session id 0');
  if (!Number.isInteger(value.keepaliveMs) || value.keepaliveMs < 1 || value.keepaliveMs > 0xffff) {
    throw new RangeError(`keepaliveMs out of range: ${value.keepaliveMs}`);
  }
  if (value.endpoints.length < 1 || value.endpoints.length > MAX_ENDPOINTS) {
    throw new RangeError(`endpoint count ${value.endpoints.length} is outside 1..${MAX_ENDPOINTS}`);
  }
  const writer = new ByteWriter(128);
  writer.u8(RelayType.Registered).bytes(value.nonce).bytes(value.relayId).u64(value.sessionId).bytes(value.secret);
  writer.u16(value.keepaliveMs).u8(value.endpoints.length);
  for (const endpoint of value.endpoints) {
    const bytes = utf8Encoder.encode(endpoint);
    if (bytes.length < 1 || bytes.length > 255) throw new RangeError(`endpoint "${endpoint}" is not 1..255 bytes`);
    writer.u8(bytes.length).bytes(bytes);
  }
  return writer.toBytes();
}

export function encodeKeepaliveAck(sessionId: bigint): Uint8Array {
  checkU64(sessionId, 'session id');
  return new ByteWriter(KEEPALIVE_ACK_BYTES).u8(RelayType.KeepaliveAck).u64(sessionId).toBytes();
}

/**
 * REFUSED. `maxBytes` is the length of what it answers: the detail is cut (at a character
 * boundary) so the answer is never longer. Returns null when even an empty detail does not fit.
 */
export function encodeRefused(reference: bigint, reason: number, detail: string, maxBytes = 255 + MIN_REFUSED_BYTES): Uint8Array | null {
  checkU64(reference, 'reference');
  checkByte(reason, 'reason');
  if (reason === 0) throw new RangeError('refusal reason 0');
  const room = Math.min(255, maxBytes - MIN_REFUSED_BYTES);
  if (room < 0) return null;
  const detailBytes = truncateUtf8(utf8Encoder.encode(detail), room);
  const writer = new ByteWriter(MIN_REFUSED_BYTES + detailBytes.length);
  writer.u8(RelayType.Refused).u64(reference).u8(reason).u8(detailBytes.length).bytes(detailBytes);
  return writer.toBytes();
}

function encodeSessionProof(type: number, sessionId: bigint, secret: Uint8Array): Uint8Array {
  checkU64(sessionId, 'session id');
  checkLength(secret, SESSION_SECRET_BYTES, 'session secret');
  return new ByteWriter(SESSION_PROOF_BYTES).u8(type).u64(sessionId).bytes(secret).toBytes();
}

function encodeDataLike(type: number, session: bigint, payload: Uint8Array): Uint8Array {
  checkU64(session, 'session id');
  if (!(payload instanceof Uint8Array) || payload.length === 0) throw new RangeError('DATA payload must be 1 byte or more');
  const out = new Uint8Array(DATA_HEADER_BYTES + payload.length);
  out[0] = type;
  writeU64At(out, 1, session);
  out.set(payload, DATA_HEADER_BYTES);
  return out;
}

/** Longest prefix of at most `max` bytes that ends on a UTF-8 character boundary. */
function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

function writeU64At(out: Uint8Array, offset: number, value: bigint): void {
  writeU32At(out, offset, Number(value >> 32n));
  writeU32At(out, offset + 4, Number(value & 0xffffffffn));
}

/** Big-endian, no view allocated (the relay stamps every forwarded datagram with it). */
export function writeU32At(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = (value >>> 16) & 0xff;
  out[offset + 2] = (value >>> 8) & 0xff;
  out[offset + 3] = value & 0xff;
}

function checkU64(value: bigint, what: string): void {
  if (typeof value !== 'bigint' || value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`${what} is not a u64: ${String(value)}`);
}

function checkByte(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) throw new RangeError(`${what} is not a u8: ${value}`);
}

function checkLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new RangeError(`${what} must be ${length} bytes`);
}

// ---------------------------------------------------------------------------------------------
// WebRTC signalling (PROTOCOL.md §3.12): a browser on a WebSocket
// session asks the relay for a data channel bound to that session. These travel only over the
// session's WebSocket, so they are kept out of `RelayDatagram` and decoded by decodeRtcSignal.

export const RtcSignalType = {
  /** Client → relay: an SDP offer for a data channel bound to the sender's session. */
  Offer: 0x10,
  /** Client → relay: the client gave up this attempt's data channel; the relay closes it too. */
  Close: 0x11,
  /** Relay → client: the SDP answer, or why there is none. */
  Answer: 0x90,
} as const;

/** RTC_ANSWER status. 0 carries an SDP answer; any other value carries a human-readable detail. */
export enum RtcAnswerStatus {
  Accepted = 0,
  /** This relay has no WebRTC (node-datachannel missing or disabled). Do not ask again. */
  Unavailable = 1,
  /** Too many offers in progress on the relay, or too many data channels open. Retry later. */
  Busy = 2,
  /** The offer was refused: bad SDP, wrong session, over the wrong transport, too many attempts. */
  Refused = 3,
  /** The relay could not make an answer (its WebRTC stack failed or timed out). */
  Failed = 4,
}

export const RTC_ATTEMPT_BYTES = 4;
/** Longest SDP text in RTC_OFFER and RTC_ANSWER. A data-channel-only SDP is well under 1 KiB. */
export const MAX_SDP_BYTES = 4096;
/** Longest detail in a refusing RTC_ANSWER. */
export const MAX_RTC_DETAIL_BYTES = 255;
/** type + session id + attempt + u16 length. */
export const RTC_OFFER_HEADER_BYTES = 1 + SESSION_ID_BYTES + RTC_ATTEMPT_BYTES + 2;
/** RTC_OFFER may be longer than MAX_RELAY_DATAGRAM_BYTES (it never travels over UDP). */
export const MAX_RTC_OFFER_BYTES = RTC_OFFER_HEADER_BYTES + MAX_SDP_BYTES;
export const RTC_CLOSE_BYTES = 1 + SESSION_ID_BYTES + RTC_ATTEMPT_BYTES;
/** type + session id + attempt + status + u16 length. */
export const RTC_ANSWER_HEADER_BYTES = 1 + SESSION_ID_BYTES + RTC_ATTEMPT_BYTES + 1 + 2;

export interface RtcOfferDatagram {
  kind: 'rtcOffer';
  sessionId: bigint;
  /** Chosen by the client, echoed in the answer: matches an answer to its attempt. */
  attempt: number;
  sdp: string;
}
export interface RtcCloseDatagram {
  kind: 'rtcClose';
  sessionId: bigint;
  attempt: number;
}
export interface RtcAnswerDatagram {
  kind: 'rtcAnswer';
  sessionId: bigint;
  attempt: number;
  status: number;
  /** The SDP answer when status is 0, else a detail (may be empty). */
  text: string;
}
export type RtcSignalDatagram = RtcOfferDatagram | RtcCloseDatagram | RtcAnswerDatagram;

/** True for the first byte of a WebRTC signalling datagram. */
export function isRtcSignalType(type: number): boolean {
  return type === RtcSignalType.Offer || type === RtcSignalType.Close || type === RtcSignalType.Answer;
}

/** Decodes RTC_OFFER, RTC_CLOSE or RTC_ANSWER. Never throws; refuses anything else, bad lengths, bad UTF-8 and trailing bytes. */
export function decodeRtcSignal(bytes: Uint8Array): Decoded<RtcSignalDatagram> {
  if (!(bytes instanceof Uint8Array)) return decodeError('rtc signal: not a Uint8Array');
  if (bytes.length === 0) return decodeError('rtc signal: empty');
  if (bytes.length > RTC_ANSWER_HEADER_BYTES + MAX_SDP_BYTES) return decodeError(`rtc signal: ${bytes.length} bytes is too long`);
  const reader = new ByteReader(bytes);
  const type = reader.u8('type');
  const sessionId = reader.u64('session id');
  const attempt = reader.u32('attempt');
  switch (type) {
    case RtcSignalType.Offer: {
      const sdp = readSdp(reader, 'offer sdp', 1, MAX_SDP_BYTES);
      return finishRtc(reader, 'rtc offer', () => ({ kind: 'rtcOffer', sessionId, attempt, sdp: sdp ?? '' }));
    }
    case RtcSignalType.Close:
      return finishRtc(reader, 'rtc close', () => ({ kind: 'rtcClose', sessionId, attempt }));
    case RtcSignalType.Answer: {
      const status = reader.u8('status');
      const accepted = status === RtcAnswerStatus.Accepted;
      const text = accepted ? readSdp(reader, 'answer sdp', 1, MAX_SDP_BYTES) : readSdp(reader, 'answer detail', 0, MAX_RTC_DETAIL_BYTES);
      return finishRtc(reader, 'rtc answer', () => ({ kind: 'rtcAnswer', sessionId, attempt, status, text: text ?? '' }));
    }
    default:
      return decodeError(`rtc signal: unknown type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

/** A u16-length UTF-8 text of min..max bytes; null (reader failed) otherwise. */
function readSdp(reader: ByteReader, what: string, min: number, max: number): string | null {
  const length = reader.u16(`${what} length`);
  if (reader.failed) return null;
  if (length < min || length > max) {
    reader.fail(`${what} of ${length} bytes is outside ${min}..${max}`);
    return null;
  }
  const bytes = reader.bytesView(length, what);
  if (reader.failed) return null;
  const text = decodeUtf8(bytes);
  if (text === null) reader.fail(`${what}: not UTF-8`);
  return text;
}

function finishRtc(reader: ByteReader, what: string, value: () => RtcSignalDatagram): Decoded<RtcSignalDatagram> {
  if (reader.failed) return decodeError(`${what}: ${reader.error}`);
  if (reader.remaining !== 0) return decodeError(`${what}: ${reader.remaining} trailing byte(s)`);
  return decodeOk(value());
}

export function encodeRtcOffer(sessionId: bigint, attempt: number, sdp: string): Uint8Array {
  const sdpBytes = utf8Encoder.encode(sdp);
  if (sdpBytes.length < 1 || sdpBytes.length > MAX_SDP_BYTES) throw new RangeError(`offer sdp of ${sdpBytes.length} bytes is outside 1..${MAX_SDP_BYTES}`);
  return rtcHeader(RtcSignalType.Offer, sessionId, attempt, RTC_OFFER_HEADER_BYTES + sdpBytes.length).u16(sdpBytes.length).bytes(sdpBytes).toBytes();
}

export function encodeRtcClose(sessionId: bigint, attempt: number): Uint8Array {
  return rtcHeader(RtcSignalType.Close, sessionId, attempt, RTC_CLOSE_BYTES).toBytes();
}

/** RTC_ANSWER. With status 0 `text` is the SDP (1..4096 bytes); otherwise a detail, cut to 255 bytes at a character boundary. */
export function encodeRtcAnswer(sessionId: bigint, attempt: number, status: number, text: string): Uint8Array {
  checkByte(status, 'status');
  let textBytes: Uint8Array = utf8Encoder.encode(text);
  if (status === RtcAnswerStatus.Accepted) {
    if (textBytes.length < 1 || textBytes.length > MAX_SDP_BYTES) throw new RangeError(`answer sdp of ${textBytes.length} bytes is outside 1..${MAX_SDP_BYTES}`);
  } else {
    textBytes = truncateUtf8(textBytes, MAX_RTC_DETAIL_BYTES);
  }
  return rtcHeader(RtcSignalType.Answer, sessionId, attempt, RTC_ANSWER_HEADER_BYTES + textBytes.length).u8(status).u16(textBytes.length).bytes(textBytes).toBytes();
}

function rtcHeader(type: number, sessionId: bigint, attempt: number, length: number): ByteWriter {
  checkU64(sessionId, 'session id');
  if (!Number.isInteger(attempt) || attempt < 0 || attempt > 0xffffffff) throw new RangeError(`attempt is not a u32: ${attempt}`);
  return new ByteWriter(length).u8(type).u64(sessionId).u32(attempt);
}
