/**
 * 4. Latency: 16 peers at 60 Hz, each sending a 32-byte unreliable position and a 32-byte
 * reliable event to all 15 others every frame, through our relay (UDP) — vs the same traffic as
 * Colyseus room messages over WebSocket (a room that re-broadcasts each message to the others).
 * Peers run 4 to a process in 4 processes; the relay and the Colyseus server each in their own.
 */
import * as os from 'os';
import { cpuBetween, spawnRole, stopAll, type RoleChild } from '../lib/child';
import { allPairs, connectPairs, mergeChannel, startMeshChildren, type MeshChild } from '../lib/mesh-setup';
import type { BenchResult, Table, TargetCheck } from '../lib/report';
import { ratio, type Distribution } from '../lib/stats';
import { monotonicMs } from '../lib/role-protocol';
import { BENCH_RELAY_OPTIONS, sleep, type Suite, type SuiteContext } from '../lib/suite';
import type { TrafficSpec } from '../roles/mesh';
import type { RelayRoleInfo } from '../roles/relay';

const PEERS = 16;
const PROCESSES = 4;
const HZ = 60;
const POSITION = 0;
const EVENT = 1;
const TRAFFIC: TrafficSpec = {
  streams: [
    { channel: POSITION, reliable: false, bytes: 32, perFrame: 1 },
    { channel: EVENT, reliable: true, bytes: 32, perFrame: 1 },
  ],
};

interface Side {
  position: ReturnType<typeof mergeChannel>;
  event: ReturnType<typeof mergeChannel>;
  serverCpuShare: number;
  peerCpuShare: number;
}

async function runOurs(context: SuiteContext, warmupMs: number, windowMs: number): Promise<Side> {
  const relay = await spawnRole<RelayRoleInfo>('relay', BENCH_RELAY_OPTIONS, { nodeFlags: context.childFlags });
  let meshes: MeshChild[] = [];
  try {
    meshes = await startMeshChildren(
      Array.from({ length: PROCESSES }, () => ({ relayUrls: [relay.info.udpUrl], count: PEERS / PROCESSES, frameHz: HZ, pollMs: 1 })),
      context.childFlags,
    );
    await connectPairs(meshes, allPairs(meshes), [
      { id: POSITION, reliable: false },
      { id: EVENT, reliable: true },
    ]);
    await Promise.all(meshes.map((m) => m.child.call('setTraffic', TRAFFIC)));
    await sleep(warmupMs);
    const since = monotonicMs() + 200;
    await Promise.all(meshes.map((m) => m.child.call('resetStats', { sinceMs: since })));
    await sleep(Math.max(0, since - monotonicMs()));
    const before = await Promise.all([relay.sample(), ...meshes.map((m) => m.child.sample())]);
    await sleep(windowMs);
    const after = await Promise.all([relay.sample(), ...meshes.map((m) => m.child.sample())]);
    await Promise.all(meshes.map((m) => m.child.call('setTraffic', null)));
    const results = await Promise.all(meshes.map((m) => m.child.call<{ channels: Record<string, never> }>('results', { raw: true })));
    return {
      position: mergeChannel(results, POSITION),
      event: mergeChannel(results, EVENT),
      serverCpuShare: cpuBetween(before[0], after[0]).share,
      peerCpuShare: before.slice(1).reduce((sum, b, i) => sum + cpuBetween(b, after[i + 1]).share, 0),
    };
  } finally {
    await stopAll([...meshes.map((m) => m.child), relay]);
  }
}

async function runColyseus(context: SuiteContext, warmupMs: number, windowMs: number): Promise<Side> {
  const server = await spawnRole<{ url: string }>('colyseus-server', {}, { nodeFlags: context.childFlags });
  const clients: RoleChild<unknown>[] = [];
  try {
    for (let p = 0; p < PROCESSES; p++) {
      clients.push(await spawnRole('colyseus-mesh', { url: server.info.url, count: PEERS / PROCESSES, frameHz: HZ, firstIndex: p * (PEERS / PROCESSES) }, { nodeFlags: context.childFlags }));
    }
    await Promise.all(clients.map((c) => c.call('setTraffic', TRAFFIC)));
    await sleep(warmupMs);
    const since = monotonicMs() + 200;
    await Promise.all(clients.map((c) => c.call('resetStats', { sinceMs: since })));
    await sleep(Math.max(0, since - monotonicMs()));
    const before = await Promise.all([server.sample(), ...clients.map((c) => c.sample())]);
    await sleep(windowMs);
    const after = await Promise.all([server.sample(), ...clients.map((c) => c.sample())]);
    await Promise.all(clients.map((c) => c.call('setTraffic', null)));
    const results = await Promise.all(clients.map((c) => c.call<{ channels: Record<string, never> }>('results', { raw: true })));
    return {
      position: mergeChannel(results, POSITION),
      event: mergeChannel(results, EVENT),
      serverCpuShare: cpuBetween(before[0], after[0]).share,
      peerCpuShare: before.slice(1).reduce((sum, b, i) => sum + cpuBetween(b, after[i + 1]).share, 0),
    };
  } finally {
    await stopAll([...clients, server]);
  }
}

function row(name: string, stream: string, c: { sent: number; received: number; latencyMs: Distribution }, expectedPerSent: number): (string | number)[] {
  return [name, stream, c.sent, c.received, c.received / (c.sent * expectedPerSent), c.latencyMs.p50, c.latencyMs.p90, c.latencyMs.p99, c.latencyMs.max];
}

export const latencySuite: Suite = {
  name: 'latency',
  title: 'e2e latency p50/p99, 16 peers × 60 Hz: our relay vs Colyseus room messages',
  async run(context: SuiteContext): Promise<BenchResult> {
    const warmupMs = context.quick ? 700 : 2000;
    const windowMs = context.quick ? 3000 : 10_000;
    // Alternating rounds (ours, Colyseus, ours, Colyseus…) so both meet the same machine load; each
    // stack's best (lowest) round counts, since other work on the machine only ever adds latency.
    const rounds = context.quick ? 1 : 2;
    const oursRounds: Side[] = [];
    const colyseusRounds: Side[] = [];
    for (let round = 0; round < rounds; round++) {
      const o = await runOurs(context, warmupMs, windowMs);
      context.log(`  ours: position p50 ${o.position.latencyMs.p50.toFixed(2)} p99 ${o.position.latencyMs.p99.toFixed(2)} ms; event p99 ${o.event.latencyMs.p99.toFixed(2)} ms (load ${os.loadavg()[0].toFixed(2)})`);
      oursRounds.push(o);
      const c = await runColyseus(context, warmupMs, windowMs);
      context.log(`  colyseus: position p50 ${c.position.latencyMs.p50.toFixed(2)} p99 ${c.position.latencyMs.p99.toFixed(2)} ms (load ${os.loadavg()[0].toFixed(2)})`);
      colyseusRounds.push(c);
    }
    const med = (sides: Side[], pick: (s: Side) => number): number => Math.min(...sides.map(pick));
    // Ours: a message to each of the 15 others is one sendMessage each. Colyseus: one room.send, fanned out by the server.
    const table: Table = {
      title: `End-to-end latency, ${PEERS} peers × ${HZ} Hz, ${windowMs / 1000} s window per round (ms)`,
      columns: ['round', 'stack', 'stream', 'sent', 'received', 'delivered', 'p50', 'p90', 'p99', 'max'],
      rows: oursRounds.flatMap((o, i) => [
        [i + 1, ...row('switchboard (UDP via relay)', 'position, unreliable', o.position, 1)],
        [i + 1, ...row('switchboard (UDP via relay)', 'event, reliable', o.event, 1)],
        [i + 1, ...row('Colyseus room messages (WebSocket)', 'position', colyseusRounds[i].position, PEERS - 1)],
        [i + 1, ...row('Colyseus room messages (WebSocket)', 'event', colyseusRounds[i].event, PEERS - 1)],
      ]),
    };
    const cpuTable: Table = {
      title: 'CPU during the window (share of one core, lowest round)',
      columns: ['stack', 'relay / server', `${PROCESSES} peer processes together`],
      rows: [
        ['switchboard', med(oursRounds, (s) => s.serverCpuShare), med(oursRounds, (s) => s.peerCpuShare)],
        ['Colyseus', med(colyseusRounds, (s) => s.serverCpuShare), med(colyseusRounds, (s) => s.peerCpuShare)],
      ],
    };
    const p99Ratio = ratio(med(oursRounds, (s) => s.position.latencyMs.p99), med(colyseusRounds, (s) => s.position.latencyMs.p99));
    const p99RatioReliable = ratio(med(oursRounds, (s) => s.event.latencyMs.p99), med(colyseusRounds, (s) => s.event.latencyMs.p99));
    const targets: TargetCheck[] = [
      { what: 'e2e p99, 16 peers × 60 Hz, position (unreliable)', target: '≤ 0.5× Colyseus p99', value: p99Ratio, met: p99Ratio <= 0.5 },
      { what: 'e2e p99, same, event (reliable)', target: '≤ 0.5× Colyseus p99', value: p99RatioReliable, met: p99RatioReliable <= 0.5 },
    ];
    return {
      name: 'latency',
      summary: `End-to-end latency from sendMessage() to the message event, ${PEERS} peers each sending to all others at ${HZ} Hz, through our relay vs Colyseus room messages (the room re-broadcasts each message at once).`,
      tables: [table, cpuTable],
      targets,
      notes: [
        `Send time is CLOCK_MONOTONIC (process.hrtime), the same clock in every process. Senders send and flush once per ${HZ} Hz frame; receivers see messages as soon as they arrive (ours: runCallbacks() polled every 1 ms between frames; Colyseus: its onMessage callback), so the figures are transport latency, not frame quantization.`,
        `Process layout: relay (or Colyseus server) in one process, peers ${PEERS / PROCESSES} to a process in ${PROCESSES} processes, on a ${'2'}-core machine shared by all of them.`,
        'Colyseus messages are reliable (TCP); both of our streams go in the same datagram per peer and frame.',
        'Targets and chart use each stack\'s best (lowest) round of the alternating rounds; every round is in the table.',
      ],
      data: { oursRounds, colyseusRounds, warmupMs, windowMs },
      charts: [
        {
          title: `e2e latency, ${PEERS} peers × ${HZ} Hz`,
          unit: 'ms',
          groups: [
            { label: 'position p50', bars: [{ series: 'switchboard', value: med(oursRounds, (s) => s.position.latencyMs.p50) }, { series: 'Colyseus room messages (WebSocket)', value: med(colyseusRounds, (s) => s.position.latencyMs.p50) }] },
            { label: 'position p99', bars: [{ series: 'switchboard', value: med(oursRounds, (s) => s.position.latencyMs.p99) }, { series: 'Colyseus room messages (WebSocket)', value: med(colyseusRounds, (s) => s.position.latencyMs.p99) }] },
            { label: 'reliable event p99', bars: [{ series: 'switchboard', value: med(oursRounds, (s) => s.event.latencyMs.p99) }, { series: 'Colyseus room messages (WebSocket)', value: med(colyseusRounds, (s) => s.event.latencyMs.p99) }] },
          ],
        },
      ],
    };
  },
};
