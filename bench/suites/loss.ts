/**
 * 6. Under loss: 5% loss each way, 25 ± 5 ms each way (50 ms RTT) on a seeded user-space UDP
 * impairment proxy in front of one peer. Reliable delivery latency (one 32-byte message a frame at
 * 60 Hz) and the time of a bulk transfer, ours through the relay vs ENet through the same proxy;
 * and the freshness of the newest position on our unreliable channel. The baseline is native ENet
 * (libenet, compiled by the bench); the enet npm package (ENet in JavaScript) is only a footnote.
 */
import { spawnRole, stopAll, type RoleChild } from '../lib/child';
import { buildNativeEnet, spawnNativeEnet, type NativeEnetPeer } from '../lib/native-enet';
import { connectPairs, startMeshChildren, type MeshChild, type MeshResults } from '../lib/mesh-setup';
import type { BenchResult, Table, TargetCheck } from '../lib/report';
import { distribution, ratio, type Distribution } from '../lib/stats';
import { monotonicMs } from '../lib/role-protocol';
import { BENCH_RELAY_OPTIONS, sleep, type Suite, type SuiteContext } from '../lib/suite';
import type { RelayRoleInfo } from '../roles/relay';

const IMPAIRMENT = { lossRate: 0.05, delayMs: 25, jitterMs: 5, seed: 20_251 };
const HZ = 60;
const POSITION = 0;
const EVENT = 1;
const BULK = 2;

interface LossSide {
  reliable: { sent: number; received: number; outOfOrder: number; latencyMs: Distribution };
  bulk: { bytes: number; seconds: number; complete: boolean };
  freshnessMs?: Distribution;
  positions?: { sent: number; received: number };
  proxy: Record<string, number>;
  detail?: Record<string, unknown>;
}

async function waitBulk(poll: () => Promise<{ receivedBytes: number; lastAtMs: number }>, total: number, maxMs: number): Promise<{ receivedBytes: number; lastAtMs: number }> {
  const deadline = performance.now() + maxMs;
  let progress = await poll();
  while (progress.receivedBytes < total && performance.now() < deadline) {
    await sleep(50);
    progress = await poll();
  }
  return progress;
}

async function runOurs(context: SuiteContext, warmupMs: number, windowMs: number, bulkBytes: number): Promise<LossSide> {
  const relay = await spawnRole<RelayRoleInfo>('relay', BENCH_RELAY_OPTIONS, { nodeFlags: context.childFlags });
  const proxy = await spawnRole<{ port: number }>('impair-proxy', { targetPort: relay.info.port, ...IMPAIRMENT });
  let meshes: MeshChild[] = [];
  try {
    meshes = await startMeshChildren(
      [
        { relayUrls: [`udp://127.0.0.1:${proxy.info.port}`], count: 1, frameHz: HZ },
        { relayUrls: [relay.info.udpUrl], count: 1, frameHz: HZ },
      ],
      context.childFlags,
    );
    const [a, b] = meshes;
    await connectPairs(meshes, [[{ child: 0, index: 0 }, { child: 1, index: 0 }]], [
      { id: POSITION, reliable: false },
      { id: EVENT, reliable: true },
      { id: BULK, reliable: true },
    ], 60_000);
    await a.child.call('setTraffic', { streams: [{ channel: POSITION, reliable: false, bytes: 32, perFrame: 1 }, { channel: EVENT, reliable: true, bytes: 32, perFrame: 1 }] });
    await b.child.call('setTraffic', { streams: [], freshnessChannel: POSITION });
    await sleep(warmupMs);
    const since = monotonicMs() + 200;
    await Promise.all(meshes.map((m) => m.child.call('resetStats', { sinceMs: since })));
    await sleep(windowMs);
    // Stop sending and stop sampling freshness together (a stopped sender would age the newest position).
    await Promise.all([a.child.call('setTraffic', null), b.child.call('setTraffic', null)]);
    const sentSide = await a.child.call<MeshResults>('results');
    await sleep(1500); // let the last reliable messages arrive
    const got = await b.child.call<MeshResults>('results', { raw: false });
    const event = got.channels[String(EVENT)];
    const position = got.channels[String(POSITION)];
    // Bulk transfer: frames every 1 ms on both sides, as a download loop would run.
    await Promise.all(meshes.map((m) => m.child.call('setFrameHz', { frameHz: 1000 })));
    await b.child.call('bulkReceive', { channel: BULK });
    const { startedAtMs } = await a.child.call<{ startedAtMs: number }>('bulkSend', { link: 0, channel: BULK, totalBytes: bulkBytes, messageBytes: 16 * 1024 });
    const progress = await waitBulk(() => b.child.call('bulkProgress'), bulkBytes, 60_000);
    const proxyCounters = (await proxy.sample()).counters;
    return {
      reliable: { sent: sentSide.channels[String(EVENT)]?.sent ?? 0, received: event?.received ?? 0, outOfOrder: event?.outOfOrder ?? 0, latencyMs: event?.latencyMs ?? emptyDistribution() },
      bulk: { bytes: progress.receivedBytes, seconds: (progress.lastAtMs - startedAtMs) / 1000, complete: progress.receivedBytes >= bulkBytes },
      freshnessMs: got.freshnessMs ?? emptyDistribution(),
      positions: { sent: sentSide.channels[String(POSITION)]?.sent ?? 0, received: position?.received ?? 0 },
      proxy: proxyCounters,
      detail: { sender: sentSide.peerTotals, senderDrops: sentSide.drops, senderView: sentSide.describe, receiverView: got.describe, receiverDrops: got.drops },
    };
  } finally {
    await stopAll([...meshes.map((m) => m.child), proxy, relay]);
  }
}

function emptyDistribution(): Distribution {
  return { count: 0, mean: Number.NaN, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN };
}

interface EnetResults {
  received: number;
  receivedBytes: number;
  firstAtMs: number;
  lastAtMs: number;
  outOfOrder: number;
  sent: number;
  latencyMs: Distribution;
}

async function runEnet(warmupMs: number, windowMs: number, bulkBytes: number): Promise<LossSide> {
  const children: RoleChild<unknown>[] = [];
  try {
    const server = await spawnRole<{ port: number }>('enet-peer', { mode: 'server', serviceMs: Math.round(1000 / HZ) }, { nodeFlags: ['--no-warnings'] });
    children.push(server);
    const proxy = await spawnRole<{ port: number }>('impair-proxy', { targetPort: server.info.port, ...IMPAIRMENT });
    children.push(proxy);
    const client = await spawnRole('enet-peer', { mode: 'client', serviceMs: Math.round(1000 / HZ), connectPort: proxy.info.port }, { nodeFlags: ['--no-warnings'] });
    children.push(client);
    await server.call('waitPeer');
    await client.call('stream', { bytes: 32, intervalMs: 1000 / HZ, maxMs: warmupMs + windowMs + 1000 });
    await sleep(warmupMs);
    await server.call('reset');
    const sentBefore = (await client.sample()).counters.sent ?? 0;
    await sleep(windowMs);
    const { sent } = await client.call<{ sent: number }>('stopStream');
    await sleep(1500);
    const stream = await server.call<EnetResults>('results');
    await Promise.all([server.call('setServiceMs', { serviceMs: 1 }), client.call('setServiceMs', { serviceMs: 1 })]);
    await server.call('reset');
    const { startedAtMs } = await client.call<{ startedAtMs: number }>('bulk', { totalBytes: bulkBytes, messageBytes: 16 * 1024 });
    const progress = await waitBulk(() => server.call<EnetResults>('results'), bulkBytes, 60_000);
    const proxyCounters = (await proxy.sample()).counters;
    return {
      reliable: { sent: sent - sentBefore, received: stream.received, outOfOrder: stream.outOfOrder, latencyMs: stream.latencyMs },
      bulk: { bytes: progress.receivedBytes, seconds: (progress.lastAtMs - startedAtMs) / 1000, complete: progress.receivedBytes >= bulkBytes },
      proxy: proxyCounters,
    };
  } finally {
    await stopAll([...children].reverse());
  }
}

interface NativeResults {
  received: number;
  receivedBytes: number;
  firstAtMs: number;
  lastAtMs: number;
  outOfOrder: number;
  sent: number;
  latencyMs: number[];
}

/** Native ENet (libenet, compiled by the bench) through the same proxy: the same workload as runEnet. */
async function runNativeEnet(binary: string, warmupMs: number, windowMs: number, bulkBytes: number): Promise<LossSide> {
  const peers: NativeEnetPeer[] = [];
  let proxy: RoleChild<{ port: number }> | null = null;
  try {
    const server = await spawnNativeEnet(binary, ['server']);
    peers.push(server);
    proxy = await spawnRole<{ port: number }>('impair-proxy', { targetPort: server.port, ...IMPAIRMENT });
    const client = await spawnNativeEnet(binary, ['client', String(proxy.info.port)]);
    peers.push(client);
    const frameMs = 1000 / HZ;
    await Promise.all([server.call(`service ${frameMs}`), client.call(`service ${frameMs}`)]);
    const deadline = performance.now() + 15_000;
    while (!(await server.call<{ connected: number }>('waitpeer')).connected) {
      if (performance.now() > deadline) throw new Error('native enet: no peer connected');
      await sleep(20);
    }
    await client.call(`stream 32 ${warmupMs + windowMs + 1000}`);
    await sleep(warmupMs);
    await server.call('reset');
    const sentBefore = (await client.call<{ sent: number }>('sent')).sent;
    await sleep(windowMs);
    const { sent } = await client.call<{ sent: number }>('stopstream');
    await sleep(1500);
    const stream = await server.call<NativeResults>('results');
    await Promise.all([server.call('service 1'), client.call('service 1')]);
    await server.call('reset');
    const { startedAtMs } = await client.call<{ startedAtMs: number }>(`bulk ${bulkBytes} ${16 * 1024}`);
    const progress = await waitBulk(async () => {
      const r = await server.call<NativeResults>('results');
      return { receivedBytes: r.receivedBytes, lastAtMs: r.lastAtMs };
    }, bulkBytes, 60_000);
    const proxyCounters = (await proxy.sample()).counters;
    return {
      reliable: { sent: sent - sentBefore, received: stream.received, outOfOrder: stream.outOfOrder, latencyMs: distribution(stream.latencyMs) },
      bulk: { bytes: progress.receivedBytes, seconds: (progress.lastAtMs - startedAtMs) / 1000, complete: progress.receivedBytes >= bulkBytes },
      proxy: proxyCounters,
    };
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
    if (proxy !== null) await proxy.stop();
  }
}

export const lossSuite: Suite = {
  name: 'loss',
  title: 'under 5% loss, 50 ms RTT, 5 ms jitter: reliable latency and 1 MiB transfer time vs native ENet; freshness',
  async run(context: SuiteContext): Promise<BenchResult> {
    const warmupMs = context.quick ? 1000 : 2000;
    const windowMs = context.quick ? 4000 : 30_000;
    const bulkBytes = 1024 * 1024;
    const kib = bulkBytes / 1024;
    const ours = await runOurs(context, warmupMs, windowMs, bulkBytes);
    context.log(`  ours: reliable p50 ${ours.reliable.latencyMs.p50.toFixed(1)} p99 ${ours.reliable.latencyMs.p99.toFixed(1)} ms; bulk ${ours.bulk.seconds.toFixed(2)} s`);
    const build = buildNativeEnet();
    let native: LossSide | null = null;
    if (build.ok) {
      native = await runNativeEnet(build.binary, warmupMs, windowMs, bulkBytes);
      context.log(`  native enet (${build.version}): reliable p50 ${native.reliable.latencyMs.p50.toFixed(1)} p99 ${native.reliable.latencyMs.p99.toFixed(1)} ms; bulk ${native.bulk.seconds.toFixed(2)} s`);
    } else {
      context.log(`  native ENet NOT MEASURED: ${build.reason}`);
    }
    const enetJs = await runEnet(warmupMs, windowMs, bulkBytes);
    context.log(`  enet npm package (footnote): reliable p50 ${enetJs.reliable.latencyMs.p50.toFixed(1)} p99 ${enetJs.reliable.latencyMs.p99.toFixed(1)} ms; bulk ${enetJs.bulk.seconds.toFixed(2)} s`);
    const row = (label: string, side: LossSide): (string | number)[] => [
      label,
      side.reliable.sent,
      side.reliable.received,
      side.reliable.outOfOrder,
      side.reliable.latencyMs.p50,
      side.reliable.latencyMs.p90,
      side.reliable.latencyMs.p99,
      side.reliable.latencyMs.max,
      side.bulk.complete ? side.bulk.seconds : `incomplete (${side.bulk.bytes} B)`,
    ];
    const rows = [row('switchboard (via relay)', ours)];
    if (native !== null && build.ok) rows.push(row(`native ENet (${build.version}, C)`, native));
    else rows.push(['native ENet', 'not measured', build.ok ? '' : build.reason, '', '', '', '', '', '']);
    const table: Table = {
      title: `Reliable messages (32 B, one a frame at ${HZ} Hz, ${windowMs / 1000} s) and a ${kib} KiB transfer, 5% loss each way, 25 ± 5 ms each way`,
      columns: ['stack', 'sent', 'delivered', 'out of order', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', `${kib} KiB transfer s`],
      rows,
    };
    const f = ours.freshnessMs ?? emptyDistribution();
    const freshness: Table = {
      title: `Freshness: age of the newest position received, sampled every frame (${HZ} Hz sender and receiver, unreliable channel)`,
      columns: ['stack', 'positions sent', 'received', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      rows: [['switchboard unreliable channel', ours.positions?.sent ?? 0, ours.positions?.received ?? 0, f.p50, f.p90, f.p99, f.max]],
    };
    const targets: TargetCheck[] = [];
    if (native !== null) {
      const p99Ratio = ratio(ours.reliable.latencyMs.p99, native.reliable.latencyMs.p99);
      const bulkRatio = ratio(ours.bulk.seconds, native.bulk.seconds);
      targets.push(
        { what: 'reliable p99 under 5% loss, 50 ms RTT, 60 Hz (ours ÷ native ENet)', target: '≤ native ENet p99 through the same proxy', value: p99Ratio, met: p99Ratio <= 1, note: `ours ${ours.reliable.latencyMs.p99.toFixed(1)} ms vs native ENet ${native.reliable.latencyMs.p99.toFixed(1)} ms` },
        { what: `${kib} KiB reliable transfer time, same link (ours ÷ native ENet)`, target: '≤ 1.0× native ENet', value: bulkRatio, met: bulkRatio <= 1, note: `ours ${ours.bulk.seconds.toFixed(2)} s vs native ENet ${native.bulk.seconds.toFixed(2)} s` },
      );
    } else {
      const reason = build.ok ? 'run failed' : build.reason;
      targets.push(
        { what: 'reliable p99 under 5% loss, 50 ms RTT, 60 Hz (ours ÷ native ENet)', target: '≤ native ENet p99 through the same proxy', value: Number.NaN, met: false, note: `NOT MEASURED: ${reason}` },
        { what: `${kib} KiB reliable transfer time, same link (ours ÷ native ENet)`, target: '≤ 1.0× native ENet', value: Number.NaN, met: false, note: `NOT MEASURED: ${reason}` },
      );
    }
    const baselineBars = (pick: (side: LossSide) => number) => (native !== null ? [{ series: 'native ENet', value: pick(native) }] : []);
    return {
      name: 'loss',
      summary: 'Behaviour under 5% loss and 50 ms RTT (user-space impairment proxy in front of one peer), ours vs native ENet (libenet, C) through the same proxy with the same seed.',
      tables: [table, freshness],
      targets,
      notes: [
        `Impairment: each datagram, each way, lost with p = ${IMPAIRMENT.lossRate} or delayed ${IMPAIRMENT.delayMs} ± ${IMPAIRMENT.jitterMs} ms (uniform, so jitter reorders); seed ${IMPAIRMENT.seed}. Ours: peer A → proxy → relay → peer B (only A's link is impaired, so both stacks cross the proxy once each way). ENet: client → proxy → server.`,
        build.ok
          ? `Native ENet: bench/native/enet-peer.c compiled at bench time with \`cc -O2 … -lenet\` against Debian's ${build.version}; one host per process, serviced once a frame (that frame's send first, then enet_host_service with a zero timeout until no events, then enet_host_flush).`
          : `Native ENet was NOT measured: ${build.reason}. The targets above are reported as not measured.`,
        `Both stacks are serviced once a frame at ${HZ} Hz for the message stream (ours: runCallbacks+flush; ENet: enet_host_service every ${(1000 / HZ).toFixed(1)} ms) and every 1 ms for the transfer (the ${kib} KiB are queued at once as 16 KiB messages); latency is send call → delivery event, on CLOCK_MONOTONIC.`,
        'Our reliable stream shares datagrams with the unreliable position stream (one of each a frame); ENet carries only the reliable stream.',
        `Footnote — the \`enet\` npm package (ENet 1.3 compiled to JavaScript with emscripten, serviced by its own timer) through the same proxy: reliable p50 ${enetJs.reliable.latencyMs.p50.toFixed(1)} ms, p99 ${enetJs.reliable.latencyMs.p99.toFixed(1)} ms; ${kib} KiB transfer ${enetJs.bulk.complete ? `${enetJs.bulk.seconds.toFixed(2)} s` : `incomplete (${enetJs.bulk.bytes} B)`}. Not a baseline: it is not what a native game would link.`,
        'Not done: freshness over a WebSocket stream under the same loss. TCP loss needs kernel-level drops (iptables statistic in a network namespace; the iptables package is not installed here) and a user-space TCP delay proxy would let the kernel recover losses at loopback speed, which would flatter TCP.',
      ],
      data: { ours, nativeEnet: native, nativeEnetBuild: build.ok ? { version: build.version } : { missing: build.reason }, enetNpmPackage: enetJs, impairment: IMPAIRMENT, windowMs, bulkBytes },
      charts: [
        {
          title: 'reliable delivery under 5% loss, 50 ms RTT',
          unit: 'ms',
          groups: [
            { label: 'p50', bars: [{ series: 'switchboard', value: ours.reliable.latencyMs.p50 }, ...baselineBars((s) => s.reliable.latencyMs.p50)] },
            { label: 'p99', bars: [{ series: 'switchboard', value: ours.reliable.latencyMs.p99 }, ...baselineBars((s) => s.reliable.latencyMs.p99)] },
            { label: 'position freshness p99', bars: [{ series: 'switchboard', value: f.p99 }] },
          ],
        },
        {
          title: `${kib} KiB reliable transfer under loss`,
          unit: 's',
          groups: [{ label: 'transfer time', bars: [{ series: 'switchboard', value: ours.bulk.seconds }, ...baselineBars((s) => s.bulk.seconds)] }],
        },
      ],
    };
  },
};
