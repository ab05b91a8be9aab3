/**
 * Loot lying at (nearly) the same place — a player who throws several times without moving —
 * drawn as one pile with a count, so "×3" shows instead of three items looking like one. Pure:
 * the same items give the same piles on every player's screen, whatever order they arrived in.
 */

export interface PileItem {
  readonly key: string;
  readonly x: number;
  readonly z: number;
}

export interface LootPile {
  /** Keys of the items in the pile, sorted; the first one's position is the pile's. */
  readonly keys: readonly string[];
  readonly x: number;
  readonly z: number;
  readonly count: number;
}

/** Items within this distance (ground units) of a pile's first item join that pile. */
export const PILE_RADIUS = 0.5;

/**
 * Groups `items` into piles: in key order, each item joins the first pile whose first item lies
 * within `radius`, or starts a new one. O(items × piles); loot on the ground is bounded
 * (MAX_LOOT_PER_DROPPER per player), so this stays small.
 */
export function groupIntoPiles(items: readonly PileItem[], radius: number = PILE_RADIUS): LootPile[] {
  const sorted = [...items].filter((i) => Number.isFinite(i.x) && Number.isFinite(i.z)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const piles: { keys: string[]; x: number; z: number }[] = [];
  for (const item of sorted) {
    const pile = piles.find((p) => Math.hypot(p.x - item.x, p.z - item.z) <= radius);
    if (pile) pile.keys.push(item.key);
    else piles.push({ keys: [item.key], x: item.x, z: item.z });
  }
  return piles.map((p) => ({ keys: p.keys, x: p.x, z: p.z, count: p.keys.length }));
}

/** The pile's caption: '×N' for two or more items, nothing for a single one. */
export function pileCaption(pile: LootPile): string {
  return pile.count > 1 ? `×${pile.count}` : '';
}
