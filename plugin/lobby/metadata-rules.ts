/**
 * The one rule set for lobby names, member ids and member metadata, shared by MemoryLobby, the
 * ColyseusLobby client (to refuse early) and the lobby server (which enforces it for real).
 * Nothing here throws: a verdict names what was wrong.
 */

export interface LobbyMetadataLimits {
  /** Keys a member's metadata may hold at most (after merging an update). */
  maxKeys: number;
  /** Longest key, in characters. Keys use [A-Za-z0-9_.:-] only, and `__proto__` is refused. */
  maxKeyLength: number;
  /** Longest value, in UTF-16 code units (a route is at most ~700). */
  maxValueLength: number;
}

export const defaultLobbyMetadataLimits: Readonly<LobbyMetadataLimits> = Object.freeze({
  maxKeys: 16,
  maxKeyLength: 64,
  maxValueLength: 1024,
});

/** Lobby names and member ids: 1..64 characters of [A-Za-z0-9_.:-]. */
export const MAX_NAME_LENGTH = 64;
const NAME_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/** Why an update was refused; also the keys of the servers' refusal counters. */
export type MetadataRefusal =
  | 'not_an_object'
  | 'too_many_entries'
  | 'bad_key'
  | 'value_not_string'
  | 'value_too_long'
  | 'too_many_keys';

export type MetadataVerdict =
  | { ok: true; entries: Array<[string, string]> }
  | { ok: false; refusal: MetadataRefusal; error: string };

export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && name.length >= 1 && name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

export function describeNameRule(): string {
  return `1..${MAX_NAME_LENGTH} characters of A-Z a-z 0-9 _ . : -`;
}

/** A plain `{}` object (no array, Map, class instance or changed prototype such as `__proto__`). */
export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Fills in defaults and checks that every limit is a positive integer; throws a TypeError naming the bad one. */
export function resolveMetadataLimits(limits: Partial<LobbyMetadataLimits> | undefined): LobbyMetadataLimits {
  const resolved: LobbyMetadataLimits = { ...defaultLobbyMetadataLimits, ...(limits ?? {}) };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isInteger(value) || (value as number) < 1) {
      throw new TypeError(`lobby metadata limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  return resolved;
}

/**
 * Checks an update against the member's current metadata. Accepts only a plain object of string
 * values under well-formed keys, within the limits once merged; otherwise refuses it as a whole.
 */
export function checkMetadataUpdate(
  current: ReadonlyMap<string, string>,
  entries: unknown,
  limits: LobbyMetadataLimits,
): MetadataVerdict {
  if (!isPlainRecord(entries)) {
    return refuse('not_an_object', 'metadata update must be a plain object of string values');
  }
  const keys = Object.keys(entries);
  if (keys.length > limits.maxKeys) {
    return refuse('too_many_entries', `metadata update has ${keys.length} entries, at most ${limits.maxKeys} allowed`);
  }
  const accepted: Array<[string, string]> = [];
  let added = 0;
  for (const key of keys) {
    if (key.length === 0 || key.length > limits.maxKeyLength || !NAME_PATTERN.test(key) || key === '__proto__') {
      return refuse('bad_key', `metadata key ${quote(key)} must be 1..${limits.maxKeyLength} characters of A-Z a-z 0-9 _ . : -`);
    }
    const value = entries[key];
    if (typeof value !== 'string') {
      return refuse('value_not_string', `metadata value of ${quote(key)} must be a string, got ${describeType(value)}`);
    }
    if (value.length > limits.maxValueLength) {
      return refuse('value_too_long', `metadata value of ${quote(key)} has ${value.length} characters, at most ${limits.maxValueLength} allowed`);
    }
    if (!current.has(key)) added++;
    accepted.push([key, value]);
  }
  if (current.size + added > limits.maxKeys) {
    return refuse('too_many_keys', `metadata would hold ${current.size + added} keys, at most ${limits.maxKeys} allowed`);
  }
  return { ok: true, entries: accepted };
}

/** Upper bound of the encoded size of a legitimate update, for transport frame limits. */
export function maxUpdateBytes(limits: LobbyMetadataLimits): number {
  // UTF-8 needs at most 3 bytes per UTF-16 code unit; 16 bytes of framing per entry is generous.
  return limits.maxKeys * (limits.maxKeyLength + 3 * limits.maxValueLength + 16) + 256;
}

function refuse(refusal: MetadataRefusal, error: string): MetadataVerdict {
  return { ok: false, refusal, error };
}

function quote(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** The metadata key a member publishes its peer id under (route sync's PEER_ID_KEY). */
export const PEER_ID_METADATA_KEY = 'peer_id';

/**
 * The member (other than `selfId`) that already claims the `peer_id` this update sets, or null.
 * A lobby refuses such an update: a peer id is 64 bits, so a second claimant is an attacker with
 * a second preimage (or a stale session), never a second player.
 */
export function peerIdClaimant(
  selfId: string,
  entries: ReadonlyMap<string, string> | Iterable<readonly [string, string]>,
  members: Iterable<readonly [string, ReadonlyMap<string, string> | { get(key: string): string | undefined }]>,
): string | null {
  let claimed: string | undefined;
  for (const [key, value] of entries) if (key === PEER_ID_METADATA_KEY) claimed = value;
  if (claimed === undefined) return null;
  for (const [id, metadata] of members) {
    if (id !== selfId && metadata.get(PEER_ID_METADATA_KEY) === claimed) return id;
  }
  return null;
}
