import { SecureSession, roleFor } from './crypto';
import type { Identity } from './identity';
import { ReliableConnection, type ReliabilityConfig } from './reliability';
import { DATA_HEADER_BYTES as RELAY_DATA_HEADER_BYTES } from './wire/relay-codec';
import { DATA_HEADER_BYTES as PACKET_HEADER_BYTES } from './crypto/packets';
import { TAG_BYTES } from './crypto/primitives';
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
/**
 * Room each outgoing datagram keeps around its frames, so the DATA header and tag (§5.3) and the
 * relay header (§3.3) are written in place: relay header ‖ DATA header ‖ frames ‖ tag.
 */
const DATAGRAM_TUNING = { datagramHeadroomBytes: RELAY_DATA_HEADER_BYTES + PACKET_HEADER_BYTES, datagramTailroomBytes: TAG_BYTES };

export class PeerLink {
  state: PeerState = 'connecting';
  /** The route's relay session id as two u32 and as its 8 wire bytes (no BigInt per datagram). */
  sessionHigh = 0;
  sessionLow = 0;
  readonly sessionIdBytes = new Uint8Array(8);
  private currentRoute!: RouteInfo;
  readonly channels = new Map<number, boolean>();
  connection: ReliableConnection;
  readonly session: SecureSession;
  /** A handshake answer made in runCallbacks(), sent by the next flush(). */
  pendingHandshakeReply: Uint8Array | null = null;
  readonly counters: PeerWireCounters = { sentBytes: 0, receivedBytes: 0, droppedPackets: {} };

  constructor(
    readonly peerId: PeerId,
    route: RouteInfo,
    identity: Identity,
    private readonly reliabilityConfig: ReliabilityConfig,
    private readonly clock: Clock,
    incarnation: bigint,
  ) {
    this.route = route;
    this.session = new SecureSession({
      identity,
      remotePublicKey: route.publicKey,
      role: roleFor(identity.peerId, peerId),
      incarnation,
      clock,
    });
    this.connection = new ReliableConnection(reliabilityConfig, clock.now(), DATAGRAM_TUNING);
  }

  get route(): RouteInfo {
    return this.currentRoute;
  }

  set route(route: RouteInfo) {
    this.currentRoute = route;
    const id = route.sessionId;
    this.sessionHigh = Number(id >> 32n);
    this.sessionLow = Number(id & 0xffffffffn);
    const bytes = this.sessionIdBytes;
    for (let i = 0; i < 4; i++) {
      bytes[i] = (this.sessionHigh >>> (24 - 8 * i)) & 0xff;
      bytes[4 + i] = (this.sessionLow >>> (24 - 8 * i)) & 0xff;
    }
  }

  /**
   * The other end started over (new incarnation): what was in flight belonged to a conversation
   * that no longer exists, so reliability starts fresh, keeping the local channel choices.
   */
  resetConnection(): void {
    this.connection = new ReliableConnection(this.reliabilityConfig, this.clock.now(), DATAGRAM_TUNING);
    for (const [channelId, reliable] of this.channels) this.connection.setChannel(channelId, reliable);
  }

  countDrop(reason: string): void {
    this.counters.droppedPackets[reason] = (this.counters.droppedPackets[reason] ?? 0) + 1;
  }
}
