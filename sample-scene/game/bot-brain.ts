/**
 * What a headless bot does each frame: wander between random points, run for loot others dropped
 * when some is near, and drop loot of its own now and then. Seeded and pure, so a bot's choices
 * can be replayed; the bot process feeds it positions and applies its input.
 */
import { ARENA_HALF_SIZE } from './constants';
import type { MoveInput, Planar } from './movement';
import { SeededRandom } from './rng';

export interface BotBrainOptions {
  seed: number;
  /** Time between the bot's drops, picked uniformly in this range (default 1,500..3,500 ms). */
  dropEveryMs?: readonly [number, number];
  /** Loot farther than this is ignored (default 12 units). */
  seekRadius?: number;
  arenaHalfSize?: number;
}

export interface BotDecision {
  input: MoveInput;
  /** True when the bot wants to drop loot this frame. */
  drop: boolean;
}

/** Close enough to a wander target to pick the next one. */
const ARRIVED = 0.5;

export class BotBrain {
  private readonly random: SeededRandom;
  private readonly dropEvery: readonly [number, number];
  private readonly seekRadius: number;
  private readonly halfSize: number;
  private target: Planar;
  private nextDropAtMs: number | null = null;

  constructor(options: BotBrainOptions) {
    this.random = new SeededRandom(options.seed);
    this.dropEvery = options.dropEveryMs ?? [1500, 3500];
    this.seekRadius = options.seekRadius ?? 12;
    this.halfSize = (options.arenaHalfSize ?? ARENA_HALF_SIZE) * 0.9;
    this.target = this.randomPoint();
  }

  /**
   * `claimable`: loot the bot may take (dropped by others, not yet claimed). `mayDrop`: whether
   * dropping is allowed now (the caller's rules: enough peers, not frozen…).
   */
  think(nowMs: number, self: Planar, claimable: readonly Planar[], mayDrop: boolean): BotDecision {
    const loot = this.nearest(self, claimable);
    let goal: Planar;
    if (loot !== null) {
      goal = loot;
    } else {
      if (Math.hypot(this.target.x - self.x, this.target.z - self.z) < ARRIVED) this.target = this.randomPoint();
      goal = this.target;
    }
    const dx = goal.x - self.x;
    const dz = goal.z - self.z;
    const length = Math.hypot(dx, dz);
    const input = length < 1e-3 ? { right: 0, forward: 0 } : { right: dx / length, forward: dz / length };

    let drop = false;
    if (this.nextDropAtMs === null) this.nextDropAtMs = nowMs + this.random.between(this.dropEvery[0], this.dropEvery[1]);
    if (nowMs >= this.nextDropAtMs) {
      drop = mayDrop;
      this.nextDropAtMs = nowMs + this.random.between(this.dropEvery[0], this.dropEvery[1]);
    }
    return { input, drop };
  }

  private nearest(self: Planar, points: readonly Planar[]): Planar | null {
    let best: Planar | null = null;
    let bestDistance = this.seekRadius;
    for (const p of points) {
      const d = Math.hypot(p.x - self.x, p.z - self.z);
      if (d <= bestDistance) {
        best = p;
        bestDistance = d;
      }
    }
    return best;
  }

  private randomPoint(): Planar {
    return { x: this.random.between(-this.halfSize, this.halfSize), z: this.random.between(-this.halfSize, this.halfSize) };
  }
}
