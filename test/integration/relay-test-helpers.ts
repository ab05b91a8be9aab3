/** Shared pieces of the relay integration tests: raw UDP/WebSocket clients and registered RelayClients. */
import * as dgram from 'dgram';
import { WebSocket } from 'ws';
import { RelayClient, type RelayClientOptions, type RelayRegistration } from '../../plugin/net/transport/relay-client';
import {
  MIN_UDP_REGISTER_BYTES,
  decodeRelayDatagram,
  encodeRegister,
  type RegisteredDatagram,
  type RelayDatagram,
} from '../../plugin/net/wire/relay-codec';
import { waitFor } from '../helpers/wait';

export const quietLogger = { info: (): void => undefined, warn: (): void => undefined };

/** A logger that keeps its lines, for checks on what the relay or client said. */
export function recordingLogger(): { lines: string[]; info(message: string): void; warn(message: string): void } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m) };
}

/** Any datagram link a test drives by hand. */
export interface RawClient {
  readonly received: Uint8Array[];
  send(bytes: Uint8Array): void;
  /** The next datagram not yet taken by next(), waiting at most timeoutMs. */
  next(what: string, timeoutMs?: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

abstract class QueueClient {
  readonly received: Uint8Array[] = [];
  private taken = 0;

  async next(what: string, timeoutMs = 5000): Promise<Uint8Array> {
    await waitFor(what, () => this.received.length > this.taken, { timeoutMs });
    return this.received[this.taken++];
  }

  /** Decodes the next datagram (failing the test when it does not decode). */
  async nextDecoded(what: string, timeoutMs = 5000): Promise<RelayDatagram> {
    const bytes = await this.next(what, timeoutMs);
    const decoded = decodeRelayDatagram(bytes);
    if (!decoded.ok) throw new Error(`${what}: undecodable answer: ${decoded.error}`);
    return decoded.value;
  }
}

/** A plain UDP socket on 127.0.0.1 that records what it receives. */
export class RawUdpClient extends QueueClient implements RawClient {
  private constructor(private readonly socket: dgram.Socket, private readonly relayPort: number) {
    super();
    socket.on('message', (message) => this.received.push(new Uint8Array(message)));
  }

  static async open(relayPort: number): Promise<RawUdpClient> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind({ port: 0, address: '127.0.0.1' }, resolve));
    return new RawUdpClient(socket, relayPort);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Uint8Array): void {
    this.socket.send(bytes, this.relayPort, '127.0.0.1');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A plain WebSocket client that records binary messages. */
export class RawWsClient extends QueueClient implements RawClient {
  private constructor(private readonly ws: WebSocket) {
    super();
    ws.on('message', (data: Buffer) => this.received.push(new Uint8Array(data)));
  }

  static async open(url: string): Promise<RawWsClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawWsClient(ws);
  }

  send(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  sendText(text: string): void {
    this.ws.send(text);
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

let nonceCounter = 1;
export function testNonce(): Uint8Array {
  const nonce = new Uint8Array(8);
  new DataView(nonce.buffer).setUint32(4, nonceCounter++);
  return nonce;
}

/** Registers a raw client and returns the REGISTERED answer. */
export async function registerRaw(client: RawUdpClient | RawWsClient, token?: string): Promise<RegisteredDatagram> {
  const padToBytes = client instanceof RawUdpClient ? MIN_UDP_REGISTER_BYTES : 0;
  client.send(encodeRegister({ nonce: testNonce(), token, padToBytes }));
  const answer = await client.nextDecoded('REGISTERED');
  if (answer.kind !== 'registered') throw new Error(`expected REGISTERED, got ${answer.kind}`);
  return answer;
}

/** A started RelayClient that records what it was told. */
export interface RecordedClient {
  client: RelayClient;
  registrations: RelayRegistration[];
  unregistered: number;
  refusals: { reason: number; detail: string; final: boolean }[];
  data: { source: bigint; payload: Uint8Array }[];
}

export function startRecordedClient(options: RelayClientOptions): RecordedClient {
  const client = new RelayClient({ logger: quietLogger, ...options });
  const recorded: RecordedClient = { client, registrations: [], unregistered: 0, refusals: [], data: [] };
  client.onRegistered = (registration) => recorded.registrations.push(registration);
  client.onUnregistered = () => recorded.unregistered++;
  client.onRefused = (reason, detail, final) => recorded.refusals.push({ reason, detail, final });
  client.onData = (high, low, payload) => recorded.data.push({ source: (BigInt(high) << 32n) | BigInt(low), payload: payload.slice() });
  client.start();
  return recorded;
}

export async function registeredClient(options: RelayClientOptions): Promise<RecordedClient & { sessionId: bigint }> {
  const recorded = startRecordedClient(options);
  await waitFor(`RelayClient on ${options.url} to register`, () => recorded.registrations.length > 0, { timeoutMs: 5000 });
  return Object.assign(recorded, { sessionId: recorded.registrations[0].sessionId });
}

/** Deterministic payload bytes for message `index`. */
export function payloadFor(index: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (index * 31 + i * 7) & 0xff;
  return bytes;
}

/**
 * A bounded flood of idle WebSockets from 127.0.0.1, as an attacker would open them: it keeps
 * `concurrent` connections open or opening, never sends a byte on any, and opens a new one each
 * time one closes, until it has made `maxAttempts` in all. `stop()` closes everything.
 */
export class WsFlood {
  attempts = 0;
  opened = 0;
  closed = 0;
  readonly closeCodes = new Map<number, number>();
  private readonly live = new Set<WebSocket>();
  private stopped = false;

  constructor(private readonly url: string, private readonly concurrent: number, private readonly maxAttempts: number) {}

  /** Connections open right now (from this side). */
  get openNow(): number {
    let open = 0;
    for (const ws of this.live) if (ws.readyState === WebSocket.OPEN) open++;
    return open;
  }

  get exhausted(): boolean {
    return this.attempts >= this.maxAttempts;
  }

  start(): this {
    for (let i = 0; i < this.concurrent; i++) this.openOne();
    return this;
  }

  private openOne(): void {
    if (this.stopped || this.attempts >= this.maxAttempts) return;
    this.attempts++;
    const ws = new WebSocket(this.url);
    this.live.add(ws);
    ws.on('open', () => this.opened++);
    ws.on('error', () => undefined);
    ws.on('close', (code: number) => {
      this.closed++;
      this.closeCodes.set(code, (this.closeCodes.get(code) ?? 0) + 1);
      this.live.delete(ws);
      // Reopened on a later turn, so a relay that refuses at once cannot make this a tight loop.
      setImmediate(() => this.openOne());
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.live];
    for (const ws of all) ws.terminate();
    await waitFor('the flood connections to close', () => this.live.size === 0, { timeoutMs: 10_000 });
  }
}
