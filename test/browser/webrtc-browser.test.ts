/**
 * The WebRTC data-channel link in Debian's Chromium (playwright-core, launched with the flags of
 * shared/BROWSER-TESTING.md): a page's NetworkManager on ws:// talks to a Node NetworkManager on
 * udp:// through a real relay on 127.0.0.1. Reliable messages arrive exactly once in order and
 * unreliable ones sequenced, over the data channel — and, with WebRTC removed from the page or
 * turned off by option, over the WebSocket. Counters show nothing leaves 127.0.0.1: no candidate
 * in the SDPs but 127.0.0.1, a selected ICE pair of 127.0.0.1 on both ends, and only 127.0.0.1
 * peers at the relay.
 *
 * Without /usr/bin/chromium the tests are skipped with a notice, except under CI=true, where a
 * missing browser fails the run.
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { startRelay, type RelayServer } from '../../server/relay/relay-server';
import type { TransportPreference } from '../../plugin/net/transport/datagram-socket';
import { createTestPeer, quietLogger, type TestPeer } from '../helpers/managers';
import { waitFor } from '../helpers/wait';
import { CHROMIUM_PATH, chromiumInstalled, launchChromium, type Chromium } from './webrtc-fixtures/chromium';
import type { PageReport, WebRtcTestApi } from './webrtc-fixtures/page';
import { RELIABLE_CHANNEL, UNRELIABLE_CHANNEL } from './webrtc-fixtures/page';
import { servePage, type PageServer } from './webrtc-fixtures/serve';

declare const window: { webrtcTest: WebRtcTestApi; RTCPeerConnection?: unknown; webkitRTCPeerConnection?: unknown };

const MESSAGES_EACH_WAY = 500;

function body(index: number): Uint8Array {
  const bytes = new Uint8Array(32);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, index);
  view.setFloat64(4, performance.timeOrigin + performance.now());
  return bytes;
}

function indices(peer: TestPeer, channelId: number): number[] {
  return peer.messages.filter((m) => m.channelId === channelId).map((m) => new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength).getUint32(0));
}

function expectExactlyOnceInOrder(received: number[], count: number, who: string): void {
  expect(received.length, `${who}: reliable messages received`).to.equal(count);
  for (let i = 0; i < count; i++) if (received[i] !== i) expect.fail(`${who}: reliable message ${i} is ${received[i]} (not exactly once in order)`);
}

function expectSequenced(received: number[], who: string): void {
  expect(received.length, `${who}: unreliable messages received`).to.be.greaterThan(0);
  for (let i = 1; i < received.length; i++) if (received[i] <= received[i - 1]) expect.fail(`${who}: unreliable ${received[i]} after ${received[i - 1]} (not sequenced)`);
}

function candidateAddresses(sdp: string): string[] {
  return sdp
    .split(/\r?\n/)
    .filter((line) => line.startsWith('a=candidate:'))
    .map((line) => line.split(' ')[4]);
}

/** A Node manager pumped by a timer, as a game loop would. */
function pumpedPeer(relay: RelayServer): { peer: TestPeer; stop(): Promise<void> } {
  const peer = createTestPeer({ relay: relay.udpUrl, logger: quietLogger });
  const timer = setInterval(() => {
    peer.net.runCallbacks();
    peer.net.flush();
  }, 4);
  return {
    peer,
    stop: async () => {
      clearInterval(timer);
      await peer.net.dispose();
    },
  };
}

interface Run {
  report: PageReport;
  relay: RelayServer;
  page: Page;
  node: TestPeer;
}

describe('WebRTC data channel between Chromium and the relay', function () {
  this.timeout(30_000);
  let chrome: Chromium | null = null;
  let pages: PageServer | null = null;
  const cleanups: (() => Promise<void>)[] = [];

  before(async function () {
    if (!chromiumInstalled()) {
      if (process.env.CI === 'true') throw new Error(`${CHROMIUM_PATH} not found under CI=true: install it (apt-get install -y chromium)`);
      console.log(`      SKIPPED WebRTC browser tests: ${CHROMIUM_PATH} not found (apt-get install -y chromium)`);
      this.skip();
    }
    pages = await servePage();
    chrome = await launchChromium();
  });

  after(async () => {
    await chrome?.close();
    await pages?.close();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /**
   * Opens a page (WebRTC removed from it first when asked), connects its manager with a Node
   * manager, and sends MESSAGES_EACH_WAY reliable (and as many unreliable) messages each way:
   * half at once, the rest once the page's link is `expectLink`.
   */
  async function exchange(options: { transport?: TransportPreference; removeWebRtc?: boolean; expectLink: 'webrtc' | 'websocket' }): Promise<Run> {
    const relay = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger });
    cleanups.push(() => relay.close());
    const nodeSide = pumpedPeer(relay);
    cleanups.push(() => nodeSide.stop());
    const node = nodeSide.peer;
    const page = await chrome!.context.newPage();
    cleanups.push(() => page.close());
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    if (options.removeWebRtc) {
      await page.addInitScript(() => {
        delete window.RTCPeerConnection;
        delete window.webkitRTCPeerConnection;
      });
    }
    await page.goto(pages!.url);
    cleanups.push(() => page.evaluate(() => window.webrtcTest.dispose()).catch(() => undefined));
    const started = await page.evaluate((o) => window.webrtcTest.start(o), { relay: relay.wsUrl, transport: options.transport });
    await waitFor('the Node manager to get a route', () => node.net.getRoute() !== null);
    const pageId = BigInt(started.peerId);
    expect(node.net.openPeer(pageId, started.route)).to.equal(0);
    expect(node.net.openChannel(pageId, RELIABLE_CHANNEL, true)).to.equal(0);
    expect(node.net.openChannel(pageId, UNRELIABLE_CHANNEL, false)).to.equal(0);
    expect(await page.evaluate(([id, route]) => window.webrtcTest.open(id, route), [node.id.toString(), node.net.getRoute()!] as const)).to.equal(0);

    const half = MESSAGES_EACH_WAY / 2;
    const nodeSend = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        expect(node.net.sendMessage(pageId, RELIABLE_CHANNEL, body(i))).to.equal(0);
        node.net.sendMessage(pageId, UNRELIABLE_CHANNEL, body(i));
      }
    };
    nodeSend(0, half);
    await page.evaluate((count) => window.webrtcTest.send(count, true), half);

    // The second half goes once the link is the expected one and both ends are connected (an
    // unreliable message sent before the handshake completes is dropped, as the contract says).
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { link, state } = await page.evaluate(() => {
        const r = window.webrtcTest.report();
        return { link: r.link, state: r.state };
      });
      const nodeState = node.net.getPeerStats(pageId)?.state;
      if (link === options.expectLink && state === 'connected' && nodeState === 'connected') break;
      if (Date.now() > deadline) throw new Error(`timed out waiting for the page's link to be ${options.expectLink} (it is ${link}) and both ends connected (page: ${state}, node: ${nodeState})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    nodeSend(half, MESSAGES_EACH_WAY);
    await page.evaluate((count) => window.webrtcTest.send(count, true), MESSAGES_EACH_WAY - half);

    // A burst of unreliable messages may be dropped on send when the congestion window is full
    // (at most once, as the contract says); a trickle while waiting makes sure some get through.
    const pageDeadline = Date.now() + 15_000;
    let extraUnreliable = 1_000_000;
    let report = await page.evaluate(() => window.webrtcTest.report());
    while (
      report.reliable.length < MESSAGES_EACH_WAY ||
      indices(node, RELIABLE_CHANNEL).length < MESSAGES_EACH_WAY ||
      report.unreliable.length === 0 ||
      indices(node, UNRELIABLE_CHANNEL).length === 0
    ) {
      node.net.sendMessage(pageId, UNRELIABLE_CHANNEL, body(extraUnreliable++));
      await page.evaluate(() => window.webrtcTest.sendUnreliable());
      if (Date.now() > pageDeadline) {
        throw new Error(
          `timed out waiting for ${MESSAGES_EACH_WAY} reliable messages and some unreliable ones each way (page got ${report.reliable.length} + ${report.unreliable.length}, node got ${indices(node, RELIABLE_CHANNEL).length} + ${indices(node, UNRELIABLE_CHANNEL).length}; page logs: ${report.logs.join(' | ')})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      report = await page.evaluate(() => window.webrtcTest.report());
    }
    expect(pageErrors, 'page errors').to.deep.equal([]);
    expectExactlyOnceInOrder(report.reliable, MESSAGES_EACH_WAY, 'page');
    expectExactlyOnceInOrder(indices(node, RELIABLE_CHANNEL), MESSAGES_EACH_WAY, 'node');
    expectSequenced(report.unreliable, 'page');
    expectSequenced(indices(node, UNRELIABLE_CHANNEL), 'node');
    expect(report.link).to.equal(options.expectLink);
    // The switch kept the session: one route, the one the Node side opened the page with.
    expect(report.route).to.equal(started.route);
    return { report, relay, page, node };
  }

  it('carries reliable (exactly once, in order) and unreliable (sequenced) messages over the data channel, on 127.0.0.1 only', async () => {
    const { report, relay, page } = await exchange({ expectLink: 'webrtc' });
    expect(report.requested).to.equal('auto');
    expect(report.logs.some((line) => line.includes('DATA moved to a WebRTC data channel'))).to.equal(true);
    const rtc = relay.stats().rtc;
    expect(rtc).to.include({ available: true, offers: 1, answered: 1, opened: 1, open: 1 });
    // The second half went over the data channel both ways (plus acks and keepalives).
    expect(rtc.datagramsIn).to.be.greaterThan(0);
    expect(rtc.datagramsOut).to.be.greaterThan(0);

    // Nothing but 127.0.0.1: the page's offer names no address of its own, the relay's answer only
    // 127.0.0.1, Chromium's selected pair is 127.0.0.1 on both ends, and so is every peer the relay has.
    const offer = report.sdp?.offer ?? '';
    const answer = report.sdp?.answer ?? '';
    expect(offer).to.contain('m=application 9 UDP/DTLS/SCTP webrtc-datachannel');
    expect(candidateAddresses(offer)).to.deep.equal([]);
    expect(offer.split(/\r?\n/).filter((line) => line.startsWith('c='))).to.deep.equal(['c=IN IP4 0.0.0.0']);
    expect(candidateAddresses(answer)).to.have.length.greaterThan(0);
    for (const address of candidateAddresses(answer)) expect(address).to.equal('127.0.0.1');
    expect(await page.evaluate(() => window.webrtcTest.selectedPair())).to.deep.equal({ local: '127.0.0.1', remote: '127.0.0.1' });
    expect(relay.remoteAddresses()).to.deep.equal(['127.0.0.1']);
  });

  it('falls back to the WebSocket when the page has no RTCPeerConnection, and the same exchange passes', async () => {
    const { report, relay } = await exchange({ removeWebRtc: true, expectLink: 'websocket' });
    expect(report.sdp).to.equal(null);
    expect(relay.stats().rtc.offers).to.equal(0);
    expect(relay.remoteAddresses()).to.deep.equal(['127.0.0.1']);
  });

  it("transport 'websocket' never tries WebRTC; 'webrtc' in a page without RTCPeerConnection fails clearly", async () => {
    const { report, relay } = await exchange({ transport: 'websocket', expectLink: 'websocket' });
    expect(report.requested).to.equal('websocket');
    expect(relay.stats().rtc.offers).to.equal(0);

    const page = await chrome!.context.newPage();
    cleanups.push(() => page.close());
    await page.addInitScript(() => {
      delete window.RTCPeerConnection;
    });
    await page.goto(pages!.url);
    const error = await page.evaluate((url) => window.webrtcTest.tryCreate({ relay: url, transport: 'webrtc' }), relay.wsUrl);
    expect(error).to.contain('transport "webrtc" needs RTCPeerConnection');
    expect(await page.evaluate((url) => window.webrtcTest.tryCreate({ relay: url, transport: 'auto' }), relay.wsUrl)).to.equal('ok');
  });
});
