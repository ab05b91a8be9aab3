/**
 * `switchboard <command>`: relay, lobby, dev (all three with the sample page) and token. Run
 * through server/cli-bin.js (`npx switchboard relay --port 7777`).
 */
import type { Logger } from '../plugin/net/types';
import { DEV_USAGE } from './dev/dev-args';
import { runDevCli } from './dev/dev-stack';
import { LOBBY_CLI_USAGE, runLobbyCli } from './lobby';
import { createRelayToken, generateRelaySecret, startRelay, type RelayOptions } from './relay';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
  /** Resolves on SIGINT or SIGTERM (the command then shuts down). */
  untilStopSignal(): Promise<string>;
}

type Command = { summary: string; usage: string; run(args: string[], io: CliIo): Promise<number> };

class UsageError extends Error {}

const SECRET_ENV = 'SWITCHBOARD_RELAY_SECRET';
/** Minutes, like the lobby's: a relay token is a bearer token. */
const DEFAULT_TOKEN_TTL_SECONDS = 600;

const RELAY_USAGE = `usage: switchboard relay [--host 127.0.0.1] [--port 7777] [--secret S] [options]

Runs the relay: UDP and WebSocket on the same port number.
  --host IP               address to bind (default 127.0.0.1)
  --port N                port for UDP and WebSocket; 0 picks a free one (default 7777)
  --secret S              require relay tokens made with this secret (or set ${SECRET_ENV}):
                          at least 32 random bytes as hex or base64url (\`switchboard secret\`);
                          without one the relay is OPEN: anyone can register
  --public-host HOST      host in the endpoint URLs handed to clients (default: --host)
  --max-sessions N        sessions at most (default 10000)
  --keepalive-ms N        keepalive interval told to clients (default 1000)
  --session-idle-ms N     a silent session ends after this (default 10000)
  --fleet-redis URL       join the fleet directory on this Redis (needs --fleet-secret)
  --fleet-secret S        the fleet's shared secret (or set SWITCHBOARD_FLEET_SECRET); same strength rule as --secret
  --fleet-port N          UDP port of the relay-to-relay link (default: a free one, advertised in the directory)
Stops cleanly on SIGINT or SIGTERM.`;

const TOKEN_USAGE = `usage: switchboard token --secret S [--ttl SECONDS] [--subject NAME]

Prints a relay access token (the lobby hands these out; this is for tests and operators).
A token is a bearer token: anyone holding it may register from any address until it expires,
so keep lifetimes short (a registered session never needs its token again).
  --secret S        the relay's secret (or set ${SECRET_ENV})
  --ttl SECONDS     lifetime (default ${DEFAULT_TOKEN_TTL_SECONDS})
  --subject NAME    who it is for (optional, at most 255 bytes)`;

const SECRET_USAGE = `usage: switchboard secret

Prints a fresh relay secret: 32 random bytes (256 bits) as 43 base64url characters. Give the same
one to the relay (--secret or ${SECRET_ENV}) and the lobby (--relay-secret or ${SECRET_ENV}).`;

/** `--name value`, `--name=value`, and the flags in `booleans`. Throws UsageError on anything else. */
function parseFlags(args: string[], known: string[], booleans: string[] = ['help']): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-h') {
      flags.set('help', 'true');
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals === -1 ? undefined : equals);
    if (booleans.includes(name)) {
      flags.set(name, 'true');
      continue;
    }
    if (!known.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = equals === -1 ? args[++i] : arg.slice(equals + 1);
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return flags;
}

function integerFlag(flags: Map<string, string>, name: string): number | undefined {
  const text = flags.get(name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number, got "${text}"`);
  return Number(text);
}

function timestamped(io: CliIo): Logger {
  const stamp = (): string => new Date().toISOString();
  return { info: (message) => io.out(`${stamp()} ${message}`), warn: (message) => io.err(`${stamp()} ${message}`) };
}

const relayCommand: Command = {
  summary: 'run the relay (UDP + WebSocket on one port)',
  usage: RELAY_USAGE,
  async run(args, io) {
    const flags = parseFlags(args, ['host', 'port', 'secret', 'public-host', 'max-sessions', 'keepalive-ms', 'session-idle-ms', 'fleet-redis', 'fleet-secret', 'fleet-port']);
    if (flags.has('help')) {
      io.out(RELAY_USAGE);
      return 0;
    }
    const secret = flags.get('secret') ?? io.env[SECRET_ENV];
    const fleetRedis = flags.get('fleet-redis');
    const fleetSecret = flags.get('fleet-secret') ?? io.env.SWITCHBOARD_FLEET_SECRET;
    if (fleetRedis !== undefined && (fleetSecret === undefined || fleetSecret === '')) throw new UsageError('--fleet-redis needs --fleet-secret or SWITCHBOARD_FLEET_SECRET');
    if (fleetRedis === undefined && flags.has('fleet-secret')) throw new UsageError('--fleet-secret needs --fleet-redis');
    if (fleetRedis === undefined && flags.has('fleet-port')) throw new UsageError('--fleet-port needs --fleet-redis');
    const fleetPort = integerFlag(flags, 'fleet-port');
    const options: RelayOptions = {
      ...(fleetRedis !== undefined && fleetSecret !== undefined ? { fleet: { redisUrl: fleetRedis, secret: fleetSecret, ...(fleetPort !== undefined ? { linkPort: fleetPort } : {}) } } : {}),
      host: flags.get('host') ?? '127.0.0.1',
      port: integerFlag(flags, 'port') ?? 7777,
      logger: timestamped(io),
      ...(secret !== undefined && secret !== '' ? { secret } : {}),
      ...(flags.has('public-host') ? { publicHost: flags.get('public-host') } : {}),
      ...(flags.has('max-sessions') ? { maxSessions: integerFlag(flags, 'max-sessions') } : {}),
      ...(flags.has('keepalive-ms') ? { keepaliveMs: integerFlag(flags, 'keepalive-ms') } : {}),
      ...(flags.has('session-idle-ms') ? { sessionIdleMs: integerFlag(flags, 'session-idle-ms') } : {}),
    };
    const relay = await startRelay(options);
    io.out(`switchboard relay ready: ${relay.udpUrl} ${relay.wsUrl}${secret ? ' (tokens required)' : ' (OPEN: no token needed)'}`);
    const signal = await io.untilStopSignal();
    io.out(`switchboard relay: ${signal}, closing`);
    await relay.close();
    return 0;
  },
};

const tokenCommand: Command = {
  summary: 'print a relay access token',
  usage: TOKEN_USAGE,
  async run(args, io) {
    const flags = parseFlags(args, ['secret', 'ttl', 'subject']);
    if (flags.has('help')) {
      io.out(TOKEN_USAGE);
      return 0;
    }
    const secret = flags.get('secret') ?? io.env[SECRET_ENV];
    if (secret === undefined || secret === '') throw new UsageError(`token needs --secret or ${SECRET_ENV}`);
    const subject = flags.get('subject');
    io.out(createRelayToken(secret, { ttlSeconds: integerFlag(flags, 'ttl') ?? DEFAULT_TOKEN_TTL_SECONDS, ...(subject !== undefined ? { subject } : {}) }));
    return 0;
  },
};

const secretCommand: Command = {
  summary: 'print a fresh relay secret (32 random bytes)',
  usage: SECRET_USAGE,
  async run(args, io) {
    const flags = parseFlags(args, []);
    if (flags.has('help')) {
      io.out(SECRET_USAGE);
      return 0;
    }
    io.out(generateRelaySecret());
    return 0;
  },
};

const lobbyCommand: Command = {
  summary: 'the Colyseus lobby server (members publish peer_id and route)',
  usage: LOBBY_CLI_USAGE,
  async run(args, io) {
    const server = await runLobbyCli(args, { out: io.out, err: io.err, env: io.env, handleSignals: false });
    if (server === undefined) return args.includes('--help') ? 0 : 2;
    const signal = await io.untilStopSignal();
    io.out(`switchboard lobby: ${signal}, closing`);
    await server.close();
    return 0;
  },
};

const devCommand: Command = {
  summary: 'relay + lobby + the sample scene page on 127.0.0.1 (what npm start runs)',
  usage: DEV_USAGE,
  run: (args, io) => runDevCli(args, { out: io.out, err: io.err }),
};

/** The commands, one entry each. */
const COMMANDS: Record<string, Command> = {
  relay: relayCommand,
  lobby: lobbyCommand,
  dev: devCommand,
  token: tokenCommand,
  secret: secretCommand,
};

function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return `usage: switchboard <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nswitchboard <command> --help shows a command's options.`;
}

/** Runs one command line; resolves with the exit code (0 ok, 1 failure, 2 usage). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(helpText());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.err(`switchboard: unknown command "${name}"\n`);
    io.err(helpText());
    return 2;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`switchboard ${name}: ${error.message}\n`);
      io.err(command.usage);
      return 2;
    }
    io.err(`switchboard ${name}: ${(error as Error).message}`);
    return 1;
  }
}

export function processIo(): CliIo {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    untilStopSignal: () =>
      new Promise<string>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve(signal);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      }),
  };
}

/** The process entry (server/cli-bin.js): runs argv and exits with the command's code. */
export function main(): void {
  void runCli(process.argv.slice(2), processIo()).then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`switchboard: ${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
}

// `node -r ts-node/register/transpile-only server/cli.ts <command>` (npm start) runs it directly.
if (require.main === module) main();
