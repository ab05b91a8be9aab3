/**
 * 6. Under loss: 5% loss each way, 25 ± 5 ms each way (50 ms RTT) on a seeded user-space UDP
 * impairment proxy in front of one peer. Reliable delivery latency (one 32-byte message a frame at
 * 60 Hz) and the time of a bulk transfer, ours through the relay vs ENet through the same proxy;
 * and the freshness of the newest position on our unreliable channel.
 */
import { spawnRole, stopAll, type RoleChild } from '../lib/child';
import { connectPairs, startMeshChildren, type MeshChild, type MeshResults } from '../lib/mesh-setup';
import type { BenchResult, Table, TargetCheck } from '../lib/report';
import { ratio, type Distribution } from '../lib/stats';
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

export const lossSuite: Suite = {
  name: 'loss',
  title: 'under 5% loss, 50 ms RTT, 5 ms jitter: reliable latency and bulk time vs ENet; freshness',
  async run(context: SuiteContext): Promise<BenchResult> {
    const warmupMs = context.quick ? 1000 : 2000;
    const windowMs = context.quick ? 4000 : 30_000;
    const bulkBytes = context.quick ? 256 * 1024 : 1024 * 1024;
    const ours = await runOurs(context, warmupMs, windowMs, bulkBytes);
    context.log(`  ours: reliable p50 ${ours.reliable.latencyMs.p50.toFixed(1)} p99 ${ours.reliable.latencyMs.p99.toFixed(1)} ms; bulk ${ours.bulk.seconds.toFixed(2)} s`);
    const enet = await runEnet(warmupMs, windowMs, bulkBytes);
    context.log(`  enet: reliable p50 ${enet.reliable.latencyMs.p50.toFixed(1)} p99 ${enet.reliable.latencyMs.p99.toFixed(1)} ms; bulk ${enet.bulk.seconds.toFixed(2)} s`);
    const p99Ratio = ratio(ours.reliable.latencyMs.p99, enet.reliable.latencyMs.p99);
    const bulkRatio = ratio(ours.bulk.seconds, enet.bulk.seconds);
    const kib = bulkBytes / 1024;
    const table: Table = {
      title: `Reliable messages (32 B, one a frame at ${HZ} Hz, ${windowMs / 1000} s) and a ${kib} KiB transfer, 5% loss each way, 25 ± 5 ms each way`,
      columns: ['stack', 'sent', 'delivered', 'out of order', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', `${kib} KiB transfer s`],
      rows: [
        ['switchboard (via relay)', ours.reliable.sent, ours.reliable.received, ours.reliable.outOfOrder, ours.reliable.latencyMs.p50, ours.reliable.latencyMs.p90, ours.reliable.latencyMs.p99, ours.reliable.latencyMs.max, ours.bulk.complete ? ours.bulk.seconds : `incomplete (${ours.bulk.bytes} B)`],
        ['ENet (enet npm package)', enet.reliable.sent, enet.reliable.received, enet.reliable.outOfOrder, enet.reliable.latencyMs.p50, enet.reliable.latencyMs.p90, enet.reliable.latencyMs.p99, enet.reliable.latencyMs.max, enet.bulk.complete ? enet.bulk.seconds : `incomplete (${enet.bulk.bytes} B)`],
      ],
    };
    const f = ours.freshnessMs ?? emptyDistribution();
    const freshness: Table = {
      title: `Freshness: age of the newest position received, sampled every frame (${HZ} Hz sender and receiver, unreliable channel)`,
      columns: ['stack', 'positions sent', 'received', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      rows: [['switchboard unreliable channel', ours.positions?.sent ?? 0, ours.positions?.received ?? 0, f.p50, f.p90, f.p99, f.max]],
    };
    const targets: TargetCheck[] = [
      { what: 'reliable p99 under 5% loss, 50 ms RTT', target: '≤ ENet p99 through the same proxy', value: p99Ratio, met: p99Ratio <= 1, note: `ours ${ours.reliable.latencyMs.p99.toFixed(1)} ms vs ENet ${enet.reliable.latencyMs.p99.toFixed(1)} ms` },
      { what: `bulk ${kib} KiB transfer time under loss (ours ÷ ENet)`, target: '≤ 1× ENet (no target in issue 8)', value: bulkRatio, met: bulkRatio <= 1, note: `ours ${ours.bulk.seconds.toFixed(2)} s vs ENet ${enet.bulk.seconds.toFixed(2)} s` },
    ];
    return {
      name: 'loss',
      summary: 'Behaviour under 5% loss and 50 ms RTT (user-space impairment proxy in front of one peer), ours vs ENet through the same proxy with the same seed.',
      tables: [table, freshness],
      targets,
      notes: [
        `Impairment: each datagram, each way, lost with p = ${IMPAIRMENT.lossRate} or delayed ${IMPAIRMENT.delayMs} ± ${IMPAIRMENT.jitterMs} ms (uniform, so jitter reorders); seed ${IMPAIRMENT.seed}. Ours: peer A → proxy → relay → peer B (only A's link is impaired, so both stacks cross the proxy once each way). ENet: client → proxy → server.`,
        `Both stacks are serviced once a frame at ${HZ} Hz for the message stream (ours: runCallbacks+flush; ENet: enet_host_service every ${Math.round(1000 / HZ)} ms) and every 1 ms for the transfer; latency is send call → delivery event, on CLOCK_MONOTONIC.`,
        'Our reliable stream shares datagrams with the unreliable position stream (one of each a frame); ENet carries only the reliable stream.',
        'Not done: freshness over a WebSocket stream under the same loss. TCP loss needs kernel-level drops (iptables statistic in a network namespace; the iptables package is not installed here) and a user-space TCP delay proxy would let the kernel recover losses at loopback speed, which would flatter TCP.',
      ],
      data: { ours, enet, impairment: IMPAIRMENT, windowMs, bulkBytes },
      charts: [
        {
          title: 'reliable delivery under 5% loss, 50 ms RTT',
          unit: 'ms',
          groups: [
            { label: 'p50', bars: [{ series: 'switchboard', value: ours.reliable.latencyMs.p50 }, { series: 'ENet', value: enet.reliable.latencyMs.p50 }] },
            { label: 'p99', bars: [{ series: 'switchboard', value: ours.reliable.latencyMs.p99 }, { series: 'ENet', value: enet.reliable.latencyMs.p99 }] },
            { label: 'position freshness p99', bars: [{ series: 'switchboard', value: f.p99 }] },
          ],
        },
        {
          title: `${kib} KiB reliable transfer under loss`,
          unit: 's',
          groups: [{ label: 'transfer time', bars: [{ series: 'switchboard', value: ours.bulk.seconds }, { series: 'ENet', value: enet.bulk.seconds }] }],
        },
      ],
    };
  },
};
