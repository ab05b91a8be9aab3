import { expect } from 'chai';
import { spawn, type ChildProcess } from 'child_process';
import { buildSync } from 'esbuild';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { waitFor } from '../helpers/wait';
import { payloadFor, registeredClient, startRecordedClient, type RecordedClient } from './relay-test-helpers';

const repositoryRoot = path.resolve(__dirname, '..', '..');
const fixture = path.join(repositoryRoot, 'test', 'fixtures', 'relay-child.ts');
/** The fixture bundled once with esbuild: a child then starts in a fraction of ts-node's time. */
let bundleDirectory = '';
let bundledFixture = '';

interface ChildRelay {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
}

/** Starts the relay fixture in its own process and waits (bounded) for the port it prints. */
function spawnRelay(port: number): Promise<ChildRelay> {
  const child = spawn(process.execPath, [bundledFixture, String(port), '100'], {
    cwd: repositoryRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise<ChildRelay>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`relay child did not print its port within 15 s (output: ${output})`));
    }, 15_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve({ child, port: (JSON.parse(line) as { port: number }).port, exited });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay child exited with code ${code} before printing its port (output: ${output})`));
    });
  });
}

describe('relay restart (relay in a child process, SIGKILLed)', function () {
  this.timeout(40_000);
  const children: ChildRelay[] = [];
  const clients: RecordedClient[] = [];

  before(() => {
    bundleDirectory = mkdtempSync(path.join(tmpdir(), 'switchboard-relay-child-'));
    bundledFixture = path.join(bundleDirectory, 'relay-child.js');
    buildSync({ entryPoints: [fixture], bundle: true, platform: 'node', target: 'node20', outfile: bundledFixture, logLevel: 'error' });
  });

  after(() => {
    if (bundleDirectory !== '') rmSync(bundleDirectory, { recursive: true, force: true });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.client.dispose()));
    for (const relay of children.splice(0)) {
      if (relay.child.exitCode === null && relay.child.signalCode === null) relay.child.kill('SIGTERM');
      await relay.exited;
    }
  });

  for (const scheme of ['udp', 'ws'] as const) {
    it(`a RelayClient over ${scheme} notices, re-registers with a new session, and carries DATA again`, async () => {
      const first = await spawnRelay(0);
      children.push(first);
      const url = `${scheme}://127.0.0.1:${first.port}`;
      const client = startRecordedClient({ url, reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 200 });
      clients.push(client);
      await waitFor('the first registration', () => client.registrations.length === 1);
      const before = client.registrations[0];

      first.child.kill('SIGKILL');
      await first.exited;
      const second = await spawnRelay(first.port);
      children.push(second);

      await waitFor('a registration with the restarted relay', () => client.registrations.length === 2, { timeoutMs: 15_000 });
      const after = client.registrations[1];
      expect(client.unregistered).to.equal(1);
      expect(after.sessionId).to.not.equal(before.sessionId);
      expect(Buffer.from(after.relayId).equals(Buffer.from(before.relayId))).to.equal(false);
      expect(client.client.registration?.sessionId).to.equal(after.sessionId);
      expect(client.client.stats().registrations).to.equal(2);

      const other = await registeredClient({ url: `udp://127.0.0.1:${second.port}` });
      clients.push(other);
      expect(other.client.send(after.sessionId, payloadFor(1, 64))).to.equal(true);
      await waitFor('DATA through the restarted relay', () => client.data.length === 1);
      expect(client.data[0].source).to.equal(other.sessionId);
    });
  }
});
