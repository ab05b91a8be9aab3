/**
 * The relay-to-relay link of a fleet (PROTOCOL.md §3.13): one UDP socket per relay, FLEET_DATA
 * only. Whom to send to and whom to believe comes from the fleet directory (refreshed each
 * heartbeat, kept through a Redis outage), never from a datagram: a datagram is accepted only from
 * a relay number the directory lists, with that entry's incarnation, a valid tag under the fleet
 * key, a counter not seen before, and within that relay's rate. Everything else is dropped and
 * counted. Tables are bounded by the directory's size (at most 4,095 relays).
 */
import type * as dgram from 'dgram';
import { ReplayWindow } from '../../plugin/net/crypto/replay-window';
import type { FleetSendOutcome } from '../../plugin/net/relay-core/relay-core';
import { TokenBucket } from '../../plugin/net/relay-core/rate-limit';
import { createUdpSocket } from '../relay/udp-socket';
import { FLEET_INCARNATION_BYTES, FleetBatch, fleetLinkKey, fleetTagValid, forEachFleetRecord, readFleetHeader } from './fleet-datagram';

export const FLEET_LINK_DROP_REASONS = [
  /** Not FLEET_DATA of this version, too short or too long, or (once authenticated) records that do not fill it exactly. */
  'malformed',
  /** A relay number the directory does not list, or an incarnation other than its entry's (a relay that restarted, or a forgery). */
  'unknownRelay',
  /** The tag does not verify under the fleet key (wrong secret, or altered). */
  'badTag',
  /** A counter already seen, or older than the replay window. */
  'replayed',
  /** Over the sending relay's datagram rate. */
  'rateLimited',
] as const;
export type FleetLinkDropReason = (typeof FLEET_LINK_DROP_REASONS)[number];

export interface FleetLinkStats {
  /** FLEET_DATA sent to other relays. */
  sent: number;
  /** Client datagrams (records) they carried. */
  sentRecords: number;
  /** FLEET_DATA received, any. */
  received: number;
  /** Authenticated FLEET_DATA whose records were handed to the relay for delivery. */
  accepted: number;
  acceptedRecords: number;
  /** Relays the link knows (from the directory). */
  peers: number;
  drops: Record<FleetLinkDropReason, number>;
}

/** A relay of the fleet as the directory lists it. */
export interface FleetLinkPeer {
  relayNumber: number;
  /** The directory entry's id, whose first 8 bytes are the relay's incarnation. */
  id: string;
  host: string;
  port: number;
}

interface KnownRelay {
  host: string;
  port: number;
  incarnation: Buffer;
  replay: ReplayWindow;
  rate: TokenBucket;
  /** Records waiting for the end of this event-loop turn; null when none. */
  batch: FleetBatch | null;
}

/** FLEET_DATA per second one relay may send to another (a fleet relay forwards ~50,000 client datagrams/s a core, several per FLEET_DATA). */
export const DEFAULT_FLEET_LINK_DATAGRAMS_PER_SECOND = 200_000;
/** Bytes libuv may hold for the link socket; past it FLEET_DATA is dropped (`backpressure`). */
const MAX_SEND_QUEUE_BYTES = 4 << 20;

export function incarnationOf(id: string): Buffer {
  const bytes = Buffer.from(id.slice(0, FLEET_INCARNATION_BYTES * 2), 'hex');
  if (bytes.length !== FLEET_INCARNATION_BYTES) throw new RangeError(`fleet entry id must start with ${FLEET_INCARNATION_BYTES * 2} hex digits`);
  return bytes;
}

export interface FleetLinkOptions {
  host: string;
  /** 0: any free port (default). */
  port?: number;
  secret: string;
  /** This relay's directory entry id (its incarnation is the first 8 bytes). */
  selfId: string;
  datagramsPerSecond?: number;
  /** One authenticated record: the client delivery (0x83 ‖ source ‖ payload, a view) for session destinationHigh·2^32 + destinationLow. */
  onRecord: (destinationHigh: number, destinationLow: number, sourceLow: number, delivery: Uint8Array, now: number) => void;
  now?: () => number;
}

export class FleetLink {
  private readonly key: Buffer;
  private readonly incarnation: Buffer;
  private readonly relays = new Map<number, KnownRelay>();
  private relayNumber = 0;
  private counter = 0;
  private readonly rate: number;
  private readonly now: () => number;
  /** Relays with records waiting, flushed once at the end of the event-loop turn. */
  private readonly waiting: KnownRelay[] = [];
  private flushScheduled: ReturnType<typeof setImmediate> | null = null;
  private recordNow = 0;
  private readonly counters: Omit<FleetLinkStats, 'peers'> = {
    sent: 0,
    sentRecords: 0,
    received: 0,
    accepted: 0,
    acceptedRecords: 0,
    drops: { malformed: 0, unknownRelay: 0, badTag: 0, replayed: 0, rateLimited: 0 },
  };
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly host: string,
    readonly port: number,
    private readonly options: FleetLinkOptions,
  ) {
    this.key = fleetLinkKey(options.secret);
    this.incarnation = incarnationOf(options.selfId);
    this.rate = options.datagramsPerSecond ?? DEFAULT_FLEET_LINK_DATAGRAMS_PER_SECOND;
    this.now = options.now ?? (() => performance.now());
    socket.on('message', this.onMessage);
    socket.on('error', () => undefined);
  }

  static async bind(options: FleetLinkOptions): Promise<FleetLink> {
    const socket = createUdpSocket(options.host);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: options.port ?? 0, address: options.host }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    try {
      socket.setRecvBufferSize(4 << 20);
      socket.setSendBufferSize(4 << 20);
    } catch {
      // The kernel caps buffer sizes; the defaults still work.
    }
    return new FleetLink(socket, options.host, socket.address().port, options);
  }

  /** This relay's number (0 while it has none: it then sends nothing, having no number to be believed under). */
  setRelayNumber(relayNumber: number | null): void {
    this.relayNumber = relayNumber ?? 0;
  }

  /** The directory's members (others only). A relay whose entry changed incarnation starts a new replay window. */
  setPeers(peers: readonly FleetLinkPeer[]): void {
    const seen = new Set<number>();
    for (const peer of peers) {
      let incarnation: Buffer;
      try {
        incarnation = incarnationOf(peer.id);
      } catch {
        continue;
      }
      seen.add(peer.relayNumber);
      const known = this.relays.get(peer.relayNumber);
      if (known !== undefined && known.incarnation.equals(incarnation)) {
        known.host = peer.host;
        known.port = peer.port;
        continue;
      }
      this.relays.set(peer.relayNumber, {
        host: peer.host,
        port: peer.port,
        incarnation,
        replay: new ReplayWindow(),
        rate: new TokenBucket(this.rate, this.rate, this.now()),
        batch: null,
      });
    }
    for (const relayNumber of [...this.relays.keys()]) if (!seen.has(relayNumber)) this.relays.delete(relayNumber);
  }

  /**
   * Client DATA (0x03 ‖ destination ‖ payload) for a session of relay `relayNumber`: copied into
   * that relay's batch, which goes out at the end of this event-loop turn (or at once when full).
   */
  send(relayNumber: number, data: Uint8Array, sourceIdBytes: Uint8Array): FleetSendOutcome {
    const relay = this.relays.get(relayNumber);
    if (relay === undefined || this.relayNumber === 0 || this.closed) return 'unknownRelay';
    if (this.socket.getSendQueueSize() > MAX_SEND_QUEUE_BYTES) return 'backpressure';
    let batch = relay.batch;
    if (batch === null) {
      batch = relay.batch = new FleetBatch({ relayNumber: this.relayNumber, incarnation: this.incarnation });
      this.waiting.push(relay);
    } else if (!batch.append(data, sourceIdBytes)) {
      // Full: out now; the relay is in `waiting` already for the new batch.
      this.sendBatch(relay, batch);
      batch = relay.batch = new FleetBatch({ relayNumber: this.relayNumber, incarnation: this.incarnation });
    } else {
      return 'ok';
    }
    batch.append(data, sourceIdBytes);
    this.flushScheduled ??= setImmediate(this.flush);
    return 'ok';
  }

  /** Sends every waiting batch (the end of the event-loop turn that filled them). */
  private readonly flush = (): void => {
    this.flushScheduled = null;
    for (const relay of this.waiting) if (relay.batch !== null) this.sendBatch(relay, relay.batch);
    this.waiting.length = 0;
  };

  private sendBatch(relay: KnownRelay, batch: FleetBatch): void {
    relay.batch = null;
    if (this.closed || batch.records === 0) return;
    // A fresh buffer per batch: the socket may still hold this one after send() returns.
    this.socket.send(batch.seal(this.key, this.counter++), relay.port, relay.host);
    this.counters.sent++;
    this.counters.sentRecords += batch.records;
  }

  stats(): FleetLinkStats {
    return { ...this.counters, drops: { ...this.counters.drops }, peers: this.relays.size };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    this.flushScheduled = null;
    this.waiting.length = 0;
    this.relays.clear();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private readonly onMessage = (datagram: Buffer): void => {
    this.counters.received++;
    const drops = this.counters.drops;
    const header = readFleetHeader(datagram);
    if (header === null) {
      drops.malformed++;
      return;
    }
    const relay = this.relays.get(header.relayNumber);
    if (relay === undefined || !relay.incarnation.equals(header.incarnation)) {
      drops.unknownRelay++;
      return;
    }
    if (!fleetTagValid(this.key, datagram)) {
      drops.badTag++;
      return;
    }
    // Marked only once authenticated, so a forgery never moves the window.
    if (!relay.replay.check(header.counter)) {
      drops.replayed++;
      return;
    }
    relay.replay.mark(header.counter);
    const now = this.now();
    if (!relay.rate.take(now)) {
      drops.rateLimited++;
      return;
    }
    this.recordNow = now;
    if (!forEachFleetRecord(datagram, this.onRecord)) {
      drops.malformed++;
      return;
    }
    this.counters.accepted++;
  };

  private readonly onRecord = (destinationHigh: number, destinationLow: number, sourceLow: number, delivery: Uint8Array): void => {
    this.counters.acceptedRecords++;
    this.options.onRecord(destinationHigh, destinationLow, sourceLow, delivery, this.recordNow);
  };
}
