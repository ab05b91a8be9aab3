import { SecureSession, roleFor } from './crypto';
import type { Identity } from './identity';
import { ReliableConnection, type ReliabilityConfig } from './reliability';
import type { RouteInfo } from './route';
import type { Clock, PeerId, PeerState } from './types';

/** Counters the manager keeps per peer on top of what the reliability layer counts. */
export interface PeerWireCounters {
  sentBytes: number;
  receivedBytes: number;
  droppedPackets: Record<string, number>;
}

/**
 * One opened peer: its route, its end-to-end session, its reliability state and the channels the
 * local side has open. It knows nothing of sockets; the manager moves its packets.
 */
export class PeerLink {
  state: PeerState = 'connecting';
  readonly channels = new Map<number, boolean>();
  connection: ReliableConnection;
  readonly session: SecureSession;
  /** A handshake answer made in runCallbacks(), sent by the next flush(). */
  pendingHandshakeReply: Uint8Array | null = null;
  readonly counters: PeerWireCounters = { sentBytes: 0, receivedBytes: 0, droppedPackets: {} };

  constructor(
    readonly peerId: PeerId,
    public route: RouteInfo,
    identity: Identity,
    private readonly reliabilityConfig: ReliabilityConfig,
    private readonly clock: Clock,
    incarnation: bigint,
  ) {
    this.session = new SecureSession({
      identity,
      remotePublicKey: route.publicKey,
      role: roleFor(identity.peerId, peerId),
      incarnation,
      clock,
    });
    this.connection = new ReliableConnection(reliabilityConfig, clock.now());
  }

  /**
   * The other end started over (new incarnation): what was in flight belonged to a conversation
   * that no longer exists, so reliability starts fresh, keeping the local channel choices.
   */
  resetConnection(): void {
    this.connection = new ReliableConnection(this.reliabilityConfig, this.clock.now());
    for (const [channelId, reliable] of this.channels) this.connection.setChannel(channelId, reliable);
  }

  countDrop(reason: string): void {
    this.counters.droppedPackets[reason] = (this.counters.droppedPackets[reason] ?? 0) + 1;
  }
}
