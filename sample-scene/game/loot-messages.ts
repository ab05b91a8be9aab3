/**
 * The loot messages, on the reliable loot channel. The sender is the authenticated peer the
 * message came from, so no message names its own sender:
 *
 * | kind | byte 0 | fields (big-endian)        | sent by → to                  |
 * |------|--------|----------------------------|-------------------------------|
 * | drop | 1      | seq u32, x f32, z f32      | dropper → everyone            |
 * | claim| 2      | seq u32                    | claimant → the loot's dropper |
 * | taken| 3      | seq u32, winner u64        | dropper → everyone            |
 *
 * A loot item is named by (dropper, seq). Decoding checks the kind, the exact length and that
 * coordinates are finite; it never throws.
 */
import { structCodec, type MessageCodec } from 'switchboard';
import { decodeError, decodeOk, type Decoded } from 'switchboard';
import type { PeerId } from 'switchboard';

export type LootMessage =
  | { kind: 'drop'; seq: number; x: number; z: number }
  | { kind: 'claim'; seq: number }
  | { kind: 'taken'; seq: number; winner: PeerId };

const DROP = 1;
const CLAIM = 2;
const TAKEN = 3;

const dropCodec = structCodec({ kind: 'u8', seq: 'u32', x: 'f32', z: 'f32' });
const claimCodec = structCodec({ kind: 'u8', seq: 'u32' });
const takenCodec = structCodec({ kind: 'u8', seq: 'u32', winner: 'u64' });

export const lootCodec: MessageCodec<LootMessage> = {
  encode(message: LootMessage): Uint8Array {
    switch (message.kind) {
      case 'drop':
        return dropCodec.encode({ kind: DROP, seq: message.seq, x: message.x, z: message.z });
      case 'claim':
        return claimCodec.encode({ kind: CLAIM, seq: message.seq });
      case 'taken':
        return takenCodec.encode({ kind: TAKEN, seq: message.seq, winner: message.winner });
    }
  },
  decode(bytes: Uint8Array): Decoded<LootMessage> {
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) return decodeError('loot: expected a non-empty Uint8Array');
    switch (bytes[0]) {
      case DROP: {
        const d = dropCodec.decode(bytes);
        if (!d.ok) return decodeError(`loot drop: ${d.error}`);
        if (!Number.isFinite(d.value.x) || !Number.isFinite(d.value.z)) return decodeError('loot drop: coordinates must be finite');
        return decodeOk({ kind: 'drop', seq: d.value.seq, x: d.value.x, z: d.value.z });
      }
      case CLAIM: {
        const d = claimCodec.decode(bytes);
        return d.ok ? decodeOk({ kind: 'claim', seq: d.value.seq }) : decodeError(`loot claim: ${d.error}`);
      }
      case TAKEN: {
        const d = takenCodec.decode(bytes);
        if (!d.ok) return decodeError(`loot taken: ${d.error}`);
        if (d.value.winner === 0n) return decodeError('loot taken: winner must be a peer id, got 0');
        return decodeOk({ kind: 'taken', seq: d.value.seq, winner: d.value.winner });
      }
      default:
        return decodeError(`loot: unknown kind ${bytes[0]}`);
    }
  },
};
