/**
 * The WebRTC data-channel link between a client and the relay, run in Node: node-datachannel's
 * RTCPeerConnection polyfill plays the browser (a real WebRTC stack, not a stand-in), so the link
 * switch, the fallbacks and the relay's bounds are checked quickly and deterministically here;
 * test/browser/webrtc-browser.test.ts runs the same link in Chromium.
 */
import { expect } from 'chai';
import { RTCPeerConnection as PolyfillPeerConnection } from 'node-datachannel/polyfill';
import { startRelay, type RelayServer } from '../../server/relay/relay-server';
import { NetworkManager } from '../../plugin/net/network-manager';
import { WebRtcDatagramSocket, type RtcPeerConnectionConstructor } from '../../plugin/net/transport/webrtc-socket';
import {
  MAX_RTC_OFFER_BYTES,
  RTC_OFFER_HEADER_BYTES,
  RtcAnswerStatus,
  RtcSignalType,
  decodeRtcSignal,
  encodeData,
  encodeRtcOffer,
  type RtcAnswerDatagram,
} from '../../plugin/net/wire/relay-codec';
import { connectPair, createTestPeer, disposeAll, frame, pumpUntil, waitForRoutes, type TestPeer } from '../helpers/managers';
import { waitFor } from '../helpers/wait';
import { RawUdpClient, RawWsClient, quietLogger, recordingLogger, registerRaw, registeredClient } from './relay-test-helpers';

const RELIABLE = 1;
const UNRELIABLE = 2;
const CHANNELS = [
  { id: RELIABLE, reliable: true },
  { id: UNRELIABLE, reliable: false },
];

/** A polyfill RTCPeerConnection whose offers wait for `open()`, so a test decides when the switch happens. */
function gatedPeerConnection(): { Constructor: RtcPeerConnectionConstructor; open(): void; channels: { close(): void }[]; created: () => number } {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const channels: { close(): void }[] = [];
  let created = 0;
  class Gated extends PolyfillPeerConnection {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      created++;
    }
    override async createOffer(): Promise<RTCSessionDescriptionInit> {
      await gate;
      return super.createOffer();
    }
    override createDataChannel(label: string, init?: RTCDataChannelInit): ReturnType<PolyfillPeerConnection['createDataChannel']> {
      const channel = super.createDataChannel(label, init);
      channels.push(channel);
      return channel;
    }
  }
  return { Constructor: Gated as unknown as RtcPeerConnectionConstructor, open: () => release(), channels, created: () => created };
}

const Polyfill = PolyfillPeerConnection as unknown as RtcPeerConnectionConstructor;

function indexed(index: number): Uint8Array {
  const bytes = new Uint8Array(24);
  new DataView(bytes.buffer).setUint32(0, index);
  return bytes;
}

function indicesFrom(receiver: TestPeer, sender: TestPeer, channelId: number): number[] {
  return receiver.messages
    .filter((m) => m.peerId === sender.id && m.channelId === channelId)
    .map((m) => new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength).getUint32(0));
}

/** Streams of reliable (and unreliable) messages both ways between two managers, sent a few per frame. */
class TwoWayStream {
  sent = 0;
  private trickle = 1_000_000;
  constructor(private readonly a: TestPeer, private readonly b: TestPeer) {}

  /** Queues `count` more messages each way on both channels, then runs one frame. */
  send(count: number): void {
    for (let i = 0; i < count; i++, this.sent++) {
      for (const [from, to] of [[this.a, this.b], [this.b, this.a]] as const) {
        expect(from.net.sendMessage(to.id, RELIABLE, indexed(this.sent))).to.equal(0);
        from.net.sendMessage(to.id, UNRELIABLE, indexed(this.sent));
      }
    }
    frame([this.a, this.b]);
  }

  /**
   * Every reliable message arrived, and some unreliable ones. A burst of unreliable messages may
   * be dropped on send when the congestion window is full (at most once, as the contract says),
   * so while none has arrived a trickle goes out, numbered above every burst.
   */
  delivered(): boolean {
    const unreliableSeen = indicesFrom(this.b, this.a, UNRELIABLE).length > 0 && indicesFrom(this.a, this.b, UNRELIABLE).length > 0;
    if (!unreliableSeen) {
      this.a.net.sendMessage(this.b.id, UNRELIABLE, indexed(this.trickle));
      this.b.net.sendMessage(this.a.id, UNRELIABLE, indexed(this.trickle++));
    }
    return unreliableSeen && indicesFrom(this.b, this.a, RELIABLE).length >= this.sent && indicesFrom(this.a, this.b, RELIABLE).length >= this.sent;
  }

  /** Reliable: exactly once and in order; unreliable: strictly increasing (sequenced, no duplicate). */
  check(): void {
    const expected = Array.from({ length: this.sent }, (_, i) => i);
    for (const [receiver, sender] of [[this.b, this.a], [this.a, this.b]] as const) {
      expect(indicesFrom(receiver, sender, RELIABLE)).to.deep.equal(expected);
      const unreliable = indicesFrom(receiver, sender, UNRELIABLE);
      expect(unreliable.length).to.be.greaterThan(0);
      for (let i = 1; i < unreliable.length; i++) expect(unreliable[i]).to.be.greaterThan(unreliable[i - 1]);
    }
  }
}

/** A validly formed offer from the polyfill (for the raw-client tests), with its PeerConnection to close. */
async function realOffer(): Promise<{ sdp: string; close(): void }> {
  const pc = new PolyfillPeerConnection({ iceServers: [] });
  pc.createDataChannel('switchboard', { ordered: false, maxRetransmits: 0 });
  await pc.setLocalDescription(await pc.createOffer());
  await waitFor('the polyfill to gather', () => pc.iceGatheringState === 'complete', { timeoutMs: 5000 });
  return { sdp: pc.localDescription!.sdp, close: () => pc.close() };
}

async function nextAnswer(client: RawWsClient, what: string): Promise<RtcAnswerDatagram> {
  const bytes = await client.next(what);
  const decoded = decodeRtcSignal(bytes);
  if (!decoded.ok || decoded.value.kind !== 'rtcAnswer') throw new Error(`${what}: not an RTC_ANSWER (${decoded.ok ? decoded.value.kind : decoded.error})`);
  return decoded.value;
}

describe('WebRTC data-channel link to the relay (Node, node-datachannel polyfill)', function () {
  this.timeout(30_000);
  let relay: RelayServer | null = null;
  let peers: TestPeer[] = [];
  const closers: (() => Promise<void> | void)[] = [];

  async function relayWith(options: Parameters<typeof startRelay>[0] = {}): Promise<RelayServer> {
    relay = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger, ...options });
    return relay;
  }

  function peer(options: ConstructorParameters<typeof NetworkManager>[0]): TestPeer {
    const p = createTestPeer(options);
    peers.push(p);
    return p;
  }

  afterEach(async () => {
    // Clients first: node-datachannel is released when the last relay closes.
    await disposeAll(peers);
    peers = [];
    for (const close of closers.splice(0).reverse()) await close();
    await relay?.close();
    relay = null;
  });

  it('moves DATA to the data channel mid-stream and back when it closes: same session and route, reliable exactly once in order', async () => {
    const server = await relayWith();
    const gated = gatedPeerConnection();
    const log = recordingLogger();
    let socket: WebRtcDatagramSocket | null = null;
    const browser = peer({
      relay: server.wsUrl,
      logger: log,
      socketFactory: (url) => (socket = new WebRtcDatagramSocket(url, { mode: 'auto', peerConnection: gated.Constructor, logger: log })),
    });
    const node = peer({ relay: server.udpUrl });
    await waitForRoutes([browser, node]);
    const route = browser.net.getRoute();
    connectPair(browser, node, CHANNELS);
    const stream = new TwoWayStream(browser, node);

    // On the WebSocket: the offer waits at the gate.
    for (let i = 0; i < 10; i++) stream.send(10);
    expect(browser.net.getTransportInfo()).to.deep.equal({ requested: 'auto', link: 'websocket', relay: server.wsUrl });
    gated.open();
    await pumpUntil([browser, node], 'the data channel to open while messages flow', () => {
      if (stream.sent < 600) stream.send(5);
      return browser.net.getTransportInfo().link === 'webrtc';
    });
    const sentBeforeSwitch = stream.sent;
    for (let i = 0; i < 20; i++) stream.send(10);
    await pumpUntil([browser, node], 'every message so far to arrive', () => stream.delivered());
    const overChannel = server.stats().rtc;
    expect(overChannel.open).to.equal(1);
    expect(overChannel.datagramsIn).to.be.greaterThan(0);
    expect(overChannel.datagramsOut).to.be.greaterThan(0);
    expect(socket!.linkKind).to.equal('webrtc');
    expect(log.lines.some((line) => line.includes('DATA moved to a WebRTC data channel'))).to.equal(true);

    // The channel closes: DATA goes back to the WebSocket, the relay closes its end.
    gated.channels[0].close();
    await pumpUntil([browser, node], 'the link to fall back to the WebSocket', () => {
      stream.send(5);
      return browser.net.getTransportInfo().link === 'websocket';
    });
    await waitFor('the relay to close its end', () => server.stats().rtc.links === 0);
    for (let i = 0; i < 10; i++) stream.send(10);
    await pumpUntil([browser, node], 'every message to arrive after the fallback', () => stream.delivered());
    stream.check();
    expect(sentBeforeSwitch).to.be.greaterThan(0);
    expect(log.lines.some((line) => line.includes('DATA moved back to the WebSocket (the data channel closed)'))).to.equal(true);
    // One session and one route throughout.
    expect(browser.net.getRoute()).to.equal(route);
    expect(browser.routes).to.have.length(1);
    expect(server.stats().registrations).to.equal(2);
  });

  it('auto: stays on the WebSocket when the relay has WebRTC turned off, and says why', async () => {
    const server = await relayWith({ webrtc: false });
    const log = recordingLogger();
    const browser = peer({ relay: server.wsUrl, logger: log, socketFactory: (url) => new WebRtcDatagramSocket(url, { mode: 'auto', peerConnection: Polyfill, logger: log }) });
    const node = peer({ relay: server.udpUrl });
    await waitForRoutes([browser, node]);
    connectPair(browser, node, CHANNELS);
    await waitFor('the relay to refuse the offer', () => server.stats().rtc.refused === 1);
    const stream = new TwoWayStream(browser, node);
    for (let i = 0; i < 20; i++) stream.send(10);
    await pumpUntil([browser, node], 'every message over the WebSocket', () => stream.delivered());
    stream.check();
    expect(browser.net.getTransportInfo().link).to.equal('websocket');
    expect(log.lines.some((line) => line.includes('WebRTC not used (WebRTC unavailable on the relay (this relay has WebRTC turned off))'))).to.equal(true);
    expect(server.stats().rtc).to.include({ available: false, offers: 1, links: 0 });
  });

  it('auto: an answered attempt that never connects (blocked) times out, is closed on the relay too, and DATA stays on the WebSocket', async () => {
    const server = await relayWith();
    // The answer is taken but never applied: like a network that blocks the data channel's UDP.
    class Blocked extends PolyfillPeerConnection {
      override async setRemoteDescription(): Promise<void> {
        return undefined;
      }
    }
    const log = recordingLogger();
    const browser = peer({
      relay: server.wsUrl,
      logger: log,
      socketFactory: (url) => new WebRtcDatagramSocket(url, { mode: 'auto', peerConnection: Blocked as unknown as RtcPeerConnectionConstructor, logger: log, connectTimeoutMs: 300 }),
    });
    const node = peer({ relay: server.udpUrl });
    await waitForRoutes([browser, node]);
    connectPair(browser, node, CHANNELS);
    await waitFor('the attempt to time out', () => log.lines.some((line) => line.includes('no open data channel after 300 ms')));
    // RTC_CLOSE reached the relay: its PeerConnection is gone before its own timeout (10 s).
    await waitFor('the relay to close the attempt', () => server.stats().rtc.closed === 1 && server.stats().rtc.links === 0);
    expect(server.stats().rtc).to.include({ offers: 1, answered: 1, timedOut: 0, opened: 0 });
    const stream = new TwoWayStream(browser, node);
    for (let i = 0; i < 10; i++) stream.send(10);
    await pumpUntil([browser, node], 'every message over the WebSocket', () => stream.delivered());
    stream.check();
    expect(browser.net.getTransportInfo().link).to.equal('websocket');
  });

  it("transport 'webrtc' fails clearly: a runtime without RTCPeerConnection, a udp:// relay, a relay without WebRTC", async () => {
    expect((globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection).to.equal(undefined);
    expect(() => new NetworkManager({ relay: 'ws://127.0.0.1:9', transport: 'webrtc', logger: quietLogger })).to.throw(TypeError, 'needs RTCPeerConnection');
    expect(() => new NetworkManager({ relay: 'udp://127.0.0.1:9', transport: 'webrtc', logger: quietLogger })).to.throw(TypeError, "'webrtc' needs a ws:// or wss:// relay");
    expect(() => new NetworkManager({ relay: 'ws://127.0.0.1:9', transport: 'carrier-pigeon' as never, logger: quietLogger })).to.throw(TypeError, "transport: expected 'auto', 'webrtc' or 'websocket'");

    const relayLog = recordingLogger();
    const server = await relayWith({ webrtcModule: 'switchboard-no-such-webrtc-module', logger: relayLog });
    expect(relayLog.lines.some((line) => line.includes('WebRTC data channels unavailable (node-datachannel did not load:') && line.includes('serving UDP and WebSocket only'))).to.equal(true);
    const log = recordingLogger();
    const client = await registeredClient({ url: server.wsUrl, logger: log, socketFactory: (url) => new WebRtcDatagramSocket(url, { mode: 'webrtc', peerConnection: Polyfill, logger: log }) });
    closers.push(() => client.client.dispose());
    // The link closes with the reason; the relay client says so and registers again (with backoff).
    await waitFor('the webrtc link to close with its reason', () => log.lines.some((line) => line.includes('session lost (webrtc: WebRTC unavailable on the relay')));
    expect(log.lines.some((line) => line.includes('transport "webrtc" has no data channel: WebRTC unavailable on the relay (this relay has no WebRTC:'))).to.equal(true);
    client.client.send(client.sessionId, Uint8Array.of(1));
    expect(server.stats().forwarded).to.equal(0);
    // The relay without WebRTC still serves UDP and WebSocket.
    const udp = await registeredClient({ url: server.udpUrl });
    const ws = await registeredClient({ url: server.wsUrl, transport: 'websocket' });
    closers.push(() => udp.client.dispose(), () => ws.client.dispose());
    udp.client.send(ws.sessionId, Uint8Array.of(1, 2, 3));
    ws.client.send(udp.sessionId, Uint8Array.of(4, 5, 6));
    await waitFor('DATA both ways on a relay without WebRTC', () => udp.data.length === 1 && ws.data.length === 1);
    expect(ws.client.linkKind).to.equal('websocket');
    expect(udp.client.linkKind).to.equal('udp');
  });

  it('the relay bounds signalling: its own session only, over its WebSocket only, SDP size, offers per session, pending offers', async () => {
    const server = await relayWith({ maxRtcOffersPerSession: 2, maxPendingRtcOffers: 1, rtcConnectTimeoutMs: 400 });
    const offer = await realOffer();
    closers.push(() => offer.close());
    const a = await RawWsClient.open(server.wsUrl);
    const b = await RawWsClient.open(server.wsUrl);
    const udp = await RawUdpClient.open(server.port);
    closers.push(() => a.close(), () => b.close(), () => udp.close());

    // Before registering, and for another session: refused, so the client stops waiting.
    a.send(encodeRtcOffer(42n, 1, offer.sdp));
    expect(await nextAnswer(a, 'answer to an unregistered offer')).to.include({ status: RtcAnswerStatus.Refused, text: 'not the session of this connection' });
    const sessionA = (await registerRaw(a)).sessionId;
    const sessionB = (await registerRaw(b)).sessionId;
    a.send(encodeRtcOffer(sessionB, 2, offer.sdp));
    expect(await nextAnswer(a, 'answer to an offer for another session')).to.include({ status: RtcAnswerStatus.Refused, attempt: 2 });

    // Media other than a data channel.
    a.send(encodeRtcOffer(sessionA, 3, `${offer.sdp}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n`));
    const audio = await nextAnswer(a, 'answer to an audio offer');
    expect(audio.status).to.equal(RtcAnswerStatus.Refused);
    expect(audio.text).to.contain('media other than a data channel');

    // A good offer is answered with the relay's own loopback candidate only; it stays pending.
    a.send(encodeRtcOffer(sessionA, 4, offer.sdp));
    const answer = await nextAnswer(a, 'an SDP answer');
    expect(answer).to.include({ status: RtcAnswerStatus.Accepted, sessionId: sessionA, attempt: 4 });
    const candidates = answer.text.split('\r\n').filter((line) => line.startsWith('a=candidate:'));
    expect(candidates.length).to.be.greaterThan(0);
    for (const line of candidates) expect(line.split(' ')[4]).to.equal('127.0.0.1');
    // A second session's offer while one is pending: busy.
    b.send(encodeRtcOffer(sessionB, 5, offer.sdp));
    expect(await nextAnswer(b, 'a busy answer')).to.include({ status: RtcAnswerStatus.Busy, attempt: 5 });
    // The pending one never connects (nobody applies the answer): it times out.
    await waitFor('the pending offer to time out', () => server.stats().rtc.timedOut === 1 && server.stats().rtc.pending === 0);
    // Offers per session: a has made 2 counted offers (audio, good); the third is refused.
    a.send(encodeRtcOffer(sessionA, 6, offer.sdp));
    const third = await nextAnswer(a, 'answer past the per-session bound');
    expect(third.status).to.equal(RtcAnswerStatus.Refused);
    expect(third.text).to.contain('at most 2 offers per session');

    // Over UDP: not answered at all. Too long over the WebSocket: dropped as oversize.
    const drops = server.stats().drops;
    udp.send(encodeRtcOffer(sessionA, 7, offer.sdp));
    const tooLong = new Uint8Array(MAX_RTC_OFFER_BYTES + 1);
    tooLong[0] = RtcSignalType.Offer;
    a.send(tooLong);
    // An offer longer than a datagram but within the bound is read (and refused for its SDP).
    const longSdp = encodeRtcOffer(sessionB, 8, `v=0\r\n${'a=x-padding\r\n'.repeat(200)}`);
    expect(longSdp.length).to.be.greaterThan(1500).and.at.most(MAX_RTC_OFFER_BYTES);
    b.send(longSdp);
    const long = await nextAnswer(b, 'answer to a long offer');
    expect(long.status).to.equal(RtcAnswerStatus.Refused);
    expect(long.text).to.contain('0 data sections');
    await waitFor('the UDP offer and the oversize offer to be counted', () => server.stats().drops.malformed === drops.malformed + 1 && server.stats().drops.oversize === drops.oversize + 1);
    expect(udp.received).to.have.length(0);
    expect(RTC_OFFER_HEADER_BYTES).to.equal(15);
    // DATA still flows between the two raw sessions over their WebSockets.
    a.send(encodeData(sessionB, Uint8Array.of(7)));
    await waitFor('DATA after the signalling', () => b.received.some((bytes) => bytes[0] === 0x83));
  });

  it('relay.close() closes every PeerConnection while clients are connected', async () => {
    const server = await relayWith();
    const log = recordingLogger();
    const browser = peer({ relay: server.wsUrl, logger: log, socketFactory: (url) => new WebRtcDatagramSocket(url, { mode: 'auto', peerConnection: Polyfill, logger: log }) });
    await waitFor('the data channel to open', () => browser.net.getTransportInfo().link === 'webrtc' && server.stats().rtc.open === 1);
    expect(server.remoteAddresses()).to.deep.equal(['127.0.0.1']);
    await server.close();
    relay = null;
    expect(server.stats().rtc).to.include({ links: 0, open: 0, pending: 0, available: false, opened: 1, closed: 1 });
    await waitFor('the client to lose its link', () => browser.net.getTransportInfo().link !== 'webrtc');
  });
});
