/**
 * The relay core's session table: by session id for forwarding, by UDP source address for sender
 * authentication. Lookups take numbers and strings the datagram handler already has, so the
 * per-datagram path allocates nothing (no BigInt, no "ip:port" string). No Node imports: the
 * randomness for ids comes from the caller.
 */
import type { InboundBudget } from './inbound-budget';

/** A stream connection (a WebSocket, or a memory socket standing for one): at most one session at a time. */
export interface CoreConnection<S> {
  readonly ip: string;
  session: S | null;
}

export interface CoreSession<C> {
  readonly id: bigint;
  readonly idHigh: number;
  readonly idLow: number;
  /** The session secret's record in the core's SessionSecretPool (a handle, not bytes: no view per session). */
  readonly secretHandle: number;
  /** The REGISTER nonce, so a repeated REGISTER gets the same answer. */
  readonly nonce: bigint;
  readonly transport: 'udp' | 'ws';
  /** The client's IP, for logs and per-IP limits. */
  readonly ip: string;
  /** UDP: the bound source address; null once another session took it. */
  address: string | null;
  port: number;
  /** Stream sessions: their connection. */
  readonly connection: C | null;
  lastSeenMs: number;
  datagramTokens: number;
  byteTokens: number;
  refilledAtMs: number;
  /** What sources may forward to this session, made on the first DATA to it and dropped when idle and full. */
  inbound: InboundBudget | null;
}

export interface SessionId {
  id: bigint;
  high: number;
  low: number;
}

/** Bits at the top of a session id that name its relay in a fleet (PROTOCOL.md §3.13): relay numbers 1..4095. */
export const RELAY_NUMBER_BITS = 12;
export const MAX_FLEET_RELAY_NUMBER = (1 << RELAY_NUMBER_BITS) - 1;
const RELAY_NUMBER_SHIFT = 32 - RELAY_NUMBER_BITS;

/** The relay number a session id's high 32 bits carry (0: none — not a fleet session). */
export function relayNumberOfIdHigh(high: number): number {
  return high >>> RELAY_NUMBER_SHIFT;
}

/** Draws before allocateId gives up: with at most millions of sessions among 2^32 low halves, reaching it means a broken generator. */
const MAX_ID_DRAWS = 64;

export class SessionTable<S extends CoreSession<unknown>> {
  /** By the low 32 bits of the id, which are kept unique among live sessions. Insertion order: oldest first. */
  private readonly byIdLow = new Map<number, S>();
  /**
   * port → the one session bound there, or ip → session when several addresses share the port.
   * Most ports have one session: no Map per session for them.
   */
  private readonly byAddress = new Map<number, S | Map<string, S>>();
  private udp = 0;
  private ws = 0;

  /**
   * A fleet relay stamps its relay number into the top 12 bits of every new id, so any relay of the
   * fleet knows from the id alone where the session lives; 0 while a fleet relay has no number yet
   * (ids that name no relay). Null: a standalone relay, ids fully random.
   */
  private relayNumber: number | null = null;

  private readonly idScratch = new Uint8Array(8);
  private readonly idScratchView = new DataView(this.idScratch.buffer);

  constructor(private readonly randomFill: (bytes: Uint8Array) => void) {}

  setRelayNumber(relayNumber: number | null): void {
    if (relayNumber !== null && !(Number.isInteger(relayNumber) && relayNumber >= 0 && relayNumber <= MAX_FLEET_RELAY_NUMBER)) {
      throw new RangeError(`relay number must be an integer in 0..${MAX_FLEET_RELAY_NUMBER}, got ${relayNumber}`);
    }
    this.relayNumber = relayNumber;
  }

  get size(): number {
    return this.byIdLow.size;
  }

  get udpCount(): number {
    return this.udp;
  }

  get wsCount(): number {
    return this.ws;
  }

  findById(high: number, low: number): S | undefined {
    const session = this.byIdLow.get(low);
    return session !== undefined && session.idHigh === high ? session : undefined;
  }

  findByAddress(address: string, port: number): S | undefined {
    const entry = this.byAddress.get(port);
    if (entry === undefined) return undefined;
    if (entry instanceof Map) return entry.get(address);
    return entry.address === address ? entry : undefined;
  }

  /** A random non-zero id whose low 32 bits no live session uses. */
  allocateId(): SessionId {
    for (let draw = 0; draw < MAX_ID_DRAWS; draw++) {
      const bytes = this.idScratch;
      this.randomFill(bytes);
      const view = this.idScratchView;
      if (this.relayNumber !== null) {
        view.setUint32(0, ((this.relayNumber << RELAY_NUMBER_SHIFT) | (view.getUint32(0) & ((1 << RELAY_NUMBER_SHIFT) - 1))) >>> 0);
      }
      const high = view.getUint32(0);
      const low = view.getUint32(4);
      if ((high === 0 && low === 0) || this.byIdLow.has(low)) continue;
      return { id: (BigInt(high) << 32n) | BigInt(low), high, low };
    }
    throw new Error(`relay core: no free session id after ${MAX_ID_DRAWS} draws (is the random source broken?)`);
  }

  add(session: S): void {
    this.byIdLow.set(session.idLow, session);
    if (session.transport === 'udp') this.udp++;
    else this.ws++;
    if (session.address !== null) this.bind(session, session.address, session.port);
  }

  /** Binds a UDP session to an address; a session bound there before loses its binding. */
  bind(session: S, address: string, port: number): void {
    this.unbind(session);
    const entry = this.byAddress.get(port);
    if (entry === undefined) {
      this.byAddress.set(port, session);
    } else if (entry instanceof Map) {
      const previous = entry.get(address);
      if (previous !== undefined && previous !== session) previous.address = null;
      entry.set(address, session);
    } else if (entry.address === address) {
      // The address's earlier session loses it (it keeps its id until its owner rebinds).
      entry.address = null;
      this.byAddress.set(port, session);
    } else {
      this.byAddress.set(port, new Map([[entry.address as string, entry], [address, session]]));
    }
    session.address = address;
    session.port = port;
  }

  remove(session: S): boolean {
    if (this.byIdLow.get(session.idLow) !== session) return false;
    this.byIdLow.delete(session.idLow);
    this.unbind(session);
    if (session.transport === 'udp') this.udp--;
    else this.ws--;
    return true;
  }

  values(): IterableIterator<S> {
    return this.byIdLow.values();
  }

  private unbind(session: S): void {
    if (session.address === null) return;
    const entry = this.byAddress.get(session.port);
    if (entry === session) {
      this.byAddress.delete(session.port);
    } else if (entry instanceof Map && entry.get(session.address) === session) {
      entry.delete(session.address);
      // Back to one session: store it directly again.
      if (entry.size === 1) this.byAddress.set(session.port, entry.values().next().value as S);
      else if (entry.size === 0) this.byAddress.delete(session.port);
    }
    session.address = null;
  }
}
