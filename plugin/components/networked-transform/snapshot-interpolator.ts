/**
 * A replica's snapshot buffer: it shows the owner's pose `delayMs` in the past, interpolating
 * between the two snapshots around that moment, so loss and jitter up to the delay go unseen.
 *
 * Times: snapshots carry the owner's clock (ms mod 2^32). The interpolator maps it onto the local
 * clock with the smallest (receive time − owner time) seen over the recent window — the least
 * delayed snapshot — and keeps its own playback time that advances with the local clock, nudged by
 * at most `maxRateCorrection` of each step toward the target, so the replica never jumps when
 * jitter changes the estimate. It re-syncs at once only when it is off by more than `resyncMs`.
 * When it runs out of snapshots it waits at the newest one (no extrapolation) and catches up later.
 *
 * Packets older than (or equal to) the newest accepted one are ignored. After `snapAfterGapMs` with
 * nothing accepted, the next snapshot is shown at once (no gliding across a long silence); two
 * buffered snapshots further apart than that are not interpolated either.
 */
import { interpolatePose, type Pose } from './pose-math';

export interface SnapshotInterpolatorOptions {
  delayMs: number;
  snapAfterGapMs: number;
  /** Snapshots kept (default 32, at least 2). */
  capacity?: number;
  /** Fraction of a step the playback clock may speed up or slow down by (default 0.25). */
  maxRateCorrection?: number;
  /** Off by more than this, the playback clock jumps to the target (default max(250, 2 × delayMs)). */
  resyncMs?: number;
}

export type PushOutcome = 'accepted' | 'stale' | 'snapped';

interface Entry {
  time: number;
  pose: Pose;
}

export class SnapshotInterpolator {
  private readonly capacity: number;
  private readonly maxRateCorrection: number;
  private readonly resyncMs: number;
  private entries: Entry[] = [];
  /** (local receive time − owner time) of recent snapshots; bounded like entries. */
  private offsets: number[] = [];
  private newestWire: number | null = null;
  private newestTime = 0;
  private lastAcceptedAt = 0;
  private playback: number | null = null;
  private lastSampleAt: number | null = null;
  private staleCount = 0;
  private snapCount = 0;

  constructor(private readonly options: SnapshotInterpolatorOptions) {
    this.capacity = Math.max(2, options.capacity ?? 32);
    this.maxRateCorrection = options.maxRateCorrection ?? 0.25;
    this.resyncMs = options.resyncMs ?? Math.max(250, 2 * options.delayMs);
  }

  /** Snapshots currently buffered. */
  get size(): number {
    return this.entries.length;
  }

  /** Snapshots ignored because they were not newer than one already accepted. */
  get staleSnapshots(): number {
    return this.staleCount;
  }

  /** Times the replica jumped instead of interpolating (first snapshot and after long gaps). */
  get snaps(): number {
    return this.snapCount;
  }

  /** Adds a snapshot of owner time `wireTimeMs` (uint32) received at local time `nowMs`. */
  push(wireTimeMs: number, pose: Pose, nowMs: number): PushOutcome {
    const wire = wireTimeMs >>> 0;
    if (this.newestWire !== null) {
      const ahead = wrapDiff(wire, this.newestWire);
      if (ahead <= 0) {
        this.staleCount++;
        return 'stale';
      }
      if (nowMs - this.lastAcceptedAt <= this.options.snapAfterGapMs) {
        this.newestWire = wire;
        this.newestTime += ahead;
        this.lastAcceptedAt = nowMs;
        this.append({ time: this.newestTime, pose }, nowMs - this.newestTime);
        return 'accepted';
      }
    }
    // First snapshot, or the first after a long gap: start over from it.
    this.snapCount++;
    this.entries = [];
    this.offsets = [];
    this.playback = null;
    this.newestWire = wire;
    this.newestTime = wire;
    this.lastAcceptedAt = nowMs;
    this.append({ time: wire, pose }, nowMs - wire);
    return 'snapped';
  }

  /** The pose to show at local time `nowMs`, or null before the first snapshot. */
  sample(nowMs: number): Pose | null {
    if (this.entries.length === 0) return null;
    const target = nowMs - Math.min(...this.offsets) - this.options.delayMs;
    if (this.playback === null || this.lastSampleAt === null) {
      this.playback = target;
    } else {
      const step = Math.max(0, nowMs - this.lastSampleAt);
      const advanced = this.playback + step;
      const error = target - advanced;
      if (Math.abs(error) > this.resyncMs) {
        this.playback = target;
      } else {
        const limit = step * this.maxRateCorrection;
        this.playback = advanced + Math.max(-limit, Math.min(limit, error));
      }
    }
    // Out of snapshots (loss, jitter): wait at the newest instead of running ahead, so that when the
    // next one comes the replica glides on from where it stands rather than jumping to catch up.
    this.playback = Math.min(this.playback, this.newestTime);
    this.lastSampleAt = nowMs;
    return this.poseAt(this.playback);
  }

  reset(): void {
    this.entries = [];
    this.offsets = [];
    this.newestWire = null;
    this.playback = null;
    this.lastSampleAt = null;
  }

  private append(entry: Entry, offset: number): void {
    this.entries.push(entry);
    this.offsets.push(offset);
    if (this.entries.length > this.capacity) this.entries.shift();
    if (this.offsets.length > this.capacity) this.offsets.shift();
  }

  private poseAt(time: number): Pose {
    // Keep one snapshot at or before `time`; older ones are no longer needed.
    while (this.entries.length >= 2 && this.entries[1]!.time <= time) this.entries.shift();
    const a = this.entries[0]!;
    const b = this.entries[1];
    if (!b || time <= a.time) return a.pose;
    const span = b.time - a.time;
    if (span > this.options.snapAfterGapMs) return a.pose;
    return interpolatePose(a.pose, b.pose, (time - a.time) / span);
  }
}

/** a − b for uint32 clock values, as a signed 32-bit difference (right across the wrap). */
export function wrapDiff(a: number, b: number): number {
  return ((a - b) | 0);
}
