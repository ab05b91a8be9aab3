/**
 * Walking on the arena: input axes to a new position and heading. Pure, so the browser, the bots
 * and the tests move players the same way.
 */
import { ARENA_HALF_SIZE, MOVE_SPEED } from './constants';

export interface Planar {
  x: number;
  z: number;
}

/** Axes in -1..1: `right` along +x, `forward` along +z (away from the camera). */
export interface MoveInput {
  right: number;
  forward: number;
}

export interface MoveStep {
  position: Planar;
  /** Heading about +y (Babylon's rotation.y: 0 faces +z), or null when standing still. */
  yaw: number | null;
}

const clampAxis = (value: number) => (Number.isFinite(value) ? Math.max(-1, Math.min(1, value)) : 0);

/** Moves `position` by `input` for `dtSeconds` at `speed`, staying within ±`halfSize` on both axes. */
export function stepMovement(position: Planar, input: MoveInput, dtSeconds: number, speed = MOVE_SPEED, halfSize = ARENA_HALF_SIZE): MoveStep {
  let dx = clampAxis(input.right);
  let dz = clampAxis(input.forward);
  const length = Math.hypot(dx, dz);
  const dt = Number.isFinite(dtSeconds) ? Math.max(0, Math.min(dtSeconds, 0.25)) : 0;
  if (length === 0 || dt === 0) return { position: { x: position.x, z: position.z }, yaw: null };
  // Diagonals are not faster than straight lines.
  if (length > 1) {
    dx /= length;
    dz /= length;
  }
  const clamp = (v: number) => Math.max(-halfSize, Math.min(halfSize, v));
  return {
    position: { x: clamp(position.x + dx * speed * dt), z: clamp(position.z + dz * speed * dt) },
    yaw: Math.atan2(dx, dz),
  };
}

/** The point `distance` ahead of `position` facing `yaw`, kept on the arena. */
export function pointAhead(position: Planar, yaw: number, distance: number, halfSize = ARENA_HALF_SIZE): Planar {
  const clamp = (v: number) => Math.max(-halfSize, Math.min(halfSize, v));
  return { x: clamp(position.x + Math.sin(yaw) * distance), z: clamp(position.z + Math.cos(yaw) * distance) };
}

export function distance(a: Planar, b: Planar): number {
  return Math.hypot(a.x - b.x, a.z - b.z);
}
