/**
 * How fresh is the newest position on an unreliable channel, over a WebRTC data channel vs over
 * the WebSocket, with real packet loss below the transports?
 *
 *   node -r ts-node/register/transpile-only bench/webrtc-freshness.ts [--seconds 10] [--loss 0.05] [--runs 3]
 *
 * The script (as root) makes a network namespace with only `lo`, sets per-segment loss behaviour
 * (`ip link set dev lo mtu 1500 gso_max_size 1500 gso_max_segs 1`), adds a veth pair with both ends
 * inside it (Chromium gathers no ICE candidate with loopback alone), and re-runs itself inside it
 * (`ip netns exec`). Inside, a relay, Debian's Chromium (shared/BROWSER-TESTING.md flags) and a
 * Node NetworkManager (udp://) run; for each loss rate (0 and --loss, applied with
 * `iptables -A OUTPUT -o lo -m statistic --mode random --probability <loss> -j DROP`, so every
 * hop — UDP, TCP and the data channel's SCTP — loses that share of its packets) and each page
 * transport ('auto' → data channel, 'websocket'), both sides send a 60 Hz stream of timestamped
 * positions on an unreliable channel. Each receiver samples, every 4 ms frame, the age of the
 * newest position it has (now − its send time; one clock, one machine). The namespace is deleted
 * afterwards. Prints JSON, then a markdown table. Without root, ip netns, iptables or Chromium it
 * says so and skips (exit 0).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

const NAMESPACE = `switchboard-freshness-${process.pid}`;
const PERIOD_MS = 1000 / 60;
const WARMUP_MS = 1500;

interface Options {
  seconds: number;
  loss: number;
  runs: number;
  inside: boolean;
}

interface Ages {
  /** Frames sampled. */
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Share of frames whose newest position was older than 50 ms / 100 ms, percent. */
  staleOver50Ms: number;
  staleOver100Ms: number;
  /** Positions received / sent in the measured window. */
  received: number;
  sent: number;
}

interface RunResult {
  run: number;
  loss: number;
  transport: 'auto' | 'websocket';
  /** The page's link during the run. */
  link: string | null;
  /** node → relay → page (measured in the page). */
  toPage: Ages;
  /** page → relay → node (measured in Node). */
  toNode: Ages;
  /** What the page's link said (WebRTC attempts, switches), at most 10 lines. */
  linkLog: string[];
}

function parseArgs(argv: string[]): Options {
  const options: Options = { seconds: 10, loss: 0.05, runs: 3, inside: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--inside') options.inside = true;
    else if (arg === '--seconds') options.seconds = Number(argv[++i]);
    else if (arg === '--loss') options.loss = Number(argv[++i]);
    else if (arg === '--runs') options.runs = Number(argv[++i]);
    else throw new Error(`unknown argument ${arg} (use --seconds N, --loss 0..1, --runs N)`);
  }
  if (!(options.seconds >= 1 && options.seconds <= 300)) throw new Error('--seconds must be 1..300');
  if (!(options.loss >= 0 && options.loss < 1)) throw new Error('--loss must be in 0..1');
  if (!(Number.isInteger(options.runs) && options.runs >= 1 && options.runs <= 20)) throw new Error('--runs must be 1..20');
  return options;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function ages(samples: number[], received: number, sent: number): Ages {
  const sorted = Float64Array.from(samples).sort();
  const round = (value: number): number => Math.round(value * 10) / 10;
  const share = (limit: number): number => {
    let over = 0;
    for (const age of sorted) if (age > limit) over++;
    return sorted.length > 0 ? round((100 * over) / sorted.length) : Number.NaN;
  };
  return {
    samples: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN),
    staleOver50Ms: share(50),
    staleOver100Ms: share(100),
    received,
    sent,
  };
}

function missing(): string | null {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (ip netns, iptables)';
  for (const [tool, args] of [
    ['ip', ['-V']],
    ['iptables', ['--version']],
  ] as const) {
    try {
      execFileSync(tool, args, { stdio: 'ignore' });
    } catch {
      return `${tool} is not available (apt-get install -y iproute2 iptables)`;
    }
  }
  if (!existsSync('/usr/bin/chromium')) return '/usr/bin/chromium is not installed (apt-get install -y chromium)';
  return null;
}

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

// ---------------------------------------------------------------------------------------------
// Outside: make the namespace, run inside it, delete it.

async function outside(options: Options): Promise<void> {
  const reason = missing();
  if (reason !== null) {
    const skipped = { benchmark: 'webrtc-freshness', skipped: reason };
    console.log(JSON.stringify(skipped, null, 2));
    console.log(`\n_webrtc-freshness skipped: ${reason}_`);
    return;
  }
  const removeNamespace = (): void => {
    try {
      run('ip', ['netns', 'del', NAMESPACE]);
    } catch {
      // Not there (any more).
    }
  };
  process.once('SIGINT', () => {
    removeNamespace();
    process.exit(130);
  });
  try {
    run('ip', ['netns', 'add', NAMESPACE]);
  } catch (error) {
    const reason = `cannot create a network namespace: ${String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim()}`;
    console.log(JSON.stringify({ benchmark: 'webrtc-freshness', skipped: reason }, null, 2));
    console.log(`\n_webrtc-freshness skipped: ${reason}_`);
    return;
  }
  try {
    run('ip', ['netns', 'exec', NAMESPACE, 'ip', 'link', 'set', 'lo', 'up']);
    // Per-segment loss for TCP: without this, iptables drops whole 64 KB GSO packets.
    run('ip', ['netns', 'exec', NAMESPACE, 'ip', 'link', 'set', 'dev', 'lo', 'mtu', '1500', 'gso_max_size', '1500', 'gso_max_segs', '1']);
    // Chromium gathers no ICE candidate on loopback alone: give it a veth pair whose two ends are
    // both inside the namespace (nothing can leave it), with a default route. Its checks still go
    // to the relay's 127.0.0.1 candidate, over lo, where the loss applies.
    const inNamespace = (...args: string[]): void => run('ip', ['netns', 'exec', NAMESPACE, 'ip', ...args]);
    inNamespace('link', 'add', 'sbfresh0', 'type', 'veth', 'peer', 'name', 'sbfresh1');
    inNamespace('addr', 'add', '10.255.255.1/24', 'dev', 'sbfresh0');
    inNamespace('link', 'set', 'sbfresh0', 'up');
    inNamespace('link', 'set', 'sbfresh1', 'up');
    inNamespace('route', 'add', 'default', 'via', '10.255.255.2', 'dev', 'sbfresh0');
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        'ip',
        ['netns', 'exec', NAMESPACE, process.execPath, '-r', 'ts-node/register/transpile-only', __filename, '--inside', '--seconds', String(options.seconds), '--loss', String(options.loss), '--runs', String(options.runs)],
        { cwd: path.resolve(__dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`the run inside the namespace exited with ${code}`))));
    });
    const results = JSON.parse(output) as RunResult[];
    const report = {
      benchmark: 'webrtc-freshness',
      date: new Date().toISOString(),
      setup: `relay + Chromium + Node in a network namespace (lo with MTU 1500 and GSO off, plus an internal veth pair so Chromium gathers a candidate; all traffic is to 127.0.0.1); loss by iptables statistic on every packet out of lo; 60 Hz positions each way; ${options.seconds} s measured per run after ${WARMUP_MS} ms warm-up, ${options.runs} run(s) per setting, interleaved; age sampled every 4 ms frame; summary = median over runs`,
      summary: summarize(results),
      results,
    };
    console.log(JSON.stringify(report, null, 2));
    console.log('');
    console.log(markdown(summarize(results)));
  } finally {
    removeNamespace();
  }
}

interface Summary {
  loss: number;
  transport: 'auto' | 'websocket';
  /** Links seen across the runs. */
  links: string[];
  direction: 'node → page' | 'page → node';
  runs: number;
  /** Medians over the runs. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  staleOver50Ms: number;
  staleOver100Ms: number;
  /** Positions received / sent, summed over the runs. */
  received: number;
  sent: number;
}

function medianOf(values: number[]): number {
  const sorted = Float64Array.from(values).sort();
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)];
}

function summarize(results: RunResult[]): Summary[] {
  const summaries: Summary[] = [];
  for (const loss of [...new Set(results.map((r) => r.loss))]) {
    for (const transport of ['auto', 'websocket'] as const) {
      const runs = results.filter((r) => r.loss === loss && r.transport === transport);
      if (runs.length === 0) continue;
      for (const [direction, pick] of [
        ['node → page', (r: RunResult) => r.toPage],
        ['page → node', (r: RunResult) => r.toNode],
      ] as const) {
        const of = (key: 'p50' | 'p90' | 'p99' | 'max' | 'staleOver50Ms' | 'staleOver100Ms'): number => medianOf(runs.map((r) => pick(r)[key]));
        summaries.push({
          loss,
          transport,
          links: [...new Set(runs.map((r) => r.link ?? 'none'))],
          direction,
          runs: runs.length,
          p50: of('p50'),
          p90: of('p90'),
          p99: of('p99'),
          max: of('max'),
          staleOver50Ms: of('staleOver50Ms'),
          staleOver100Ms: of('staleOver100Ms'),
          received: runs.reduce((sum, r) => sum + pick(r).received, 0),
          sent: runs.reduce((sum, r) => sum + pick(r).sent, 0),
        });
      }
    }
  }
  return summaries;
}

function markdown(summaries: Summary[]): string {
  const lines = [
    '| loss | page transport | link | direction | age p50 ms | p90 | p99 | max | frames > 50 ms | frames > 100 ms | positions received / sent |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of summaries) {
    lines.push(
      `| ${Math.round(s.loss * 100)}% | ${s.transport} | ${s.links.join(', ')} | ${s.direction} | ${s.p50} | ${s.p90} | ${s.p99} | ${s.max} | ${s.staleOver50Ms}% | ${s.staleOver100Ms}% | ${s.received} / ${s.sent} |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Inside the namespace: relay, Chromium, Node manager.

async function inside(options: Options): Promise<void> {
  // Loaded here so the outside process (and a skip) needs none of it.
  const { startRelay } = require('../server/relay/relay-server') as typeof import('../server/relay/relay-server');
  const { NetworkManager } = require('../plugin/net/network-manager') as typeof import('../plugin/net/network-manager');
  const { launchChromium } = require('../test/browser/webrtc-fixtures/chromium') as typeof import('../test/browser/webrtc-fixtures/chromium');
  const { servePage } = require('../test/browser/webrtc-fixtures/serve') as typeof import('../test/browser/webrtc-fixtures/serve');
  type Api = import('../test/browser/webrtc-fixtures/page').WebRtcTestApi;
  const quiet = { info: () => undefined, warn: () => undefined };
  const now = (): number => performance.timeOrigin + performance.now();
  const setLoss = (loss: number): void => {
    run('iptables', ['-F', 'OUTPUT']);
    if (loss > 0) run('iptables', ['-A', 'OUTPUT', '-o', 'lo', '-m', 'statistic', '--mode', 'random', '--probability', String(loss), '-j', 'DROP']);
  };

  const pages = await servePage();
  const chrome = await launchChromium();
  const results: RunResult[] = [];
  try {
    // Interleaved (run 1 of every setting, then run 2, …) so slow drift of the machine hits all alike.
    for (let runIndex = 1; runIndex <= options.runs; runIndex++) {
      for (const loss of [0, options.loss]) {
        for (const transport of ['auto', 'websocket'] as const) {
          setLoss(loss);
          const relay = await startRelay({ host: '127.0.0.1', port: 0, logger: quiet });
          const node = new NetworkManager({ relay: relay.udpUrl, logger: quiet });
          const page = await chrome.context.newPage();
          let nodeFrame: ReturnType<typeof setInterval> | null = null;
          let nodeStream: ReturnType<typeof setInterval> | null = null;
          try {
            // Node side: 4 ms frames, sampling the age of its newest position each frame.
            let newest = -1;
            let newestSentAt: number | null = null;
            let received = 0;
            let sampling = false;
            const samples: number[] = [];
            node.message$.subscribe((message) => {
              const view = new DataView(message.data.buffer, message.data.byteOffset, message.data.byteLength);
              if (message.channelId !== 2) return;
              const index = view.getUint32(0);
              if (sampling) received++;
              if (index > newest) {
                newest = index;
                newestSentAt = view.getFloat64(4);
              }
            });
            nodeFrame = setInterval(() => {
              node.runCallbacks();
              if (sampling && newestSentAt !== null && samples.length < 1_000_000) samples.push(now() - newestSentAt);
              node.flush();
            }, 4);

            await page.goto(pages.url);
            const started = await page.evaluate((o) => (globalThis as unknown as { webrtcTest: Api }).webrtcTest.start(o), { relay: relay.wsUrl, transport });
            const routeDeadline = Date.now() + 20_000;
            while (node.getRoute() === null) {
              if (Date.now() > routeDeadline) throw new Error('the Node manager got no route in 20 s');
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
            const pageId = BigInt(started.peerId);
            node.openPeer(pageId, started.route);
            node.openChannel(pageId, 1, true);
            node.openChannel(pageId, 2, false);
            await page.evaluate(([id, route]) => (globalThis as unknown as { webrtcTest: Api }).webrtcTest.open(id, route), [node.getPeerId().toString(), node.getRoute()!] as const);
            // The page's link settles (data channel, or the WebSocket) before measuring.
            const linkDeadline = Date.now() + 15_000;
            while (transport === 'auto' && (await page.evaluate(() => (globalThis as unknown as { webrtcTest: Api }).webrtcTest.report().link)) !== 'webrtc') {
              if (Date.now() > linkDeadline) break;
              await new Promise((resolve) => setTimeout(resolve, 50));
            }

            let streamed = 0;
            nodeStream = setInterval(() => {
              const bytes = new Uint8Array(32);
              const view = new DataView(bytes.buffer);
              view.setUint32(0, streamed++);
              view.setFloat64(4, now());
              node.sendMessage(pageId, 2, bytes);
            }, PERIOD_MS);
            await page.evaluate(([period, duration]) => (globalThis as unknown as { webrtcTest: Api }).webrtcTest.stream(period, duration), [PERIOD_MS, WARMUP_MS + options.seconds * 1000 + 500] as const);
            await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
            const pageStreamedAtStart = await page.evaluate(() => {
              const api = (globalThis as unknown as { webrtcTest: Api }).webrtcTest;
              api.resetAges();
              return api.report().streamed;
            });
            const nodeSentAtStart = streamed;
            sampling = true;
            await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
            sampling = false;
            const nodeSent = streamed - nodeSentAtStart;
            const report = await page.evaluate(() => (globalThis as unknown as { webrtcTest: Api }).webrtcTest.report());
            const pageSent = report.streamed - pageStreamedAtStart;
            results.push({
              run: runIndex,
              loss,
              transport,
              link: report.link,
              toPage: ages(report.ages, report.unreliable.length, nodeSent),
              toNode: ages(samples, received, pageSent),
              linkLog: report.logs.filter((line) => /WebRTC|DATA moved|data channel/.test(line)).slice(0, 10),
            });
            process.stderr.write(`webrtc-freshness: run ${runIndex}, loss ${loss}, page transport ${transport}: link ${report.link}\n`);
          } finally {
            if (nodeFrame !== null) clearInterval(nodeFrame);
            if (nodeStream !== null) clearInterval(nodeStream);
            await page.evaluate(() => (globalThis as unknown as { webrtcTest: Api }).webrtcTest.dispose()).catch(() => undefined);
            await page.close().catch(() => undefined);
            await node.dispose();
            await relay.close();
          }
        }
      }
    }
  } finally {
    setLoss(0);
    await chrome.close();
    await pages.close();
  }
  process.stdout.write(JSON.stringify(results));
}

const options = parseArgs(process.argv.slice(2));
(options.inside ? inside(options) : outside(options)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`webrtc-freshness: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
