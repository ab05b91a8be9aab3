/**
 * The NetworkedTransform snapshot message (one per owned node per send), version 1:
 *
 *   u8      kind = 0x54 ('T')
 *   varint  entityId        (0..2^32-1, chosen by the owner; unique per owner)
 *   u32     timeMs          owner's clock in ms, modulo 2^32 (replicas compare it wrap-aware)
 *   varint  zigzag(x) zigzag(y) zigzag(z)   position in 1/1000 units (see quantize.ts)
 *   u32     rotation        smallest-three quaternion (see quantize.ts)
 *
 * Multi-byte integers are big-endian; varints are net/wire's canonical LEB128. 13–29 bytes; ≤ 20 for small ids and coordinates within ±100.
 */
import { decodeError, decodeOk, type Decoded } from '../../net/result';
import { ByteReader, ByteWriter } from '../../net/wire';
import type { Pose } from './pose-math';
import { dequantizePosition, packRotation, quantizePosition, unpackRotation, zigzagDecode, zigzagEncode } from './quantize';

export const TRANSFORM_SNAPSHOT_KIND = 0x54;
/** The longest a snapshot encodes to: 1 + 5 + 4 + 3×5 + 4. */
export const TRANSFORM_SNAPSHOT_MAX_BYTES = 29;

export interface TransformSnapshot {
  entityId: number;
  /** Owner clock, ms modulo 2^32. */
  timeMs: number;
  pose: Pose;
}

/** Encodes into `writer` (reset first); the result is `writer.view()`, valid until its next use. */
export function writeTransformSnapshot(writer: ByteWriter, snapshot: TransformSnapshot): Uint8Array {
  const { position, rotation } = snapshot.pose;
  writer.reset();
  writer.u8(TRANSFORM_SNAPSHOT_KIND).varint(snapshot.entityId).u32(snapshot.timeMs >>> 0);
  for (const axis of position) writer.varint(zigzagEncode(quantizePosition(axis)));
  writer.u32(packRotation(rotation));
  return writer.view();
}

/** Encodes into fresh bytes. */
export function encodeTransformSnapshot(snapshot: TransformSnapshot): Uint8Array {
  return writeTransformSnapshot(new ByteWriter(TRANSFORM_SNAPSHOT_MAX_BYTES), snapshot).slice();
}

export function decodeTransformSnapshot(bytes: Uint8Array): Decoded<TransformSnapshot> {
  const reader = new ByteReader(bytes);
  const kind = reader.u8('snapshot kind');
  if (!reader.failed && kind !== TRANSFORM_SNAPSHOT_KIND) return decodeError(`snapshot kind: expected 0x54, got 0x${kind.toString(16).padStart(2, '0')}`);
  const entityId = reader.varint('snapshot entityId');
  const timeMs = reader.u32('snapshot timeMs');
  const x = reader.varint('snapshot position x');
  const y = reader.varint('snapshot position y');
  const z = reader.varint('snapshot position z');
  const rotation = reader.u32('snapshot rotation');
  if (reader.failed) return decodeError(reader.error ?? 'snapshot: truncated');
  if (reader.remaining !== 0) return decodeError(`snapshot: ${reader.remaining} unexpected trailing byte(s)`);
  return decodeOk({
    entityId,
    timeMs,
    pose: {
      position: [dequantizePosition(zigzagDecode(x)), dequantizePosition(zigzagDecode(y)), dequantizePosition(zigzagDecode(z))],
      rotation: unpackRotation(rotation),
    },
  });
}
