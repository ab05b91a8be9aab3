/**
 * `window.__switchboard`: a read-only view of the page's game state for tests and for poking at
 * in the console. Every call returns fresh plain data; nothing here changes the game.
 */
import type { AvatarPosition, GameWorld } from '../babylon/game-world';
import type { JoinedSample } from '../session/join-sample';

export interface SampleDebugHook {
  /** 'joining', 'ready', or 'failed: …'. */
  status(): string;
  ready(): boolean;
  peerId(): string | null;
  lobby(): string;
  /** Our id in the lobby, and every member the lobby lists (ourselves included). */
  memberId(): string | null;
  lobbyMembers(): string[];
  /** Every avatar drawn (ours first); a peer's appears once its first transform arrived. */
  positions(): AvatarPosition[];
  loot(): { key: string; dropper: string; x: number; z: number; state: string }[];
  /** Loot grouped by place as drawn: a pile of `count` items at (x, z). */
  lootPiles(): { keys: string[]; count: number; x: number; z: number }[];
  pickups(): { key: string; dropper: string; winner: string }[];
  peers(): { peerId: string; label: string; state: string; rttMs: number; lossRate: number }[];
  /** Problems with the URL parameters, one line each. */
  problems(): string[];
}

export interface DebugSources {
  status: string;
  lobby: string;
  problems: string[];
  joined: JoinedSample | null;
  world: GameWorld | null;
}

export function installDebugHook(target: Window, sources: DebugSources): SampleDebugHook {
  const hook: SampleDebugHook = Object.freeze({
    status: () => sources.status,
    ready: () => sources.status === 'ready',
    peerId: () => sources.joined?.session.self.toString() ?? null,
    lobby: () => sources.lobby,
    memberId: () => sources.joined?.lobby.selfId ?? null,
    lobbyMembers: () => sources.joined?.lobby.members().map((m) => m.id) ?? [],
    positions: () => sources.world?.positions() ?? [],
    loot: () =>
      sources.joined?.session.loot.items().map((i) => ({ key: i.key, dropper: i.dropper.toString(), x: i.x, z: i.z, state: i.state })) ?? [],
    lootPiles: () => sources.world?.lootPiles().map((p) => ({ keys: [...p.keys], count: p.count, x: p.x, z: p.z })) ?? [],
    pickups: () =>
      sources.joined?.session.loot.pickups().map((p) => ({ key: p.key, dropper: p.dropper.toString(), winner: p.winner.toString() })) ?? [],
    peers: () => {
      const session = sources.joined?.session;
      if (!session) return [];
      const stats = session.peerStats();
      return session
        .players()
        .filter((p) => !p.isSelf)
        .map((p) => ({ peerId: p.peerId.toString(), label: p.label, state: p.state, rttMs: stats.get(p.peerId)?.rttMs ?? 0, lossRate: stats.get(p.peerId)?.lossRate ?? 0 }));
    },
    problems: () => [...sources.problems],
  });
  Object.defineProperty(target, '__switchboard', { value: hook, configurable: true, enumerable: false, writable: false });
  return hook;
}
