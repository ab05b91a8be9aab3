/**
 * 3. Wire overhead and memory. Bytes on the wire per message (counted at a socketFactory wrapper)
 * for 20 B and 200 B messages, 1 and 10 messages a flush, vs the raw payload; heap per open idle
 * peer (a manager with N connected, idle peers, after GC); relay memory per session (vs the bare
 * forwarder's table entry); bytes allocated per 10,000 datagrams on the steady-state send and
 * receive path, vs two bare dgram sockets.
 */
import { spawnRole, stopAll, type RoleChild } from '../lib/child';
import { connectPairs, startMeshChildren, type MeshChild, type MeshResults, type PeerRef } from '../lib/mesh-setup';
import type { BenchResult, Table, TargetCheck } from '../lib/report';
import { BENCH_RELAY_OPTIONS, sleep, type Suite, type SuiteContext } from '../lib/suite';
import type { BareForwarderInfo } from '../roles/bare-forwarder';
import type { AllocWindow } from '../roles/alloc-probe';
import type { RelayRoleInfo } from '../roles/relay';

interface WireRun {
  size: number;
  reliable: boolean;
  perFlush: number;
  messages: number;
  datagrams: number;
  bytes: number;
  ackDatagrams: number;
  ackBytes: number;
}

type MemoryUsage = { heapUsed: number; external: number; arrayBuffers: number; rss: number; codeBytes: number };

/** heapUsed + external grown from `before` to `after`, without V8's code spaces (JIT output, per process, not per object). */
function grownWithoutCode(before: MemoryUsage, after: MemoryUsage): number {
  return after.heapUsed + after.external - after.codeBytes - (before.heapUsed + before.external - before.codeBytes);
}

async function wireOverhead(context: SuiteContext): Promise<{ runs: WireRun[]; table: Table; fits: Table; targets: TargetCheck[] }> {
  const relay = await spawnRole<RelayRoleInfo>('relay', BENCH_RELAY_OPTIONS, { nodeFlags: context.childFlags });
  let meshes: MeshChild[] = [];
  const runs: WireRun[] = [];
  try {
    meshes = await startMeshChildren([{ relayUrls: [relay.info.udpUrl], count: 2, frameHz: 60, countWire: true }], context.childFlags);
    const mesh = meshes[0].child;
    await connectPairs(meshes, [[{ child: 0, index: 0 }, { child: 0, index: 1 }]], [
      { id: 0, reliable: false },
      { id: 1, reliable: true },
    ]);
    const windowMs = context.quick ? 700 : 2500;
    for (const size of [20, 200]) {
      for (const reliable of [false, true]) {
        for (const perFlush of [1, 10]) {
          await mesh.call('setTraffic', { streams: [{ channel: reliable ? 1 : 0, reliable, bytes: size, perFrame: perFlush }], senders: [0] });
          await sleep(300);
          await mesh.call('resetStats');
          await sleep(windowMs);
          await mesh.call('setTraffic', null);
          const r = await mesh.call<MeshResults>('results');
          const sent = r.channels[String(reliable ? 1 : 0)]?.sent ?? 0;
          runs.push({ size, reliable, perFlush, messages: sent, datagrams: r.wire[0].dataDatagramsOut, bytes: r.wire[0].dataBytesOut, ackDatagrams: r.wire[1].dataDatagramsOut, ackBytes: r.wire[1].dataBytesOut });
          await sleep(200);
        }
      }
    }
  } finally {
    await stopAll([...meshes.map((m) => m.child), relay]);
  }
  const table: Table = {
    title: 'Bytes on the wire (UDP payload) per message, sender → relay, and acknowledgements coming back',
    columns: ['message B', 'channel', 'messages/flush', 'wire B/message', 'overhead B/message', 'datagrams/message', 'ack B/message (back)'],
    rows: runs.map((r) => [r.size, r.reliable ? 'reliable' : 'unreliable', r.perFlush, r.bytes / r.messages, (r.bytes - r.size * r.messages) / r.messages, r.datagrams / r.messages, r.ackBytes / r.messages]),
  };
  // overhead = perDatagram · datagrams + perMessage · messages, solved from the 1- and 10-a-flush runs.
  const fitsRows: Table['rows'] = [];
  const targets: TargetCheck[] = [];
  for (const size of [20, 200]) {
    for (const reliable of [false, true]) {
      const a = runs.find((r) => r.size === size && r.reliable === reliable && r.perFlush === 1);
      const b = runs.find((r) => r.size === size && r.reliable === reliable && r.perFlush === 10);
      if (!a || !b) continue;
      const oa = a.bytes - a.size * a.messages;
      const ob = b.bytes - b.size * b.messages;
      const det = a.datagrams * b.messages - b.datagrams * a.messages;
      const perDatagram = (oa * b.messages - ob * a.messages) / det;
      const perMessage = (a.datagrams * ob - b.datagrams * oa) / det;
      fitsRows.push([size, reliable ? 'reliable' : 'unreliable', perDatagram, perMessage]);
      targets.push({ what: `wire overhead, ${size} B ${reliable ? 'reliable' : 'unreliable'} messages`, target: '≤ 4 B/coalesced message + ≤ 40 B/datagram', value: perMessage, met: perMessage <= 4 && perDatagram <= 40, note: `${perDatagram.toFixed(1)} B per datagram` });
    }
  }
  return { runs, table, fits: { title: 'Overhead split (least squares over 1 and 10 messages a flush)', columns: ['message B', 'channel', 'B per datagram', 'B per coalesced message'], rows: fitsRows }, targets };
}

/** Peers connected before the baseline, so the code paths (compiled once per process) are not charged to the measured peers. */
const WARM_PEERS = 8;

async function heapPerPeer(context: SuiteContext): Promise<{ peers: number; warmPeers: number; perPeerBytes: number; idleMs: number; before: MemoryUsage; after: MemoryUsage }> {
  const peers = context.quick ? 40 : 128;
  const idleMs = 2000;
  const channels = [
    { id: 0, reliable: false },
    { id: 1, reliable: true },
  ];
  const relay = await spawnRole<RelayRoleInfo>('relay', BENCH_RELAY_OPTIONS, { nodeFlags: context.childFlags });
  let meshes: MeshChild[] = [];
  try {
    meshes = await startMeshChildren(
      [
        { relayUrls: [relay.info.udpUrl], count: 1, frameHz: 60 },
        { relayUrls: [relay.info.udpUrl], count: WARM_PEERS + peers, frameHz: 30 },
      ],
      ['--expose-gc', ...context.childFlags],
    );
    const hub = meshes[0].child;
    const pairsFor = (from: number, count: number): [PeerRef, PeerRef][] => Array.from({ length: count }, (_, i) => [{ child: 0, index: 0 }, { child: 1, index: from + i }]);
    await connectPairs(meshes, pairsFor(0, WARM_PEERS), channels);
    await sleep(idleMs);
    const before = await hub.call<MemoryUsage>('gc');
    await connectPairs(meshes, pairsFor(WARM_PEERS, peers), channels);
    await sleep(idleMs);
    const after = await hub.call<MemoryUsage>('gc');
    const perPeerBytes = grownWithoutCode(before, after) / peers;
    return { peers, warmPeers: WARM_PEERS, perPeerBytes, idleMs, before, after };
  } finally {
    await stopAll([...meshes.map((m) => m.child), relay]);
  }
}

async function forwarderMemory(context: SuiteContext, kind: 'relay' | 'bare', sessions: number): Promise<{ perSessionHeapBytes: number; perSessionRssBytes: number; before: MemoryUsage; after: MemoryUsage }> {
  const flags = ['--expose-gc', ...context.childFlags];
  const forwarder: RoleChild<RelayRoleInfo | BareForwarderInfo> =
    kind === 'relay' ? await spawnRole<RelayRoleInfo>('relay', BENCH_RELAY_OPTIONS, { nodeFlags: flags }) : await spawnRole<BareForwarderInfo>('bare-udp-forwarder', {}, { nodeFlags: flags });
  const generators: RoleChild<unknown>[] = [];
  try {
    // A first batch of sessions, so code paths, tables and the first growth of every Map and slab
    // are in the baseline; the figure is the marginal cost of the second batch (what one more
    // session costs a busy relay), so one-off allocations do not spread over the count.
    generators.push(await spawnRole('udp-flood', { mode: kind, port: forwarder.info.port, sessions }, { startTimeoutMs: 60_000 }));
    const before = await forwarder.call<MemoryUsage>('gc');
    generators.push(await spawnRole('udp-flood', { mode: kind, port: forwarder.info.port, sessions }, { startTimeoutMs: 60_000 }));
    const after = await forwarder.call<MemoryUsage>('gc');
    return {
      perSessionHeapBytes: grownWithoutCode(before, after) / sessions,
      perSessionRssBytes: (after.rss - before.rss) / sessions,
      before,
      after,
    };
  } finally {
    await stopAll([...generators, forwarder]);
  }
}

/** A memory figure at or below zero: the heap shrank between two GC'd samples, so it says nothing. */
const NOISE_NOTE = 'not measured: the heap shrank between the two samples (GC noise above the signal)';

/** Flags for the allocation probe: a young generation that holds the whole window, so no GC runs in it. */
const ALLOC_FLAGS = ['--expose-gc', '--min-semi-space-size=128', '--max-semi-space-size=128'];

async function allocationPerDatagram(context: SuiteContext): Promise<{ ours: AllocWindow; floor: AllocWindow; aead: AllocWindow; datagrams: number }> {
  const datagrams = 10_000;
  const relay = await spawnRole<RelayRoleInfo>('relay', BENCH_RELAY_OPTIONS, { nodeFlags: context.childFlags });
  let probe: RoleChild<unknown> | null = null;
  try {
    probe = await spawnRole('alloc-probe', { relayUrl: relay.info.udpUrl }, { nodeFlags: [...ALLOC_FLAGS, ...context.childFlags] });
    const ours = await probe.call<AllocWindow>('ours', { datagrams });
    const floor = await probe.call<AllocWindow>('floor', { datagrams, bytes: 64 });
    const aead = await probe.call<AllocWindow>('aead', { datagrams, bytes: 64 });
    return { ours, floor, aead, datagrams };
  } finally {
    await stopAll([probe, relay]);
  }
}

export const wireMemorySuite: Suite = {
  name: 'wire-memory',
  title: 'bytes on the wire per message; heap per open peer; relay memory per session',
  async run(context: SuiteContext): Promise<BenchResult> {
    const wire = await wireOverhead(context);
    context.log('  wire overhead measured');
    const heap = await heapPerPeer(context);
    context.log(`  heap per open idle peer: ${Math.round(heap.perPeerBytes)} B`);
    // 1,000 in quick runs too: 200 sessions (~100 KB) were within the heap's noise after GC, and
    // one quick run measured the relay's heap shrinking by 74 KB between the batches.
    const sessions = 1000;
    const relayMemory = await forwarderMemory(context, 'relay', sessions);
    const bareMemory = await forwarderMemory(context, 'bare', sessions);
    context.log(`  relay per session: ${Math.round(relayMemory.perSessionHeapBytes)} B (bare ${Math.round(bareMemory.perSessionHeapBytes)} B)`);
    const alloc = await allocationPerDatagram(context);
    context.log(`  allocated per 10,000 datagrams: ours ${Math.round(alloc.ours.bytesPer10kDatagrams)} B, bare sockets ${Math.round(alloc.floor.bytesPer10kDatagrams)} B`);
    const allocCell = (w: AllocWindow): string | number => (w.gcsInWindow > 0 ? `GC ran in the window (${w.gcsInWindow}×): not measured` : w.bytesPer10kDatagrams);
    const allocTable: Table = {
      title: `Bytes allocated per 10,000 datagrams, steady state (send and receive paths in one process, ${alloc.datagrams.toLocaleString('en-US')} datagrams sent)`,
      columns: ['what', 'datagrams sent', 'datagrams received', 'bytes allocated', 'B per 10,000 datagrams (sent + received)', 'B per datagram'],
      rows: [
        ['switchboard: A sends one 32 B unreliable message a flush to B through the relay, B acknowledges', alloc.ours.datagramsSent, alloc.ours.datagramsReceived, alloc.ours.allocatedBytes, allocCell(alloc.ours), alloc.ours.bytesPer10kDatagrams / 10_000],
        ['floor: two bare connected dgram sockets, 64 B datagrams both ways, same loop', alloc.floor.datagramsSent, alloc.floor.datagramsReceived, alloc.floor.allocatedBytes, allocCell(alloc.floor), alloc.floor.bytesPer10kDatagrams / 10_000],
        ['the AEAD alone: one seal (counted as sent) and one open (as received) of a 64 B datagram, same backend and loop', alloc.aead.datagramsSent / 2, alloc.aead.datagramsSent / 2, alloc.aead.allocatedBytes, allocCell(alloc.aead), alloc.aead.bytesPer10kDatagrams / 10_000],
      ],
    };
    const memoryTable: Table = {
      title: 'Memory',
      columns: ['what', 'count', 'heap + external B each (after GC, without code)', 'RSS B each', 'JIT code grown meanwhile (B, whole process, not charged)'],
      rows: [
        ['manager: open, connected, idle peer (2 channels)', heap.peers, heap.perPeerBytes, (heap.after.rss - heap.before.rss) / heap.peers, heap.after.codeBytes - heap.before.codeBytes],
        ['relay: registered UDP session', sessions, relayMemory.perSessionHeapBytes, relayMemory.perSessionRssBytes, relayMemory.after.codeBytes - relayMemory.before.codeBytes],
        ['bare forwarder: table entry (baseline)', sessions, bareMemory.perSessionHeapBytes, bareMemory.perSessionRssBytes, bareMemory.after.codeBytes - bareMemory.before.codeBytes],
      ],
    };
    return {
      name: 'wire-memory',
      summary: 'Bytes on the wire per message vs the raw payload, and memory per open peer and per relay session.',
      tables: [wire.table, wire.fits, memoryTable, allocTable],
      targets: [
        ...wire.targets,
        { what: 'heap per open idle peer', target: '≤ 16 KiB', value: heap.perPeerBytes, met: heap.perPeerBytes > 0 && heap.perPeerBytes <= 16 * 1024, ...(heap.perPeerBytes > 0 ? {} : { note: NOISE_NOTE }) },
        { what: 'relay memory per session', target: '≤ 512 B', value: relayMemory.perSessionHeapBytes, met: relayMemory.perSessionHeapBytes > 0 && relayMemory.perSessionHeapBytes <= 512, note: `${relayMemory.perSessionHeapBytes > 0 ? '' : `${NOISE_NOTE}; `}bare forwarder entry ${Math.round(bareMemory.perSessionHeapBytes)} B` },
      ],
      notes: [
        'Wire bytes are UDP payload bytes of DATA datagrams as the manager hands them to its socket (relay header 9 B + peer packet header 6 B + AEAD tag 16 B + frames); IP and UDP headers (28 B over IPv4) come on top for every datagram, ours and any baseline alike.',
        'Messages are sent at 60 Hz from one manager to another through the relay; "ack B/message" is what the receiver sends back (ACK frames, keepalives).',
        `Heap per peer: heapUsed + external of the manager's process after two forced GCs, with ${WARM_PEERS} peers already connected and idle, before opening the measured peers and after they are connected and idle, less what V8's code spaces grew meanwhile (its own column: the JIT tiering functions up as time passes, the same whatever the number of peers, which a heap snapshot shows as (code) objects); includes the peer's crypto session, reliability state and the manager's maps.`,
        `Allocation: JS heap (heapUsed) plus ArrayBuffer memory grown over the window, in a process started with ${ALLOC_FLAGS.join(' ')} after a forced GC and 500 warm-up frames, so nothing is collected inside the window (a GC in the window is reported instead of a figure). It counts everything both managers allocate per datagram (packets, frames, sealing, the relay header, the socket's receive buffer and event objects) and the loop's own promise per turn; the floor counts what Node's dgram and the same loop allocate for the same number of datagrams.`,
        'Relay memory per session: the marginal cost of a session. heapUsed + external of the relay process after forced GCs, with a first batch of sessions registered and after a second batch of as many (each from one generator process, one UDP socket per session), divided by the second batch, less the growth of V8\'s code spaces, as for peers; the bare forwarder is measured the same way.',
      ],
      data: { wire: wire.runs, heap, relayMemory, bareMemory, sessions, allocation: alloc },
    };
  },
};
