/**
 * Reads command-line arguments as flags: `--flag value` or `--flag=value`; a following `--other`
 * is never taken as a value. Each command validates its own flags.
 */
export interface FlagArgument {
  /** The argument as given. */
  arg: string;
  /** The flag name with its dashes (`--port`), or the whole argument when it has no `=`. */
  flag: string;
  /** Takes this flag's value (moving past it when it is the next argument); undefined when there is none. */
  value(): string | undefined;
}

export function* flagArguments(args: readonly string[]): Generator<FlagArgument> {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const equals = arg.startsWith('--') ? arg.indexOf('=') : -1;
    yield {
      arg,
      flag: equals > 0 ? arg.slice(0, equals) : arg,
      value: () => {
        if (equals > 0) return arg.slice(equals + 1);
        const next = args[i + 1];
        if (next === undefined || next.startsWith('--')) return undefined;
        i++;
        return next;
      },
    };
  }
}
