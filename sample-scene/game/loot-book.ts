/**
 * Loot: who dropped what, where it lies, and who got it — with one authority per item so every
 * player ends up agreeing on each pick-up.
 *
 * Authority rule: **an item's dropper decides who gets it.** Players who walk over someone else's
 * item send the dropper a `claim`; the dropper awards the item to the first claim it processes
 * (arrival order at the dropper; its own frame loop sees claims one at a time) and sends `taken`
 * with the winner to everyone, reliably. Later claims for a decided item are ignored: their senders
 * learn the outcome from the same `taken`. Since only the dropper ever decides, and a reliable
 * channel delivers exactly once and in order per sender, every player sees the item's `drop` before
 * its `taken`, and sees exactly one winner — the same one everywhere. A dropper cannot pick up its
 * own loot (it is thrown for the others), so a decision always involves a network claim.
 *
 * Players who connect later get the dropper's items still on the ground (`peerConnected`); if the
 * dropper leaves, its undecided items vanish for everyone (nobody got them). Pure: no Babylon, no
 * network; it returns the messages to send and the events to show.
 */
import type { PeerId } from 'switchboard';
import { ARENA_HALF_SIZE, MAX_LOOT_PER_DROPPER, MAX_REMEMBERED_PICKUPS, PICKUP_RADIUS } from './constants';
import type { LootMessage } from './loot-messages';
import { distance, type Planar } from './movement';

export type LootKey = string;

/** The key of item `seq` of `dropper`: 'dropperDecimal:seq'. */
export function lootKey(dropper: PeerId, seq: number): LootKey {
  return `${dropper}:${seq}`;
}

/** 'on-ground': anyone but the dropper may claim it; 'claim-pending': we claimed it and wait for the verdict. */
export type LootState = 'on-ground' | 'claim-pending';

export interface LootItem {
  readonly key: LootKey;
  readonly dropper: PeerId;
  readonly seq: number;
  readonly x: number;
  readonly z: number;
  state: LootState;
}

export interface LootPickup {
  readonly key: LootKey;
  readonly dropper: PeerId;
  readonly seq: number;
  readonly winner: PeerId;
}

export type LootEvent =
  | { kind: 'appeared'; item: LootItem }
  | { kind: 'claimed'; item: LootItem }
  | { kind: 'taken'; pickup: LootPickup }
  | { kind: 'vanished'; item: LootItem };

/** A message to send on the loot channel: to one peer, or to every peer of the session. */
export interface LootSend {
  to: PeerId | 'everyone';
  message: LootMessage;
}

export interface LootEffects {
  sends: LootSend[];
  events: LootEvent[];
}

export interface LootBookOptions {
  pickupRadius?: number;
  maxPerDropper?: number;
  maxRememberedPickups?: number;
  arenaHalfSize?: number;
}

/** Messages the book ignored, by why (none of them changes what anyone sees). */
export interface LootBookStats {
  /** Drops outside the arena, repeated, already decided, or past a dropper's limit. */
  ignoredDrops: number;
  /** Claims for items not on our ground (already decided: the claimant learns it from `taken`). */
  ignoredClaims: number;
  /** Repeated `taken` for an item already decided. */
  ignoredTaken: number;
}

export type DropOutcome = { ok: true; item: LootItem; effects: LootEffects } | { ok: false; reason: string };

const MAX_SEQ = 0xffffffff;
/** Winners whose score is kept at most (one per player seen). */
const MAX_SCORED_PLAYERS = 1024;

const noEffects = (): LootEffects => ({ sends: [], events: [] });

export class LootBook {
  private readonly ground = new Map<LootKey, LootItem>();
  private readonly countByDropper = new Map<PeerId, number>();
  /** Decided items in decision order; the oldest are forgotten past the bound. */
  private readonly decided = new Map<LootKey, LootPickup>();
  private readonly scores = new Map<PeerId, number>();
  private readonly counters: LootBookStats = { ignoredDrops: 0, ignoredClaims: 0, ignoredTaken: 0 };
  private readonly pickupRadius: number;
  private readonly maxPerDropper: number;
  private readonly maxRemembered: number;
  private readonly arenaHalfSize: number;
  private nextSeq = 1;

  constructor(readonly self: PeerId, options: LootBookOptions = {}) {
    this.pickupRadius = options.pickupRadius ?? PICKUP_RADIUS;
    this.maxPerDropper = options.maxPerDropper ?? MAX_LOOT_PER_DROPPER;
    this.maxRemembered = options.maxRememberedPickups ?? MAX_REMEMBERED_PICKUPS;
    this.arenaHalfSize = options.arenaHalfSize ?? ARENA_HALF_SIZE;
  }

  /** Drops a new item of ours at `at`; refused past our on-ground limit or off the arena. */
  drop(at: Planar): DropOutcome {
    if (!this.onArena(at.x, at.z)) return { ok: false, reason: `(${at.x}, ${at.z}) is off the arena` };
    if ((this.countByDropper.get(this.self) ?? 0) >= this.maxPerDropper) {
      return { ok: false, reason: `you already have ${this.maxPerDropper} loot on the ground; wait until some is picked up` };
    }
    if (this.nextSeq > MAX_SEQ) return { ok: false, reason: 'out of loot numbers for this session' };
    // Stored as the f32 the others receive, so every player has the very same coordinates.
    const item = this.place(this.self, this.nextSeq++, Math.fround(at.x), Math.fround(at.z));
    return {
      ok: true,
      item,
      effects: { sends: [{ to: 'everyone', message: { kind: 'drop', seq: item.seq, x: item.x, z: item.z } }], events: [{ kind: 'appeared', item }] },
    };
  }

  /** Our player stands at `position`: claims every item of someone else within reach, once. */
  touch(position: Planar): LootEffects {
    const effects = noEffects();
    for (const item of this.ground.values()) {
      if (item.dropper === this.self || item.state !== 'on-ground') continue;
      if (distance(position, item) > this.pickupRadius) continue;
      item.state = 'claim-pending';
      effects.sends.push({ to: item.dropper, message: { kind: 'claim', seq: item.seq } });
      effects.events.push({ kind: 'claimed', item });
    }
    return effects;
  }

  /** A loot message from peer `from` (authenticated by the network layer). */
  receive(from: PeerId, message: LootMessage): LootEffects {
    if (from === this.self) return noEffects();
    switch (message.kind) {
      case 'drop':
        return this.receiveDrop(from, message.seq, message.x, message.z);
      case 'claim':
        return this.arbitrate(from, message.seq);
      case 'taken':
        return this.decide(from, message.seq, message.winner, false);
    }
  }

  /** A peer (re)connected: it gets our items still on the ground (it ignores ones it knows). */
  peerConnected(peerId: PeerId): LootEffects {
    const effects = noEffects();
    if (peerId === this.self) return effects;
    for (const item of this.ground.values()) {
      if (item.dropper === this.self) effects.sends.push({ to: peerId, message: { kind: 'drop', seq: item.seq, x: item.x, z: item.z } });
    }
    return effects;
  }

  /** A peer left: its undecided items vanish (it was their only authority). */
  peerClosed(peerId: PeerId): LootEffects {
    const effects = noEffects();
    if (peerId === this.self) return effects;
    for (const item of [...this.ground.values()]) {
      if (item.dropper !== peerId) continue;
      this.remove(item);
      effects.events.push({ kind: 'vanished', item });
    }
    return effects;
  }

  /** Items on the ground (ours included), in drop order. */
  items(): LootItem[] {
    return [...this.ground.values()];
  }

  item(key: LootKey): LootItem | undefined {
    return this.ground.get(key);
  }

  /** Decided pick-ups still remembered, oldest first. */
  pickups(): LootPickup[] {
    return [...this.decided.values()];
  }

  pickup(key: LootKey): LootPickup | undefined {
    return this.decided.get(key);
  }

  /** Items `peerId` has won (as far as we saw them decided). */
  scoreOf(peerId: PeerId): number {
    return this.scores.get(peerId) ?? 0;
  }

  stats(): LootBookStats {
    return { ...this.counters };
  }

  private receiveDrop(dropper: PeerId, seq: number, x: number, z: number): LootEffects {
    const key = lootKey(dropper, seq);
    const valid = Number.isInteger(seq) && seq >= 1 && seq <= MAX_SEQ && this.onArena(x, z);
    if (!valid || this.ground.has(key) || this.decided.has(key) || (this.countByDropper.get(dropper) ?? 0) >= this.maxPerDropper) {
      this.counters.ignoredDrops++;
      return noEffects();
    }
    const item = this.place(dropper, seq, x, z);
    return { sends: [], events: [{ kind: 'appeared', item }] };
  }

  /** We are the authority of our items: the first claim processed for an item on the ground wins. */
  private arbitrate(claimant: PeerId, seq: number): LootEffects {
    const item = this.ground.get(lootKey(this.self, seq));
    if (!item) {
      this.counters.ignoredClaims++;
      return noEffects();
    }
    return this.decide(this.self, seq, claimant, true);
  }

  private decide(dropper: PeerId, seq: number, winner: PeerId, announce: boolean): LootEffects {
    const key = lootKey(dropper, seq);
    if (this.decided.has(key)) {
      this.counters.ignoredTaken++;
      return noEffects();
    }
    const item = this.ground.get(key);
    if (item) this.remove(item);
    const pickup: LootPickup = { key, dropper, seq, winner };
    this.remember(pickup);
    const effects: LootEffects = { sends: [], events: [{ kind: 'taken', pickup }] };
    if (announce) effects.sends.push({ to: 'everyone', message: { kind: 'taken', seq, winner } });
    return effects;
  }

  private place(dropper: PeerId, seq: number, x: number, z: number): LootItem {
    const item: LootItem = { key: lootKey(dropper, seq), dropper, seq, x, z, state: 'on-ground' };
    this.ground.set(item.key, item);
    this.countByDropper.set(dropper, (this.countByDropper.get(dropper) ?? 0) + 1);
    return item;
  }

  private remove(item: LootItem): void {
    this.ground.delete(item.key);
    const left = (this.countByDropper.get(item.dropper) ?? 1) - 1;
    if (left <= 0) this.countByDropper.delete(item.dropper);
    else this.countByDropper.set(item.dropper, left);
  }

  private remember(pickup: LootPickup): void {
    this.decided.set(pickup.key, pickup);
    if (this.decided.size > this.maxRemembered) {
      const oldest = this.decided.keys().next().value;
      if (oldest !== undefined) this.decided.delete(oldest);
    }
    const score = this.scores.get(pickup.winner);
    if (score !== undefined) this.scores.set(pickup.winner, score + 1);
    else if (this.scores.size < MAX_SCORED_PLAYERS) this.scores.set(pickup.winner, 1);
  }

  private onArena(x: number, z: number): boolean {
    // A little slack for f32 rounding of points on the edge.
    const limit = this.arenaHalfSize + 0.01;
    return Number.isFinite(x) && Number.isFinite(z) && Math.abs(x) <= limit && Math.abs(z) <= limit;
  }
}
