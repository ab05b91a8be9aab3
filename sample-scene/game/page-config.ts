/** What the dev server tells the page at /config.json: where the relay and the lobby are. */
export interface PageConfig {
  /** Relay URL for browsers: ws:// or wss://. */
  relay: string;
  /** Lobby server URL: ws:// or wss://. */
  lobbyUrl: string;
  /** Lobby joined when the page has no ?lobby= parameter. */
  lobby: string;
}

export const PAGE_CONFIG_PATH = '/config.json';

export function parsePageConfig(value: unknown): { ok: true; config: PageConfig } | { ok: false; error: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'config: expected an object' };
  const v = value as Record<string, unknown>;
  const wsUrl = (field: string): string | null => {
    const text = v[field];
    return typeof text === 'string' && /^wss?:\/\/[^/\s]+/.test(text) && text.length <= 2048 ? text : null;
  };
  const relay = wsUrl('relay');
  if (relay === null) return { ok: false, error: `config.relay: expected a ws:// or wss:// URL, got ${JSON.stringify(v.relay)}` };
  const lobbyUrl = wsUrl('lobbyUrl');
  if (lobbyUrl === null) return { ok: false, error: `config.lobbyUrl: expected a ws:// or wss:// URL, got ${JSON.stringify(v.lobbyUrl)}` };
  if (typeof v.lobby !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(v.lobby)) return { ok: false, error: `config.lobby: expected a lobby name, got ${JSON.stringify(v.lobby)}` };
  return { ok: true, config: { relay, lobbyUrl, lobby: v.lobby } };
}
