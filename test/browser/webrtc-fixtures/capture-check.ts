/**
 * Packet-capture check for the WebRTC browser tests (not part of npm test; needs root, ip netns
 * and tcpdump):
 *
 *   node -r ts-node/register/transpile-only test/browser/webrtc-fixtures/capture-check.ts
 *
 * Makes a network namespace with lo and a veth pair (both ends inside it, with an address and a
 * default route, so Chromium has an interface it could send out of and gathers a candidate on it,
 * as on a real machine; IPv6 off on it so the kernel's own link-local chatter does not count), captures every packet on every interface of the namespace with tcpdump
 * while test/browser/webrtc-browser.test.ts runs inside it, and then counts: packets on any
 * interface but lo (traffic that would leave the machine), and packets on lo with an address
 * other than 127.0.0.1. Both must be 0. Prints a JSON summary; exits 1 when anything leaked, 0
 * when clean or skipped (says why). Deletes the namespace afterwards.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const NAMESPACE = `switchboard-capture-${process.pid}`;
const REPOSITORY = path.resolve(__dirname, '..', '..', '..');

function skip(reason: string): never {
  console.log(JSON.stringify({ check: 'webrtc-capture', skipped: reason }, null, 2));
  process.exit(0);
}

function inNamespace(...args: string[]): void {
  execFileSync('ip', ['netns', 'exec', NAMESPACE, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function main(): Promise<number> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) skip('needs root (ip netns, tcpdump)');
  for (const [tool, args] of [
    ['ip', ['-V']],
    ['tcpdump', ['--version']],
  ] as const) {
    if (spawnSync(tool, args, { stdio: 'ignore' }).status !== 0) skip(`${tool} is not available (apt-get install -y iproute2 tcpdump)`);
  }
  const folder = mkdtempSync(path.join(tmpdir(), 'switchboard-capture-'));
  const capture = path.join(folder, 'browser-tests.pcap');
  try {
    execFileSync('ip', ['netns', 'add', NAMESPACE]);
  } catch (error) {
    skip(`cannot create a network namespace: ${(error as Error).message.split('\n')[0]}`);
  }
  try {
    inNamespace('ip', 'link', 'set', 'lo', 'up');
    // No IPv6 on the veth: the kernel's own link-local chatter (DAD, MLD) would be counted otherwise.
    // Chromium runs with IPv6 gathering off anyway, and IPv6 on lo stays.
    inNamespace('sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1');
    inNamespace('ip', 'link', 'add', 'sbcap0', 'type', 'veth', 'peer', 'name', 'sbcap1');
    inNamespace('ip', 'addr', 'add', '10.255.254.1/24', 'dev', 'sbcap0');
    inNamespace('ip', 'link', 'set', 'sbcap0', 'up');
    inNamespace('ip', 'link', 'set', 'sbcap1', 'up');
    inNamespace('ip', 'route', 'add', 'default', 'via', '10.255.254.2', 'dev', 'sbcap0');

    const tcpdump = spawn('ip', ['netns', 'exec', NAMESPACE, 'tcpdump', '-i', 'any', '-n', '-U', '-w', capture], { stdio: ['ignore', 'ignore', 'pipe'] });
    let tcpdumpReady = false;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('tcpdump did not start within 10 s')), 10_000);
      tcpdump.stderr.on('data', (chunk: Buffer) => {
        if (!tcpdumpReady && chunk.toString().includes('listening on')) {
          tcpdumpReady = true;
          clearTimeout(timer);
          resolve();
        }
      });
      tcpdump.once('exit', (code) => reject(new Error(`tcpdump exited with ${code}`)));
    });

    const mocha = spawnSync('ip', ['netns', 'exec', NAMESPACE, process.execPath, path.join(REPOSITORY, 'node_modules', '.bin', 'mocha'), 'test/browser/webrtc-browser.test.ts'], {
      cwd: REPOSITORY,
      env: { ...process.env, CI: 'true' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    tcpdump.kill('SIGINT');
    await new Promise((resolve) => tcpdump.once('exit', resolve));

    // Read inside the namespace, so the interface indexes in the capture get the namespace's names.
    const text = spawnSync('ip', ['netns', 'exec', NAMESPACE, 'tcpdump', '-r', capture, '-n', '-q'], { encoding: 'utf8' }).stdout;
    const packets = text.split('\n').filter((line) => line.trim().length > 0);
    let offLoopback = 0;
    let loopbackOtherAddress = 0;
    const examples: string[] = [];
    for (const line of packets) {
      // "12:00:00.000000 lo    In  IP 127.0.0.1.1234 > 127.0.0.1.5678: UDP, length 100"
      const fields = line.trim().split(/\s+/);
      const device = fields[1];
      const addresses = [...line.matchAll(/\b(\d{1,3}(?:\.\d{1,3}){3})(?:\.\d+)?\b/g)].map((match) => match[1]);
      const ipv6 = / IP6 /.test(line);
      if (device !== 'lo') {
        offLoopback++;
        if (examples.length < 10) examples.push(line);
      } else if (ipv6 || addresses.some((address) => address !== '127.0.0.1')) {
        loopbackOtherAddress++;
        if (examples.length < 10) examples.push(line);
      }
    }
    const summary = {
      check: 'webrtc-capture',
      testsPassed: mocha.status === 0,
      packets: packets.length,
      offLoopback,
      loopbackOtherAddress,
      examples,
    };
    console.log(JSON.stringify(summary, null, 2));
    if (mocha.status !== 0) console.error(mocha.stdout, mocha.stderr);
    return mocha.status === 0 && packets.length > 0 && offLoopback === 0 && loopbackOtherAddress === 0 ? 0 : 1;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', NAMESPACE]);
    } catch {
      // Already gone.
    }
    rmSync(folder, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`webrtc-capture: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
