/** Peer packet types, sizes and roles (PROTOCOL.md §5). */
import type { PeerId } from '../types';
import { KEY_BYTES, TAG_BYTES } from './primitives';

export type PeerRole = 'initiator' | 'responder';

/** Of two peers, the one with the smaller peer id initiates the handshake (§5.5). */
export function roleFor(localPeerId: PeerId, remotePeerId: PeerId): PeerRole {
  return localPeerId < remotePeerId ? 'initiator' : 'responder';
}

export const enum PeerPacketType {
  HandshakeInit = 1,
  HandshakeResp = 2,
  Data = 3,
  Hello = 4,
}

/** The type of a peer packet from its first byte; null for an empty packet or an unknown type. */
export function peerPacketType(packet: Uint8Array): PeerPacketType | null {
  if (packet.length === 0) return null;
  const type = packet[0];
  return type >= PeerPacketType.HandshakeInit && type <= PeerPacketType.Hello ? (type as PeerPacketType) : null;
}

/** INIT payload: incarnation u64 ‖ timestamp u64. */
export const INIT_PAYLOAD_BYTES = 16;
/** RESP payload: incarnation u64. */
export const RESP_PAYLOAD_BYTES = 8;
export const INIT_BYTES = 1 + KEY_BYTES + INIT_PAYLOAD_BYTES + TAG_BYTES; // 65
export const RESP_BYTES = 1 + KEY_BYTES + RESP_PAYLOAD_BYTES + TAG_BYTES; // 57
export const HELLO_BYTES = 1;
/** DATA header: type, key phase, the packet number's low 32 bits. It is the AEAD's associated data. */
export const DATA_HEADER_BYTES = 6;
/** The smallest DATA packet: header and tag around an empty plaintext. */
export const DATA_OVERHEAD_BYTES = DATA_HEADER_BYTES + TAG_BYTES;

/**
 * Packet numbers run to 2^53 − 1 (exact in a JavaScript number). The whole number is the AEAD
 * nonce (Noise's 64-bit counter); the DATA header carries its low 32 bits and the receiver
 * restores the rest from the largest number it has opened (PROTOCOL.md §5.3).
 */
export const MAX_PACKET_NUMBER = Number.MAX_SAFE_INTEGER;
