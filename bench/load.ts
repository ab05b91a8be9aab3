/**
 * `npm run load -- --peers 1000 --hz 20 --seconds 60 [--processes 4] [--group 2] [--relays 2] [--quick]`
 *
 * Simulated game clients (NetworkManagers) in several processes, in rooms of `--group` peers that
 * each send every room-mate one unreliable 32 B position and one reliable 16 B event a frame, all
 * through one relay in its own process — or, with `--relays N`, through N relays of a fleet (a
 * real redis-server on a free loopback port, started and stopped here; client process p uses relay
 * p mod N, so room-mates sit on different relays and their traffic crosses the fleet link). Reports delivered/sent per channel, the relay's CPU and
 * RSS over time, and drops by reason. Reliable traffic must lose nothing (the report says whether
 * it did; nothing here fails on speed). `--quick` is 50 peers for 5 s, to test the tool.
 */
import * as os from 'os';
import * as path from 'path';
import { parseArgs, numberOption } from './lib/args';
import { cleanUpBundle } from './lib/build';
import { cpuBetween, killAllChildren, spawnRole, stopAll, type RoleChild } from './lib/child';
import { describeMachine, machineInfo } from './lib/machine';
import { connectPairs, mergeChannel, routeSync, startMeshChildren, type MeshChild, type PeerRef } from './lib/mesh-setup';
import { renderResult, writeResult, type BenchResult, type Table } from './lib/report';
import { monotonicMs, type ProcessSample } from './lib/role-protocol';
import { BENCH_RELAY_OPTIONS, sleep } from './lib/suite';
import { redisServerProblem, startTestRedis, type TestRedis } from '../test/helpers/redis-server';
import type { MeshResults } from './roles/mesh';
import type { RelayRoleInfo } from './roles/relay';

const POSITION = 0;
const EVENT = 1;

interface TimelineRow {
  second: number;
  relayCpuShare: number;
  relayRssMiB: number;
  forwardedPerS: number;
  sessions: number;
  sentPerS: number;
  receivedPerS: number;
  loadAverage: number;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.flags.has('quick');
  const peers = Math.round(numberOption(args, 'peers', quick ? 50 : 1000, 2, 2000));
  const hz = numberOption(args, 'hz', 20, 1, 120);
  const seconds = numberOption(args, 'seconds', quick ? 5 : 60, 1, 600);
  const processes = Math.round(numberOption(args, 'processes', Math.min(4, Math.max(2, Math.ceil(peers / 250))), 1, 16));
  const group = Math.round(numberOption(args, 'group', 2, 2, 16));
  const drainSeconds = numberOption(args, 'drain-seconds', 5, 1, 60);
  const relayCount = Math.round(numberOption(args, 'relays', 1, 1, 4));
  const machine = machineInfo();
  const date = new Date();
  console.error(`[load] ${peers} peers in ${processes} processes, rooms of ${group}, ${hz} Hz, ${seconds} s, ${relayCount} relay(s) — ${describeMachine(machine)}`);

  let redis: TestRedis | null = null;
  const relays: RoleChild<RelayRoleInfo>[] = [];
  const meshes: MeshChild[] = [];
  try {
    if (relayCount > 1) {
      const problem = redisServerProblem();
      if (problem !== null) throw new Error(`--relays ${relayCount} needs redis-server for the fleet directory: ${problem} (Debian: apt-get install redis-server)`);
      redis = await startTestRedis();
      const secret = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('hex');
      for (let r = 0; r < relayCount; r++) relays.push(await spawnRole<RelayRoleInfo>('relay', { ...BENCH_RELAY_OPTIONS, webrtc: false, fleet: { redisUrl: redis.url, secret } }, { maxLifetimeMs: (seconds + 300) * 1000 }));
      const deadline = Date.now() + 15_000;
      for (const r of relays) {
        while ((await r.call<number>('fleetPeers')) < relayCount - 1) {
          if (Date.now() > deadline) throw new Error('the fleet relays did not list each other within 15 s');
          await sleep(100);
        }
      }
    } else {
      relays.push(await spawnRole<RelayRoleInfo>('relay', BENCH_RELAY_OPTIONS, { maxLifetimeMs: (seconds + 300) * 1000 }));
    }
    // Global peer g lives in process g % processes, so room-mates sit in different processes.
    const counts = Array.from({ length: processes }, (_, p) => Math.floor(peers / processes) + (p < peers % processes ? 1 : 0));
    const sync = routeSync(() => meshes);
    meshes.push(...(await startMeshChildren(counts.map((count, p) => ({ relayUrls: [relays[p % relayCount].info.udpUrl], count, frameHz: hz, maxSamples: 100_000 })), [], sync.onRouteChange)));
    const ref = (g: number): PeerRef => ({ child: g % processes, index: Math.floor(g / processes) });
    const pairs: [PeerRef, PeerRef][] = [];
    for (let first = 0; first < peers; first += group) {
      const members = Array.from({ length: Math.min(group, peers - first) }, (_, k) => first + k);
      for (let i = 0; i < members.length; i++) for (let j = i + 1; j < members.length; j++) pairs.push([ref(members[i]), ref(members[j])]);
    }
    sync.setPairs(pairs);
    const connectStarted = performance.now();
    try {
      await connectPairs(meshes, pairs, [
        { id: POSITION, reliable: false },
        { id: EVENT, reliable: true },
      ], 180_000);
    } catch (error) {
      const stats = await Promise.all(relays.map((r) => r.call<{ registrations: number; sessions: number }>('stats').catch(() => null)));
      console.error(`[load] connecting failed; relay registrations / sessions ${stats.map((x) => `${x?.registrations} / ${x?.sessions}`).join(', ')}, route changes seen ${sync.count()}`);
      throw error;
    }
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    console.error(`[load] ${pairs.length} pairs connected in ${connectSeconds.toFixed(1)} s`);

    const traffic = {
      streams: [
        { channel: POSITION, reliable: false, bytes: 32, perFrame: 1 },
        { channel: EVENT, reliable: true, bytes: 16, perFrame: 1 },
      ],
    };
    await Promise.all(meshes.map((m) => m.child.call('setTraffic', traffic)));
    await sleep(1000);
    // Count exactly the messages sent from `since` on, in every process (one clock for all).
    const since = monotonicMs() + 300;
    await Promise.all(meshes.map((m) => m.child.call('resetStats', { sinceMs: since })));
    await sleep(Math.max(0, since - monotonicMs()));
    const timeline: TimelineRow[] = [];
    let previousRelays = await Promise.all(relays.map((r) => r.sample()));
    let previousWorkers = await Promise.all(meshes.map((m) => m.child.sample()));
    const firstRelays = previousRelays;
    const firstWorkers = previousWorkers;
    for (let second = 1; second <= seconds; second++) {
      await sleep(1000);
      const nowRelays = await Promise.all(relays.map((r) => r.sample()));
      const nowWorkers = await Promise.all(meshes.map((m) => m.child.sample()));
      const wall = (nowRelays[0].tMs - previousRelays[0].tMs) / 1000;
      const sum = (samples: ProcessSample[], key: string): number => samples.reduce((s, x) => s + (x.counters[key] ?? 0), 0);
      const sent = sum(nowWorkers, `ch${POSITION}.sent`) + sum(nowWorkers, `ch${EVENT}.sent`) - sum(previousWorkers, `ch${POSITION}.sent`) - sum(previousWorkers, `ch${EVENT}.sent`);
      const received = sum(nowWorkers, `ch${POSITION}.received`) + sum(nowWorkers, `ch${EVENT}.received`) - sum(previousWorkers, `ch${POSITION}.received`) - sum(previousWorkers, `ch${EVENT}.received`);
      timeline.push({
        second,
        relayCpuShare: nowRelays.reduce((sum, now, r) => sum + cpuBetween(previousRelays[r], now).share, 0),
        relayRssMiB: nowRelays.reduce((sum, now) => sum + now.rssBytes, 0) / 2 ** 20,
        forwardedPerS: nowRelays.reduce((sum, now, r) => sum + (now.counters.forwarded ?? 0) - (previousRelays[r].counters.forwarded ?? 0), 0) / wall,
        sessions: sum(nowRelays, 'sessions'),
        sentPerS: sent / wall,
        receivedPerS: received / wall,
        loadAverage: os.loadavg()[0],
      });
      const row = timeline[timeline.length - 1];
      if (second % 5 === 0 || second === seconds) console.error(`[load] ${second} s: relay CPU ${(row.relayCpuShare * 100).toFixed(0)}%, RSS ${row.relayRssMiB.toFixed(0)} MiB, ${Math.round(row.forwardedPerS)} datagrams/s forwarded, ${Math.round(row.receivedPerS)}/${Math.round(row.sentPerS)} messages/s received/sent`);
      previousRelays = nowRelays;
      previousWorkers = nowWorkers;
    }
    const lastRelays = previousRelays;
    const workerCpu = firstWorkers.map((w, i) => cpuBetween(w, previousWorkers[i]).share);
    await Promise.all(meshes.map((m) => m.child.call('setTraffic', null)));
    await sleep(drainSeconds * 1000);
    const results = await Promise.all(meshes.map((m) => m.child.call<MeshResults>('results', { raw: true }, 120_000)));
    const allRelayStats = await Promise.all(relays.map((r) => r.call<{ drops: Record<string, number>; registrations: number; sessions: number; forwardedToFleet: number; fromFleet: number; fleet?: { drops: Record<string, number> } }>('stats')));
    const relayStats = {
      registrations: allRelayStats.reduce((n, x) => n + x.registrations, 0),
      sessions: allRelayStats.reduce((n, x) => n + x.sessions, 0),
      drops: {} as Record<string, number>,
    };
    allRelayStats.forEach((x, r) => {
      const name = relayCount > 1 ? `relay ${r + 1} ` : '';
      for (const [k, v] of Object.entries(x.drops)) relayStats.drops[name + k] = v;
      for (const [k, v] of Object.entries(x.fleet?.drops ?? {})) relayStats.drops[`${name}fleet link ${k}`] = v;
    });

    const position = mergeChannel(results, POSITION);
    const event = mergeChannel(results, EVENT);
    const managerDrops: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.drops)) managerDrops[k] = (managerDrops[k] ?? 0) + v;
    const relayDrops = Object.fromEntries(Object.entries(relayStats.drops).filter(([, v]) => v > 0));
    const lateFrames = results.reduce((s, r) => s + r.lateFrames, 0);
    const frames = results.reduce((s, r) => s + r.frames, 0);
    const reliableLost = event.sent - event.received;
    const unreliableDelivered = position.received / Math.max(1, position.sent);
    const states = results.reduce<Record<string, number>>((acc, r) => {
      for (const [k, v] of Object.entries(r.states)) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {});

    const every = Math.max(1, Math.round(seconds / 12));
    const timelineTable: Table = {
      title: 'Over time (per second)',
      columns: ['s', relayCount > 1 ? 'relays CPU % (sum)' : 'relay CPU %', relayCount > 1 ? 'relays RSS MiB (sum)' : 'relay RSS MiB', 'relay forwarded/s', 'sessions', 'messages sent/s', 'messages received/s', 'machine load avg'],
      rows: timeline.filter((t) => t.second % every === 0 || t.second === 1).map((t) => [t.second, t.relayCpuShare * 100, t.relayRssMiB, Math.round(t.forwardedPerS), t.sessions, Math.round(t.sentPerS), Math.round(t.receivedPerS), t.loadAverage]),
    };
    const result: BenchResult = {
      name: 'load',
      summary: `${peers} simulated clients in ${processes} processes, rooms of ${group}, each sending every room-mate a 32 B unreliable position and a 16 B reliable event at ${hz} Hz for ${seconds} s, through ${relayCount === 1 ? 'one relay process' : `${relayCount} relay processes of a fleet (client process p on relay p mod ${relayCount})`}.`,
      tables: [
        {
          title: 'Delivered / sent',
          columns: ['channel', 'sent', 'received', 'delivered', 'lost', 'out of order', 'duplicates', 'refused by sendMessage', 'latency p50 ms', 'p99 ms'],
          rows: [
            ['position, unreliable', position.sent, position.received, unreliableDelivered, position.sent - position.received, position.outOfOrder, position.duplicates, position.refused, position.latencyMs.p50, position.latencyMs.p99],
            ['event, reliable', event.sent, event.received, event.received / Math.max(1, event.sent), reliableLost, event.outOfOrder, event.duplicates, event.refused, event.latencyMs.p50, event.latencyMs.p99],
          ],
        },
        timelineTable,
        {
          title: 'Processes',
          columns: ['what', 'value'],
          rows: [
            ...relays.map((_, r): [string, number] => [`relay ${relayCount > 1 ? `${r + 1} ` : ''}CPU over the run (share of one core)`, cpuBetween(firstRelays[r], lastRelays[r]).share]),
            ...relays.map((_, r): [string, number] => [`relay ${relayCount > 1 ? `${r + 1} ` : ''}RSS MiB at the end`, lastRelays[r].rssBytes / 2 ** 20]),
            ...(relayCount > 1 ? allRelayStats.map((x, r): [string, string] => [`relay ${r + 1}: client datagrams to / from other relays`, `${x.forwardedToFleet} / ${x.fromFleet}`]) : []),
            ['client processes CPU (share of one core, each)', workerCpu.map((c) => c.toFixed(2)).join(', ')],
            ['frames run / late (a frame started over one period late)', `${frames} / ${lateFrames}`],
            ['connect time for all pairs s', connectSeconds],
            ['peer state changes during the run', JSON.stringify(states)],
            ['relay registrations (one per client expected) / sessions at the end', `${relayStats.registrations} / ${relayStats.sessions}`],
            ['route changes passed on to peers (re-registrations seen by clients)', sync.count()],
          ],
        },
        {
          title: 'Drops by reason',
          columns: ['where', 'reason', 'count'],
          rows: [...Object.entries(relayDrops).map(([k, v]) => ['relay', k, v]), ...Object.entries(managerDrops).map(([k, v]) => ['managers', k, v])],
        },
      ],
      targets: [
        { what: `load ${peers} peers × ${hz} Hz: reliable messages lost`, target: '0', value: reliableLost, met: reliableLost === 0 && event.duplicates === 0 && event.outOfOrder === 0 },
        { what: `load ${peers} peers × ${hz} Hz: unreliable delivered`, target: '≥ 99.9% on loopback', value: unreliableDelivered, met: unreliableDelivered >= 0.999 },
      ],
      notes: [
        `Counts are from the first second after a 1 s warm-up to the end; the reliable count is taken after a ${drainSeconds} s drain with no new traffic, so messages still in flight at the end are counted once delivered.`,
        `Machine: ${describeMachine(machine)}; ${relayCount === 1 ? 'relay' : `${relayCount} relays, redis-server`} and ${processes} client processes share it.`,
      ],
      data: { relays: relayCount, routeChanges: sync.count(), registrations: relayStats.registrations, peers, hz, seconds, processes, group, timeline, position, event, relayDrops, managerDrops, workerCpu, frames, lateFrames, connectSeconds, states },
    };
    const file = writeResult(path.resolve(__dirname, 'results'), result, machine, date);
    console.log(renderResult(result));
    console.error(`[load] wrote ${path.relative(process.cwd(), file)}`);
  } finally {
    await stopAll([...meshes.map((m) => m.child), ...relays]);
    await redis?.dispose();
  }
}

main()
  .then(() => {
    cleanUpBundle();
    process.exit(0);
  })
  .catch((error: unknown) => {
    console.error(`[load] ${(error as Error).stack ?? String(error)}`);
    killAllChildren();
    cleanUpBundle();
    process.exit(1);
  });
