/**
 * FLEET_DATA (PROTOCOL.md §3.13): client DATA one relay of a fleet passes to another for sessions
 * that relay holds. Several client datagrams for the same relay within one event-loop turn travel
 * in one FLEET_DATA (records), so the link costs one send and one tag per batch, not per datagram.
 * The sending relay has authenticated every record's source session already; the whole datagram
 * carries an HMAC-SHA256 tag (truncated to 16 bytes) under a key derived from the fleet secret.
 * Decoding takes untrusted bytes and never throws.
 */
import { createHmac, timingSafeEqual } from 'crypto';
import { DATA_HEADER_BYTES, MAX_RELAY_DATAGRAM_BYTES } from '../../plugin/net/wire/relay-codec';

export const FLEET_DATA_TYPE = 0x20;
export const FLEET_LINK_VERSION = 1;
export const FLEET_INCARNATION_BYTES = 8;
export const FLEET_TAG_BYTES = 16;
/** type, version, sender relay number (2), incarnation (8), counter (8). */
export const FLEET_HEADER_BYTES = 20;
/** length (2), destination (8), source (8), then the payload. */
export const FLEET_RECORD_HEADER_BYTES = 18;
/** The longest client payload a record carries (a 1,500-byte client DATA). */
export const MAX_FLEET_RECORD_PAYLOAD = MAX_RELAY_DATAGRAM_BYTES - DATA_HEADER_BYTES;
/** One record of the longest client DATA, alone: 1,545 bytes. */
export const MAX_FLEET_DATAGRAM_BYTES = FLEET_HEADER_BYTES + FLEET_RECORD_HEADER_BYTES + MAX_FLEET_RECORD_PAYLOAD + FLEET_TAG_BYTES;
/** A batch grows to at most this (an Ethernet MTU's UDP payload), unless its one record is longer. */
export const FLEET_BATCH_BYTES = 1472;
/** Where the 0x83 delivery begins inside a record: the last byte of its destination id becomes the type byte. */
const DELIVERY_OFFSET_IN_RECORD = 2 + 8 - 1;
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** The link key: HMAC-SHA256(key = UTF-8 of the fleet secret, "switchboard/fleet-link/v1"). Never the secret itself. */
export function fleetLinkKey(secret: string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update('switchboard/fleet-link/v1').digest();
}

function tag(key: Buffer, bytes: Uint8Array, length: number): Buffer {
  return createHmac('sha256', key).update(bytes.subarray(0, length)).digest();
}

export interface FleetSender {
  relayNumber: number;
  incarnation: Uint8Array;
}

/** A FLEET_DATA being filled: records are appended, then `seal` writes the counter and the tag. */
export class FleetBatch {
  readonly buffer = Buffer.allocUnsafe(MAX_FLEET_DATAGRAM_BYTES);
  length = FLEET_HEADER_BYTES;
  records = 0;

  constructor(sender: FleetSender) {
    this.buffer[0] = FLEET_DATA_TYPE;
    this.buffer[1] = FLEET_LINK_VERSION;
    this.buffer.writeUInt16BE(sender.relayNumber, 2);
    this.buffer.set(sender.incarnation, 4);
  }

  /** Appends a client DATA (0x03 ‖ destination ‖ payload) from `sourceIdBytes`; false when it does not fit (the batch has records: seal it first). */
  append(data: Uint8Array, sourceIdBytes: Uint8Array): boolean {
    const payloadLength = data.length - DATA_HEADER_BYTES;
    const end = this.length + FLEET_RECORD_HEADER_BYTES + payloadLength;
    if (this.records > 0 && end + FLEET_TAG_BYTES > FLEET_BATCH_BYTES) return false;
    if (payloadLength < 1 || payloadLength > MAX_FLEET_RECORD_PAYLOAD) throw new RangeError(`fleet record payload must be 1..${MAX_FLEET_RECORD_PAYLOAD} bytes, got ${payloadLength}`);
    const at = this.length;
    this.buffer.writeUInt16BE(payloadLength, at);
    this.buffer.set(data.subarray(1, DATA_HEADER_BYTES), at + 2);
    this.buffer.set(sourceIdBytes, at + 10);
    this.buffer.set(data.subarray(DATA_HEADER_BYTES), at + FLEET_RECORD_HEADER_BYTES);
    this.length = end;
    this.records++;
    return true;
  }

  /** Writes the counter and the tag; returns the datagram (a view of the buffer, valid until the next reset). */
  seal(key: Buffer, counter: number): Buffer {
    if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`fleet counter must be a safe non-negative integer, got ${counter}`);
    this.buffer.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 12);
    this.buffer.writeUInt32BE(counter >>> 0, 16);
    tag(key, this.buffer, this.length).copy(this.buffer, this.length, 0, FLEET_TAG_BYTES);
    return this.buffer.subarray(0, this.length + FLEET_TAG_BYTES);
  }

  /** Empties the batch (the header stays). */
  reset(): void {
    this.length = FLEET_HEADER_BYTES;
    this.records = 0;
  }
}

/** One FLEET_DATA of one record, for tests and tools. */
export function encodeFleetData(key: Buffer, sender: FleetSender, counter: number, data: Uint8Array, sourceIdBytes: Uint8Array): Buffer {
  const batch = new FleetBatch(sender);
  batch.append(data, sourceIdBytes);
  return Buffer.from(batch.seal(key, counter));
}

export interface FleetDataHeader {
  relayNumber: number;
  /** A view into the datagram. */
  incarnation: Uint8Array;
  counter: number;
}

/** Reads the header of untrusted bytes without checking the tag (so the sender's entry can be found first); null when not FLEET_DATA of this version or of an impossible length. */
export function readFleetHeader(bytes: Uint8Array): FleetDataHeader | null {
  const length = bytes.length;
  if (length < FLEET_HEADER_BYTES + FLEET_RECORD_HEADER_BYTES + 1 + FLEET_TAG_BYTES || length > MAX_FLEET_DATAGRAM_BYTES) return null;
  if (bytes[0] !== FLEET_DATA_TYPE || bytes[1] !== FLEET_LINK_VERSION) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const counter = view.getUint32(12) * 0x1_0000_0000 + view.getUint32(16);
  if (counter > MAX_COUNTER) return null;
  return { relayNumber: view.getUint16(2), incarnation: bytes.subarray(4, 4 + FLEET_INCARNATION_BYTES), counter };
}

/** Checks the tag in constant time. */
export function fleetTagValid(key: Buffer, bytes: Uint8Array): boolean {
  const body = bytes.length - FLEET_TAG_BYTES;
  const expected = tag(key, bytes, body).subarray(0, FLEET_TAG_BYTES);
  return timingSafeEqual(expected, bytes.subarray(body));
}

/** Called per record: the destination as two u32, the source's low 32 bits, and the 0x83 delivery (a view, rewritten in place). */
export type FleetRecordVisitor = (destinationHigh: number, destinationLow: number, sourceLow: number, delivery: Uint8Array) => void;

/**
 * The records of an authenticated FLEET_DATA, each turned into the client delivery in place and
 * handed to `visit`. False, and nothing visited, when the records do not fill the datagram exactly
 * (a zero length, a record past the end, trailing bytes).
 */
export function forEachFleetRecord(bytes: Uint8Array, visit: FleetRecordVisitor): boolean {
  const end = bytes.length - FLEET_TAG_BYTES;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = FLEET_HEADER_BYTES;
  while (at < end) {
    if (at + FLEET_RECORD_HEADER_BYTES >= end) return false;
    const payloadLength = view.getUint16(at);
    if (payloadLength === 0) return false;
    at += FLEET_RECORD_HEADER_BYTES + payloadLength;
  }
  if (at !== end) return false;
  at = FLEET_HEADER_BYTES;
  while (at < end) {
    const next = at + FLEET_RECORD_HEADER_BYTES + view.getUint16(at);
    const destinationHigh = view.getUint32(at + 2);
    const destinationLow = view.getUint32(at + 6);
    const sourceLow = view.getUint32(at + 14);
    bytes[at + DELIVERY_OFFSET_IN_RECORD] = 0x83;
    visit(destinationHigh, destinationLow, sourceLow, bytes.subarray(at + DELIVERY_OFFSET_IN_RECORD, next));
    at = next;
  }
  return true;
}
