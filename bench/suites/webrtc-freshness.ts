/**
 * Issue 9's measurement inside `npm run bench`: how fresh the newest position on an unreliable
 * channel is over a WebRTC data channel vs over the WebSocket, with 5% loss applied below the
 * transports. The work is done by bench/webrtc-freshness.ts (it needs root, ip netns, iptables
 * and Chromium, makes its own network namespace and deletes it); this suite runs it as a child
 * and turns its report into the runner's table. Where its tools are missing it says so and skips.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import type { BenchResult } from '../lib/report';
import type { Suite } from '../lib/suite';

interface FreshnessSummary {
  loss: number;
  transport: string;
  links: string[];
  direction: string;
  runs: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  received: number;
  sent: number;
}

interface FreshnessReport {
  skipped?: string;
  setup?: string;
  summary?: FreshnessSummary[];
}

const SCRIPT = path.join(__dirname, '..', 'webrtc-freshness.ts');

function runScript(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`webrtc-freshness exited with ${code}`));
    });
  });
}

export const webrtcFreshnessSuite: Suite = {
  name: 'webrtc-freshness',
  title: 'newest-position age over a WebRTC data channel vs WebSocket, 5% loss below the transports',
  async run(context): Promise<BenchResult> {
    const args = context.quick ? ['--runs', '1', '--seconds', '2'] : ['--runs', '3', '--seconds', '10'];
    const out = await runScript(args, context.quick ? 90_000 : 300_000);
    // The script prints its JSON report (no blank line inside), a blank line, then a table.
    const report = JSON.parse(out.split('\n\n')[0]) as FreshnessReport;
    const base = { name: 'webrtc-freshness', summary: this.title, targets: [], data: report as Record<string, unknown> };
    if (report.skipped !== undefined) return { ...base, tables: [], notes: [`skipped: ${report.skipped}`], skipped: report.skipped };
    return {
      ...base,
      tables: [
        {
          title: 'Age of the newest position at the receiver (ms, median over runs)',
          columns: ['loss', 'link', 'direction', 'p50', 'p90', 'p99', 'max', 'received / sent'],
          rows: (report.summary ?? []).map((s) => [`${s.loss * 100}%`, s.links.join('+'), s.direction, s.p50, s.p90, s.p99, s.max, `${s.received}/${s.sent}`]),
        },
      ],
      notes: [
        report.setup ?? '',
        'Loopback round trips are ~0.05 ms, so TCP recovers a lost segment within one 60 Hz period: the data channel shows its advantage over WebSocket only where round trips are long, which the kernel here (no netem) cannot simulate.',
      ],
    };
  },
};
