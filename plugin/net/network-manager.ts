import { Observable, Subject } from 'rxjs';
import { PeerPacketType, peerPacketType, type OpenResult } from './crypto';
import { Identity } from './identity';
import { defaultManagerLimits, resolveManagerOptions, type NetworkManagerOptions, type ResolvedManagerLimits } from './manager-options';
import { PeerLink } from './peer-link';
import { defaultReliabilityConfig, validateReliabilityConfig, type OutgoingPacket, type ReliabilityConfig } from './reliability';
import { Result } from './result';
import { decodeRoute, decodeRouteForPeer, encodeRoute, type RouteInfo } from './route';
import type { LinkKind, TransportPreference } from './transport/datagram-socket';
import { RelayRotation } from './relay-rotation';
import { RelayClient, type RelayClientOptions } from './transport/relay-client';
import { consoleLogger, systemClock, type Clock, type Logger, type NetworkMessage, type PeerId, type PeerState, type PeerStateChange, type PeerStats, type RelayStatus } from './types';

export type { NetworkManagerOptions } from './manager-options';

/** Bytes the relay header (§3.3) and the DATA packet header + tag (§5.3) add to a frame payload. */
const RELAY_HEADER_BYTES = 9;
const DATA_PACKET_OVERHEAD_BYTES = 6 + 16;
/** How many flushes a closed peer keeps sending CLOSE for, since CLOSE itself is not resent. */
const CLOSE_REPEATS = 3;
const MAX_CHANNEL_ID = 127;

type OpenedPacket = Extract<OpenResult, { ok: true }>;

/** Events for runCallbacks() to emit, in order; a message is queued as itself (no wrapper per message). */
type QueuedEvent =
  | { kind: 'route'; route: string }
  | { kind: 'state'; change: PeerStateChange }
  | { kind: 'relay'; status: RelayStatus }
  | NetworkMessage;

interface InboundDatagram {
  /** The source relay session id as two u32. */
  sourceHigh: number;
  sourceLow: number;
  /** A view of the socket's datagram, which is ours (no copy). */
  payload: Uint8Array;
  /** Clock time it came off the socket: acks and RTT count from here, not from runCallbacks(). */
  arrivedAt: number;
}

interface ClosingPeer {
  link: PeerLink;
  repeatsLeft: number;
}

/**
 * The engine networking manager over Switchboard's relay: peers opened with routes, 128 channels
 * each reliable or unreliable, events delivered in runCallbacks() and datagrams sent in flush().
 * The contract is docs/API.md; every method returns a Result and none throws on bad input.
 */
export class NetworkManager {
  readonly message$: Observable<NetworkMessage>;
  readonly routeUpdate$: Observable<string>;
  readonly peerState$: Observable<PeerStateChange>;
  /** The relay link's state ('connecting', 'registered', 'unreachable', 'refused') with its cause; emits in runCallbacks(). */
  readonly relayState$: Observable<RelayStatus>;

  private readonly messageSubject = new Subject<NetworkMessage>();
  private readonly routeSubject = new Subject<string>();
  private readonly peerStateSubject = new Subject<PeerStateChange>();
  private readonly relayStateSubject = new Subject<RelayStatus>();

  private readonly identity: Identity;
  /** The identity was generated here (not passed in): dispose() erases it. */
  private readonly ownsIdentity: boolean;
  private readonly limits: ResolvedManagerLimits;
  private readonly reliabilityConfig: ReliabilityConfig;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** The relay link in use: one RelayClient at a time, replaced when the manager moves to its next relay. */
  private relay: RelayClient;
  /** The URL `relay` talks to (getTransportInfo, relayState$). */
  private relayUrl: string;
  /** The `relay` option as a list (one entry without a fleet), tried in order. */
  private readonly rotation: RelayRotation;
  /** Everything but the URL each RelayClient is built with. */
  private readonly relayClientOptions: Omit<RelayClientOptions, 'url'>;
  /** Disposals of RelayClients given up on, awaited by dispose() so no socket outlives the manager. */
  private readonly retiring = new Set<Promise<void>>();

  private readonly peers = new Map<PeerId, PeerLink>();
  /**
   * Open peers by the low 32 bits of the relay session their route names (a number key: no BigInt
   * per datagram; the high bits are checked on lookup). Usually one per session; a hostile lobby
   * member can publish a route naming someone else's session, so several may claim one, and the
   * packet's cryptography decides which of them it is from (never the newest claim).
   */
  private readonly peersBySession = new Map<number, PeerLink[]>();
  /** Peers with a channel opened since the last runCallbacks(): held messages may now be due. */
  private readonly deliveryDue = new Set<PeerLink>();
  private closing: ClosingPeer[] = [];
  private inbox: InboundDatagram[] = [];
  /** Events made outside runCallbacks() (socket callbacks, flush) wait here for the next one. */
  private pendingEvents: QueuedEvent[] = [];
  /** Peers removed so far (runCallbacks() compares it to know whether any went during its call). */
  private peerRemovals = 0;
  private route: string | null = null;
  private refusedReason: string | null = null;
  private relayStatus: RelayStatus;
  /** Peers this manager marked 'disconnected' because the relay was unreachable: 'connecting' again once it registers. */
  private readonly cutOffByRelay = new Set<PeerLink>();
  private disposed = false;
  private readonly managerDrops: Record<string, number> = {};

  constructor(given: NetworkManagerOptions) {
    const resolved = resolveManagerOptions(given);
    if (!resolved.ok) throw new TypeError(`NetworkManager: ${resolved.error}`);
    // The snapshot read once by resolveManagerOptions, never the caller's object again.
    const options = resolved.options;
    this.limits = resolved.limits;
    this.clock = options.clock !== undefined ? containedClock(options.clock) : systemClock;
    this.logger = options.logger !== undefined ? containedLogger(options.logger) : consoleLogger;
    this.ownsIdentity = options.identity === undefined;
    this.identity = options.identity ?? Identity.generate();
    const reliability = validateReliabilityConfig({
      ...defaultReliabilityConfig,
      maxPacketBytes: this.limits.mtuBytes - RELAY_HEADER_BYTES - DATA_PACKET_OVERHEAD_BYTES,
      maxReliableMessageBytes: this.limits.maxReliableMessageBytes,
      maxUnreliableMessageBytes: this.limits.maxUnreliableMessageBytes,
      maxPendingReliableBytes: this.limits.maxPendingReliableBytes,
      maxReassemblyBytes: Math.max(defaultReliabilityConfig.maxReassemblyBytes, this.limits.maxReliableMessageBytes * 2),
      timeoutMs: this.limits.timeoutMs,
      keepaliveMs: this.limits.keepaliveMs,
    });
    if (!reliability.ok) throw new TypeError(`NetworkManager: ${reliability.error}`);
    this.reliabilityConfig = reliability.config;
    this.message$ = this.messageSubject.asObservable();
    this.routeUpdate$ = this.routeSubject.asObservable();
    this.peerState$ = this.peerStateSubject.asObservable();
    this.relayState$ = this.relayStateSubject.asObservable();

    this.rotation = new RelayRotation(resolved.relays);
    this.relayUrl = this.rotation.url;
    this.relayStatus = { state: 'connecting', relay: this.relayUrl, reason: null };
    // The first runCallbacks() tells subscribers where the link starts.
    this.pendingEvents.push({ kind: 'relay', status: this.relayStatus });
    this.relayClientOptions = {
      token: options.token,
      logger: this.logger,
      conditioner: options.linkConditioner,
      socketFactory: options.socketFactory,
      transport: options.transport,
      timers: options.timers,
    };
    // Every relay's client is built once here so a URL this runtime cannot use throws now, not at failover.
    for (let i = 1; i < resolved.relays.length; i++) this.makeRelayClient(i);
    this.relay = this.makeRelayClient(0);
    this.relay.start();
  }


  /** This manager's peer id: a digest of its public key, known at once. */
  getPeerId(): PeerId {
    return this.identity.peerId;
  }

  /** The route others open this manager with; null until the relay has registered it. */
  getRoute(): string | null {
    return this.route;
  }

  /**
   * Which link carries this manager's datagrams to the relay now ('udp', 'websocket' or 'webrtc';
   * null while it has none) and which transport was asked for. Changes are also logged.
   */
  getTransportInfo(): { requested: TransportPreference; link: LinkKind | null; relay: string } {
    return { requested: this.relay.transportPreference, link: this.disposed ? null : this.relay.linkKind, relay: this.relayUrl };
  }

  /** The relay link's state now, with its cause (relayState$ tells changes). */
  getRelayState(): RelayStatus {
    return this.relayStatus;
  }

  /**
   * The long-term identity, so a game can keep its peer id across runs (export it while the manager
   * runs: one the manager generated itself is erased by dispose(); one passed in is the caller's).
   */
  getIdentity(): Identity {
    return this.identity;
  }

  runCallbacks(): Result {
    if (this.disposed) return Result.NotRunning;
    const now = this.clock.now();
    // Every message queued below comes from a peer open when it was queued.
    const removalsAtStart = this.peerRemovals;
    const inbox = this.inbox;
    this.inbox = [];
    for (const datagram of inbox) this.handleInbound(datagram, now);
    for (const link of this.deliveryDue) this.collectDelivered(link);
    this.deliveryDue.clear();
    const events = this.pendingEvents;
    this.pendingEvents = [];
    for (const event of events) {
      if (this.disposed) break;
      // Only once a peer was removed in this call (a CLOSE, a handler's closePeer) is each
      // message's peer looked up, not once per message in every frame.
      this.emit(event, this.peerRemovals !== removalsAtStart);
    }
    return Result.Ok;
  }

  flush(): Result {
    if (this.disposed) return Result.NotRunning;
    const now = this.clock.now();
    this.relay.beginBatch();
    try {
      this.flushClosing(now);
      if (this.relay.registration !== null) {
        for (const link of this.peers.values()) this.flushPeer(link, now);
      }
    } finally {
      this.relay.endBatch();
    }
    for (const link of this.peers.values()) this.checkTimeout(link, now);
    if (this.refusedReason !== null) return Result.NotAuthenticated;
    return Result.Ok;
  }

  openPeer(peerId: PeerId, route: string): Result {
    if (this.disposed) return Result.NotRunning;
    if (!isPeerId(peerId)) return Result.InvalidCommand;
    const decoded = this.decodeRouteFor(peerId, route);
    if (typeof decoded === 'number') return decoded;
    if (peerId === this.identity.peerId) return Result.InvalidCommand;
    if (this.peers.has(peerId)) return Result.Conflict;
    if (this.peers.size >= this.limits.maxPeers) return Result.InsufficientBuffer;
    const link = new PeerLink(peerId, decoded, this.identity, this.reliabilityConfig, this.clock, randomIncarnation());
    this.peers.set(peerId, link);
    this.bindSession(link);
    const reason = this.refusedReason ?? (this.relayStatus.state === 'unreachable' ? `relay ${this.relayUrl} unreachable: ${this.relayStatus.reason ?? 'unknown cause'}` : null);
    link.state = reason !== null ? 'disconnected' : 'connecting';
    if (reason !== null && this.refusedReason === null) this.cutOffByRelay.add(link);
    this.pendingEvents.push({ kind: 'state', change: reason !== null ? { peerId, state: link.state, reason } : { peerId, state: link.state } });
    return Result.Ok;
  }

  updatePeer(peerId: PeerId, route: string): Result {
    if (this.disposed) return Result.NotRunning;
    if (!isPeerId(peerId)) return Result.InvalidCommand;
    const parsed = decodeRoute(route);
    if (!parsed.ok) return parsed.code;
    const link = this.peers.get(peerId);
    // A 64-bit id binds its key only up to a second preimage (PROTOCOL/SECURITY): an open peer's
    // key never changes, whether or not the new key derives the same id.
    if (link !== undefined && !sameBytes(parsed.route.publicKey, link.route.publicKey)) return Result.Conflict;
    const decoded = this.decodeRouteFor(peerId, route);
    if (typeof decoded === 'number') return decoded;
    if (!link) return Result.NotFound;
    this.unbindSession(link);
    link.route = decoded;
    this.bindSession(link);
    link.connection.onPathChanged(this.clock.now());
    return Result.Ok;
  }

  closePeer(peerId: PeerId): Result {
    if (this.disposed) return Result.NotRunning;
    const link = this.peers.get(peerId);
    if (!link) return Result.NotFound;
    this.removePeer(link, CLOSE_REPEATS);
    this.setState(link, 'closed');
    return Result.Ok;
  }

  openChannel(peerId: PeerId, channelId: number, reliable: boolean): Result {
    if (this.disposed) return Result.NotRunning;
    const link = this.peers.get(peerId);
    if (!link) return Result.NotFound;
    if (!isChannelId(channelId)) return Result.InvalidChannel;
    if (typeof reliable !== 'boolean') return Result.InvalidCommand;
    const current = link.channels.get(channelId);
    if (current !== undefined) return current === reliable ? Result.Ok : Result.Conflict;
    link.channels.set(channelId, reliable);
    link.connection.setChannel(channelId, reliable);
    // Reliable messages held for this channel are delivered by the next runCallbacks().
    this.deliveryDue.add(link);
    return Result.Ok;
  }

  closeChannel(peerId: PeerId, channelId: number): Result {
    if (this.disposed) return Result.NotRunning;
    const link = this.peers.get(peerId);
    if (!link) return Result.NotFound;
    if (!isChannelId(channelId)) return Result.InvalidChannel;
    if (!link.channels.has(channelId)) return Result.NotFound;
    link.channels.delete(channelId);
    link.connection.setChannel(channelId, null);
    return Result.Ok;
  }

  sendMessage(peerId: PeerId, channelId: number, data: Uint8Array): Result {
    if (this.disposed) return Result.NotRunning;
    const link = this.peers.get(peerId);
    if (!link) return Result.NotFound;
    if (!isChannelId(channelId)) return Result.InvalidChannel;
    const reliable = link.channels.get(channelId);
    if (reliable === undefined) return Result.NotFound;
    // The reliability layer copies (InvalidPayload for anything but a usable Uint8Array).
    return link.connection.send(channelId, reliable, data);
  }

  getPeerStats(peerId: PeerId): PeerStats | undefined {
    const link = this.peers.get(peerId);
    if (!link) return undefined;
    const s = link.connection.stats();
    return {
      state: link.state,
      rttMs: s.rttMs,
      lossRate: s.lossRate,
      sentPackets: s.sentPackets,
      receivedPackets: s.receivedPackets,
      resentPackets: s.resentPackets,
      sentBytes: link.counters.sentBytes,
      receivedBytes: link.counters.receivedBytes,
      pendingReliableBytes: s.pendingReliableBytes,
      droppedUnreliable: s.droppedUnreliable,
    };
  }

  /** A readable dump of one peer's connection, for bug reports. */
  describePeer(peerId: PeerId): string {
    const link = this.peers.get(peerId);
    if (!link) return `peer ${typeof peerId === 'bigint' ? peerId : `(${typeof peerId})`}: not open`;
    const s = link.connection.stats();
    const session = link.session.stats();
    return [
      `peer ${peerId} (${link.session.role}) state=${link.state} relaySession=${link.route.sessionId.toString(16)}`,
      `  rtt=${s.rttMs.toFixed(1)}ms loss=${(s.lossRate * 100).toFixed(1)}% cwnd=${s.congestionWindowBytes}B pacing=${Math.round(s.pacingRateBytesPerSecond / 1024)}KiB/s`,
      `  packets sent=${s.sentPackets} received=${s.receivedPackets} resent=${s.resentPackets} bytes sent=${link.counters.sentBytes} received=${link.counters.receivedBytes}`,
      `  pendingReliable=${s.pendingReliableBytes}B held=${s.heldBytes}B droppedUnreliable=${s.droppedUnreliable}`,
      `  channels=${[...link.channels].map(([id, r]) => `${id}:${r ? 'reliable' : 'unreliable'}`).join(',') || 'none'}`,
      `  handshakes sent=${session.handshakesSent} completed=${session.handshakesCompleted} keyPhase=${session.keyPhase} drops=${JSON.stringify({ ...session.dropped, ...link.counters.droppedPackets })}`,
    ].join('\n');
  }

  /**
   * Refused datagrams by reason. Without a peer id: those the manager refused before any peer saw
   * them (strangers, full inbox). With one: that peer's (tampered, replayed, handshake refusals…).
   */
  getDropCounts(peerId?: PeerId): Readonly<Record<string, number>> {
    if (peerId === undefined) return { ...this.managerDrops };
    const link = this.peers.get(peerId);
    if (!link) return {};
    return { ...link.session.stats().dropped, ...link.counters.droppedPackets };
  }

  /** Closes every peer (telling the other ends), leaves the relay and completes the observables. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    const now = this.clock.now();
    for (const link of [...this.peers.values()]) this.removePeer(link, 1);
    this.flushClosing(now);
    // Peers still closing from closePeer() get no more repeats: their keys go now.
    for (const entry of this.closing) entry.link.session.dispose();
    this.closing = [];
    if (this.ownsIdentity) this.identity.dispose();
    this.disposed = true;
    this.inbox = [];
    this.pendingEvents = [];
    await Promise.all([this.relay.dispose(), ...this.retiring]);
    this.messageSubject.complete();
    this.routeSubject.complete();
    this.peerStateSubject.complete();
    this.relayStateSubject.complete();
  }

  /**
   * A RelayClient for relay `index`, its callbacks wired to this manager. Callbacks of a client
   * that is no longer the current one are ignored: it is being disposed.
   */
  private makeRelayClient(index: number): RelayClient {
    const urls = this.rotation.urls;
    let client: RelayClient;
    try {
      client = new RelayClient({ ...this.relayClientOptions, url: urls[index], reconnectInitialDelayMs: this.rotation.retryDelayMs() });
    } catch (error) {
      throw new TypeError(`NetworkManager: ${urls.length > 1 ? `relay[${index}]` : 'relay'}: ${(error as Error).message}`);
    }
    const current = (): boolean => client === this.relay && !this.disposed;
    client.onRegistered = (registration) => {
      if (!current()) return;
      this.rotation.noteRegistered();
      this.refusedReason = null;
      this.route = encodeRoute({
        relayId: registration.relayId,
        sessionId: registration.sessionId,
        publicKey: this.identity.publicKey,
        endpoints: registration.endpoints,
      });
      this.pendingEvents.push({ kind: 'route', route: this.route });
      // Path changed under every peer: let reliability probe again at once instead of waiting
      // out a backed-off retransmission timer.
      for (const link of this.peers.values()) link.connection.onPathChanged(this.clock.now());
      for (const link of this.cutOffByRelay) if (this.peers.has(link.peerId)) this.setState(link, 'connecting');
      this.cutOffByRelay.clear();
    };
    client.onStateChange = (state, reason) => {
      if (!current()) return;
      // A refusal with another relay left to try is not the manager's state: onRefused moves on.
      if (state === 'refused' && this.rotation.canMoveOn) return;
      this.relayStatus = { state, relay: this.relayUrl, reason };
      this.pendingEvents.push({ kind: 'relay', status: this.relayStatus });
      if (state !== 'unreachable') return;
      const lost = `relay ${this.relayUrl} unreachable: ${reason ?? 'unknown cause'}`;
      if (!this.rotation.canMoveOn) {
        // One relay (or the only one left): its client goes on retrying with backoff by itself.
        this.cutOffPeers(lost);
        return;
      }
      // Peers stay as they are while other relays of the list are left to try in this turn; once
      // every one failed they go disconnected, and the next turn's retries start slower.
      if (this.rotation.noteUnreachable()) this.cutOffPeers(`all ${this.rotation.usableCount} relays unreachable (last ${this.relayUrl}: ${reason ?? 'unknown cause'})`);
      this.moveToNextRelay(lost);
    };
    client.onRefused = (reason, detail, final) => {
      if (!final || !current()) return;
      const refusal = `relay refused registration (reason ${reason}: ${detail})`;
      if (this.rotation.canMoveOn) {
        this.rotation.noteRefused();
        this.logger.warn(`relay ${this.relayUrl} refused the token for good (reason ${reason}: ${detail}); trying the next relay of the list`);
        this.moveToNextRelay(`relay ${this.relayUrl}: ${refusal}`);
        return;
      }
      this.refusedReason = refusal;
      for (const link of this.peers.values()) this.setState(link, 'disconnected', this.refusedReason);
    };
    client.onData = (sourceHigh, sourceLow, payload) => {
      if (client === this.relay) this.enqueueInbound(sourceHigh, sourceLow, payload);
    };
    this.guardRelayCallbacks(client);
    return client;
  }

  /** Open peers go 'disconnected' for `cause` and 'connecting' again at the next registration. */
  private cutOffPeers(cause: string): void {
    for (const link of this.peers.values()) {
      if (link.state === 'disconnected') continue;
      this.cutOffByRelay.add(link);
      this.setState(link, 'disconnected', cause);
    }
  }

  /**
   * Gives up on the current relay (disposing its client, which may be inside one of its own
   * callbacks: RelayClient arms nothing once disposed) and registers with the next one. Never two
   * clients at once; the new one's REGISTERED goes through onRegistered like any re-registration.
   */
  private moveToNextRelay(cause: string): void {
    if (this.disposed) return;
    const url = this.rotation.advance();
    if (url === null) return;
    const retired = this.relay.dispose().finally(() => this.retiring.delete(retired));
    this.retiring.add(retired);
    this.relayUrl = url;
    this.logger.info(`${cause}; moving to relay ${url}`);
    this.relay = this.makeRelayClient(this.rotation.index);
    this.relayStatus = { state: 'connecting', relay: this.relayUrl, reason: cause };
    this.pendingEvents.push({ kind: 'relay', status: this.relayStatus });
    this.relay.start();
  }

  /** A socket callback must never throw (it would crash the process): each one is contained and counted. */
  private guardRelayCallbacks(relay: RelayClient): void {
    const guard = <A extends unknown[]>(name: string, callback: ((...args: A) => void) | null): ((...args: A) => void) | null => {
      if (callback === null) return null;
      return (...args: A) => {
        try {
          callback(...args);
        } catch (error) {
          this.countDrop(`callbackThrew:${name}`);
          try {
            this.logger.warn(`internal error in the relay ${name} callback (contained): ${error instanceof Error ? error.message : String(error)}`);
          } catch {
            // The logger is already contained; nothing more to do.
          }
        }
      };
    };
    relay.onRegistered = guard('registered', relay.onRegistered);
    relay.onRefused = guard('refused', relay.onRefused);
    relay.onStateChange = guard('state', relay.onStateChange);
    relay.onData = guard('data', relay.onData);
  }

  private decodeRouteFor(peerId: PeerId, route: string): RouteInfo | Result {
    // The route's key must be the one the peer id was derived from: nobody takes over a known id.
    const decoded = decodeRouteForPeer(peerId, route);
    return decoded.ok ? decoded.route : decoded.code;
  }

  private bindSession(link: PeerLink): void {
    const claimants = this.peersBySession.get(link.sessionLow);
    if (claimants === undefined) this.peersBySession.set(link.sessionLow, [link]);
    else if (!claimants.includes(link)) claimants.push(link);
  }

  private unbindSession(link: PeerLink): void {
    const claimants = this.peersBySession.get(link.sessionLow);
    if (claimants === undefined) return;
    const rest = claimants.filter((other) => other !== link);
    if (rest.length === 0) this.peersBySession.delete(link.sessionLow);
    else this.peersBySession.set(link.sessionLow, rest);
  }

  /**
   * Forgets a peer. With `closeRepeats` an established peer is told, that many times over the next
   * flushes, and its session keys are erased after the last; otherwise they are erased now.
   */
  private removePeer(link: PeerLink, closeRepeats = 0): void {
    this.peerRemovals++;
    this.peers.delete(link.peerId);
    this.cutOffByRelay.delete(link);
    this.unbindSession(link);
    this.deliveryDue.delete(link);
    if (closeRepeats > 0 && link.session.isEstablished) this.closing.push({ link, repeatsLeft: closeRepeats });
    else link.session.dispose();
  }

  private enqueueInbound(sourceHigh: number, sourceLow: number, payload: Uint8Array): void {
    if (this.disposed) return;
    if (this.inbox.length >= this.limits.maxInboxDatagrams) {
      this.countDrop('inboxFull');
      return;
    }
    // The socket hands its datagram over (DatagramSocket.onMessage): kept as it is, not copied.
    this.inbox.push({ sourceHigh, sourceLow, payload, arrivedAt: this.clock.now() });
  }

  private handleInbound(datagram: InboundDatagram, now: number): void {
    const claimants = this.peersBySession.get(datagram.sourceLow);
    const high = datagram.sourceHigh;
    // A stranger gets no answer and leaves no state behind.
    if (claimants === undefined || !hasSessionHigh(claimants, high)) {
      this.countDrop('unknownSession');
      return;
    }
    const type = peerPacketType(datagram.payload);
    if (type === null) {
      for (const link of claimants) if (link.sessionHigh === high) link.countDrop('unknownType');
      return;
    }
    if (type === PeerPacketType.Data) {
      for (const link of claimants) {
        if (link.sessionHigh !== high) continue;
        const opened = link.session.open(datagram.payload, now);
        // The session counts its own refusals (data-auth, data-replay, …).
        if (opened.ok) {
          // Arrival time, never after this frame's: the ack delay then includes the wait for runCallbacks().
          this.handleData(link, opened, datagram.payload.length, Math.min(datagram.arrivedAt, now));
          return;
        }
      }
      return;
    }
    // Handshakes authenticate the sender's key, so only the peer it really is accepts one.
    for (const link of [...claimants]) {
      if (link.sessionHigh === high && this.handleHandshake(link, datagram.payload, now)) return;
    }
  }

  /** True when `link` accepted the handshake packet. */
  private handleHandshake(link: PeerLink, packet: Uint8Array, now: number): boolean {
    const outcome = link.session.handleHandshake(packet, now);
    switch (outcome.kind) {
      case 'reply':
        link.pendingHandshakeReply = outcome.packet;
        this.onEstablished(link, outcome.established.remoteRestarted);
        return true;
      case 'established':
        this.onEstablished(link, outcome.established.remoteRestarted);
        // Confirms the new keys to the responder, which sends with the old ones until then.
        link.connection.queuePing();
        return true;
      case 'hello':
        return true;
      case 'dropped':
        // The session counts its own refusals (init-auth, rate-limited, …).
        return false;
    }
  }

  private onEstablished(link: PeerLink, remoteRestarted: boolean): void {
    if (remoteRestarted) link.resetConnection();
    link.connection.onPathChanged(this.clock.now());
    this.setState(link, 'connected');
  }

  private handleData(link: PeerLink, opened: OpenedPacket, packetBytes: number, now: number): void {
    const outcome = link.connection.receive(opened.packetNumber, opened.plaintext, now);
    if (!outcome.accepted) {
      if (outcome.peerAlive === true) {
        // The sender resends lost frames under new packet numbers, so marking this one costs
        // nothing; it keeps a replay of it from refreshing liveness again (issue 16.3).
        opened.commit();
        link.connection.notePeerAlive(now);
      }
      link.countDrop('notAccepted');
      return;
    }
    opened.commit();
    link.counters.receivedBytes += packetBytes + RELAY_HEADER_BYTES;
    if (link.state !== 'connected') this.setState(link, 'connected');
    this.collectDelivered(link);
    if (link.connection.remoteClosed) {
      this.removePeer(link);
      this.setState(link, 'closed');
    }
  }

  private collectDelivered(link: PeerLink): void {
    for (const message of link.connection.takeDelivered()) {
      this.pendingEvents.push({ peerId: link.peerId, channelId: message.channelId, data: message.data });
    }
  }

  private flushPeer(link: PeerLink, now: number): void {
    const destination = link.route.sessionId;
    if (link.pendingHandshakeReply) {
      this.sendTo(link, destination, link.pendingHandshakeReply);
      link.pendingHandshakeReply = null;
    }
    const handshake = link.session.pollHandshake(now);
    if (handshake) this.sendTo(link, destination, handshake);
    if (!link.session.isEstablished) return;
    if (link.connection.packetNumbersExhausted) {
      // 2^53 packets (PROTOCOL.md §5.6 rule 8): unreachable in practice, but never a throw in flush.
      this.removePeer(link);
      this.setState(link, 'closed', 'packet numbers exhausted (2^53); open the peer again');
      return;
    }
    for (const packet of link.connection.poll(now)) this.sealAndSend(link, packet, now);
  }

  private flushClosing(now: number): void {
    if (this.closing.length === 0) return;
    const stillClosing: ClosingPeer[] = [];
    for (const entry of this.closing) {
      if (this.relay.registration !== null) {
        const packet = entry.link.connection.closePacket(0, now);
        if (packet !== null) this.sealAndSend(entry.link, packet, now);
      }
      entry.repeatsLeft--;
      if (entry.repeatsLeft > 0) stillClosing.push(entry);
      else entry.link.session.dispose();
    }
    this.closing = stillClosing;
  }

  /**
   * One buffer per datagram: the packet's frames already sit in their datagram after room for the
   * relay and DATA headers; the DATA header and tag are written and the frames sealed in place,
   * then the relay header, and that same buffer goes to the socket.
   */
  private sealAndSend(link: PeerLink, packet: OutgoingPacket, now: number): void {
    link.session.sealInPlace(packet.packetNumber, packet.datagram, RELAY_HEADER_BYTES, packet.payloadBytes, now);
    if (this.relay.sendInPlace(link.sessionIdBytes, packet.datagram)) link.counters.sentBytes += packet.datagram.length;
  }

  private sendTo(link: PeerLink, destination: bigint, packet: Uint8Array): void {
    if (this.relay.send(destination, packet)) link.counters.sentBytes += packet.length + RELAY_HEADER_BYTES;
  }

  private checkTimeout(link: PeerLink, now: number): void {
    if (link.state === 'connected' && link.connection.isTimedOut(now)) this.setState(link, 'disconnected', `no answer for ${this.limits.timeoutMs} ms`);
  }

  private setState(link: PeerLink, state: PeerState, reason?: string): void {
    if (link.state === state) return;
    link.state = state;
    if (state === 'connected') this.cutOffByRelay.delete(link);
    this.pendingEvents.push({ kind: 'state', change: reason !== undefined ? { peerId: link.peerId, state, reason } : { peerId: link.peerId, state } });
  }

  /** `checkPeer`: a peer was removed since the events were taken, so each message's peer is looked up. */
  private emit(event: QueuedEvent, checkPeer: boolean): void {
    if (!('kind' in event)) {
      // A message for a peer closed earlier in this same frame is not delivered.
      if (!checkPeer || this.peers.has(event.peerId)) this.messageSubject.next(event);
      return;
    }
    switch (event.kind) {
      case 'route':
        this.routeSubject.next(event.route);
        break;
      case 'state':
        this.peerStateSubject.next(event.change);
        break;
      case 'relay':
        this.relayStateSubject.next(event.status);
        break;
    }
  }

  private countDrop(reason: string): void {
    this.managerDrops[reason] = (this.managerDrops[reason] ?? 0) + 1;
  }
}

/** Whether one of `claimants` names a session with these high 32 bits (a loop: no closure per datagram). */
function hasSessionHigh(claimants: readonly PeerLink[], high: number): boolean {
  for (let i = 0; i < claimants.length; i++) if (claimants[i].sessionHigh === high) return true;
  return false;
}

/**
 * A game's clock that cannot break a frame: a throw or a non-finite answer gives the last good
 * time, so runCallbacks/flush and dispose go on (time simply stands still until it recovers).
 */
function containedClock(clock: Clock): Clock {
  const now = clock.now;
  let last = 0;
  return {
    now: () => {
      try {
        const value = now.call(clock);
        if (typeof value === 'number' && Number.isFinite(value)) last = value;
      } catch {
        // keep the last good time
      }
      return last;
    },
  };
}

/** A game's logger that throws must not turn a warning into a crash (logs come from socket callbacks too). */
function containedLogger(logger: Logger): Logger {
  const info = logger.info;
  const warn = logger.warn;
  return {
    info: (message) => {
      try {
        info.call(logger, message);
      } catch {
        // a log line is not worth a crash
      }
    },
    warn: (message) => {
      try {
        warn.call(logger, message);
      } catch {
        // a log line is not worth a crash
      }
    },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

function isPeerId(value: unknown): value is PeerId {
  return typeof value === 'bigint' && value > 0n && value <= 0xffffffffffffffffn;
}

function isChannelId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_CHANNEL_ID;
}

function randomIncarnation(): bigint {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

export { defaultManagerLimits };
