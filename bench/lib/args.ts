/** Tiny flag parser for `npm run bench -- --quick --only a,b` and `npm run load -- --peers 1000`. */

export interface ParsedArgs {
  flags: Set<string>;
  values: Map<string, string>;
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}" (flags look like --name or --name value)`);
    const eq = arg.indexOf('=');
    if (eq > 0) {
      values.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      values.set(arg.slice(2), argv[++i]);
    } else {
      flags.add(arg.slice(2));
    }
  }
  return { flags, values };
}

/** A numeric option in [min, max], or the fallback; throws naming the option when out of range. */
export function numberOption(args: ParsedArgs, name: string, fallback: number, min: number, max: number): number {
  const text = args.values.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be a number in ${min}..${max}, got "${text}"`);
  return value;
}
