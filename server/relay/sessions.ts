/**
 * The relay's session table: by session id for forwarding, by UDP source address for sender
 * authentication. Lookups take numbers and strings the datagram handler already has, so the
 * per-datagram path allocates nothing (no BigInt, no "ip:port" string).
 */
import { randomFillSync } from 'crypto';
import type { WebSocket } from 'ws';
import type { InboundBudget } from './inbound-budget';
import type { RtcLink } from './webrtc';

/** One WebSocket client; it has at most one session at a time. */
export interface WsConnection {
  readonly ws: WebSocket;
  readonly ip: string;
  session: Session | null;
  registerTimer: ReturnType<typeof setTimeout> | null;
  /** When the relay began closing it (performance.now()), or null; one that lingers is terminated by the sweep. */
  closingSinceMs: number | null;
}

export interface Session {
  readonly id: bigint;
  readonly idHigh: number;
  readonly idLow: number;
  /** The id as 8 bytes, stamped into forwarded DATA. */
  readonly idBytes: Buffer;
  readonly secret: Buffer;
  /** The REGISTER nonce, so a repeated REGISTER gets the same answer. */
  readonly nonce: Buffer;
  readonly transport: 'udp' | 'ws';
  /** The client's IP, for logs and per-IP limits. */
  readonly ip: string;
  /** UDP: the bound source address; null once another session took it. */
  address: string | null;
  port: number;
  /** WebSocket sessions: their connection. */
  readonly connection: WsConnection | null;
  /** The REGISTERED answer, kept to repeat it. */
  registered: Buffer;
  lastSeenMs: number;
  datagramTokens: number;
  byteTokens: number;
  refilledAtMs: number;
  /** What sources may forward to this session, made on the first DATA to it and dropped when idle and full. */
  inbound: InboundBudget | null;
  /** WebSocket sessions: the WebRTC data channel bound to the session, when the client asked for one. */
  rtc: RtcLink | null;
  /** RTC_OFFERs this session has made (bounded per session). */
  rtcOffers: number;
}

export class SessionTable {
  /** By the low 32 bits of the id, which are kept unique among live sessions. */
  private readonly byIdLow = new Map<number, Session>();
  /** port → ip → session. */
  private readonly byAddress = new Map<number, Map<string, Session>>();
  private readonly idScratch = Buffer.alloc(8);
  private udp = 0;
  private ws = 0;

  get size(): number {
    return this.byIdLow.size;
  }

  get udpCount(): number {
    return this.udp;
  }

  get wsCount(): number {
    return this.ws;
  }

  findById(high: number, low: number): Session | undefined {
    const session = this.byIdLow.get(low);
    return session !== undefined && session.idHigh === high ? session : undefined;
  }

  findByAddress(address: string, port: number): Session | undefined {
    return this.byAddress.get(port)?.get(address);
  }

  /** A random non-zero id whose low 32 bits no live session uses. */
  allocateId(): { id: bigint; high: number; low: number; bytes: Buffer } {
    for (;;) {
      randomFillSync(this.idScratch);
      const high = this.idScratch.readUInt32BE(0);
      const low = this.idScratch.readUInt32BE(4);
      if ((high === 0 && low === 0) || this.byIdLow.has(low)) continue;
      return { id: (BigInt(high) << 32n) | BigInt(low), high, low, bytes: Buffer.from(this.idScratch) };
    }
  }

  add(session: Session): void {
    this.byIdLow.set(session.idLow, session);
    if (session.transport === 'udp') this.udp++;
    else this.ws++;
    if (session.address !== null) this.bind(session, session.address, session.port);
  }

  /** Binds a UDP session to an address; a session bound there before loses its binding. */
  bind(session: Session, address: string, port: number): void {
    this.unbind(session);
    let byIp = this.byAddress.get(port);
    if (byIp === undefined) {
      byIp = new Map();
      this.byAddress.set(port, byIp);
    }
    const previous = byIp.get(address);
    if (previous !== undefined && previous !== session) previous.address = null;
    byIp.set(address, session);
    session.address = address;
    session.port = port;
  }

  remove(session: Session): boolean {
    if (this.byIdLow.get(session.idLow) !== session) return false;
    this.byIdLow.delete(session.idLow);
    this.unbind(session);
    if (session.transport === 'udp') this.udp--;
    else this.ws--;
    return true;
  }

  values(): IterableIterator<Session> {
    return this.byIdLow.values();
  }

  private unbind(session: Session): void {
    if (session.address === null) return;
    const byIp = this.byAddress.get(session.port);
    if (byIp !== undefined && byIp.get(session.address) === session) {
      byIp.delete(session.address);
      if (byIp.size === 0) this.byAddress.delete(session.port);
    }
    session.address = null;
  }
}
