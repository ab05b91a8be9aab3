/**
 * The page's URL parameters: `?lobby=name&loss=0.1&latency=80&jitter=10&seed=7`. Bad values are
 * reported (and the default used) rather than silently accepted.
 */
import type { LinkConditioner } from 'switchboard';

export interface SceneParams {
  lobby: string;
  /** Undefined when no impairment was asked for. */
  linkConditioner: LinkConditioner | undefined;
  /** What was wrong with the parameters, one line each. */
  problems: string[];
}

export const DEFAULT_LOBBY = 'sample';
const LOBBY_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export function parseSceneParams(search: string, defaults: { lobby?: string; seed?: number } = {}): SceneParams {
  const query = new URLSearchParams(search);
  const problems: string[] = [];
  let lobby = defaults.lobby ?? DEFAULT_LOBBY;
  const lobbyText = query.get('lobby');
  if (lobbyText !== null) {
    if (LOBBY_PATTERN.test(lobbyText)) lobby = lobbyText;
    else problems.push(`lobby=${JSON.stringify(lobbyText)}: expected 1..64 characters of A-Z a-z 0-9 _ . : - (using "${lobby}")`);
  }
  const number = (name: string, min: number, max: number): number | undefined => {
    const text = query.get(name);
    if (text === null) return undefined;
    const value = text.trim() === '' ? NaN : Number(text);
    if (!Number.isFinite(value) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(text)}: expected a number ${min}..${max} (ignored)`);
      return undefined;
    }
    return value;
  };
  const lossRate = number('loss', 0, 1);
  const latencyMs = number('latency', 0, 10_000);
  const jitterMs = number('jitter', 0, 10_000);
  const seedValue = number('seed', 0, 0xffffffff);
  const seed = seedValue !== undefined && Number.isInteger(seedValue) ? seedValue : (defaults.seed ?? 1);
  if (seedValue !== undefined && !Number.isInteger(seedValue)) problems.push(`seed=${seedValue}: expected a whole number (using ${seed})`);
  const conditioned = lossRate !== undefined || latencyMs !== undefined || jitterMs !== undefined;
  const linkConditioner: LinkConditioner | undefined = conditioned
    ? { ...(lossRate !== undefined && { lossRate }), ...(latencyMs !== undefined && { latencyMs }), ...(jitterMs !== undefined && { jitterMs }), seed }
    : undefined;
  return { lobby, linkConditioner, problems };
}
