/**
 * 2b. The frame-cost workload with the hub manager inside Chromium: the same 32 peers × 2
 * channels × 5 messages of 32 B a channel a frame, both ways, at 60 Hz through the relay, with the
 * hub in a page (bench/browser/hub-page.ts) on the relay's ws:// URL, over the WebSocket and over a
 * WebRTC data channel, and its 32 peers in a Node process. The page measures its own floor in the
 * same run: the same sends on a bare link of the same kind plus the same AEAD seals and opens.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startPageHost, type HubInfo } from '../browser/page-host';
import { browserMissing, openIsolatedPage, type IsolatedPage } from '../browser/isolated-page';
import type { PageReport, PeerRoute } from '../browser/hub-page';
import { spawnRole, stopAll } from '../lib/child';
import { startMeshChildren, type MeshChild } from '../lib/mesh-setup';
import type { BenchResult, Table, TargetCheck } from '../lib/report';
import { BENCH_RELAY_OPTIONS, type Suite, type SuiteContext } from '../lib/suite';
import type { MeshLink, MeshResults } from '../roles/mesh';
import type { RelayRoleInfo } from '../roles/relay';

const PEERS = 32;
const MESSAGES = 5;
const BYTES = 32;
const HZ = 60;
const CHANNELS = [
  { id: 0, reliable: false },
  { id: 1, reliable: true },
];
const LINKS = ['websocket', 'webrtc'] as const;
type Link = (typeof LINKS)[number];
type Aead = 'noble' | 'libsodium';
/** The default a page gets (noble), then what useLibsodium() gives, on both links; the alternatives once. */
const RUNS: { link: Link; aead: Aead; alternatives: boolean }[] = [
  { link: 'websocket', aead: 'noble', alternatives: true },
  { link: 'websocket', aead: 'libsodium', alternatives: false },
  { link: 'webrtc', aead: 'noble', alternatives: false },
  { link: 'webrtc', aead: 'libsodium', alternatives: false },
];

interface LinkRun {
  link: Link;
  aead: Aead;
  report: PageReport;
  /** Messages the 32 Node peers received from the hub in the window, per channel. */
  peersReceived: number;
}

async function runLink({ link, aead, alternatives }: (typeof RUNS)[number], context: SuiteContext): Promise<LinkRun> {
  const warmupMs = context.quick ? 1500 : 2000;
  const windowMs = context.quick ? 3000 : 8000;
  const relay = await spawnRole<RelayRoleInfo>('relay', BENCH_RELAY_OPTIONS, { nodeFlags: context.childFlags });
  let meshes: MeshChild[] = [];
  let page: IsolatedPage | null = null;
  let host: Awaited<ReturnType<typeof startPageHost>> | null = null;
  try {
    meshes = await startMeshChildren([{ relayUrls: [relay.info.udpUrl], count: PEERS, frameHz: HZ }], context.childFlags);
    const [remotes] = meshes;
    host = await startPageHost(
      { relay: relay.info.wsUrl, transport: link, peers: PEERS, messages: MESSAGES, bytes: BYTES, hz: HZ, warmupMs, windowMs, floorFrames: context.quick ? 60 : 240, aead, alternatives, profile: context.profileDir !== null },
      {
        onHub: async (hub: HubInfo): Promise<PeerRoute[]> => {
          const links: MeshLink[] = remotes.routes.map((r) => ({ local: r.index, peerId: hub.peerId, route: hub.route }));
          await remotes.child.call('connect', { links, channels: CHANNELS });
          return remotes.routes.map((r) => ({ peerId: r.peerId, route: r.route }));
        },
        onConnected: async () => {
          await remotes.child.call('waitConnected', { timeoutMs: 30_000 }, 35_000);
          await remotes.child.call('setTraffic', { streams: CHANNELS.map((c) => ({ channel: c.id, reliable: c.reliable, bytes: BYTES, perFrame: MESSAGES })) });
          // The window is the page's; the peers' counts start with its warm-up and are only a check.
          await remotes.child.call('resetStats');
        },
        onMeasured: async () => {
          await remotes.child.call('setTraffic', null);
        },
      },
    );
    page = await openIsolatedPage(host.url);
    const report: PageReport = await host.report(warmupMs + windowMs + 120_000).catch(async (error: Error) => {
      const stats = await relay.call<{ rtc?: unknown }>('stats').catch(() => null);
      throw new Error(`${error.message}; relay WebRTC: ${JSON.stringify(stats?.rtc ?? null)}`);
    });
    const results = await remotes.child.call<MeshResults>('results');
    const peersReceived = Object.values(results.channels).reduce((sum, c) => sum + c.received, 0);
    if (context.profileDir !== null && report.profile !== null) {
      fs.writeFileSync(path.join(context.profileDir, `browser-frame-cost-${link}-${aead}.json`), JSON.stringify(report.profile, null, 2));
    }
    return { link, aead, report, peersReceived };
  } finally {
    await page?.close();
    await host?.close();
    await stopAll([...meshes.map((m) => m.child), relay]);
  }
}

const ms = (us: number): string => `${(us / 1000).toFixed(2)} ms`;

export const browserFrameCostSuite: Suite = {
  name: 'browser-frame-cost',
  title: 'the frame-cost workload with the hub manager in Chromium (WebSocket and WebRTC links), floor measured in the page',
  async run(context: SuiteContext): Promise<BenchResult> {
    const missing = browserMissing();
    const base = { name: 'browser-frame-cost', summary: `Wall time of runCallbacks()+flush() of a hub manager inside Chromium with ${PEERS} peers × 2 channels × ${MESSAGES} messages of ${BYTES} B a channel a frame, both ways, at ${HZ} Hz through the relay; the peers run in Node.` };
    if (missing !== null) return { ...base, tables: [], targets: [], notes: [`skipped: ${missing}`], data: {}, skipped: missing };
    const runs: LinkRun[] = [];
    for (const run of RUNS) {
      context.log(`browser-frame-cost: hub in Chromium over ${run.link}, ${run.aead} AEAD`);
      runs.push(await runLink(run, context));
    }
    const targets: TargetCheck[] = [];
    const frameRows: Table['rows'] = [];
    const floorRows: Table['rows'] = [];
    let workerLinks: LinkRun['report']['workerLinks'] = null;
    for (const { link, aead, report: r } of runs) {
      const ratio = r.frameUs.p50 / r.floorUs.p50;
      const label = `hub in Chromium over ${r.link ?? link}, ${aead === 'libsodium' ? 'useLibsodium()' : 'noble (default)'}`;
      targets.push({ what: `runCallbacks + flush, ${label} (median frame ÷ browser floor)`, target: '≤ 2× the browser floor at p50', value: ratio, met: ratio <= 2, note: `${ms(r.frameUs.p50)} vs floor ${ms(r.floorUs.p50)} (${r.datagramsPerFrame} sends on a bare ${r.floorLink} + ${r.datagramsPerFrame} seals + ${r.opensPerFrame} opens, ${r.cryptoBackend} AEAD)` });
      targets.push({ what: `p99 of runCallbacks + flush on the page's main thread, ${label}`, target: '≤ 8 ms', value: r.frameUs.p99 / 1000, met: r.frameUs.p99 <= 8000, note: `max ${ms(r.frameUs.max)}; longest gap between frame starts ${r.longestGapMs.toFixed(1)} ms` });
      frameRows.push([`runCallbacks() + flush(), ${label}`, r.frameUs.p50, r.frameUs.p90, r.frameUs.p99, r.frameUs.max, r.frameUs.mean]);
      frameRows.push([`the ${PEERS * 2 * MESSAGES} sendMessage() calls, ${label}`, r.sendUs.p50, r.sendUs.p90, r.sendUs.p99, r.sendUs.max, r.sendUs.mean]);
      floorRows.push([`${r.floorLink}, ${r.cryptoBackend}: floor (sends + seals + opens)`, r.floorUs.p50, r.floorUs.p90, r.floorUs.p99, r.floorUs.mean]);
      floorRows.push([`${r.floorLink}: ${r.datagramsPerFrame} sends of ${r.outBytes} B alone`, r.sendsOnlyUs.p50, r.sendsOnlyUs.p90, r.sendsOnlyUs.p99, r.sendsOnlyUs.mean]);
      floorRows.push([`${r.cryptoBackend} ChaCha20-Poly1305 through sealPacket/openPacket: ${r.datagramsPerFrame} seals of ${r.outBytes} B + ${r.opensPerFrame} opens of ${r.inBytes} B`, r.aeadUs.p50, r.aeadUs.p90, r.aeadUs.p99, r.aeadUs.mean]);
      if (r.libsodiumError === 'not measured in this run') continue;
      if (r.libsodiumUs !== null) floorRows.push([`libsodium WebAssembly ChaCha20-Poly1305: the same seals + opens (same bytes as noble: ${r.libsodiumSameBytes ? 'yes' : 'NO'})`, r.libsodiumUs.p50, r.libsodiumUs.p90, r.libsodiumUs.p99, r.libsodiumUs.mean]);
      else floorRows.push([`libsodium WebAssembly: not measured (${r.libsodiumError ?? 'unavailable'})`, null, null, null, null]);
      if (r.webCryptoAesGcmUs !== null) floorRows.push([`WebCrypto AES-256-GCM: the same ${r.datagramsPerFrame + r.opensPerFrame} operations, awaited together (wall)`, r.webCryptoAesGcmUs.p50, r.webCryptoAesGcmUs.p90, r.webCryptoAesGcmUs.p99, r.webCryptoAesGcmUs.mean]);
      if (r.workerLinks !== null) workerLinks = r.workerLinks;
      if (r.workerPostUs !== null) floorRows.push([`manager in a Web Worker, the main thread's floor: ${PEERS * 2 * MESSAGES} outgoing messages packed and posted (transferred) + as many incoming unpacked into message objects`, r.workerPostUs.p50, r.workerPostUs.p90, r.workerPostUs.p99, r.workerPostUs.mean]);
    }
    const first = runs[0].report;
    return {
      ...base,
      tables: [
        { title: 'Hub manager in Chromium (µs, measured in the page)', columns: ['what', 'p50', 'p90', 'p99', 'max', 'mean'], rows: frameRows },
        { title: 'Browser floors, measured in the same page after the window (µs a frame)', columns: ['what', 'p50', 'p90', 'p99', 'mean'], rows: floorRows },
        {
          title: 'Per run',
          columns: ['link', 'AEAD', 'frames', 'late frames', 'datagrams out/frame', 'bytes out/frame', 'datagrams in/frame', 'messages received by the hub/frame', 'messages received by the peers', 'refused sends'],
          rows: runs.map(({ link, report: r, peersReceived }) => [r.link ?? link, r.cryptoBackend, r.frames, r.lateFrames, r.dataDatagramsOut / Math.max(1, r.frames), r.dataBytesOut / Math.max(1, r.frames), r.datagramsIn / Math.max(1, r.frames), r.messagesReceived / Math.max(1, r.frames), peersReceived, r.refused]),
        },
      ],
      targets,
      notes: [
        `Chromium: ${first.userAgent.replace(/^.*(HeadlessChrome\/[\d.]+|Chrome\/[\d.]+).*$/, '$1')}, headless, in a browser context made over raw CDP (no DevTools domain on the page); page cross-origin isolated: ${first.crossOriginIsolated} (performance.now() in 5 µs steps when true); visibility ${first.visibility}.`,
        'Frames run from a 60 Hz timer on the page\'s main thread, timed around runCallbacks() and flush() as the Node hub is; the page, its 32 peers (one Node process) and the relay share the same 2 cores, so preemption shows in the tail.',
        `The floor is measured in the same page after the window: the same number of sends of the same size on a bare ${LINKS.join(' / ')} link to a sink on 127.0.0.1 that discards them, plus one ChaCha20-Poly1305 seal per datagram out and one open per datagram in through the hub's own AEAD backend (noble by default in a page; libsodium's WebAssembly build after useLibsodium(), same bytes).`,
        'WebCrypto AES-GCM is asynchronous: its row is the wall time until all of one frame\'s operations resolved, not main-thread time; adopting it would change the wire (a different AEAD) for every platform or need a negotiated suite.',
        `Manager in a Web Worker (not built; measured so the choice is made on figures): its row is the least the game's main thread would still pay a frame, posting the frame's messages in one transferred buffer and unpacking as many incoming ones; a design would also have to answer sendMessage(), openPeer() and the other calls with their Result synchronously on the main thread (a mirror of the worker's state) and keep every event inside runCallbacks(). ${workerLinks === null ? 'Worker links: not probed.' : `In this Chromium a dedicated worker has RTCPeerConnection: ${workerLinks.rtcPeerConnection ? 'yes' : 'no'}; WebSocket: ${workerLinks.webSocket ? 'yes' : 'no'}; an RTCDataChannel made on the page transfers into it: ${workerLinks.dataChannelTransfers ? 'yes' : 'no'} (so WebRTC would have its PeerConnection and signalling on the page).`}`,
      ],
      data: { runs },
    };
  },
};
