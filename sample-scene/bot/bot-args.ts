/** The bot process's command line (kept apart from bot.ts so it loads without Babylon). */
import { DEFAULT_LOBBY } from '../game/scene-params';
import type { BotOptions } from './bot';

export const BOT_USAGE = 'usage: bot --relay udp://127.0.0.1:7777 --lobby-url ws://127.0.0.1:2567 [--lobby sample] [--seed N] [--min-peers N] [--drop-every-ms MIN:MAX] [--report]';

export function parseBotArgs(args: readonly string[]): { ok: true; options: BotOptions; report: boolean } | { ok: false; error: string } {
  let relay: string | undefined;
  let lobbyUrl: string | undefined;
  let lobbyName = DEFAULT_LOBBY;
  let seed = 1;
  let minPeers = 0;
  let report = false;
  let dropEveryMs: [number, number] | undefined;
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = (): string | undefined => {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) return undefined;
      i++;
      return next;
    };
    const whole = (text: string | undefined): number | null => (text !== undefined && /^[0-9]{1,9}$/.test(text) ? Number(text) : null);
    switch (flag) {
      case '--relay':
        relay = value();
        if (relay === undefined) return { ok: false, error: '--relay needs a URL' };
        break;
      case '--lobby-url':
        lobbyUrl = value();
        if (lobbyUrl === undefined) return { ok: false, error: '--lobby-url needs a URL' };
        break;
      case '--lobby': {
        const name = value();
        if (name === undefined) return { ok: false, error: '--lobby needs a name' };
        lobbyName = name;
        break;
      }
      case '--seed': {
        const n = whole(value());
        if (n === null) return { ok: false, error: '--seed needs a whole number' };
        seed = n;
        break;
      }
      case '--min-peers': {
        const n = whole(value());
        if (n === null) return { ok: false, error: '--min-peers needs a whole number' };
        minPeers = n;
        break;
      }
      case '--drop-every-ms': {
        const match = /^([0-9]{1,6}):([0-9]{1,6})$/.exec(value() ?? '');
        const range = match ? ([Number(match[1]), Number(match[2])] as [number, number]) : null;
        if (range === null || range[0] < 50 || range[1] < range[0]) return { ok: false, error: '--drop-every-ms needs MIN:MAX in ms (50 ≤ MIN ≤ MAX)' };
        dropEveryMs = range;
        break;
      }
      case '--report':
        report = true;
        break;
      default:
        return { ok: false, error: `unknown argument ${JSON.stringify(flag)}` };
    }
  }
  if (relay === undefined || lobbyUrl === undefined) return { ok: false, error: '--relay and --lobby-url are required' };
  return { ok: true, options: { relay, lobbyUrl, lobbyName, seed, minPeersToDrop: minPeers, ...(dropEveryMs && { dropEveryMs }) }, report };
}
