/** `npm start` arguments (apart from dev-stack.ts so they parse without loading the servers). */
import { flagArguments } from '../cli-args';
import { MAX_BOTS } from './bot-processes';
import type { DevStackOptions } from './dev-stack';

export const DEV_USAGE = `usage: npm start -- [--bots N] [--lobby sample] [--port 8080] [--relay-port 7777] [--lobby-port 2567] [--host 127.0.0.1]
  --bots        headless players (child processes) that wander and drop loot
  --lobby       the lobby the page joins without ?lobby= (and the bots join)
  --port        web server port; --relay-port, --lobby-port: the others (0 = any free port)
  --host        address every server listens on
The page takes ?lobby=name&loss=0.1&latency=80&jitter=10 (lobby and link conditioner).`;

export type DevArgs = { ok: true; options: DevStackOptions; help: boolean } | { ok: false; error: string };

export function parseDevArgs(args: readonly string[]): DevArgs {
  const options: DevStackOptions = {};
  for (const { arg, flag, value: takeValue } of flagArguments(args)) {
    if (arg === '--help' || arg === '-h') return { ok: true, options, help: true };
    const whole = (max: number): number | string => {
      const text = takeValue();
      const value = text !== undefined && /^[0-9]{1,6}$/.test(text) ? Number(text) : NaN;
      return Number.isInteger(value) && value <= max ? value : `${flag} needs a whole number 0..${max}`;
    };
    switch (flag) {
      case '--port':
      case '--relay-port':
      case '--lobby-port':
      case '--bots': {
        const value = whole(flag === '--bots' ? MAX_BOTS : 65535);
        if (typeof value === 'string') return { ok: false, error: value };
        if (flag === '--port') options.httpPort = value;
        else if (flag === '--relay-port') options.relayPort = value;
        else if (flag === '--lobby-port') options.lobbyPort = value;
        else options.bots = value;
        break;
      }
      case '--lobby':
      case '--host': {
        const value = takeValue();
        if (value === undefined || value.length === 0) return { ok: false, error: `${flag} needs a value` };
        if (flag === '--lobby') options.lobby = value;
        else options.host = value;
        break;
      }
      default:
        return { ok: false, error: `unknown argument ${JSON.stringify(arg)}` };
    }
  }
  return { ok: true, options, help: false };
}
