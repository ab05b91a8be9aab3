/**
 * The body of `npx switchboard lobby --port 2567 [--host 127.0.0.1] [--relay-secret …] [--capacity N]`.
 * server/cli.ts dispatches here. The relay secret may also come from SWITCHBOARD_RELAY_SECRET
 * (read when the command runs), which keeps it out of the process list.
 */
import { consoleLogger, type Logger } from '../../plugin/net/types';
import { flagArguments } from '../cli-args';
import { startLobbyServer, type LobbyServer, type LobbyServerOptions } from './lobby-server';

export const LOBBY_CLI_USAGE = `usage: switchboard lobby [--port 2567] [--host 127.0.0.1] [--relay-secret SECRET] [--capacity 16] [--redis URL] [--fleet-secret S]
  --port          TCP port for HTTP matchmaking and WebSocket (0 = any free port)
  --host          address to listen on
  --relay-secret  hand every member a relay token signed with this secret
                  (or set SWITCHBOARD_RELAY_SECRET); at least 32 random bytes as
                  hex or base64url: \`npx switchboard secret\` prints one
  --capacity      members per lobby
  --redis URL     share rooms with the other lobby servers on this Redis
  --fleet-secret  the relay fleet's secret (or set SWITCHBOARD_FLEET_SECRET; needs
                  --redis): hand every member the fleet's relays, least-loaded first`;

export type LobbyCliParse = { ok: true; options: LobbyServerOptions; help: boolean } | { ok: false; error: string };

export function parseLobbyCliArgs(args: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): LobbyCliParse {
  const options: LobbyServerOptions = {};
  const secretFromEnv = env.SWITCHBOARD_RELAY_SECRET;
  if (secretFromEnv !== undefined && secretFromEnv.length > 0) options.relaySecret = secretFromEnv;
  const fleetSecretFromEnv = env.SWITCHBOARD_FLEET_SECRET;
  let fleetSecretFlag = false;
  for (const { arg, flag, value: takeValue } of flagArguments(args)) {
    if (arg === '--help' || arg === '-h') return { ok: true, options, help: true };
    switch (flag) {
      case '--port':
      case '--capacity': {
        const text = takeValue();
        const number = text !== undefined && /^[0-9]+$/.test(text) ? Number(text) : NaN;
        if (!Number.isInteger(number)) return { ok: false, error: `${flag} needs a whole number` };
        if (flag === '--port') options.port = number;
        else options.capacity = number;
        break;
      }
      case '--host': {
        const text = takeValue();
        if (text === undefined || text.length === 0) return { ok: false, error: '--host needs an address' };
        options.host = text;
        break;
      }
      case '--relay-secret': {
        const text = takeValue();
        if (text === undefined || text.length === 0) return { ok: false, error: '--relay-secret needs a value' };
        options.relaySecret = text;
        break;
      }
      case '--redis': {
        const text = takeValue();
        if (text === undefined || text.length === 0) return { ok: false, error: '--redis needs a URL' };
        options.redisUrl = text;
        break;
      }
      case '--fleet-secret': {
        const text = takeValue();
        if (text === undefined || text.length === 0) return { ok: false, error: '--fleet-secret needs a value' };
        options.fleetSecret = text;
        fleetSecretFlag = true;
        break;
      }
      default:
        return { ok: false, error: `unknown argument ${JSON.stringify(arg)}` };
    }
  }
  // Like the relay: the flag needs --redis; the variable applies only where there is a Redis to read.
  if (fleetSecretFlag && options.redisUrl === undefined) return { ok: false, error: '--fleet-secret needs --redis' };
  if (!fleetSecretFlag && fleetSecretFromEnv !== undefined && fleetSecretFromEnv.length > 0 && options.redisUrl !== undefined) options.fleetSecret = fleetSecretFromEnv;
  return { ok: true, options, help: false };
}

export interface LobbyCliIo {
  out(line: string): void;
  err(line: string): void;
  logger: Logger;
  /** Close the server on SIGINT/SIGTERM (default true). */
  handleSignals: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * Parses the arguments and starts the lobby server. Prints usage and resolves undefined (with
 * process.exitCode = 2 for bad arguments) when it does not start; otherwise resolves the running
 * server, which closes on SIGINT/SIGTERM unless `io.handleSignals` is false.
 */
export async function runLobbyCli(args: readonly string[], io: Partial<LobbyCliIo> = {}): Promise<LobbyServer | undefined> {
  const out = io.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = io.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const parsed = parseLobbyCliArgs(args, io.env ?? process.env);
  if (!parsed.ok) {
    err(`switchboard lobby: ${parsed.error}`);
    err(LOBBY_CLI_USAGE);
    process.exitCode = 2;
    return undefined;
  }
  if (parsed.help) {
    out(LOBBY_CLI_USAGE);
    return undefined;
  }
  const server = await startLobbyServer({ ...parsed.options, logger: io.logger ?? consoleLogger });
  const extras = [parsed.options.relaySecret !== undefined ? 'hands out relay tokens' : '', parsed.options.fleetSecret !== undefined ? "hands out the fleet's relays" : ''].filter(Boolean);
  out(`switchboard lobby listening on ${server.url}${extras.length > 0 ? ` (${extras.join(', ')})` : ''}`);
  if (io.handleSignals ?? true) {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close().then(
        () => out('switchboard lobby closed'),
        (error: unknown) => err(`switchboard lobby: close failed: ${(error as Error).message}`),
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  }
  return server;
}
