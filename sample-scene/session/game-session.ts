/**
 * A player's session of the sample game, without rendering: the players (from the network's peer
 * states), the loot book (sample-scene/game/loot-book.ts) and the loot messages on the reliable
 * loot channel. The browser page and the headless bots both drive one; Babylon only draws it.
 *
 *   const session = new GameSession(getNetworkManager(scene));
 *   each frame: session.tick(myPosition);   on space: session.drop(myPosition, myYaw);
 *   session.events$ → 'player-joined' | 'player-left' | 'player-state' | loot events
 */
import { Observable, Subject, Subscription } from 'rxjs';
import type { NetworkManagerComponent } from 'switchboard';
import { Result } from 'switchboard';
import { consoleLogger, type Logger, type PeerId, type PeerState, type PeerStats } from 'switchboard';
import { DROP_DISTANCE, LOOT_CHANNEL } from '../game/constants';
import { LootBook, type DropOutcome, type LootBookOptions, type LootEffects, type LootEvent } from '../game/loot-book';
import { lootCodec } from '../game/loot-messages';
import { pointAhead, type Planar } from '../game/movement';
import { colourForPeer, cssColourForPeer, labelForPeer, type Rgb } from '../game/peer-look';

/** The part of the plugin's NetworkManager component a session uses. */
export type SessionNetwork = Pick<NetworkManagerComponent, 'getPeerId' | 'peerState$' | 'decodedOn' | 'sendMessage' | 'getPeerStats'>;

export interface Player {
  readonly peerId: PeerId;
  readonly label: string;
  readonly colour: Rgb;
  readonly cssColour: string;
  readonly isSelf: boolean;
  /** The connection to this player ('connected' for ourselves). */
  state: PeerState;
}

export type SessionEvent =
  | { kind: 'player-joined'; player: Player }
  | { kind: 'player-state'; player: Player }
  | { kind: 'player-left'; player: Player }
  | LootEvent;

export interface GameSessionOptions {
  loot?: LootBookOptions;
  logger?: Logger;
  /** Other players tracked at most (default 255); further peers are ignored and logged once. */
  maxPlayers?: number;
}

export interface GameSessionStats {
  /** Loot messages sendMessage refused (logged a few times). */
  sendFailures: number;
  /** Peers not tracked because maxPlayers were. */
  ignoredPeers: number;
}

const LOGGED_SEND_FAILURES = 5;

export class GameSession {
  readonly self: PeerId;
  readonly loot: LootBook;
  readonly events$: Observable<SessionEvent>;

  private readonly events = new Subject<SessionEvent>();
  private readonly playersById = new Map<PeerId, Player>();
  private readonly subscriptions = new Subscription();
  private readonly logger: Logger;
  private readonly maxPlayers: number;
  private readonly counters: GameSessionStats = { sendFailures: 0, ignoredPeers: 0 };
  private disposed = false;

  constructor(
    private readonly net: SessionNetwork,
    options: GameSessionOptions = {},
  ) {
    this.self = net.getPeerId();
    this.logger = options.logger ?? consoleLogger;
    this.maxPlayers = options.maxPlayers ?? 255;
    this.loot = new LootBook(this.self, options.loot);
    this.events$ = this.events.asObservable();
    this.playersById.set(this.self, makePlayer(this.self, true, 'connected'));
    this.subscriptions.add(net.peerState$.subscribe(({ peerId, state }) => this.onPeerState(peerId, state)));
    this.subscriptions.add(net.decodedOn(LOOT_CHANNEL, lootCodec).subscribe(({ peerId, value }) => {
      if (this.playersById.has(peerId)) this.apply(this.loot.receive(peerId, value));
    }));
  }

  /** Every player, ourselves first. */
  players(): Player[] {
    return [...this.playersById.values()];
  }

  player(peerId: PeerId): Player | undefined {
    return this.playersById.get(peerId);
  }

  /** Our player stands at `position` this frame: claims loot within reach. */
  tick(position: Planar): void {
    if (this.disposed) return;
    this.apply(this.loot.touch(position));
  }

  /** Throws loot DROP_DISTANCE ahead of `position` facing `yaw`. */
  drop(position: Planar, yaw: number): DropOutcome {
    if (this.disposed) return { ok: false, reason: 'the session is disposed' };
    const outcome = this.loot.drop(pointAhead(position, yaw, DROP_DISTANCE));
    if (outcome.ok) this.apply(outcome.effects);
    return outcome;
  }

  /** getPeerStats of every other player, for the net graph. */
  peerStats(): Map<PeerId, PeerStats> {
    const stats = new Map<PeerId, PeerStats>();
    for (const player of this.playersById.values()) {
      if (player.isSelf) continue;
      const s = this.net.getPeerStats(player.peerId);
      if (s) stats.set(player.peerId, s);
    }
    return stats;
  }

  stats(): GameSessionStats {
    return { ...this.counters };
  }

  /** Stops listening and completes events$. Idempotent; the network component is not ours to dispose. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.subscriptions.unsubscribe();
    this.events.complete();
  }

  private onPeerState(peerId: PeerId, state: PeerState): void {
    if (peerId === this.self) return;
    const known = this.playersById.get(peerId);
    if (state === 'closed') {
      if (!known) return;
      this.playersById.delete(peerId);
      known.state = 'closed';
      this.apply(this.loot.peerClosed(peerId));
      this.events.next({ kind: 'player-left', player: known });
      return;
    }
    if (known) {
      known.state = state;
      this.events.next({ kind: 'player-state', player: known });
      return;
    }
    if (this.playersById.size - 1 >= this.maxPlayers) {
      if (this.counters.ignoredPeers++ === 0) this.logger.warn(`sample: more than ${this.maxPlayers} players; ignoring the rest`);
      return;
    }
    const player = makePlayer(peerId, false, state);
    this.playersById.set(peerId, player);
    this.events.next({ kind: 'player-joined', player });
    // From now on every loot message to "everyone" is queued for this peer too (reliable: kept
    // while it connects); what is already on the ground it gets now.
    this.apply(this.loot.peerConnected(peerId));
  }

  private apply(effects: LootEffects): void {
    for (const send of effects.sends) {
      const bytes = lootCodec.encode(send.message);
      if (send.to === 'everyone') {
        for (const player of this.playersById.values()) if (!player.isSelf) this.send(player.peerId, bytes);
      } else {
        this.send(send.to, bytes);
      }
    }
    for (const event of effects.events) this.events.next(event);
  }

  private send(peerId: PeerId, bytes: Uint8Array): void {
    const result = this.net.sendMessage(peerId, LOOT_CHANNEL, bytes);
    if (result === Result.Ok) return;
    this.counters.sendFailures++;
    if (this.counters.sendFailures <= LOGGED_SEND_FAILURES) {
      this.logger.warn(`sample: a loot message to ${labelForPeer(peerId)} was refused: ${Result[result] ?? result}`);
    }
  }
}

function makePlayer(peerId: PeerId, isSelf: boolean, state: PeerState): Player {
  return { peerId, label: labelForPeer(peerId), colour: colourForPeer(peerId), cssColour: cssColourForPeer(peerId), isSelf, state };
}
