/** Plain-number vector and quaternion helpers for poses (no Babylon types, so unit tests need no engine). */

export type Vec3 = readonly [x: number, y: number, z: number];
/** A rotation quaternion (x, y, z, w), Babylon's component order. */
export type Quat = readonly [x: number, y: number, z: number, w: number];

export interface Pose {
  position: Vec3;
  rotation: Quat;
}

export const IDENTITY_ROTATION: Quat = [0, 0, 0, 1];

export function lerpVec3(a: Vec3, b: Vec3, t: number): Vec3 {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function distance(a: Vec3, b: Vec3): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** Unit length; the identity for a zero or non-finite quaternion. */
export function normalizeQuat(q: Quat): Quat {
  const length = Math.hypot(q[0], q[1], q[2], q[3]);
  if (!Number.isFinite(length) || length < 1e-12) return IDENTITY_ROTATION;
  return [q[0] / length, q[1] / length, q[2] / length, q[3] / length];
}

export function dotQuat(a: Quat, b: Quat): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
}

/** The angle in radians between two rotations (q and -q are the same rotation). */
export function angleBetween(a: Quat, b: Quat): number {
  const d = Math.min(1, Math.abs(dotQuat(normalizeQuat(a), normalizeQuat(b))));
  return 2 * Math.acos(d);
}

/** Spherical interpolation along the shorter arc. */
export function slerp(a: Quat, b: Quat, t: number): Quat {
  let cos = dotQuat(a, b);
  let end: Quat = b;
  if (cos < 0) {
    cos = -cos;
    end = [-b[0], -b[1], -b[2], -b[3]];
  }
  let wa: number;
  let wb: number;
  if (cos > 0.9995) {
    // Nearly the same rotation: linear blend avoids dividing by a vanishing sine.
    wa = 1 - t;
    wb = t;
  } else {
    const angle = Math.acos(cos);
    const sin = Math.sin(angle);
    wa = Math.sin((1 - t) * angle) / sin;
    wb = Math.sin(t * angle) / sin;
  }
  return normalizeQuat([a[0] * wa + end[0] * wb, a[1] * wa + end[1] * wb, a[2] * wa + end[2] * wb, a[3] * wa + end[3] * wb]);
}

export function interpolatePose(a: Pose, b: Pose, t: number): Pose {
  return { position: lerpVec3(a.position, b.position, t), rotation: slerp(a.rotation, b.rotation, t) };
}
