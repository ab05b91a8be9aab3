/**
 * The small part of npm's semver the manifest's `engine` field needs: versions `MAJOR.MINOR.PATCH`
 * and ranges made of comparators (`>=7`, `<10.0.0`, `^9.1`, `~9.35`, `9.x`, `9`) joined by spaces
 * (all must hold) and `||` (any set may hold). Pre-release tags are ignored.
 */

export type Version = readonly [major: number, minor: number, patch: number];

interface Comparator {
  op: '<' | '<=' | '>' | '>=' | '=';
  version: Version;
}

/** A parsed range: a union of comparator sets. */
export type VersionRange = readonly (readonly Comparator[])[];

const VERSION_PATTERN = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/;
const COMPARATOR_PATTERN = /^(<=|>=|<|>|=|\^|~)?v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?$/;

export function parseVersion(text: string): Version | null {
  const match = VERSION_PATTERN.exec(text.trim());
  if (!match) return null;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/** Parses a range; null when any part of it is not understood. */
export function parseVersionRange(text: string): VersionRange | null {
  if (text.trim() === '') return null;
  const sets: Comparator[][] = [];
  for (const alternative of text.split('||')) {
    const parts = alternative.trim().split(/\s+/);
    if (parts.length === 1 && parts[0] === '') return null;
    const set: Comparator[] = [];
    for (const part of parts) {
      const comparators = parseComparator(part);
      if (!comparators) return null;
      set.push(...comparators);
    }
    sets.push(set);
  }
  return sets;
}

export function satisfies(version: Version, range: VersionRange): boolean {
  return range.some((set) => set.every((c) => holds(version, c)));
}

function holds(version: Version, comparator: Comparator): boolean {
  const order = compareVersions(version, comparator.version);
  switch (comparator.op) {
    case '<': return order < 0;
    case '<=': return order <= 0;
    case '>': return order > 0;
    case '>=': return order >= 0;
    case '=': return order === 0;
  }
}

export function compareVersions(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** One token → the comparators it means (a partial version or `^`/`~` means a lower and an upper bound). */
function parseComparator(token: string): Comparator[] | null {
  const match = COMPARATOR_PATTERN.exec(token);
  if (!match) return null;
  const op = match[1] ?? '';
  const parts = [match[2], match[3], match[4]].map((p) => (p === undefined || /^[xX*]$/.test(p) ? null : Number(p)));
  // A wildcard may only be followed by wildcards or nothing (`9.x.3` means nothing).
  const given = parts.findIndex((p) => p === null);
  const precision = given === -1 ? 3 : given;
  if (parts.slice(precision).some((p) => p !== null)) return null;
  const [major = 0, minor = 0, patch = 0] = parts.map((p) => p ?? 0);
  const floor: Version = [major, minor, patch];
  // `*` alone: any version, except `<*` and `>*`, which nothing satisfies.
  if (precision === 0) return op === '<' || op === '>' ? [{ op: '<', version: [0, 0, 0] }] : [];
  const nextAtPrecision = (p: number): Version => (p === 1 ? [major + 1, 0, 0] : p === 2 ? [major, minor + 1, 0] : [major, minor, patch + 1]);
  switch (op) {
    case '^': {
      const ceiling: Version = major > 0 || precision === 1 ? [major + 1, 0, 0] : minor > 0 || precision === 2 ? [0, minor + 1, 0] : [0, 0, patch + 1];
      return [{ op: '>=', version: floor }, { op: '<', version: ceiling }];
    }
    case '~':
      return [{ op: '>=', version: floor }, { op: '<', version: precision === 1 ? [major + 1, 0, 0] : [major, minor + 1, 0] }];
    case '':
    case '=':
      return precision === 3 ? [{ op: '=', version: floor }] : [{ op: '>=', version: floor }, { op: '<', version: nextAtPrecision(precision) }];
    case '>=':
      return [{ op: '>=', version: floor }];
    case '<':
      return [{ op: '<', version: floor }];
    case '>':
      return [{ op: '>=', version: nextAtPrecision(precision) }];
    case '<=':
      return [{ op: '<', version: nextAtPrecision(precision) }];
    default:
      return null;
  }
}
