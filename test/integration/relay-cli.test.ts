import { expect } from 'chai';
import { spawn } from 'child_process';
import * as path from 'path';
import { runCli, type CliIo } from '../../server/cli';
import { verifyRelayToken } from '../../server';
import { waitFor } from '../helpers/wait';
import { registeredClient } from './relay-test-helpers';
import { testRelaySecret } from '../helpers/secrets';

const repositoryRoot = path.resolve(__dirname, '..', '..');

function recordingIo(env: Record<string, string> = {}): CliIo & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return {
    outLines,
    errLines,
    out: (line) => outLines.push(line),
    err: (line) => errLines.push(line),
    env,
    untilStopSignal: () => Promise.resolve('SIGTERM'),
  };
}

describe('switchboard CLI', function () {
  this.timeout(30_000);

  it('prints help, and exits 2 with help for an unknown command or option', async () => {
    const help = recordingIo();
    expect(await runCli(['--help'], help)).to.equal(0);
    expect(help.outLines.join('\n')).to.contain('relay');
    const unknown = recordingIo();
    expect(await runCli(['lobbyx'], unknown)).to.equal(2);
    expect(unknown.errLines.join('\n')).to.contain('unknown command "lobbyx"').and.contain('usage: switchboard <command>');
    const badOption = recordingIo();
    expect(await runCli(['relay', '--prot', '1'], badOption)).to.equal(2);
    expect(badOption.errLines.join('\n')).to.contain('unknown option --prot');
    const badPort = recordingIo();
    expect(await runCli(['relay', '--port', 'x'], badPort)).to.equal(2);
    expect(await runCli(['relay', '--host', 'localhost'], recordingIo())).to.equal(1);
  });

  it('mints a token the relay accepts (secret from the environment)', async () => {
    const io = recordingIo({ SWITCHBOARD_RELAY_SECRET: testRelaySecret('relay-cli') });
    expect(await runCli(['token', '--ttl', '60', '--subject', 'ops'], io)).to.equal(0);
    expect(verifyRelayToken(testRelaySecret('relay-cli'), io.outLines[0], Math.floor(Date.now() / 1000))).to.equal('ok');
    expect(await runCli(['token'], recordingIo())).to.equal(2);
  });

  it('`switchboard secret` prints a fresh strong secret; a weak --secret is refused naming what is required', async () => {
    const first = recordingIo();
    const second = recordingIo();
    expect(await runCli(['secret'], first)).to.equal(0);
    expect(await runCli(['secret'], second)).to.equal(0);
    expect(first.outLines[0]).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(first.outLines[0]).to.not.equal(second.outLines[0]);
    const token = recordingIo({ SWITCHBOARD_RELAY_SECRET: first.outLines[0] });
    expect(await runCli(['token'], token)).to.equal(0);
    expect(verifyRelayToken(first.outLines[0], token.outLines[0], Math.floor(Date.now() / 1000))).to.equal('ok');
    for (const command of [['token', '--secret', 'hunter2'], ['relay', '--port', '0', '--secret', 'hunter2'], ['lobby', '--port', '0', '--relay-secret', 'hunter2']]) {
      const weak = recordingIo();
      expect(await runCli(command, weak), command.join(' ')).to.equal(1);
      expect(weak.errLines.join('\n')).to.contain('32 random bytes').and.contain('switchboard secret');
    }
  });

  it('runs `switchboard relay` in its own process, serves clients, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(repositoryRoot, 'server', 'cli-bin.js'), 'relay', '--host', '127.0.0.1', '--port', '0'], {
      cwd: repositoryRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('the relay CLI to print its URLs', () => /ready: (udp:\/\/\S+) (ws:\/\/\S+)/.test(stdout), { timeoutMs: 20_000 });
      const [, udpUrl, wsUrl] = /ready: (udp:\/\/\S+) (ws:\/\/\S+)/.exec(stdout)!;
      await waitFor('the OPEN warning on stderr', () => stderr.includes('OPEN'));
      const a = await registeredClient({ url: udpUrl });
      const b = await registeredClient({ url: wsUrl });
      a.client.send(b.sessionId, Uint8Array.of(1, 2, 3));
      await waitFor('DATA through the CLI relay', () => b.data.length === 1);
      await Promise.all([a.client.dispose(), b.client.dispose()]);
      await waitFor('the registration log lines', () => (stdout.match(/registered over/g) ?? []).length === 2);
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(stdout).to.contain('SIGTERM, closing');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
