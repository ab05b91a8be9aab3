/**
 * The numbers behind the net graph: per peer, samples of RTT, loss and throughput taken from
 * getPeerStats() at a fixed interval, kept in bounded series for the sparklines. Pure.
 */
import type { PeerId, PeerState, PeerStats } from 'switchboard';

export interface NetGraphSample {
  /** When the sample was taken (ms, the caller's clock). */
  atMs: number;
  rttMs: number;
  /** 0..1 */
  lossRate: number;
  /** Throughput since the previous sample, both directions, kbit/s. */
  kbitPerSecond: number;
  kbitPerSecondIn: number;
  kbitPerSecondOut: number;
}

export interface NetGraphPeer {
  peerId: PeerId;
  state: PeerState;
  /** Oldest first, at most `capacity` samples. */
  samples: NetGraphSample[];
  latest: NetGraphSample | null;
}

export interface NetGraphModelOptions {
  /** Samples kept per peer (default 60). */
  capacity?: number;
  /** Peers tracked at most (default 64); further ones are not graphed. */
  maxPeers?: number;
}

interface Track {
  peerId: PeerId;
  state: PeerState;
  samples: NetGraphSample[];
  lastBytes: { sent: number; received: number; atMs: number } | null;
}

export class NetGraphModel {
  private readonly tracks = new Map<PeerId, Track>();
  private readonly capacity: number;
  private readonly maxPeers: number;

  constructor(options: NetGraphModelOptions = {}) {
    this.capacity = options.capacity ?? 60;
    this.maxPeers = options.maxPeers ?? 64;
    if (!Number.isInteger(this.capacity) || this.capacity < 2) throw new RangeError(`NetGraphModel: capacity must be an integer ≥ 2, got ${this.capacity}`);
    if (!Number.isInteger(this.maxPeers) || this.maxPeers < 1) throw new RangeError(`NetGraphModel: maxPeers must be a positive integer, got ${this.maxPeers}`);
  }

  /**
   * Records one sample per peer from `stats`. Peers missing from `stats` are dropped (they were
   * closed). The first sample of a peer has throughput 0 (there is nothing to compare with).
   */
  sample(atMs: number, stats: ReadonlyMap<PeerId, PeerStats>): void {
    for (const peerId of [...this.tracks.keys()]) if (!stats.has(peerId)) this.tracks.delete(peerId);
    for (const [peerId, s] of stats) {
      let track = this.tracks.get(peerId);
      if (!track) {
        if (this.tracks.size >= this.maxPeers) continue;
        track = { peerId, state: s.state, samples: [], lastBytes: null };
        this.tracks.set(peerId, track);
      }
      track.state = s.state;
      let inRate = 0;
      let outRate = 0;
      const last = track.lastBytes;
      const elapsedMs = last === null ? 0 : atMs - last.atMs;
      if (last !== null && elapsedMs > 0) {
        // bytes · 8 / ms = kbit/s. A counter that went back (a reopened peer) counts as 0.
        inRate = (Math.max(0, s.receivedBytes - last.received) * 8) / elapsedMs;
        outRate = (Math.max(0, s.sentBytes - last.sent) * 8) / elapsedMs;
      }
      track.lastBytes = { sent: s.sentBytes, received: s.receivedBytes, atMs };
      track.samples.push({
        atMs,
        rttMs: Number.isFinite(s.rttMs) ? s.rttMs : 0,
        lossRate: Number.isFinite(s.lossRate) ? Math.max(0, Math.min(1, s.lossRate)) : 0,
        kbitPerSecond: inRate + outRate,
        kbitPerSecondIn: inRate,
        kbitPerSecondOut: outRate,
      });
      if (track.samples.length > this.capacity) track.samples.splice(0, track.samples.length - this.capacity);
    }
  }

  peers(): NetGraphPeer[] {
    return [...this.tracks.values()].map((t) => ({
      peerId: t.peerId,
      state: t.state,
      samples: [...t.samples],
      latest: t.samples.length === 0 ? null : t.samples[t.samples.length - 1]!,
    }));
  }
}

/**
 * Points of a sparkline of `values` in a `width`×`height` box (y grows downwards), scaled to the
 * larger of the series' maximum and `floor`, so a quiet line stays low instead of filling the box.
 */
export function sparklinePoints(values: readonly number[], width: number, height: number, floor = 1): { x: number; y: number }[] {
  if (values.length === 0) return [];
  const top = Math.max(floor, ...values.map((v) => (Number.isFinite(v) ? v : 0)));
  const step = values.length === 1 ? 0 : width / (values.length - 1);
  return values.map((v, i) => ({ x: i * step, y: height - (Math.max(0, Number.isFinite(v) ? v : 0) / top) * height }));
}
