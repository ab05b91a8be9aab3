/**
 * The Noise_KK_25519_ChaChaPoly_SHA256 handshake messages (PROTOCOL.md §5.6) as pure functions: no
 * state is changed in place, so a forged or broken message can never disturb a handshake in progress.
 * test/unit/noise-kk-reference.test.ts checks the bytes against a Noise implementation from the spec.
 *
 *   h = ck = PROTOCOL_NAME (32 bytes); h = SHA256(h ‖ PROLOGUE); h = SHA256(h ‖ s_i); h = SHA256(h ‖ s_r)
 *   INIT: h = SHA256(h ‖ e_i); ck,k = HKDF(ck, DH(e_i,s_r)); ck,k = HKDF(ck, DH(s_i,s_r));
 *         c = AEAD_k(0, h, incarnation_i ‖ timestamp); h = SHA256(h ‖ c)
 *   RESP: h = SHA256(h ‖ e_r); ck,k = HKDF(ck, DH(e_r,e_i)); ck,k = HKDF(ck, DH(e_r,s_i));
 *         c = AEAD_k(0, h, incarnation_r); h = SHA256(h ‖ c)
 *   Split: k_i→r, k_r→i = HKDF(ck, empty)
 */
import type { Identity } from '../identity';
import { ByteReader } from '../wire';
import {
  INIT_BYTES,
  INIT_PAYLOAD_BYTES,
  PeerPacketType,
  RESP_BYTES,
  RESP_PAYLOAD_BYTES,
} from './packets';
import {
  diffieHellman,
  eraseBytes,
  hash,
  hashConcat,
  hkdfPair,
  KEY_BYTES,
  openHandshake,
  sealHandshake,
} from './primitives';

export const PROTOCOL_NAME = 'Noise_KK_25519_ChaChaPoly_SHA256';
/** Noise's prologue: binds the handshake to this protocol and its version (peers of another version fail `init-auth`). */
export const PROLOGUE = 'switchboard peer protocol 2';

/** Noise's symmetric state: handshake hash `h` and chaining key `ck`. */
export interface SymmetricState {
  readonly h: Uint8Array;
  readonly ck: Uint8Array;
}

export interface KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** The transport keys of one completed handshake, seen from one side. */
export interface SessionKeys {
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  /** The final handshake hash (channel binding; both sides hold the same value). */
  readonly handshakeHash: Uint8Array;
}

/** What the initiator keeps between sending INIT and reading RESP. */
export interface InitiatorHandshake {
  readonly ephemeral: KeyPair;
  readonly state: SymmetricState;
}

/** What the responder learned from a valid INIT. */
export interface AcceptedInit {
  readonly initiatorEphemeral: Uint8Array;
  readonly incarnation: bigint;
  readonly timestamp: bigint;
  readonly state: SymmetricState;
}

export type HandshakeFailure = 'malformed' | 'bad-key' | 'auth';
export type Checked<T> = ({ ok: true } & T) | { ok: false; reason: HandshakeFailure };

/** Noise InitializeSymmetric: a name of exactly HASHLEN (32) bytes is used as it is, not hashed. */
const NAME_STATE = initialName(PROTOCOL_NAME);
const AFTER_PROLOGUE = hashConcat(NAME_STATE, new TextEncoder().encode(PROLOGUE));

function initialName(name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length > KEY_BYTES) return hash(bytes);
  const padded = new Uint8Array(KEY_BYTES);
  padded.set(bytes);
  return padded;
}

/** The state both sides start from: it depends only on the two static keys, so a session caches it. */
export function initialState(initiatorStatic: Uint8Array, responderStatic: Uint8Array): SymmetricState {
  const h = hashConcat(hashConcat(AFTER_PROLOGUE, initiatorStatic), responderStatic);
  return { h, ck: NAME_STATE };
}

/**
 * Builds INIT. `staticShared` is DH(s_i, s_r), cached by the caller. Null when DH(e_i, s_r) is
 * unusable (a low-order responder key).
 */
export function writeInit(params: {
  base: SymmetricState;
  staticShared: Uint8Array;
  responderStatic: Uint8Array;
  ephemeral: KeyPair;
  incarnation: bigint;
  timestamp: bigint;
}): { packet: Uint8Array; handshake: InitiatorHandshake } | null {
  const { base, ephemeral } = params;
  const es = diffieHellman(ephemeral.secretKey, params.responderStatic);
  if (es === null) return null;
  let h = hashConcat(base.h, ephemeral.publicKey);
  const [ck1, unusedKey] = hkdfPair(base.ck, es);
  const [ck, k] = hkdfPair(ck1, params.staticShared);
  eraseBytes(es, ck1, unusedKey);

  const payload = new Uint8Array(INIT_PAYLOAD_BYTES);
  const view = new DataView(payload.buffer);
  view.setBigUint64(0, params.incarnation);
  view.setBigUint64(8, params.timestamp);

  const packet = new Uint8Array(INIT_BYTES);
  packet[0] = PeerPacketType.HandshakeInit;
  packet.set(ephemeral.publicKey, 1);
  const sealed = packet.subarray(1 + KEY_BYTES);
  sealHandshake(k, h, payload, sealed);
  eraseBytes(k);
  h = hashConcat(h, sealed);
  return { packet, handshake: { ephemeral, state: { h, ck } } };
}

/** Reads INIT on the responder. `staticShared` is DH(s_r, s_i), cached by the caller. */
export function readInit(params: {
  base: SymmetricState;
  staticShared: Uint8Array;
  responder: Identity;
  packet: Uint8Array;
}): Checked<{ accepted: AcceptedInit }> {
  const { packet } = params;
  if (packet.length !== INIT_BYTES || packet[0] !== PeerPacketType.HandshakeInit) return { ok: false, reason: 'malformed' };
  const initiatorEphemeral = packet.slice(1, 1 + KEY_BYTES);
  const sealed = packet.subarray(1 + KEY_BYTES);
  const es = identityDh(params.responder, initiatorEphemeral);
  if (es === null) return { ok: false, reason: 'bad-key' };
  let h = hashConcat(params.base.h, initiatorEphemeral);
  const [ck1, unusedKey] = hkdfPair(params.base.ck, es);
  const [ck, k] = hkdfPair(ck1, params.staticShared);
  eraseBytes(es, ck1, unusedKey);
  const payload = openHandshake(k, h, sealed);
  eraseBytes(k);
  if (payload === null || payload.length !== INIT_PAYLOAD_BYTES) {
    eraseBytes(ck);
    return { ok: false, reason: 'auth' };
  }
  h = hashConcat(h, sealed);
  const reader = new ByteReader(payload);
  const incarnation = reader.u64('incarnation');
  const timestamp = reader.u64('timestamp');
  return { ok: true, accepted: { initiatorEphemeral, incarnation, timestamp, state: { h, ck } } };
}

/** Builds RESP on the responder and derives the session keys. Null when a DH result is unusable. */
export function writeResp(params: {
  accepted: AcceptedInit;
  initiatorStatic: Uint8Array;
  ephemeral: KeyPair;
  incarnation: bigint;
}): { packet: Uint8Array; keys: SessionKeys } | null {
  const { accepted, ephemeral } = params;
  const ee = diffieHellman(ephemeral.secretKey, accepted.initiatorEphemeral);
  const se = diffieHellman(ephemeral.secretKey, params.initiatorStatic);
  if (ee === null || se === null) {
    eraseBytes(ee, se);
    return null;
  }
  let h = hashConcat(accepted.state.h, ephemeral.publicKey);
  const [ck1, unusedKey] = hkdfPair(accepted.state.ck, ee);
  const [ck, k] = hkdfPair(ck1, se);
  eraseBytes(ee, se, ck1, unusedKey);

  const payload = new Uint8Array(RESP_PAYLOAD_BYTES);
  new DataView(payload.buffer).setBigUint64(0, params.incarnation);
  const packet = new Uint8Array(RESP_BYTES);
  packet[0] = PeerPacketType.HandshakeResp;
  packet.set(ephemeral.publicKey, 1);
  const sealed = packet.subarray(1 + KEY_BYTES);
  sealHandshake(k, h, payload, sealed);
  h = hashConcat(h, sealed);
  const [initiatorToResponder, responderToInitiator] = hkdfPair(ck);
  eraseBytes(k, ck);
  return { packet, keys: { sendKey: responderToInitiator, receiveKey: initiatorToResponder, handshakeHash: h } };
}

/** Reads RESP on the initiator and derives the session keys. */
export function readResp(params: {
  handshake: InitiatorHandshake;
  initiator: Identity;
  packet: Uint8Array;
}): Checked<{ incarnation: bigint; keys: SessionKeys }> {
  const { packet, handshake } = params;
  if (packet.length !== RESP_BYTES || packet[0] !== PeerPacketType.HandshakeResp) return { ok: false, reason: 'malformed' };
  const responderEphemeral = packet.subarray(1, 1 + KEY_BYTES);
  const sealed = packet.subarray(1 + KEY_BYTES);
  const ee = diffieHellman(handshake.ephemeral.secretKey, responderEphemeral);
  const se = ee === null ? null : identityDh(params.initiator, responderEphemeral);
  if (ee === null || se === null) {
    eraseBytes(ee, se);
    return { ok: false, reason: 'bad-key' };
  }
  let h = hashConcat(handshake.state.h, responderEphemeral);
  const [ck1, unusedKey] = hkdfPair(handshake.state.ck, ee);
  const [ck, k] = hkdfPair(ck1, se);
  eraseBytes(ee, se, ck1, unusedKey);
  const payload = openHandshake(k, h, sealed);
  eraseBytes(k);
  if (payload === null || payload.length !== RESP_PAYLOAD_BYTES) {
    eraseBytes(ck);
    return { ok: false, reason: 'auth' };
  }
  h = hashConcat(h, sealed);
  const incarnation = new ByteReader(payload).u64('incarnation');
  const [initiatorToResponder, responderToInitiator] = hkdfPair(ck);
  eraseBytes(ck);
  return {
    ok: true,
    incarnation,
    keys: { sendKey: initiatorToResponder, receiveKey: responderToInitiator, handshakeHash: h },
  };
}

/** DH with the long-term key; null instead of a throw for an unusable remote key. */
export function identityDh(identity: Identity, remotePublicKey: Uint8Array): Uint8Array | null {
  try {
    return identity.sharedSecret(remotePublicKey);
  } catch {
    return null;
  }
}
