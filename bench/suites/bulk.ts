/**
 * 5. Bulk reliable throughput on loopback: one manager sends 64 KiB reliable messages to another
 * through the relay (sender, relay and receiver each in its own process) — vs the byte rate of
 * 1200-byte datagrams flooded through the bare UDP forwarder in the same layout, with TCP through
 * a Node TCP forwarder beside it. The same flood with every datagram sealed and opened is the
 * encrypted floor: what per-datagram encryption alone leaves of the bare rate.
 */
import * as os from 'os';
import * as path from 'path';
import { counterDelta, cpuBetween, spawnRole, stopAll, type RoleChild } from '../lib/child';
import { cryptoBackendName } from '../../plugin/net/crypto/primitives';
import { connectPairs, startMeshChildren, type MeshChild, type MeshResults } from '../lib/mesh-setup';
import type { BenchResult, TargetCheck } from '../lib/report';
import { ratio } from '../lib/stats';
import { BENCH_RELAY_OPTIONS, sleep, type Suite, type SuiteContext } from '../lib/suite';
import type { BareForwarderInfo } from '../roles/bare-forwarder';
import type { RelayRoleInfo } from '../roles/relay';
import type { TcpForwarderInfo } from '../roles/tcp-forwarder';

const MiB = 1024 * 1024;
const pct = (share: number): string => `${Math.round(share * 100)}%`;
/**
 * Both managers run a frame every millisecond, the fastest cadence a game loop uses. Frames back
 * to back (setImmediate) spin both processes at 100% on this 2-core machine and starve the relay
 * between them: the same transfer measured 12.6–18.9 MiB/s that way, 18.2–21.7 at 1 ms frames.
 */
const BULK_FRAME_HZ = 1000;

type Aead = 'default' | 'libsodium';

async function oursBulk(context: SuiteContext, totalBytes: number, maxMs: number, relayOptions: Record<string, number>, aead: Aead = 'default'): Promise<{ bytesPerS: number; receivedBytes: number; seconds: number; resent: number; sentPackets: number; relayDrops: Record<string, number>; complete: boolean; receiverDrops: Record<string, number>; senderDrops: Record<string, number>; rttMs: number; cpuShare: { sender: number; relay: number; receiver: number }; cpuUs: CpuPerDatagram; senderView: string[]; receiverView: string[] }> {
  const relay = await spawnRole<RelayRoleInfo>('relay', { ...BENCH_RELAY_OPTIONS, ...relayOptions }, { nodeFlags: context.childFlags });
  let meshes: MeshChild[] = [];
  try {
    meshes = await startMeshChildren(
      [
        { relayUrls: [relay.info.udpUrl], count: 1, frameHz: BULK_FRAME_HZ, aead },
        { relayUrls: [relay.info.udpUrl], count: 1, frameHz: BULK_FRAME_HZ, aead },
      ],
      context.childFlags,
    );
    await connectPairs(meshes, [[{ child: 0, index: 0 }, { child: 1, index: 0 }]], [{ id: 1, reliable: true }]);
    const [sender, receiver] = meshes;
    await receiver.child.call('bulkReceive', { channel: 1 });
    if (context.profileDir) await Promise.all([sender.child.call('profileStart'), receiver.child.call('profileStart'), relay.call('profileStart')]);
    const before = await Promise.all([sender.child.sample(), relay.sample(), receiver.child.sample()]);
    const { startedAtMs } = await sender.child.call<{ startedAtMs: number }>('bulkSend', { link: 0, channel: 1, totalBytes, messageBytes: 64 * 1024 });
    const deadline = performance.now() + maxMs;
    let progress = { receivedBytes: 0, lastAtMs: 0 };
    while (performance.now() < deadline) {
      await sleep(100);
      progress = await receiver.child.call<{ receivedBytes: number; lastAtMs: number }>('bulkProgress');
      if (progress.receivedBytes >= totalBytes) break;
    }
    const after = await Promise.all([sender.child.sample(), relay.sample(), receiver.child.sample()]);
    // CPU share of each process from the start of sending to the poll that saw the last byte (that poll adds up to 100 ms of idle).
    const cpu = before.map((b, i) => cpuBetween(b, after[i]));
    const [senderCpu, relayCpu, receiverCpu] = cpu.map((c) => c.share);
    if (context.profileDir) {
      const dir = context.profileDir;
      await sender.child.call('profileStop', { file: path.join(dir, `bulk-sender-${aead}.cpuprofile`) });
      await receiver.child.call('profileStop', { file: path.join(dir, `bulk-receiver-${aead}.cpuprofile`) });
      await relay.call('profileStop', { file: path.join(dir, `bulk-relay-${aead}.cpuprofile`) });
    }
    const sent = await sender.child.call<MeshResults>('results');
    const got = await receiver.child.call<MeshResults>('results');
    const relayStats = await relay.sample();
    const drops: Record<string, number> = {};
    for (const [k, v] of Object.entries(relayStats.counters)) if (k.startsWith('drop.') && v > 0) drops[k.slice(5)] = v;
    const seconds = ((progress.lastAtMs || performance.now()) - startedAtMs) / 1000;
    return { bytesPerS: progress.receivedBytes / seconds, receivedBytes: progress.receivedBytes, seconds, resent: sent.peerTotals.resentPackets, sentPackets: sent.peerTotals.sentPackets, relayDrops: drops, complete: progress.receivedBytes >= totalBytes, receiverDrops: got.drops, senderDrops: sent.drops, rttMs: 0, cpuShare: { sender: senderCpu, relay: relayCpu, receiver: receiverCpu }, cpuUs: cpuPerDatagram({ sender: cpu[0].cpuS, middle: cpu[1].cpuS, receiver: cpu[2].cpuS }, { sender: sent.peerTotals.sentPackets, middle: sent.peerTotals.sentPackets, receiver: sent.peerTotals.sentPackets }), senderView: sent.describe, receiverView: got.describe };
  } finally {
    await stopAll([...meshes.map((m) => m.child), relay]);
  }
}

/** CPU µs per datagram each process of the path handled, and their sum (what the shared cores divide). */
interface CpuPerDatagram {
  sender: number;
  middle: number;
  receiver: number;
  total: number;
}

interface BareUdp {
  bytesPerS: number;
  datagramsPerS: number;
  steps: { offeredPerS: number; receivedPerS: number; bytesPerS: number; cpuUs: CpuPerDatagram }[];
  openFailures: number;
  /** At the best step. */
  cpuUs: CpuPerDatagram;
}

/** Each process's CPU over the datagrams it handled (a flood's sender sends more than arrives). */
function cpuPerDatagram(cpuS: { sender: number; middle: number; receiver: number }, datagrams: { sender: number; middle: number; receiver: number }): CpuPerDatagram {
  const per = (seconds: number, count: number) => (count > 0 ? (seconds * 1e6) / count : Number.NaN);
  const sender = per(cpuS.sender, datagrams.sender);
  const middle = per(cpuS.middle, datagrams.middle);
  const receiver = per(cpuS.receiver, datagrams.receiver);
  return { sender, middle, receiver, total: sender + middle + receiver };
}

/** `aead`: the sender seals every datagram and the receiver opens it (the encrypted floor). */
async function bareUdp(stepMs: number, rates: number[], aead: Aead | null): Promise<BareUdp> {
  const forwarder = await spawnRole<BareForwarderInfo>('bare-udp-forwarder', {});
  const children: RoleChild<unknown>[] = [forwarder];
  try {
    const flood = { mode: 'bare', port: forwarder.info.port, sessions: 1, aead: aead !== null, libsodium: aead === 'libsodium' };
    const receiver = await spawnRole('udp-flood', flood);
    children.push(receiver);
    const sender = await spawnRole('udp-flood', flood);
    children.push(sender);
    const ids = await receiver.call<Uint8Array[]>('ids');
    // Offered rate in steps, best delivered rate wins: an unpaced flood on 2 shared cores starves
    // the forwarder and the receiver of CPU and measures the sender instead.
    const steps: BareUdp['steps'] = [];
    for (const rate of rates) {
      await sender.call('flood', { size: 1200, maxMs: stepMs + 1500, destinations: ids, batch: 64, ratePerSecond: rate });
      await sleep(300);
      const [a, fa, sa] = await Promise.all([receiver.sample(), forwarder.sample(), sender.sample()]);
      await sleep(stepMs);
      const [b, fb, sb] = await Promise.all([receiver.sample(), forwarder.sample(), sender.sample()]);
      await sender.call('stopFlood');
      const seconds = (b.tMs - a.tMs) / 1000;
      const received = counterDelta(a, b, 'received');
      const cpuUs = cpuPerDatagram(
        { sender: cpuBetween(sa, sb).cpuS, middle: cpuBetween(fa, fb).cpuS, receiver: cpuBetween(a, b).cpuS },
        { sender: counterDelta(sa, sb, 'sent'), middle: counterDelta(fa, fb, 'datagramsIn'), receiver: received },
      );
      steps.push({ offeredPerS: rate, receivedPerS: received / seconds, bytesPerS: counterDelta(a, b, 'receivedBytes') / seconds, cpuUs });
      await sleep(100);
    }
    const best = steps.reduce((x, y) => (y.bytesPerS > x.bytesPerS ? y : x));
    const openFailures = (await receiver.sample()).counters.openFailures ?? 0;
    return { bytesPerS: best.bytesPerS, datagramsPerS: best.receivedPerS, steps, openFailures, cpuUs: best.cpuUs };
  } finally {
    await stopAll(children.reverse());
  }
}

async function tcpThroughForwarder(windowMs: number): Promise<{ bytesPerS: number }> {
  const sink = await spawnRole<{ port: number }>('tcp-sink', {});
  const children: RoleChild<unknown>[] = [sink];
  try {
    const forwarder = await spawnRole<TcpForwarderInfo>('tcp-forwarder', { targetPort: sink.info.port });
    children.push(forwarder);
    const source = await spawnRole('tcp-source', { port: forwarder.info.port });
    children.push(source);
    await source.call('start', { maxMs: windowMs + 2000 });
    await sleep(500);
    const a = await sink.sample();
    await sleep(windowMs);
    const b = await sink.sample();
    await source.call('halt');
    return { bytesPerS: counterDelta(a, b, 'receivedBytes') / ((b.tMs - a.tMs) / 1000) };
  } finally {
    await stopAll(children.reverse());
  }
}

export const bulkSuite: Suite = {
  name: 'bulk',
  title: 'bulk reliable throughput via relay vs bare UDP forwarder and TCP forwarder',
  async run(context: SuiteContext): Promise<BenchResult> {
    // 32 MiB in quick runs too: 8 MiB took ~0.4 s, most of it Startup and the first ProbeBW cycles,
    // and read 0.17–0.20× bare where the same code moves 32 MiB at 0.30×.
    const totalBytes = 32 * MiB;
    const windowMs = context.quick ? 2000 : 4000;
    // Up to 120k/s in quick runs too: the bare forwarder delivered all of 80k/s, so a lower top step caps the baseline.
    const rates = context.quick ? [20_000, 40_000, 80_000, 120_000] : [10_000, 20_000, 40_000, 60_000, 80_000, 120_000];
    const stepMs = context.quick ? 800 : 1500;
    const bare = await bareUdp(stepMs, rates, null);
    context.log(`  bare UDP forwarder: ${(bare.bytesPerS / MiB).toFixed(1)} MiB/s`);
    const sealed = await bareUdp(stepMs, rates, 'default');
    const sealedSodium = await bareUdp(stepMs, rates, 'libsodium');
    for (const floor of [sealed, sealedSodium]) if (floor.openFailures > 0) throw new Error(`bulk: ${floor.openFailures} sealed datagrams did not open`);
    context.log(`  bare UDP forwarder, every datagram sealed and opened: ${(sealed.bytesPerS / MiB).toFixed(1)} MiB/s (${cryptoBackendName()}), ${(sealedSodium.bytesPerS / MiB).toFixed(1)} MiB/s (libsodium)`);
    const tcp = await tcpThroughForwarder(windowMs);
    context.log(`  TCP forwarder: ${(tcp.bytesPerS / MiB).toFixed(1)} MiB/s`);
    const ours = await oursBulk(context, totalBytes, context.quick ? 20_000 : 60_000, { sessionBytesPerSecond: 1e9, sessionDatagramsPerSecond: 1e6, destinationBytesPerSecond: 1e9 });
    context.log(`  switchboard: ${(ours.bytesPerS / MiB).toFixed(1)} MiB/s (${ours.complete ? 'complete' : 'INCOMPLETE'})`);
    const oursSodium = await oursBulk(context, totalBytes, context.quick ? 20_000 : 60_000, { sessionBytesPerSecond: 1e9, sessionDatagramsPerSecond: 1e6, destinationBytesPerSecond: 1e9 }, 'libsodium');
    context.log(`  switchboard, useLibsodium(): ${(oursSodium.bytesPerS / MiB).toFixed(1)} MiB/s (${oursSodium.complete ? 'complete' : 'INCOMPLETE'})`);
    const oursDefault = context.quick ? null : await oursBulk(context, totalBytes, 60_000, {});
    if (oursDefault) context.log(`  switchboard, relay default rate limits: ${(oursDefault.bytesPerS / MiB).toFixed(1)} MiB/s`);
    const r = ratio(ours.bytesPerS, bare.bytesPerS);
    const rSodium = ratio(oursSodium.bytesPerS, bare.bytesPerS);
    const floorNote = (b: BareUdp, o: { bytesPerS: number }) => `the encrypted floor (every datagram sealed and opened, no reliability) is ${ratio(b.bytesPerS, bare.bytesPerS).toFixed(2)}× bare; ours is ${ratio(o.bytesPerS, b.bytesPerS).toFixed(2)}× that floor`;
    const targets: TargetCheck[] = [
      { what: `bulk reliable throughput (${cryptoBackendName()} AEAD, the default)`, target: '≥ 0.6× bare UDP forwarder bytes/s (1200 B datagrams)', value: r, met: r >= 0.6, note: floorNote(sealed, ours) },
      { what: 'bulk reliable throughput, useLibsodium()', target: '≥ 0.6× bare UDP forwarder bytes/s (1200 B datagrams)', value: rSodium, met: rSodium >= 0.6, note: floorNote(sealedSodium, oursSodium) },
    ];
    const oursDetail = (o: typeof ours) => `${(o.receivedBytes / MiB).toFixed(0)} MiB in ${o.seconds.toFixed(2)} s, ${o.resent} of ${o.sentPackets} packets resent; CPU while sending: sender ${pct(o.cpuShare.sender)}, relay ${pct(o.cpuShare.relay)}, receiver ${pct(o.cpuShare.receiver)}`;
    const rows: (string | number)[][] = [
      [`switchboard reliable, 64 KiB messages, via relay (rate limits lifted), ${cryptoBackendName()} AEAD`, ours.bytesPerS / MiB, r, oursDetail(ours)],
      ['same, useLibsodium()', oursSodium.bytesPerS / MiB, rSodium, oursDetail(oursSodium)],
    ];
    if (oursDefault) rows.push(['same, relay with its default limits (20 MB/s per session, 4 MB/s per destination: the latter binds)', oursDefault.bytesPerS / MiB, ratio(oursDefault.bytesPerS, bare.bytesPerS), `${oursDetail(oursDefault)}; relay drops ${JSON.stringify(oursDefault.relayDrops)}`]);
    rows.push(['bare UDP forwarder, 1200 B datagrams (baseline: best of paced steps)', bare.bytesPerS / MiB, 1, `${Math.round(bare.datagramsPerS)} datagrams/s received; steps offered→received/s: ${bare.steps.map((x) => `${x.offeredPerS / 1000}k→${(x.receivedPerS / 1000).toFixed(1)}k`).join(', ')}`]);
    const steps = (b: BareUdp) => b.steps.map((x) => `${x.offeredPerS / 1000}k→${(x.receivedPerS / 1000).toFixed(1)}k`).join(', ');
    rows.push([`same, the sender seals each datagram and the receiver opens it (${cryptoBackendName()} ChaCha20-Poly1305): the encrypted floor`, sealed.bytesPerS / MiB, ratio(sealed.bytesPerS, bare.bytesPerS), `${Math.round(sealed.datagramsPerS)} datagrams/s; steps ${steps(sealed)}; ours is ${ratio(ours.bytesPerS, sealed.bytesPerS).toFixed(2)}× this`]);
    rows.push(['same, sealed and opened through libsodium', sealedSodium.bytesPerS / MiB, ratio(sealedSodium.bytesPerS, bare.bytesPerS), `${Math.round(sealedSodium.datagramsPerS)} datagrams/s; steps ${steps(sealedSodium)}; ours with useLibsodium() is ${ratio(oursSodium.bytesPerS, sealedSodium.bytesPerS).toFixed(2)}× this`]);
    rows.push(['TCP through a Node TCP forwarder', tcp.bytesPerS / MiB, ratio(tcp.bytesPerS, bare.bytesPerS), 'kernel batches segments; Node moves 64 KiB per syscall']);
    const cores = os.cpus().length;
    const cpuRow = (what: string, c: CpuPerDatagram): (string | number)[] => [what, c.sender, c.middle, c.receiver, c.total, Math.round((cores * 1e6) / c.total)];
    const cpuTable = {
      title: `CPU per datagram (µs, all threads of each process; the three share the machine's ${cores} cores)`,
      columns: ['path', 'sender', 'relay / forwarder', 'receiver', 'sum', `datagrams/s ${cores} cores would allow`],
      rows: [
        cpuRow(`switchboard, ${cryptoBackendName()} AEAD (per data packet sent)`, ours.cpuUs),
        cpuRow('switchboard, useLibsodium()', oursSodium.cpuUs),
        cpuRow(`encrypted floor, ${cryptoBackendName()} (its best step)`, sealed.cpuUs),
        cpuRow('encrypted floor, libsodium', sealedSodium.cpuUs),
        cpuRow('bare UDP forwarder (its best step)', bare.cpuUs),
      ],
    };
    return {
      name: 'bulk',
      summary: 'Bulk throughput on loopback: sender, middle (relay / forwarder) and receiver each in their own process.',
      tables: [{ title: 'Throughput (payload bytes received per second)', columns: ['path', 'MiB/s', '× bare UDP', 'detail'], rows }, cpuTable],
      targets,
      notes: [
        'Ours: application bytes delivered by message$ / (last delivery − start of sending); the sender offers 64 KiB reliable messages whenever sendMessage accepts them, both managers run a frame (runCallbacks + flush) every millisecond.',
        'Encrypted floor: the same bare flow with one AEAD seal per datagram sent and one open per datagram received, through the crypto backend the managers use — what any stack that encrypts each datagram pays before reliability, ordering and congestion control.',
        'CPU per datagram: each process\'s CPU time over the datagrams it handled in the window (ours: from the start of sending to the progress poll that saw the last byte, up to 100 ms of idle frames included, over the data packets sent; a flood: its sender over what it sent, the forwarder over what it read, the receiver over what arrived). On shared cores the sum bounds the rate: the CPU seconds all cores give a second, over the sum.',
        'Bare UDP: UDP payload bytes received per second with a sender offering 1200-byte datagrams through the bare forwarder at stepped rates (the best step counts) — no reliability, no encryption, no congestion control.',
        'The relay enforces byte rates per session (default 20 MB/s) and per destination (default 4 MB/s, shared among its sources), each with one second of burst; the main figures lift them to measure the stack, the full run also reports the defaults, where the transfer runs at the destination budget and the relay drops what the sender probes past it.',
      ],
      data: { ours, oursSodium, oursDefault, bare, sealed, sealedSodium, tcp, totalBytes },
    };
  },
};
