/**
 * The browser's datagram link: it starts on the WebSocket to the relay, and once the relay has
 * registered a session it asks, over that WebSocket, for a WebRTC data channel bound to the same
 * session (PROTOCOL.md §3.12). The channel is unordered with no retransmissions, so a
 * lost packet no longer holds back the ones behind it. When the channel opens, DATA goes over it;
 * control datagrams (REGISTER, KEEPALIVE, LEAVE) and the signalling stay on the WebSocket, and
 * datagrams are received from both. When WebRTC is missing, blocked, refused or too slow, DATA
 * stays on (or goes back to) the WebSocket — unless the link was made with mode 'webrtc', which
 * then closes the link with the reason, so the relay client reconnects and tries again.
 *
 * One relay datagram per data-channel message, as over the WebSocket: the manager already packs a
 * frame's messages into MTU-sized datagrams per flush, so there is nothing left to batch.
 */
import { consoleLogger, type Logger } from '../types';
import {
  MAX_SDP_BYTES,
  RelayType,
  RtcAnswerStatus,
  RtcSignalType,
  decodeRtcSignal,
  encodeRtcClose,
  encodeRtcOffer,
} from '../wire/relay-codec';
import type { DatagramSocket, LinkKind } from './datagram-socket';
import { WebSocketDatagramSocket } from './websocket-socket';

/** The parts of RTCDataChannel this link uses (browsers, and node-datachannel's polyfill in tests). */
export interface RtcDataChannelLike {
  binaryType: string;
  readonly readyState: string;
  readonly bufferedAmount: number;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  send(data: Uint8Array): void;
  close(): void;
}

/** The parts of RTCPeerConnection this link uses. */
export interface RtcPeerConnectionLike {
  readonly iceGatheringState: string;
  readonly connectionState: string;
  readonly localDescription: { sdp: string } | null;
  onicegatheringstatechange: ((event: unknown) => void) | null;
  onconnectionstatechange: ((event: unknown) => void) | null;
  createDataChannel(label: string, init: { ordered: boolean; maxRetransmits: number }): RtcDataChannelLike;
  createOffer(): Promise<{ type: string; sdp?: string }>;
  setLocalDescription(description: { type: string; sdp?: string }): Promise<void>;
  setRemoteDescription(description: { type: 'answer'; sdp: string }): Promise<void>;
  close(): void;
  getStats?(): Promise<{ forEach(callback: (report: Record<string, unknown>) => void): void }>;
}

export type RtcPeerConnectionConstructor = new (configuration: { iceServers: never[] }) => RtcPeerConnectionLike;

/** The runtime's RTCPeerConnection, or null (Node, or a page that removed or blocks it). */
export function rtcPeerConnectionConstructor(): RtcPeerConnectionConstructor | null {
  const candidate = (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection;
  return typeof candidate === 'function' ? (candidate as RtcPeerConnectionConstructor) : null;
}

export interface WebRtcSocketOptions {
  /** 'auto': fall back to the WebSocket; 'webrtc': DATA only over the data channel, close the link when it cannot be had. */
  mode: 'auto' | 'webrtc';
  logger?: Logger;
  /** From the start of an attempt to an open channel, at most (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Past this many bytes waiting in the channel, DATA is dropped as a congested path would (default 256 KiB). */
  maxBufferedBytes?: number;
  /** Defaults to the runtime's RTCPeerConnection. */
  peerConnection?: RtcPeerConnectionConstructor | null;
  /** Makes the WebSocket link (default WebSocketDatagramSocket). */
  webSocketFactory?: (url: string) => DatagramSocket;
}

export const DEFAULT_RTC_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_RTC_BUFFERED_BYTES = 256 * 1024;
/** Attempts per link at most, and the wait before a retry (times the attempt number). Only busy, failed, timed-out and closed attempts are retried. */
const MAX_ATTEMPTS = 3;
const RETRY_DELAY_MS = 2000;
const CHANNEL_LABEL = 'switchboard';

type Phase = 'idle' | 'offering' | 'connecting' | 'open' | 'waiting' | 'given-up' | 'closed';

const STATUS_NAMES: Record<number, string> = {
  [RtcAnswerStatus.Unavailable]: 'unavailable on the relay',
  [RtcAnswerStatus.Busy]: 'relay busy',
  [RtcAnswerStatus.Refused]: 'refused by the relay',
  [RtcAnswerStatus.Failed]: 'failed on the relay',
};

/**
 * Keeps only what the relay needs from an offer: the client's ICE candidates are removed (the
 * relay learns the client's address from its connectivity checks, and never sees its private
 * addresses), and the connection line and port become the trickle placeholders.
 */
export function stripOfferCandidates(sdp: string): string {
  const lines = sdp.split(/\r?\n/).filter((line) => line.length > 0 && !line.startsWith('a=candidate:') && !line.startsWith('a=end-of-candidates'));
  return `${lines
    .map((line) => {
      if (line.startsWith('c=IN IP4 ') || line.startsWith('c=IN IP6 ')) return 'c=IN IP4 0.0.0.0';
      if (line.startsWith('m=application ')) return line.replace(/^m=application \d+/, 'm=application 9');
      return line;
    })
    .join('\r\n')}\r\n`;
}

export class WebRtcDatagramSocket implements DatagramSocket {
  onOpen: (() => void) | null = null;
  onMessage: ((datagram: Uint8Array) => void) | null = null;
  onClose: ((reason: string) => void) | null = null;
  /** Fires when DATA moves between the WebSocket and the data channel. */
  onLinkChange: ((kind: LinkKind, reason: string) => void) | null = null;
  /** DATA dropped: channel buffer over its bound, or (mode 'webrtc') no channel open yet. */
  droppedSends = 0;

  private readonly inner: DatagramSocket;
  private readonly mode: 'auto' | 'webrtc';
  private readonly logger: Logger;
  private readonly connectTimeoutMs: number;
  private readonly maxBufferedBytes: number;
  private readonly PeerConnection: RtcPeerConnectionConstructor | null;

  private phase: Phase = 'idle';
  private kind: LinkKind = 'websocket';
  private sessionId: bigint | null = null;
  private attempts = 0;
  private attempt = 0;
  private pc: RtcPeerConnectionLike | null = null;
  private channel: RtcDataChannelLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /** The last attempt's offer and answer (diagnostics: tests check the candidates in them). */
  private sdp: { offer: string | null; answer: string | null } = { offer: null, answer: null };

  constructor(private readonly url: string, options: WebRtcSocketOptions) {
    this.mode = options.mode;
    this.logger = options.logger ?? consoleLogger;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_RTC_CONNECT_TIMEOUT_MS;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_RTC_BUFFERED_BYTES;
    this.PeerConnection = options.peerConnection !== undefined ? options.peerConnection : rtcPeerConnectionConstructor();
    if (this.PeerConnection === null && this.mode === 'webrtc') throw new Error('transport "webrtc" needs RTCPeerConnection, which this runtime does not have');
    this.inner = (options.webSocketFactory ?? ((u: string) => new WebSocketDatagramSocket(u)))(url);
    this.inner.onOpen = () => this.onOpen?.();
    this.inner.onMessage = (datagram) => {
      if (datagram.length > 0 && datagram[0] === RtcSignalType.Answer) this.answer(datagram);
      else this.onMessage?.(datagram);
    };
    this.inner.onClose = (reason) => {
      if (this.closed) return;
      this.closed = true;
      this.teardown();
      this.phase = 'closed';
      this.onClose?.(reason);
    };
  }

  get linkKind(): LinkKind {
    return this.kind;
  }

  /** The SDPs of the latest attempt: the offer as sent to the relay and the relay's answer. */
  get lastSdp(): { offer: string | null; answer: string | null } {
    return { ...this.sdp };
  }

  /**
   * The addresses of the ICE candidate pair the data channel uses, from the runtime's getStats()
   * (diagnostics: the browser tests check both are 127.0.0.1); null without an open channel.
   */
  async selectedCandidatePair(): Promise<{ local: string; remote: string } | null> {
    const pc = this.pc;
    if (pc === null || this.phase !== 'open' || typeof pc.getStats !== 'function') return null;
    const reports = new Map<string, Record<string, unknown>>();
    (await pc.getStats()).forEach((report) => reports.set(String(report.id), report));
    let pairId: string | null = null;
    for (const report of reports.values()) {
      if (report.type === 'transport' && typeof report.selectedCandidatePairId === 'string') pairId = report.selectedCandidatePairId;
    }
    if (pairId === null) {
      for (const report of reports.values()) if (report.type === 'candidate-pair' && report.nominated === true && report.state === 'succeeded') pairId = String(report.id);
    }
    const pair = pairId !== null ? reports.get(pairId) : undefined;
    if (pair === undefined) return null;
    const address = (id: unknown): string => {
      const candidate = reports.get(String(id));
      return String(candidate?.address ?? candidate?.ip ?? 'unknown');
    };
    return { local: address(pair.localCandidateId), remote: address(pair.remoteCandidateId) };
  }

  sessionRegistered(sessionId: bigint): void {
    if (this.closed || this.sessionId !== null) return;
    this.sessionId = sessionId;
    if (this.PeerConnection === null) {
      this.phase = 'given-up';
      this.logger.info(`relay ${this.url}: no RTCPeerConnection in this runtime; DATA stays on the WebSocket`);
      return;
    }
    void this.start();
  }

  send(datagram: Uint8Array): void {
    if (this.closed) return;
    if (datagram[0] === RelayType.Data) {
      if (this.kind === 'webrtc' && this.channel !== null) {
        if (this.channel.bufferedAmount > this.maxBufferedBytes) {
          this.droppedSends++;
          return;
        }
        try {
          this.channel.send(datagram);
        } catch {
          // Closed under us: its close handler moves DATA back to the WebSocket.
          this.droppedSends++;
        }
        return;
      }
      if (this.mode === 'webrtc') {
        this.droppedSends++;
        return;
      }
    }
    this.inner.send(datagram);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.teardown();
      this.phase = 'closed';
    }
    return this.inner.close();
  }

  // -------------------------------------------------------------------------------------------

  private async start(): Promise<void> {
    const PeerConnection = this.PeerConnection;
    const sessionId = this.sessionId;
    if (PeerConnection === null || sessionId === null || this.closed) return;
    this.attempts++;
    this.attempt = randomU32();
    const attempt = this.attempt;
    this.phase = 'offering';
    this.sdp = { offer: null, answer: null };
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fail(`no open data channel after ${this.connectTimeoutMs} ms`, true);
    }, this.connectTimeoutMs);
    let pc: RtcPeerConnectionLike;
    try {
      pc = new PeerConnection({ iceServers: [] });
      this.pc = pc;
      const channel = pc.createDataChannel(CHANNEL_LABEL, { ordered: false, maxRetransmits: 0 });
      this.channel = channel;
      channel.binaryType = 'arraybuffer';
      channel.onopen = () => this.refreshLink(pc);
      channel.onclose = () => {
        if (this.pc === pc) this.fail('the data channel closed', true);
      };
      channel.onerror = () => {
        // onclose follows and reports.
      };
      channel.onmessage = (event) => {
        if (this.pc !== pc || this.closed) return;
        const data = event.data;
        if (data instanceof ArrayBuffer) this.onMessage?.(new Uint8Array(data));
        else if (ArrayBuffer.isView(data)) this.onMessage?.(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      };
      pc.onconnectionstatechange = () => {
        if (this.pc !== pc) return;
        const state = pc.connectionState;
        if (state === 'failed' || state === 'closed') this.fail(`the peer connection ${state}`, true);
        else this.refreshLink(pc);
      };
      await pc.setLocalDescription(await pc.createOffer());
      await waitForGathering(pc);
    } catch (error) {
      if (this.attempt === attempt && this.phase === 'offering') this.fail(`cannot make an offer: ${(error as Error).message}`, false);
      return;
    }
    if (this.pc !== pc || this.closed) return;
    const local = pc.localDescription?.sdp;
    if (local === undefined) {
      this.fail('no local description after gathering', false);
      return;
    }
    const offer = stripOfferCandidates(local);
    if (new TextEncoder().encode(offer).length > MAX_SDP_BYTES) {
      this.fail(`the offer is longer than ${MAX_SDP_BYTES} bytes`, false);
      return;
    }
    this.sdp.offer = offer;
    this.inner.send(encodeRtcOffer(sessionId, attempt, offer));
  }

  private answer(datagram: Uint8Array): void {
    const decoded = decodeRtcSignal(datagram);
    if (!decoded.ok || decoded.value.kind !== 'rtcAnswer') return;
    const message = decoded.value;
    const pc = this.pc;
    if (pc === null || this.phase !== 'offering' || message.sessionId !== this.sessionId || message.attempt !== this.attempt) return;
    if (message.status !== RtcAnswerStatus.Accepted) {
      const retry = message.status === RtcAnswerStatus.Busy || message.status === RtcAnswerStatus.Failed;
      const name = STATUS_NAMES[message.status] ?? `status ${message.status}`;
      this.fail(`WebRTC ${name}${message.text ? ` (${message.text})` : ''}`, retry);
      return;
    }
    this.phase = 'connecting';
    this.sdp.answer = message.text;
    pc.setRemoteDescription({ type: 'answer', sdp: message.text }).catch((error: unknown) => {
      if (this.pc === pc) this.fail(`the relay's answer does not apply: ${(error as Error).message}`, false);
    });
  }

  /** DATA goes over the channel while it is open and its connection is not interrupted. */
  private refreshLink(pc: RtcPeerConnectionLike): void {
    if (this.pc !== pc || this.closed) return;
    const usable = this.channel?.readyState === 'open' && pc.connectionState !== 'disconnected';
    if (usable && this.phase !== 'open') {
      this.phase = 'open';
      this.clearTimer();
    }
    this.setKind(usable ? 'webrtc' : 'websocket', usable ? 'data channel open' : 'data channel interrupted');
  }

  /** This attempt is over: back to the WebSocket (auto), or close the link (webrtc). */
  private fail(reason: string, retryable: boolean): void {
    if (this.closed || (this.phase !== 'offering' && this.phase !== 'connecting' && this.phase !== 'open')) return;
    const sessionId = this.sessionId;
    const attempt = this.attempt;
    // Only an offer the relay got can have a PeerConnection there to close.
    const wasOffered = this.sdp.offer !== null;
    this.teardown();
    if (sessionId !== null && wasOffered) this.inner.send(encodeRtcClose(sessionId, attempt));
    if (this.mode === 'webrtc') {
      this.phase = 'closed';
      this.closed = true;
      this.logger.warn(`relay ${this.url}: transport "webrtc" has no data channel: ${reason}; closing the link`);
      void this.inner.close();
      this.onClose?.(`webrtc: ${reason}`);
      return;
    }
    this.setKind('websocket', reason);
    if (retryable && this.attempts < MAX_ATTEMPTS) {
      this.phase = 'waiting';
      this.logger.info(`relay ${this.url}: WebRTC attempt ${this.attempts} ended (${reason}); DATA on the WebSocket, trying again in ${(RETRY_DELAY_MS * this.attempts) / 1000} s`);
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.phase === 'waiting' && !this.closed) void this.start();
      }, RETRY_DELAY_MS * this.attempts);
      return;
    }
    this.phase = 'given-up';
    this.logger.info(`relay ${this.url}: WebRTC not used (${reason}); DATA stays on the WebSocket`);
  }

  private setKind(kind: LinkKind, reason: string): void {
    if (kind === this.kind) return;
    this.kind = kind;
    if (kind === 'webrtc') this.logger.info(`relay ${this.url}: DATA moved to a WebRTC data channel`);
    else this.logger.info(`relay ${this.url}: DATA moved back to the WebSocket (${reason})`);
    this.onLinkChange?.(kind, reason);
  }

  private teardown(): void {
    this.clearTimer();
    const pc = this.pc;
    const channel = this.channel;
    this.pc = null;
    this.channel = null;
    if (channel !== null) {
      channel.onopen = null;
      channel.onclose = null;
      channel.onmessage = null;
      try {
        channel.close();
      } catch {
        // Already closed.
      }
    }
    if (pc !== null) {
      pc.onconnectionstatechange = null;
      pc.onicegatheringstatechange = null;
      try {
        pc.close();
      } catch {
        // Already closed.
      }
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function waitForGathering(pc: RtcPeerConnectionLike): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise<void>((resolve) => {
    // The link's connect timer bounds this wait: a gathering that never completes fails the attempt.
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.onicegatheringstatechange = null;
        resolve();
      }
    };
  });
}

function randomU32(): number {
  const bytes = new Uint32Array(1);
  globalThis.crypto.getRandomValues(bytes);
  return bytes[0];
}
