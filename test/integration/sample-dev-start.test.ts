/**
 * `npm start` smoke test: runs package.json's start command (with every port 0 and one bot) in
 * its own process group, fetches the page it prints within 30 s, then sends SIGINT to the group
 * like Ctrl-C in a terminal: the stack must stop cleanly (exit code 0) with no process left.
 * A second case runs the real `npm start` (npm → sh → node), as a developer types it.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { parsePageConfig } from '../../sample-scene/game/page-config';
import { groupAlive, npmScriptCommand } from '../helpers/npm-script';
import { waitFor } from '../helpers/wait';

const ROOT = path.resolve(__dirname, '..', '..');


describe('npm start (dev stack smoke test)', function () {
  this.timeout(60_000);
  let child: ChildProcess | undefined;

  afterEach(() => {
    // Only if the test failed half-way: do not leave the stack running.
    if (child?.pid !== undefined && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  });

  it('serves the page within 30 s and exits with code 0 on SIGINT, bots included', async () => {
    const { command, args } = npmScriptCommand('start');
    const startedAt = Date.now();
    child = spawn(command, [...args, '--port', '0', '--relay-port', '0', '--lobby-port', '0', '--bots', '1'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));

    const urlOf = () => /^open (http:\/\/127\.0\.0\.1:\d+\/) /m.exec(stdout)?.[1];
    await waitFor(`the printed URL (stdout so far: ${JSON.stringify(stdout)}; stderr: ${JSON.stringify(stderr)})`, () => urlOf() !== undefined || child!.exitCode !== null, {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    const url = urlOf();
    expect(url, `printed URL; stderr: ${stderr}`).to.be.a('string');
    const page = await fetch(url!);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.contain('<script type="module" src="/app.js">');
    const script = await fetch(new URL('app.js', url));
    expect(script.status).to.equal(200);
    expect(script.headers.get('content-type')).to.match(/javascript/);
    expect((await script.arrayBuffer()).byteLength).to.be.greaterThan(100_000);
    expect(Date.now() - startedAt, 'page served within 30 s of npm start').to.be.below(30_000);
    const config = parsePageConfig(await (await fetch(new URL('config.json', url))).json());
    expect(config.ok, JSON.stringify(config)).to.equal(true);
    expect((await fetch(new URL('nothing-here', url))).status).to.equal(404);

    await waitFor(`the bot to join (stderr: ${JSON.stringify(stderr)})`, () => /\[bot 1\] joined lobby "sample"/.test(stderr), { timeoutMs: 30_000, intervalMs: 50 });

    process.kill(-child.pid!, 'SIGINT');
    const result = await Promise.race([exit, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000).unref())]);
    expect(result, `exit after SIGINT (stdout: ${stdout}; stderr: ${stderr})`).to.deep.equal({ code: 0, signal: null });
    expect(stdout).to.contain('switchboard dev: stopped');
    await waitFor('every process of the stack (the bot included) to be gone', () => !groupAlive(child!.pid!), { timeoutMs: 10_000, intervalMs: 50 });
  });

  it("counts npm's forwarded copy of the SIGINT as the same Ctrl-C (exit 0, not the second-interrupt 130)", async () => {
    const { command, args } = npmScriptCommand('start');
    // One bot, so the stop lasts (the bot is asked to quit and waited for) when the copy arrives.
    child = spawn(command, [...args, '--port', '0', '--relay-port', '0', '--lobby-port', '0', '--bots', '1'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));
    await waitFor(`the bot to join (stderr: ${JSON.stringify(stderr)})`, () => /\[bot 1\] joined lobby/.test(stderr) || child!.exitCode !== null, { timeoutMs: 30_000, intervalMs: 20 });
    process.kill(-child.pid!, 'SIGINT');
    await waitFor('the stack to start stopping', () => stdout.includes('stopping') || child!.exitCode !== null, { timeoutMs: 10_000, intervalMs: 1 });
    // What npm does right after the terminal's SIGINT: it forwards SIGINT to its script.
    if (child.exitCode === null) process.kill(child.pid!, 'SIGINT');
    const result = await Promise.race([exit, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000).unref())]);
    expect(result, `exit (stdout: ${stdout}; stderr: ${stderr})`).to.deep.equal({ code: 0, signal: null });
    expect(stdout).to.contain('switchboard dev: stopped');
    expect(stderr).not.to.contain('second interrupt');
  });

  it('under npm itself: Ctrl-C (SIGINT to the process group) stops the stack and npm exits 0', async () => {
    // npm forwards SIGINT to its script too, so node sees the terminal's SIGINT and npm's copy.
    child = spawn('npm', ['start', '--', '--port', '0', '--relay-port', '0', '--lobby-port', '0'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));
    await waitFor(`the dev stack to be up under npm (stdout: ${JSON.stringify(stdout)}; stderr: ${JSON.stringify(stderr)})`, () => stdout.includes('Ctrl-C stops everything') || child!.exitCode !== null, {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    expect(child.exitCode, `npm start still running; stderr: ${stderr}`).to.equal(null);

    process.kill(-child.pid!, 'SIGINT');
    const result = await Promise.race([exit, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000).unref())]);
    expect(result, `npm's exit after SIGINT (stdout: ${stdout}; stderr: ${stderr})`).to.deep.equal({ code: 0, signal: null });
    // npm exited after the stack had stopped, not before it, and not through the second-Ctrl-C path.
    expect(stdout).to.contain('switchboard dev: stopped');
    expect(stderr).not.to.contain('second interrupt');
    await waitFor('every process of the stack to be gone', () => !groupAlive(child!.pid!), { timeoutMs: 10_000, intervalMs: 50 });
  });
});
