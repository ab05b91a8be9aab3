/**
 * The long fuzz run (`npm run fuzz`): everything binds and sends on 127.0.0.1 only, every phase is
 * bounded in count and the whole run in time.
 *
 *   1. decoders: the mutation property tests with many more runs (mocha, FUZZ_DECODER_RUNS)
 *   2. virtual-time soak: the 10,000-messages-per-channel lossy runs over many seeds (FUZZ_SOAK_SEEDS)
 *   3. relay: ≥ 1,000,000 random and mutated datagrams to a running relay (UDP and WebSocket)
 *   4. manager: ≥ 1,000,000 to a running NetworkManager through the MemorySwitch, then
 *      100,000 mutated routes to openPeer/updatePeer
 *
 * It prints a summary (counts by rejection reason, heap before and after with GC, durations) and
 * exits non-zero on any failure, uncaught exception, unhandled rejection, heap growth past the
 * bound, or when it runs out of time.
 *
 * Options (flags or environment): --relay-datagrams N, --manager-datagrams N, --routes N,
 * --decoder-runs N, --soak-seeds N, --seed N, --max-minutes N, --skip phase[,phase].
 * Run it with GC exposed (the npm script does): node --expose-gc -r ts-node/register/transpile-only fuzz/run.ts
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { runManagerCampaign } from './manager-campaign';
import { runRelayCampaign } from './relay-campaign';

interface Settings {
  relayDatagrams: number;
  managerDatagrams: number;
  routes: number;
  decoderRuns: number;
  soakSeeds: number;
  seed: number;
  maxMinutes: number;
  skip: Set<string>;
}

const HEAP_GROWTH_LIMIT_BYTES = 64 * 1024 * 1024;
const root = path.resolve(__dirname, '..');

function setting(args: string[], flag: string, env: string, fallback: number): number {
  const at = args.indexOf(flag);
  const text = at >= 0 ? args[at + 1] : process.env[env];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${flag} / ${env} must be a whole number, got ${text}`);
  return value;
}

function parseSettings(args: string[]): Settings {
  const skipAt = args.indexOf('--skip');
  const skipText = skipAt >= 0 ? args[skipAt + 1] : process.env.FUZZ_SKIP ?? '';
  return {
    relayDatagrams: setting(args, '--relay-datagrams', 'FUZZ_RELAY_DATAGRAMS', 1_000_000),
    managerDatagrams: setting(args, '--manager-datagrams', 'FUZZ_MANAGER_DATAGRAMS', 1_000_000),
    routes: setting(args, '--routes', 'FUZZ_ROUTES', 100_000),
    decoderRuns: setting(args, '--decoder-runs', 'FUZZ_DECODER_RUNS', 100_000),
    soakSeeds: setting(args, '--soak-seeds', 'FUZZ_SOAK_SEEDS', 25),
    seed: setting(args, '--seed', 'FUZZ_SEED', 20_240_601),
    maxMinutes: setting(args, '--max-minutes', 'FUZZ_MAX_MINUTES', 40),
    skip: new Set(skipText.split(',').map((s) => s.trim()).filter((s) => s.length > 0)),
  };
}

interface PhaseResult {
  name: string;
  ok: boolean;
  seconds: number;
  heapBeforeMiB: number;
  heapAfterMiB: number;
  lines: string[];
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

const mib = (bytes: number) => Math.round((bytes / (1024 * 1024)) * 10) / 10;

function table(title: string, counts: Readonly<Record<string, number>>): string[] {
  const entries = Object.entries(counts).filter(([, n]) => n !== 0).sort((x, y) => y[1] - x[1]);
  if (entries.length === 0) return [`  ${title}: none`];
  return [`  ${title}:`, ...entries.map(([k, n]) => `    ${k.padEnd(44)} ${n.toLocaleString('en-US').padStart(12)}`)];
}

/** A mocha file in a child process (its own heap; GC exposed), with the given environment. */
function mochaPhase(file: string, env: Record<string, string>, timeoutMs: number): { ok: boolean; lines: string[] } {
  const result = spawnSync(process.execPath, ['--expose-gc', path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js'), '--timeout', '0', file], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n').filter((l) => /passing|failing|pending|✔|[0-9]+\)|Error|Counterexample/.test(l));
  if (result.error) output.push(`  could not run: ${result.error.message}`);
  return { ok: result.status === 0, lines: output.map((l) => `  ${l.trim()}`) };
}

async function main(): Promise<number> {
  const settings = parseSettings(process.argv.slice(2));
  const started = Date.now();
  const deadline = started + settings.maxMinutes * 60_000;
  const uncaught: string[] = [];
  process.on('uncaughtException', (error) => uncaught.push(`uncaught exception: ${error.stack ?? String(error)}`));
  process.on('unhandledRejection', (reason) => uncaught.push(`unhandled rejection: ${String(reason)}`));
  const exposedGc = typeof (globalThis as { gc?: unknown }).gc === 'function';
  const log = (line: string) => process.stdout.write(`[fuzz ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
  log(`settings: ${JSON.stringify({ ...settings, skip: [...settings.skip] })}; GC exposed: ${exposedGc}`);
  if (!exposedGc) log('warning: run with node --expose-gc for exact heap figures (npm run fuzz does)');

  const results: PhaseResult[] = [];
  const remainingMs = () => Math.max(0, deadline - Date.now());
  async function phase(name: string, body: () => Promise<{ ok: boolean; lines: string[] }>): Promise<void> {
    if (settings.skip.has(name)) {
      log(`${name}: skipped`);
      return;
    }
    if (remainingMs() === 0) {
      results.push({ name, ok: false, seconds: 0, heapBeforeMiB: 0, heapAfterMiB: 0, lines: ['  not run: out of time'] });
      return;
    }
    log(`${name}: start`);
    const heapBefore = heapAfterGc();
    const t0 = Date.now();
    let outcome: { ok: boolean; lines: string[] };
    try {
      outcome = await body();
    } catch (error) {
      outcome = { ok: false, lines: [`  threw: ${(error as Error).stack ?? String(error)}`] };
    }
    const heapAfter = heapAfterGc();
    const growth = heapAfter - heapBefore;
    if (growth > HEAP_GROWTH_LIMIT_BYTES) {
      outcome.ok = false;
      outcome.lines.push(`  FAIL: heap grew by ${mib(growth)} MiB after GC (limit ${mib(HEAP_GROWTH_LIMIT_BYTES)} MiB)`);
    }
    const result = { name, ok: outcome.ok, seconds: (Date.now() - t0) / 1000, heapBeforeMiB: mib(heapBefore), heapAfterMiB: mib(heapAfter), lines: outcome.lines };
    results.push(result);
    log(`${name}: ${result.ok ? 'ok' : 'FAILED'} in ${result.seconds.toFixed(1)} s`);
  }

  await phase('decoders', async () =>
    mochaPhase('test/unit/fuzz-decoders.test.ts', { FUZZ_DECODER_RUNS: String(settings.decoderRuns) }, remainingMs()),
  );
  await phase('soak', async () => mochaPhase('test/unit/manager-virtual-time.test.ts', { FUZZ_SOAK_SEEDS: String(settings.soakSeeds) }, remainingMs()));
  await phase('relay', async () => {
    const report = await runRelayCampaign({ seed: settings.seed, datagrams: settings.relayDatagrams, progress: log });
    const sentTotal = report.sent.udp + report.sent.ws + report.sent.wsText + report.sent.wsOversize;
    const lines = [
      `  sent ${sentTotal.toLocaleString('en-US')} datagrams (UDP ${report.sent.udp}, WebSocket ${report.sent.ws}, text ${report.sent.wsText}, over 64 KiB ${report.sent.wsOversize}); relay read ${report.relayRead.toLocaleString('en-US')}; lost on loopback ${report.lostOnLoopback}`,
      `  forwarded ${report.forwarded}, refusals sent ${report.refusalsSent} (suppressed ${report.refusalsSuppressed}), registrations ${report.registrations}, most sessions at once ${report.maxSessions}, WebSocket reconnects ${report.wsReconnects}`,
      `  UDP fuzz bytes: sent ${report.udpFuzzBytesSent.toLocaleString('en-US')}, received ${report.udpFuzzBytesReceived.toLocaleString('en-US')} (no amplification: received <= sent)`,
      `  legitimate reliable messages each way, whole and in order: ${report.legit.reliableEachWay}`,
      ...table('relay rejections (stats().drops)', report.drops),
      ...table('legitimate managers dropped (junk forwarded to them)', report.legit.managerDrops),
      ...table('mutations', report.mutations),
      ...report.failures.map((f) => `  FAIL: ${f}`),
    ];
    if (sentTotal < settings.relayDatagrams) lines.push(`  FAIL: only ${sentTotal} datagrams sent`);
    return { ok: report.failures.length === 0 && sentTotal >= settings.relayDatagrams, lines };
  });
  await phase('manager', async () => {
    // Two campaigns, one with the target as handshake responder and one as initiator (the seeded
    // identities decide), each with half the datagrams and routes.
    const lines: string[] = [];
    let ok = true;
    let datagrams = 0;
    for (const [index, seed] of [settings.seed, settings.seed + 1].entries()) {
      const share = (total: number) => (index === 0 ? Math.ceil(total / 2) : Math.floor(total / 2));
      const report = await runManagerCampaign({ seed, datagrams: share(settings.managerDatagrams), routes: share(settings.routes), progress: log });
      datagrams += report.datagrams;
      ok &&= report.failures.length === 0;
      lines.push(
        `  campaign seed ${seed} (target is the handshake ${report.targetRole}): ${report.datagrams.toLocaleString('en-US')} junk datagrams over ${report.frames} frames (${(report.virtualMs / 1000).toFixed(0)} s virtual); ${report.routes.toLocaleString('en-US')} mutated routes`,
        `  legitimate: ${report.legit.reliableEachWay} reliable messages each way whole and in order, ${report.legit.unreliableDelivered} unreliable in sequence`,
        `  hostile peer: reassembly at most ${report.maxReassemblyBytes} B, held at most ${report.maxHeldBytes} B, reopened after CLOSE ${report.hostilePeerReopened} time(s)`,
        `  handshakes a↔b during the junk: ${report.handshakesWithB.sent} started by a, ${report.handshakesWithB.completed} completed (injected HELLOs can start them)`,
        ...table('junk by source', report.sent),
        ...table('target rejections (getDropCounts)', report.rejections),
        ...table('mutated routes: openPeer/updatePeer results', report.routeResults),
        ...report.failures.map((f) => `  FAIL: ${f}`),
      );
    }
    if (datagrams < settings.managerDatagrams) {
      ok = false;
      lines.push(`  FAIL: only ${datagrams} datagrams sent`);
    }
    return { ok, lines };
  });

  const seconds = (Date.now() - started) / 1000;
  const lines: string[] = ['', '=== fuzz summary ==='];
  for (const r of results) {
    lines.push(`${r.ok ? 'ok    ' : 'FAILED'} ${r.name.padEnd(8)} ${r.seconds.toFixed(1).padStart(7)} s   heap ${r.heapBeforeMiB} → ${r.heapAfterMiB} MiB (after GC)`);
    lines.push(...r.lines);
  }
  for (const u of uncaught) lines.push(`FAIL: ${u}`);
  if (Date.now() > deadline) lines.push(`FAIL: the run passed its ${settings.maxMinutes}-minute bound`);
  const ok = results.every((r) => r.ok) && uncaught.length === 0 && Date.now() <= deadline;
  lines.push(`total ${seconds.toFixed(1)} s, heap now ${mib(heapAfterGc())} MiB: ${ok ? 'PASSED' : 'FAILED'}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`fuzz: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
