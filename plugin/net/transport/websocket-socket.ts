/**
 * The WebSocket link: one binary message per datagram. Uses the platform's WebSocket (browsers,
 * newer Node) and falls back to the 'ws' package, loaded only then so a browser bundle leaves it out.
 */
import type { DatagramSocket } from './datagram-socket';
import { loadNodeModule } from './node-require';

/** The part of the WHATWG WebSocket this link uses (the 'ws' package implements it too). */
interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code?: number; reason?: string }) => void) | null;
  onerror: ((event: { message?: unknown; error?: unknown }) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  terminate?: () => void;
}
type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;
/** Past this many bytes waiting in the WebSocket's send buffer, datagrams are dropped, as a congested UDP path would. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1 << 20;
/** How long close() waits for the closing handshake before it tears the connection down. */
const CLOSE_WAIT_MS = 1000;

function webSocketConstructor(): WebSocketConstructor {
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof native === 'function') return native;
  const wsModule = loadNodeModule<{ WebSocket?: WebSocketConstructor } & WebSocketConstructor>('ws');
  if (wsModule === null) throw new Error('no WebSocket implementation: this runtime has no global WebSocket and cannot load the "ws" package');
  return wsModule.WebSocket ?? wsModule;
}

export class WebSocketDatagramSocket implements DatagramSocket {
  onOpen: (() => void) | null = null;
  onMessage: ((datagram: Uint8Array) => void) | null = null;
  onClose: ((reason: string) => void) | null = null;
  /** Datagrams dropped because the send buffer was over its bound. */
  droppedSends = 0;

  private readonly socket: WebSocketLike;
  private opened = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private resolveClosed: (() => void) | null = null;
  /** The cause the runtime gave (ECONNREFUSED, ENOTFOUND…), for the close reason. */
  private lastError: string | null = null;

  constructor(url: string, private readonly maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES) {
    const Constructor = webSocketConstructor();
    this.socket = new Constructor(url);
    this.socket.binaryType = 'arraybuffer';
    this.socket.onopen = () => {
      if (this.closed) return;
      this.opened = true;
      this.onOpen?.();
    };
    this.socket.onmessage = (event) => {
      if (this.closed) return;
      const data = event.data;
      if (data instanceof ArrayBuffer) this.onMessage?.(new Uint8Array(data));
      // Text messages are not datagrams; the relay never sends them.
    };
    this.socket.onerror = (event) => {
      // Always followed by onclose, which reports; browsers give no cause, Node's 'ws' does.
      const message = event?.message ?? (event?.error instanceof Error ? event.error.message : undefined);
      if (typeof message === 'string' && message.length > 0) this.lastError = message.slice(0, 200);
    };
    this.socket.onclose = (event) => {
      this.resolveClosed?.();
      if (this.closed) return;
      this.closed = true;
      const reason = this.opened
        ? `websocket closed (code ${event.code ?? 'none'}${event.reason ? `, ${event.reason}` : ''})`
        : `websocket could not connect${this.lastError !== null ? ` (${this.lastError})` : ''}`;
      this.onClose?.(reason);
    };
  }

  send(datagram: Uint8Array): void {
    if (this.closed || this.socket.readyState !== OPEN) return;
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.droppedSends++;
      return;
    }
    this.socket.send(datagram);
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    const wasClosed = this.closed;
    this.closed = true;
    this.closing = new Promise<void>((resolve) => {
      if (wasClosed || this.socket.readyState === 3 /* CLOSED */) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        this.socket.terminate?.();
        resolve();
      }, CLOSE_WAIT_MS);
      this.resolveClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      try {
        this.socket.close(1000, 'closed by client');
      } catch {
        clearTimeout(timer);
        this.socket.terminate?.();
        resolve();
      }
    });
    return this.closing;
  }
}
