/**
 * `npm run bench [-- --quick] [--only a,b] [--list] [--child-flags=--cpu-prof] [--profile DIR] [--help]`
 *
 * Runs each benchmark (bench/suites) with its baseline in the same run, prints a markdown table
 * per benchmark, writes bench/results/<name>-<timestamp>.json, and writes bench/latest.md and
 * bench/latest.svg (the chart) when every benchmark ran (not with --only). Asserts nothing about speed: exit code 0 unless a
 * benchmark itself broke.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from './lib/args';
import { cleanUpBundle } from './lib/build';
import { killAllChildren } from './lib/child';
import { describeMachine, machineInfo } from './lib/machine';
import { renderResult, writeResult, type BenchResult } from './lib/report';
import { renderSummary } from './lib/summary';
import { suites } from './suites';

const FLAGS = ['quick', 'list', 'help'];
const VALUE_OPTIONS = ['only', 'child-flags', 'profile'];
const USAGE = `npm run bench [-- options]
  --quick               shorter runs (noisier figures)
  --only a,b            only these benchmarks (--list names them); bench/latest.* is left as it was
  --list                list the benchmarks and exit
  --child-flags=FLAGS   Node flags for the benchmarks' child processes (e.g. --child-flags=--cpu-prof)
  --profile DIR         CPU profiles where a benchmark supports it (browser-frame-cost)
  --help                this text`;

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  // A mistyped flag must not start a long run that ignores it.
  const unknownFlags = [...args.flags].filter((f) => !FLAGS.includes(f)).concat([...args.values.keys()].filter((v) => !VALUE_OPTIONS.includes(v)));
  if (args.flags.has('help') || unknownFlags.length > 0) {
    if (unknownFlags.length > 0) console.error(`unknown option(s): ${unknownFlags.map((f) => `--${f}`).join(', ')}\n`);
    console.log(USAGE);
    return unknownFlags.length > 0 ? 2 : 0;
  }
  if (args.flags.has('list')) {
    for (const suite of suites) console.log(`${suite.name.padEnd(20)} ${suite.title}`);
    return 0;
  }
  const quick = args.flags.has('quick');
  const only = args.values.get('only')?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((name) => !suites.some((s) => s.name === name)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; see --list`);
  const childFlags = (args.values.get('child-flags') ?? '').split(/\s+/).filter(Boolean);
  const profileDir = args.values.get('profile') ? path.resolve(args.values.get('profile') as string) : null;
  if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
  const selected = suites.filter((s) => !only || only.includes(s.name));
  const machine = machineInfo();
  const date = new Date();
  const resultsDir = path.resolve(__dirname, 'results');
  console.log(`# Switchboard benchmarks${quick ? ' (--quick)' : ''}\n\nMachine: ${describeMachine(machine)}\nDate: ${date.toISOString()}\n`);

  const results: BenchResult[] = [];
  let failures = 0;
  for (const suite of selected) {
    const started = performance.now();
    console.error(`[bench] ${suite.name}: ${suite.title}`);
    // Each benchmark bounds itself; this is the backstop for one that hangs.
    const boundMs = quick ? 90_000 : 300_000;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const loadBefore = os.loadavg()[0];
    try {
      const result = await Promise.race([
        suite.run({ quick, childFlags, profileDir, log: (line) => console.error(line) }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${suite.name} did not finish within ${boundMs / 1000} s`)), boundMs);
        }),
      ]);
      result.seconds = (performance.now() - started) / 1000;
      // Other work on the machine skews wall-clock figures: say how busy it was.
      result.loadAverage = { before: loadBefore, after: os.loadavg()[0] };
      results.push(result);
      const file = writeResult(resultsDir, result, machine, date);
      console.log(renderResult(result));
      console.error(`[bench] ${suite.name}: ${result.seconds.toFixed(1)} s, wrote ${path.relative(process.cwd(), file)}`);
    } catch (error) {
      failures++;
      killAllChildren();
      console.error(`[bench] ${suite.name} FAILED: ${(error as Error).stack ?? String(error)}`);
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
  }

  if (results.length > 0) {
    writeResult(resultsDir, { name: 'summary', summary: 'all targets of this run', tables: [], targets: results.flatMap((r) => r.targets), notes: [], data: { suites: results.map((r) => r.name), quick } }, machine, date);
    // bench/latest.* is the committed picture of every benchmark: a partial run (--only) leaves it alone.
    if (only === undefined) {
      const summary = renderSummary(results, machine, date, quick);
      fs.writeFileSync(path.resolve(__dirname, 'latest.md'), summary.markdown);
      fs.writeFileSync(path.resolve(__dirname, 'latest.svg'), summary.svg);
      console.error('[bench] wrote bench/latest.md and bench/latest.svg');
    } else {
      console.error('[bench] --only: bench/latest.md and bench/latest.svg left as they were (a full run writes them)');
    }
  }
  return failures > 0 ? 1 : 0;
}

main()
  .then((code) => {
    cleanUpBundle();
    process.exit(code);
  })
  .catch((error: unknown) => {
    console.error(`[bench] ${(error as Error).stack ?? String(error)}`);
    killAllChildren();
    cleanUpBundle();
    process.exit(2);
  });
