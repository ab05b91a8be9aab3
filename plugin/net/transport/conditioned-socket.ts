/**
 * The link conditioner: seeded loss, duplication, reordering, latency and jitter applied to
 * outgoing datagrams, so tests and demos see a bad network on loopback, repeatably.
 */
import type { LinkConditioner } from '../types';
import type { DatagramSocket } from './datagram-socket';
import { mulberry32 } from './prng';

/** Datagrams waiting in delay timers, at most; past it new ones are dropped and counted. */
export const DEFAULT_MAX_QUEUED_DATAGRAMS = 4096;
/** A reordered datagram waits for the next one at most this long (plus latency and jitter). */
const REORDER_HOLD_MS = 10;
const MAX_DELAY_MS = 10_000;

export interface ConditionerStats {
  /** Datagrams given to send(). */
  offered: number;
  /** Datagrams handed to the inner socket (duplicates included). */
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Dropped because too many were waiting in delay timers. */
  overflowed: number;
}

/** Null when the conditioner is valid, else what is wrong with it. */
export function validateLinkConditioner(conditioner: LinkConditioner): string | null {
  if (conditioner === null || typeof conditioner !== 'object') return 'link conditioner must be an object';
  for (const key of ['lossRate', 'duplicateRate', 'reorderRate'] as const) {
    const value = conditioner[key];
    if (value !== undefined && (typeof value !== 'number' || !(value >= 0 && value <= 1))) return `link conditioner ${key} must be a number in 0..1, got ${String(value)}`;
  }
  for (const key of ['latencyMs', 'jitterMs'] as const) {
    const value = conditioner[key];
    if (value !== undefined && (typeof value !== 'number' || !(value >= 0 && value <= MAX_DELAY_MS))) return `link conditioner ${key} must be a number in 0..${MAX_DELAY_MS}, got ${String(value)}`;
  }
  const seed = conditioner.seed;
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed))) return `link conditioner seed must be an integer, got ${String(seed)}`;
  return null;
}

export class ConditionedSocket implements DatagramSocket {
  onOpen: (() => void) | null = null;
  onMessage: ((datagram: Uint8Array) => void) | null = null;
  onClose: ((reason: string) => void) | null = null;

  private readonly stats: ConditionerStats = { offered: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, overflowed: 0 };
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private held: { datagram: Uint8Array; copies: number } | null = null;
  private heldTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly lossRate: number;
  private readonly duplicateRate: number;
  private readonly reorderRate: number;
  private readonly latencyMs: number;
  private readonly jitterMs: number;

  /**
   * @param random a generator in [0, 1); pass one shared generator to keep one seeded sequence
   * across several sockets (reconnects). Defaults to mulberry32(conditioner.seed ?? 1).
   */
  constructor(
    private readonly inner: DatagramSocket,
    conditioner: LinkConditioner,
    private readonly random: () => number = mulberry32(conditioner.seed ?? 1),
    private readonly maxQueued = DEFAULT_MAX_QUEUED_DATAGRAMS,
  ) {
    const problem = validateLinkConditioner(conditioner);
    if (problem !== null) throw new Error(problem);
    this.lossRate = conditioner.lossRate ?? 0;
    this.duplicateRate = conditioner.duplicateRate ?? 0;
    this.reorderRate = conditioner.reorderRate ?? 0;
    this.latencyMs = conditioner.latencyMs ?? 0;
    this.jitterMs = conditioner.jitterMs ?? 0;
    inner.onOpen = () => this.onOpen?.();
    inner.onMessage = (datagram) => this.onMessage?.(datagram);
    inner.onClose = (reason) => {
      this.clearTimers();
      this.closed = true;
      this.onClose?.(reason);
    };
  }

  /** Sends through the impairment. Every call draws the same count of random numbers, so one seed gives one outcome. */
  send(datagram: Uint8Array): void {
    if (this.closed) return;
    this.stats.offered++;
    const lossDraw = this.random();
    const duplicateDraw = this.random();
    const reorderDraw = this.random();
    const jitterDraw = this.random();
    const duplicateJitterDraw = this.random();
    if (lossDraw < this.lossRate) {
      this.stats.lost++;
      return;
    }
    const copies = duplicateDraw < this.duplicateRate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    if (reorderDraw < this.reorderRate && this.held === null) {
      // Held back until the next datagram has gone (or a short while passed): a swap.
      this.stats.reordered++;
      this.held = { datagram: datagram.slice(), copies };
      this.heldTimer = setTimeout(() => {
        this.heldTimer = null;
        this.releaseHeld();
      }, this.latencyMs + this.jitterMs + REORDER_HOLD_MS);
      return;
    }
    this.deliver(datagram, jitterDraw);
    if (copies === 2) this.deliver(datagram, duplicateJitterDraw);
    this.releaseHeld();
  }

  /** Sends past the impairment (control datagrams that should not churn the relay session). */
  sendDirect(datagram: Uint8Array): void {
    if (!this.closed) this.inner.send(datagram);
  }

  conditionerStats(): ConditionerStats {
    return { ...this.stats };
  }

  /** Datagrams waiting in delay timers or held for reordering. */
  queuedDatagrams(): number {
    return this.timers.size + (this.held !== null ? 1 : 0);
  }

  close(): Promise<void> {
    this.closed = true;
    this.clearTimers();
    return this.inner.close();
  }

  private releaseHeld(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    if (this.heldTimer !== null) {
      clearTimeout(this.heldTimer);
      this.heldTimer = null;
    }
    for (let i = 0; i < held.copies; i++) this.deliver(held.datagram, 0.5);
  }

  private deliver(datagram: Uint8Array, jitterDraw: number): void {
    const delay = this.latencyMs + this.jitterMs * jitterDraw;
    if (delay <= 0) {
      this.stats.delivered++;
      this.inner.send(datagram);
      return;
    }
    if (this.timers.size >= this.maxQueued) {
      this.stats.overflowed++;
      return;
    }
    // The caller may reuse its buffer once send() returns.
    const copy = datagram.slice();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      this.stats.delivered++;
      this.inner.send(copy);
    }, delay);
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.heldTimer !== null) clearTimeout(this.heldTimer);
    this.heldTimer = null;
    this.held = null;
  }
}
