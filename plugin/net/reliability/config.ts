import { FRAGMENT_HEADER_RESERVE, MESSAGE_CHARGE_OVERHEAD } from './constants';

/**
 * Per-peer reliability limits and timings. Both ends of a connection must use the same message
 * and reassembly limits: a sender sizes its window to the receiver's bounds by assuming its own.
 */
export interface ReliabilityConfig {
  /** Plaintext frame bytes per packet (the caller passes mtu minus overheads; default 1169). */
  maxPacketBytes: number;
  /** Largest reliable message, bytes (default 1 MiB). */
  maxReliableMessageBytes: number;
  /** Largest unreliable message, bytes (default 64 KiB). */
  maxUnreliableMessageBytes: number;
  /** Reliable bytes accepted but not yet acknowledged; past it send() says InsufficientBuffer (default 4 MiB). */
  maxPendingReliableBytes: number;
  /** Reliable bytes received for channels the local side has not opened as reliable (default 1 MiB). */
  maxHeldBytes: number;
  /** Per peer, all partially received or out-of-order messages, bytes (default 2 MiB + 128 KiB). */
  maxReassemblyBytes: number;
  /** Send a PING when nothing was sent for this long, ms (default 1000). */
  keepaliveMs: number;
  /** isTimedOut() after this long without receiving, ms (default 10000). */
  timeoutMs: number;
  /** RTT assumed before the first sample, ms (default 100). */
  initialRttMs: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

export const defaultReliabilityConfig: ReliabilityConfig = Object.freeze({
  maxPacketBytes: 1169,
  maxReliableMessageBytes: 1 * MiB,
  maxUnreliableMessageBytes: 64 * KiB,
  maxPendingReliableBytes: 4 * MiB,
  maxHeldBytes: 1 * MiB,
  maxReassemblyBytes: 2 * MiB + 128 * KiB,
  keepaliveMs: 1000,
  timeoutMs: 10_000,
  initialRttMs: 100,
});

/** Smallest packet that still fits a minimum fragment with its header. */
export const MIN_PACKET_BYTES = 200;
const MAX_PACKET_BYTES = 65_000;
const MAX_MESSAGE_BYTES = 64 * MiB;
const MAX_MEMORY_BYTES = 1024 * MiB;

type Range = readonly [min: number, max: number];
const fieldRanges: Record<keyof ReliabilityConfig, Range> = {
  maxPacketBytes: [MIN_PACKET_BYTES, MAX_PACKET_BYTES],
  maxReliableMessageBytes: [1, MAX_MESSAGE_BYTES],
  maxUnreliableMessageBytes: [1, MAX_MESSAGE_BYTES],
  maxPendingReliableBytes: [1, MAX_MEMORY_BYTES],
  maxHeldBytes: [0, MAX_MEMORY_BYTES],
  maxReassemblyBytes: [1, MAX_MEMORY_BYTES],
  keepaliveMs: [1, 600_000],
  timeoutMs: [1, 3_600_000],
  initialRttMs: [1, 60_000],
};
const fieldNames = Object.keys(fieldRanges) as (keyof ReliabilityConfig)[];

/**
 * Fills defaults and checks every field: an integer in its range, plus the relations the engine
 * relies on. The error names the field and what was expected.
 */
export function validateReliabilityConfig(
  config: Partial<ReliabilityConfig>,
): { ok: true; config: ReliabilityConfig } | { ok: false; error: string } {
  if (typeof config !== 'object' || config === null) return { ok: false, error: 'config: expected an object' };
  for (const key of Object.keys(config)) {
    if (!(key in fieldRanges)) return { ok: false, error: `${key}: unknown field (expected one of ${fieldNames.join(', ')})` };
  }
  const merged: ReliabilityConfig = { ...defaultReliabilityConfig };
  for (const name of fieldNames) {
    const value: unknown = config[name];
    if (value === undefined) continue;
    const [min, max] = fieldRanges[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      return { ok: false, error: `${name}: expected an integer in ${min}..${max}, got ${describe(value)}` };
    }
    merged[name] = value;
  }
  const reassemblyNeeded = merged.maxReliableMessageBytes + merged.maxUnreliableMessageBytes + 2 * MESSAGE_CHARGE_OVERHEAD;
  if (merged.maxReassemblyBytes < reassemblyNeeded) {
    return {
      ok: false,
      error: `maxReassemblyBytes: expected at least maxReliableMessageBytes + maxUnreliableMessageBytes + ${2 * MESSAGE_CHARGE_OVERHEAD} = ${reassemblyNeeded}, got ${merged.maxReassemblyBytes}`,
    };
  }
  if (merged.timeoutMs <= merged.keepaliveMs) {
    return { ok: false, error: `timeoutMs: expected more than keepaliveMs (${merged.keepaliveMs}), got ${merged.timeoutMs}` };
  }
  return { ok: true, config: merged };
}

/**
 * Bytes of data every fragment but the last carries, for a given packet size (≥ MIN_FRAGMENT_BYTES
 * for every valid maxPacketBytes).
 */
export function fragmentPayloadBytes(maxPacketBytes: number): number {
  return maxPacketBytes - FRAGMENT_HEADER_RESERVE;
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return 'null';
  return typeof value;
}
