/** Public value types of the networking layer (docs/API.md). */

/** A peer's id: a uint64 digest of its public key, never 0. A bigint so it stays exact above 2^53. */
export type PeerId = bigint;

export interface NetworkMessage {
  peerId: PeerId;
  channelId: number;
  /**
   * The message's bytes, the receiver's to keep and change. Above 64 bytes it may be a view into a
   * buffer shared with other messages of the same datagram: slice() it before transferring its buffer.
   */
  data: Uint8Array;
}

export type PeerState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface PeerStateChange {
  peerId: PeerId;
  state: PeerState;
  /** Why, when the manager knows more than the state says (relay unreachable, token refused). */
  reason?: string;
}

/**
 * The link to the relay: 'connecting' until registered (and again after losing the session),
 * 'registered', 'unreachable' after several failed attempts in a row (retrying with backoff),
 * 'refused' when the relay refused the token for good (no retries).
 */
export type RelayState = 'connecting' | 'registered' | 'unreachable' | 'refused';

export interface RelayStatus {
  state: RelayState;
  /** The relay URL this is about. */
  relay: string;
  /** The cause for 'unreachable' and 'refused' (and for 'connecting' after a lost session); null otherwise. */
  reason: string | null;
}

/** Simulated impairment of outgoing datagrams; seeded so a run can be repeated exactly. */
export interface LinkConditioner {
  lossRate?: number;
  duplicateRate?: number;
  reorderRate?: number;
  latencyMs?: number;
  jitterMs?: number;
  seed?: number;
}

export interface PeerStats {
  state: PeerState;
  rttMs: number;
  lossRate: number;
  sentPackets: number;
  receivedPackets: number;
  resentPackets: number;
  sentBytes: number;
  receivedBytes: number;
  pendingReliableBytes: number;
  droppedUnreliable: number;
}

/** Milliseconds from an arbitrary origin; injected so protocol logic can run in virtual time. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
};

/** Where the library reports what a developer should know about (refusals, fallbacks). */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export const consoleLogger: Logger = {
  info: (message) => console.info(`[switchboard] ${message}`),
  warn: (message) => console.warn(`[switchboard] ${message}`),
};
