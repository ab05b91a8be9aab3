/**
 * The relay's WebRTC side (PROTOCOL.md §3.12): a browser on a WebSocket session sends
 * an SDP offer over that WebSocket; the relay answers with a node-datachannel PeerConnection bound
 * to its own address, and once the data channel is open it carries the session's relay datagrams
 * both ways. The data channel belongs to the session that asked: no new route, no new session.
 *
 * node-datachannel is loaded lazily: a relay where it does not load still serves UDP and
 * WebSocket and answers offers with "unavailable".
 */
import type { DataChannel, PeerConnection } from 'node-datachannel';
import { RtcAnswerStatus } from '../../plugin/net/wire/relay-codec';
import type { LogLimiter } from './log-limiter';
import type { Session } from './sessions';

type NodeDataChannelModule = typeof import('node-datachannel');

export interface NodeDataChannelLoad {
  module: NodeDataChannelModule | null;
  /** Why it is unavailable, or null when it loaded. */
  error: string | null;
  /** libdatachannel's version when loaded. */
  version: string | null;
}

/** Loads node-datachannel (or `moduleId`, for tests); never throws. */
export function loadNodeDataChannel(moduleId = 'node-datachannel'): NodeDataChannelLoad {
  try {
    // Through a variable so nothing loads it before a relay asks for it.
    const module = require(moduleId) as NodeDataChannelModule;
    if (typeof module?.PeerConnection !== 'function') return { module: null, error: `${moduleId} has no PeerConnection`, version: null };
    let version: string | null = null;
    try {
      version = module.getLibraryVersion();
    } catch {
      version = null;
    }
    return { module, error: null, version };
  } catch (error) {
    return { module: null, error: (error as Error).message.split('\n')[0], version: null };
  }
}

// libdatachannel starts threads with its first PeerConnection, and they hold the process open
// until cleanup(). cleanup() is global and blocks the event loop while it stops them, so it runs
// only when the last relay of this process that uses the module closes, and only if a
// PeerConnection was made since the last cleanup (loading the module alone starts no thread).
let relaysUsingWebRtc = 0;
let peerConnectionsMade = false;
function acquireModule(): void {
  relaysUsingWebRtc++;
}
function releaseModule(module: NodeDataChannelModule): void {
  relaysUsingWebRtc--;
  if (relaysUsingWebRtc === 0 && peerConnectionsMade) {
    peerConnectionsMade = false;
    try {
      module.cleanup();
    } catch {
      // Nothing left to release.
    }
  }
}

/** One PeerConnection of one session (at most one per session). */
export interface RtcLink {
  readonly session: Session;
  readonly attempt: number;
  readonly pc: PeerConnection;
  channel: DataChannel | null;
  /** answering: waiting for our ICE gathering; connecting: answered, channel not open yet. */
  phase: 'answering' | 'connecting' | 'open' | 'closed';
  /** PeerConnection state is 'connected' (false while it is 'disconnected'). */
  connected: boolean;
  channelOpen: boolean;
  /** Sending to the session goes over the data channel only while this holds. */
  usable: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}

export interface RtcLinkStats {
  /** node-datachannel loaded and WebRTC enabled. */
  available: boolean;
  /** PeerConnections alive (being answered, connecting or open). */
  links: number;
  /** Of those, the ones whose data channel has not opened yet. */
  pending: number;
  /** Data channels open and usable now. */
  open: number;
  offers: number;
  answered: number;
  refused: number;
  opened: number;
  closed: number;
  timedOut: number;
  /** Relay datagrams received / sent over data channels. */
  datagramsIn: number;
  bytesIn: number;
  datagramsOut: number;
  bytesOut: number;
}

export interface RtcLinksOptions {
  load: NodeDataChannelLoad;
  /** The address PeerConnections bind their ICE sockets to (the relay's host). */
  bindAddress: string;
  maxLinks: number;
  maxPending: number;
  maxOffersPerSession: number;
  connectTimeoutMs: number;
  maxBufferedBytes: number;
  log: LogLimiter;
  /** Sends an RTC_ANSWER to the session over its WebSocket. */
  answer(session: Session, attempt: number, status: RtcAnswerStatus, text: string): void;
  /** One binary message from an open data channel. */
  onDatagram(link: RtcLink, datagram: Buffer): void;
}

const SDP_LINE_END = /\r?\n/;

/**
 * Checks an offer and drops the client's ICE candidates from it. The relay never sends to an
 * address the client merely named (that would let anyone aim the relay's connectivity checks at
 * a third party); it learns the client's address from the client's own checks (peer-reflexive),
 * as a server with a reachable address can. Returns the SDP to apply, or why it is refused.
 */
export function sanitizeOffer(sdp: string): { ok: true; sdp: string } | { ok: false; error: string } {
  if (!sdp.startsWith('v=0')) return { ok: false, error: 'offer sdp does not start with v=0' };
  const lines = sdp.split(SDP_LINE_END);
  let application = 0;
  const kept: string[] = [];
  for (const line of lines) {
    if (line.startsWith('m=')) {
      if (!line.startsWith('m=application ') || !line.includes('webrtc-datachannel')) return { ok: false, error: 'offer has media other than a data channel' };
      application++;
    }
    if (line.startsWith('a=candidate:') || line.startsWith('a=end-of-candidates')) continue;
    if (line.length > 0) kept.push(line);
  }
  if (application !== 1) return { ok: false, error: `offer has ${application} data sections, expected 1` };
  return { ok: true, sdp: `${kept.join('\r\n')}\r\n` };
}

export class RtcLinks {
  private readonly module: NodeDataChannelModule | null;
  private readonly links = new Set<RtcLink>();
  private pendingCount = 0;
  private closedForGood = false;
  private readonly counters = { offers: 0, answered: 0, refused: 0, opened: 0, closed: 0, timedOut: 0, datagramsIn: 0, bytesIn: 0, datagramsOut: 0, bytesOut: 0 };

  constructor(private readonly options: RtcLinksOptions) {
    this.module = options.load.module;
    if (this.module !== null) acquireModule();
  }

  get available(): boolean {
    return this.module !== null && !this.closedForGood;
  }

  stats(): RtcLinkStats {
    let open = 0;
    for (const link of this.links) if (link.usable) open++;
    return { available: this.available, links: this.links.size, pending: this.pendingCount, open, ...this.counters };
  }

  /** Remote addresses of the selected ICE candidate pairs of the open links (diagnostics). */
  remoteAddresses(): string[] {
    const addresses: string[] = [];
    for (const link of this.links) {
      if (link.phase === 'closed') continue;
      try {
        const pair = link.pc.getSelectedCandidatePair();
        if (pair !== null) addresses.push(pair.remote.address);
      } catch {
        // A closing PeerConnection has no pair.
      }
    }
    return addresses;
  }

  /** An RTC_OFFER that came over the WebSocket of `session` (the caller checked the session id). */
  offer(session: Session, attempt: number, offerSdp: string): void {
    this.counters.offers++;
    const module = this.module;
    if (module === null || this.closedForGood) {
      this.refuse(session, attempt, RtcAnswerStatus.Unavailable, this.options.load.error !== null ? `this relay has no WebRTC: ${this.options.load.error}` : 'this relay has WebRTC turned off');
      return;
    }
    if (session.rtcOffers >= this.options.maxOffersPerSession) {
      this.refuse(session, attempt, RtcAnswerStatus.Refused, `at most ${this.options.maxOffersPerSession} offers per session`);
      return;
    }
    session.rtcOffers++;
    const sanitized = sanitizeOffer(offerSdp);
    if (!sanitized.ok) {
      this.refuse(session, attempt, RtcAnswerStatus.Refused, sanitized.error);
      return;
    }
    // One data channel per session: a new offer replaces the old link.
    if (session.rtc !== null) this.teardown(session.rtc, 'replaced by a new offer');
    if (this.pendingCount >= this.options.maxPending || this.links.size >= this.options.maxLinks) {
      this.refuse(session, attempt, RtcAnswerStatus.Busy, 'too many data channels being set up; retry later');
      return;
    }
    let pc: PeerConnection;
    try {
      peerConnectionsMade = true;
      pc = new module.PeerConnection(`switchboard-${session.id.toString(16)}-${attempt}`, {
        iceServers: [],
        bindAddress: this.options.bindAddress,
        enableIceTcp: false,
      });
    } catch (error) {
      this.refuse(session, attempt, RtcAnswerStatus.Failed, `cannot create a PeerConnection: ${(error as Error).message}`);
      return;
    }
    const link: RtcLink = { session, attempt, pc, channel: null, phase: 'answering', connected: false, channelOpen: false, usable: false, timer: null };
    this.links.add(link);
    this.pendingCount++;
    session.rtc = link;
    link.timer = setTimeout(() => {
      link.timer = null;
      if (link.phase === 'open' || link.phase === 'closed') return;
      this.counters.timedOut++;
      if (link.phase === 'answering') this.options.answer(session, attempt, RtcAnswerStatus.Failed, 'the relay could not gather its ICE candidates in time');
      this.teardown(link, 'the data channel did not open in time');
    }, this.options.connectTimeoutMs);
    link.timer.unref?.();

    pc.onGatheringStateChange((state) => {
      if (state !== 'complete' || link.phase !== 'answering') return;
      const description = pc.localDescription();
      if (description === null) {
        this.options.answer(session, attempt, RtcAnswerStatus.Failed, 'the relay has no local description');
        this.teardown(link, 'no local description');
        return;
      }
      link.phase = 'connecting';
      this.counters.answered++;
      this.options.answer(session, attempt, RtcAnswerStatus.Accepted, description.sdp);
    });
    pc.onStateChange((state) => {
      if (link.phase === 'closed') return;
      if (state === 'connected') link.connected = true;
      else if (state === 'disconnected') link.connected = false;
      else if (state === 'failed' || state === 'closed') {
        this.teardown(link, `peer connection ${state}`);
        return;
      }
      this.updateUsable(link);
    });
    pc.onDataChannel((channel) => this.adoptChannel(link, channel));
    try {
      pc.setRemoteDescription(sanitized.sdp, 'offer');
    } catch (error) {
      this.refuse(session, attempt, RtcAnswerStatus.Refused, `bad offer: ${(error as Error).message}`);
      this.teardown(link, 'bad offer');
    }
  }

  /** RTC_CLOSE from the client: it gave up this attempt. */
  closeAttempt(session: Session, attempt: number): void {
    const link = session.rtc;
    if (link !== null && link.attempt === attempt) this.teardown(link, 'closed by the client');
  }

  /** The session ended: its link goes with it. */
  sessionEnded(session: Session): void {
    if (session.rtc !== null) this.teardown(session.rtc, 'session ended');
  }

  /** Sends a relay datagram over the session's data channel. False when it has none usable (send over the WebSocket), 'dropped' when its buffer is full. */
  send(link: RtcLink, datagram: Uint8Array): boolean | 'dropped' {
    const channel = link.channel;
    if (channel === null || !link.usable) return false;
    try {
      if (channel.bufferedAmount() > this.options.maxBufferedBytes) return 'dropped';
      channel.sendMessageBinary(datagram);
    } catch {
      // The channel closed under us; its close callback tears the link down.
      return 'dropped';
    }
    this.counters.datagramsOut++;
    this.counters.bytesOut += datagram.length;
    return true;
  }

  /** Closes every PeerConnection; after this, offers are answered "unavailable". Idempotent. */
  closeAll(): void {
    if (this.closedForGood) return;
    this.closedForGood = true;
    for (const link of [...this.links]) this.teardown(link, 'relay closing');
    if (this.module !== null) releaseModule(this.module);
  }

  // -------------------------------------------------------------------------------------------

  private adoptChannel(link: RtcLink, channel: DataChannel): void {
    if (link.phase === 'closed' || link.channel !== null) {
      // One data channel per session.
      try {
        channel.close();
      } catch {
        // Already closed.
      }
      return;
    }
    link.channel = channel;
    channel.onOpen(() => {
      if (link.phase === 'closed') return;
      link.channelOpen = true;
      this.updateUsable(link);
    });
    channel.onClosed(() => {
      if (link.phase !== 'closed') this.teardown(link, 'data channel closed');
    });
    channel.onError((error) => {
      this.options.log.warn(`relay: session ${hex(link.session.id)} data channel error: ${error}`);
    });
    channel.onMessage((message) => {
      if (link.phase === 'closed' || link.session.rtc !== link) return;
      if (!Buffer.isBuffer(message)) {
        // Text messages are not datagrams; handed over as an empty buffer so the relay counts them as malformed.
        this.options.onDatagram(link, Buffer.alloc(0));
        return;
      }
      this.counters.datagramsIn++;
      this.counters.bytesIn += message.length;
      this.options.onDatagram(link, message);
    });
    if (channel.isOpen()) {
      link.channelOpen = true;
      this.updateUsable(link);
    }
  }

  private updateUsable(link: RtcLink): void {
    const usable = link.phase !== 'closed' && link.connected && link.channelOpen;
    if (usable === link.usable) return;
    link.usable = usable;
    if (usable && link.phase !== 'open') {
      link.phase = 'open';
      this.pendingCount--;
      this.counters.opened++;
      if (link.timer !== null) clearTimeout(link.timer);
      link.timer = null;
      this.options.log.info(`relay: session ${hex(link.session.id)} moved to a WebRTC data channel`);
    } else if (!usable) {
      this.options.log.info(`relay: session ${hex(link.session.id)} data channel interrupted; sending over its WebSocket`);
    }
  }

  private teardown(link: RtcLink, reason: string): void {
    if (link.phase === 'closed') return;
    const wasOpen = link.phase === 'open';
    if (!wasOpen) this.pendingCount--;
    link.phase = 'closed';
    link.usable = false;
    if (link.timer !== null) clearTimeout(link.timer);
    link.timer = null;
    if (link.session.rtc === link) link.session.rtc = null;
    this.links.delete(link);
    this.counters.closed++;
    try {
      link.channel?.close();
    } catch {
      // Already closed.
    }
    try {
      link.pc.close();
    } catch {
      // Already closed.
    }
    if (wasOpen) this.options.log.info(`relay: session ${hex(link.session.id)} data channel closed (${reason}); back to its WebSocket`);
  }

  private refuse(session: Session, attempt: number, status: RtcAnswerStatus, detail: string): void {
    this.counters.refused++;
    this.options.answer(session, attempt, status, detail);
  }
}

function hex(id: bigint): string {
  return id.toString(16).padStart(16, '0');
}
