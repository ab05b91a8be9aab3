/**
 * Result codes returned by every NetworkManager call. The numbers are the engine
 * networking manager's own (see docs/API.md), so ported game code keeps its checks.
 */
export enum Result {
  Ok = 0,
  ServiceUnavailable = 1,
  InternalError = 4,
  InvalidPayload = 5,
  InvalidCommand = 6,
  NotFound = 9,
  Conflict = 10,
  NotAuthenticated = 15,
  InvalidBase64 = 19,
  NotRunning = 27,
  InsufficientBuffer = 28,
  InvalidChannel = 32,
  RateLimited = 34,
}

/** A decode or parse outcome: a value, or an error that names what was wrong. Never thrown. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

export function decodeOk<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function decodeError<T = never>(error: string): Decoded<T> {
  return { ok: false, error };
}
