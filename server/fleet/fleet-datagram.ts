/**
 * FLEET_DATA (PROTOCOL.md §3.13): DATA one relay of a fleet passes to another for a session that
 * relay holds. The sending relay has authenticated the source session already; the datagram carries
 * that session's id, and an HMAC-SHA256 tag (truncated to 16 bytes) under a key derived from the
 * fleet secret, over everything before the tag. Decoding takes untrusted bytes and never throws.
 */
import { createHmac, timingSafeEqual } from 'crypto';
import { DATA_HEADER_BYTES } from '../../plugin/net/wire/relay-codec';

export const FLEET_DATA_TYPE = 0x20;
export const FLEET_LINK_VERSION = 1;
export const FLEET_INCARNATION_BYTES = 8;
export const FLEET_TAG_BYTES = 16;
/** type, version, relay number (2), incarnation (8), counter (8), destination (8), source (8). */
export const FLEET_HEADER_BYTES = 36;
/** Where the 0x83 delivery begins inside a FLEET_DATA: the last byte of the destination id becomes its type byte. */
const DELIVERY_OFFSET = FLEET_HEADER_BYTES - DATA_HEADER_BYTES;
/** What FLEET_DATA adds to the client's DATA (0x03 ‖ destination ‖ payload). */
export const FLEET_OVERHEAD_BYTES = FLEET_HEADER_BYTES + FLEET_TAG_BYTES - DATA_HEADER_BYTES;
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

/** Builds FLEET_DATA from a client's DATA (0x03 ‖ destination ‖ payload) and the source session id. */
export function encodeFleetData(key: Buffer, sender: FleetSender, counter: number, data: Uint8Array, sourceIdBytes: Uint8Array): Buffer {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`fleet counter must be a safe non-negative integer, got ${counter}`);
  const payloadLength = data.length - DATA_HEADER_BYTES;
  const length = FLEET_HEADER_BYTES + payloadLength + FLEET_TAG_BYTES;
  const out = Buffer.allocUnsafe(length);
  out[0] = FLEET_DATA_TYPE;
  out[1] = FLEET_LINK_VERSION;
  out.writeUInt16BE(sender.relayNumber, 2);
  out.set(sender.incarnation, 4);
  out.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 12);
  out.writeUInt32BE(counter >>> 0, 16);
  out.set(data.subarray(1, DATA_HEADER_BYTES), 20);
  out.set(sourceIdBytes, 28);
  out.set(data.subarray(DATA_HEADER_BYTES), FLEET_HEADER_BYTES);
  tag(key, out, length - FLEET_TAG_BYTES).copy(out, length - FLEET_TAG_BYTES, 0, FLEET_TAG_BYTES);
  return out;
}

export type FleetDataRefusal = 'malformed' | 'badTag';

export interface FleetDataHeader {
  relayNumber: number;
  /** A view into the datagram. */
  incarnation: Uint8Array;
  counter: number;
}

/** Reads the header of untrusted bytes without checking the tag (so the sender's entry can be found first); null when not FLEET_DATA of this version. */
export function readFleetHeader(bytes: Uint8Array, maxLength: number): FleetDataHeader | null {
  if (bytes.length <= FLEET_HEADER_BYTES + FLEET_TAG_BYTES || bytes.length > maxLength) return null;
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

export interface FleetDelivery {
  destinationHigh: number;
  destinationLow: number;
  sourceLow: number;
  /** 0x83 ‖ source ‖ payload, written in place inside the datagram (a view of it). */
  delivery: Uint8Array;
}

/** Turns an authenticated FLEET_DATA into the client delivery, in place (the destination id is read first). */
export function fleetDataAsDelivery(bytes: Uint8Array): FleetDelivery {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const destinationHigh = view.getUint32(20);
  const destinationLow = view.getUint32(24);
  const sourceLow = view.getUint32(32);
  bytes[DELIVERY_OFFSET] = 0x83;
  return { destinationHigh, destinationLow, sourceLow, delivery: bytes.subarray(DELIVERY_OFFSET, bytes.length - FLEET_TAG_BYTES) };
}
