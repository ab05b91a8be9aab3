/**
 * The scene's NetworkManager as a plugin component: built from the plugin config, driven by the
 * receive and flush systems, and given the helpers gameplay scripts reach for. Its observables
 * complete as soon as the scene is disposed (the manager then leaves the relay in the background;
 * `whenDisposed()` waits for that).
 */
import { filter, Observable, ReplaySubject, takeUntil } from 'rxjs';
import type { PluginConfig } from '../manifest';
import type { Identity } from '../net/identity';
import { NetworkManager, type NetworkManagerOptions } from '../net/network-manager';
import { Result } from '../net/result';
import { consoleLogger, type Logger, type NetworkMessage, type PeerId, type PeerStateChange, type PeerStats } from '../net/types';
import type { MessageCodec } from './codecs';

/**
 * Manager options the plugin config does not carry (objects, test hooks, impairment). `token` here
 * (e.g. the function `() => lobby.relayToken`) takes precedence over `config.token`: short-lived
 * tokens need a function asked at every REGISTER, which a JSON config cannot hold.
 */
export type ExtraManagerOptions = Omit<NetworkManagerOptions, 'relay' | 'identity' | 'mtuBytes'>;

export interface NetworkManagerComponentOptions {
  config: PluginConfig;
  /** Long-term key pair; one is generated when absent (the peer id then changes every run). */
  identity?: Identity;
  managerOptions?: ExtraManagerOptions;
  logger?: Logger;
}

/** A message decoded with a codec. */
export interface DecodedMessage<T> {
  peerId: PeerId;
  channelId: number;
  value: T;
}

/** Undecodable messages logged per component before the rest are only counted. */
const LOGGED_DECODE_FAILURES = 5;

export class NetworkManagerComponent {
  /** The underlying manager, for anything the helpers below do not cover. */
  readonly manager: NetworkManager;
  readonly config: Readonly<PluginConfig>;
  /** Same as the manager's, but complete when the scene is disposed. */
  readonly message$: Observable<NetworkMessage>;
  readonly routeUpdate$: Observable<string>;
  readonly peerState$: Observable<PeerStateChange>;
  /** Emits once, then completes, when the component is disposed; replays to late subscribers. */
  readonly disposed$: Observable<void>;

  private readonly disposedSubject = new ReplaySubject<void>(1);
  private readonly logger: Logger;
  /** Peers last reported `connected`; pruned against the manager's own state when read. */
  private readonly connected = new Set<PeerId>();
  private decodeFailureCount = 0;
  private disposal: Promise<void> | null = null;

  constructor(options: NetworkManagerComponentOptions) {
    this.config = options.config;
    this.logger = options.logger ?? options.managerOptions?.logger ?? consoleLogger;
    this.manager = new NetworkManager({
      ...options.managerOptions,
      relay: options.config.relay,
      token: options.managerOptions?.token ?? options.config.token ?? undefined,
      identity: options.identity,
      mtuBytes: options.config.mtuBytes,
      logger: this.logger,
    });
    this.disposed$ = this.disposedSubject.asObservable();
    this.message$ = this.manager.message$.pipe(takeUntil(this.disposedSubject));
    this.routeUpdate$ = this.manager.routeUpdate$.pipe(takeUntil(this.disposedSubject));
    this.peerState$ = this.manager.peerState$.pipe(takeUntil(this.disposedSubject));
    this.peerState$.subscribe(({ peerId, state }) => {
      if (state === 'connected') this.connected.add(peerId);
      else this.connected.delete(peerId);
    });
  }

  get isDisposed(): boolean {
    return this.disposal !== null;
  }

  /** Undecodable messages dropped by decodedOn() so far. */
  get decodeFailures(): number {
    return this.decodeFailureCount;
  }

  getPeerId(): PeerId {
    return this.manager.getPeerId();
  }

  getRoute(): string | null {
    return this.manager.getRoute();
  }

  openPeer(peerId: PeerId, route: string): Result {
    return this.manager.openPeer(peerId, route);
  }

  updatePeer(peerId: PeerId, route: string): Result {
    return this.manager.updatePeer(peerId, route);
  }

  closePeer(peerId: PeerId): Result {
    this.connected.delete(peerId);
    return this.manager.closePeer(peerId);
  }

  openChannel(peerId: PeerId, channelId: number, reliable: boolean): Result {
    return this.manager.openChannel(peerId, channelId, reliable);
  }

  closeChannel(peerId: PeerId, channelId: number): Result {
    return this.manager.closeChannel(peerId, channelId);
  }

  sendMessage(peerId: PeerId, channelId: number, data: Uint8Array): Result {
    return this.manager.sendMessage(peerId, channelId, data);
  }

  getPeerStats(peerId: PeerId): PeerStats | undefined {
    return this.manager.getPeerStats(peerId);
  }

  /**
   * Opens the peer and every channel of `config.channels` on it. Returns the first result that is
   * not Ok (the peer stays open if a channel failed), else Ok.
   */
  connectPeer(peerId: PeerId, route: string): Result {
    const opened = this.manager.openPeer(peerId, route);
    if (opened !== Result.Ok) return opened;
    for (const channel of this.config.channels) {
      const result = this.manager.openChannel(peerId, channel.id, channel.reliable);
      if (result !== Result.Ok) return result;
    }
    return Result.Ok;
  }

  /** Peers whose state is `connected` right now. */
  connectedPeers(): PeerId[] {
    const peers: PeerId[] = [];
    for (const peerId of this.connected) {
      if (this.manager.getPeerStats(peerId)?.state === 'connected') peers.push(peerId);
      else this.connected.delete(peerId);
    }
    return peers;
  }

  /** Queues `data` to every connected peer on `channelId`; returns how many accepted it (Ok). */
  broadcast(channelId: number, data: Uint8Array): number {
    let accepted = 0;
    for (const peerId of this.connectedPeers()) {
      if (this.manager.sendMessage(peerId, channelId, data) === Result.Ok) accepted++;
    }
    return accepted;
  }

  /** Encodes `value` with `codec` and sends it. Encoding errors (bad values) throw. */
  send<T>(peerId: PeerId, channelId: number, codec: MessageCodec<T>, value: T): Result {
    return this.manager.sendMessage(peerId, channelId, codec.encode(value));
  }

  /** Messages of one channel. */
  messagesOn(channelId: number): Observable<NetworkMessage> {
    checkChannelId(channelId);
    return this.message$.pipe(filter((m) => m.channelId === channelId));
  }

  /** Messages of one peer. */
  messagesFrom(peerId: PeerId): Observable<NetworkMessage> {
    if (typeof peerId !== 'bigint') throw new TypeError(`messagesFrom: peerId: expected a bigint, got ${typeof peerId}`);
    return this.message$.pipe(filter((m) => m.peerId === peerId));
  }

  /** Messages of one channel decoded with `codec`; undecodable ones are dropped, counted and logged (a few). */
  decodedOn<T>(channelId: number, codec: MessageCodec<T>): Observable<DecodedMessage<T>> {
    return new Observable<DecodedMessage<T>>((subscriber) =>
      this.messagesOn(channelId).subscribe({
        next: (message) => {
          const decoded = codec.decode(message.data);
          if (decoded.ok) subscriber.next({ peerId: message.peerId, channelId: message.channelId, value: decoded.value });
          else this.noteDecodeFailure(message, decoded.error);
        },
        complete: () => subscriber.complete(),
      }),
    );
  }

  /**
   * Completes the observables at once and disposes the manager (closing peers, leaving the relay).
   * Idempotent; the host calls it when the scene is disposed.
   */
  dispose(): void {
    if (this.disposal) return;
    this.disposal = this.manager.dispose().catch((error: unknown) => {
      this.logger.warn(`disposing the NetworkManager failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    this.connected.clear();
    this.disposedSubject.next();
    this.disposedSubject.complete();
  }

  /** Resolves once dispose() has run and the manager has closed its peers and left the relay. */
  whenDisposed(): Promise<void> {
    if (this.disposal) return this.disposal;
    return new Promise((resolve) => {
      this.disposedSubject.subscribe({ complete: () => void this.disposal?.then(resolve) });
    });
  }

  private noteDecodeFailure(message: NetworkMessage, error: string): void {
    this.decodeFailureCount++;
    if (this.decodeFailureCount <= LOGGED_DECODE_FAILURES) {
      const more = this.decodeFailureCount === LOGGED_DECODE_FAILURES ? ' (further failures are only counted)' : '';
      this.logger.warn(`dropped an undecodable message from peer ${message.peerId} on channel ${message.channelId}: ${error}${more}`);
    }
  }
}

function checkChannelId(channelId: number): void {
  if (!Number.isInteger(channelId) || channelId < 0 || channelId > 127) throw new RangeError(`channelId: expected an integer 0..127, got ${channelId}`);
}
