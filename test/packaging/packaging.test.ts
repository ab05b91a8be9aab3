/**
 * The two packages as a game gets them (`npm run test:packaging`, run by .ci/run after npm test;
 * slow: it packs, and installs from the registry). Both tarballs are packed (prepack builds them)
 * and installed into a temporary project OUTSIDE the repository, so nothing comes from the
 * repository's node_modules. Then, in that project:
 *   - the client alone installs no server dependency (node-datachannel, @colyseus/core, ts-node);
 *   - a strict browser game (types: [], skipLibCheck: false) type-checks with zero errors from our
 *     typings, against the Babylon we test with and the newest 9.x;
 *   - esbuild bundles it for the browser with no Node module;
 *   - a Node ESM and a CommonJS script each deliver one reliable message through a relay;
 *   - `npx switchboard relay --help` exits 0 (built JS, plain node).
 * It runs with its own .mocharc.json, without the hang watchdog: its npm steps block the event
 * loop on purpose (spawnSync, each bounded by STEP_TIMEOUT_MS).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { get } from 'node:http';
import { expect } from 'chai';

const REPOSITORY_ROOT = path.resolve(__dirname, '..', '..');
const CONSUMER_FIXTURE = path.join(__dirname, 'consumer');
/** examples/minimal-game: its game and server are checked here too, against the same install. */
const EXAMPLE = path.join(REPOSITORY_ROOT, 'examples', 'minimal-game');
/** The Babylon version the repository tests with (its devDependency). */
const TESTED_BABYLON = (require(path.join(REPOSITORY_ROOT, 'package.json')) as { devDependencies: Record<string, string> }).devDependencies['@babylonjs/core'] as string;
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const STEP_TIMEOUT_MS = 8 * 60_000;

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: 'utf8', timeout: STEP_TIMEOUT_MS, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
}

function mustRun(command: string, args: string[], cwd: string): string {
  const result = run(command, args, cwd);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${String(result.status)}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function pack(directory: string, destination: string): PackResult {
  const out = mustRun(NPM, ['pack', '--json', '--pack-destination', destination], directory);
  const parsed = JSON.parse(out.slice(out.indexOf('['))) as PackResult[];
  const first = parsed[0];
  if (first === undefined) throw new Error(`npm pack in ${directory} reported nothing`);
  return first;
}

function directorySize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    total += entry.isDirectory() ? directorySize(full) : statSync(full).size;
  }
  return total;
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * tsc's diagnostics, split into ours (the game's files, switchboard's typings, and anything we pull
 * in such as colyseus.js) and Babylon's own: with `types: []` Babylon's WebGPU typings miss the
 * `@webgpu/types` globals they expect, which a Babylon game has with or without us.
 */
function ourTypeErrors(project: string): { ours: string[]; theirs: number } {
  const result = run(process.execPath, [path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--pretty', 'false'], project);
  const lines = `${result.stdout}${result.stderr}`.split('\n').filter((line) => /error TS\d+/.test(line));
  const ours = lines.filter((line) => !line.startsWith('node_modules/@babylonjs/'));
  return { ours, theirs: lines.length - ours.length };
}

describe('packaging: switchboard and switchboard-server from their tarballs', function () {
  this.timeout(30 * 60_000);
  const report: string[] = [];
  let work = '';
  let game = '';
  let client: PackResult;
  let server: PackResult;

  before(function () {
    work = mkdtempSync(path.join(tmpdir(), 'switchboard-packaging-'));
    expect(path.relative(REPOSITORY_ROOT, work).startsWith('..'), 'the temporary project is outside the repository').to.equal(true);
    client = pack(REPOSITORY_ROOT, work);
    server = pack(path.join(REPOSITORY_ROOT, 'server'), work);
    report.push(`tarball switchboard: ${kib(client.size)} (${kib(client.unpackedSize)} unpacked, ${client.files.length} files)`);
    report.push(`tarball switchboard-server: ${kib(server.size)} (${kib(server.unpackedSize)} unpacked, ${server.files.length} files)`);
    game = path.join(work, 'game');
    cpSync(CONSUMER_FIXTURE, game, { recursive: true });
    cpSync(path.join(EXAMPLE, 'src', 'game.ts'), path.join(game, 'example-game.ts'));
    cpSync(path.join(EXAMPLE, 'server.mjs'), path.join(game, 'example-server.mjs'));
    writeFileSync(path.join(game, 'package.json'), `${JSON.stringify({ name: 'packaging-game', version: '1.0.0', private: true }, null, 2)}\n`);
  });

  after(function () {
    process.stdout.write(`\n      ${report.join('\n      ')}\n`);
    if (work !== '' && process.env.KEEP_PACKAGING_PROJECT === undefined) rmSync(work, { recursive: true, force: true });
  });

  it('ships built JavaScript and typings, and no tests, bench, fuzz or TypeScript sources', function () {
    for (const pkg of [client, server]) {
      const files = pkg.files.map((f) => f.path);
      expect(files.filter((f) => /^(test|bench|fuzz|sample-scene)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).to.deep.equal([]);
      expect(files.some((f) => f.endsWith('.d.ts'))).to.equal(true);
    }
    expect(client.files.map((f) => f.path)).to.include.members(['dist/esm/plugin/index.js', 'dist/cjs/plugin/index.js', 'dist/esm/plugin/index.d.ts', 'plugin.json', 'LICENSE']);
    expect(server.files.map((f) => f.path)).to.include.members(['dist/index.cjs', 'dist/index.mjs', 'dist/cli.cjs', 'cli-bin.js', 'dist/sample/app.js', 'LICENSE']);
  });

  it('the client alone installs no server dependency (node-datachannel, @colyseus/core, ts-node)', function () {
    mustRun(NPM, ['install', '--no-audit', '--no-fund', path.join(work, client.filename), `@babylonjs/core@${TESTED_BABYLON}`, 'typescript@5', 'esbuild@0.28.2'], game);
    // ('ws' may be there: colyseus.js, the lobby client, depends on it for Node.)
    for (const absent of ['node-datachannel', '@colyseus/core', '@colyseus/ws-transport', 'ts-node', 'switchboard-server']) {
      expect(existsSync(path.join(game, 'node_modules', absent)), `${absent} is installed`).to.equal(false);
    }
    expect(existsSync(path.join(game, 'node_modules', 'rxjs')), 'rxjs (a peer dependency) is installed').to.equal(true);
    const modules = path.join(game, 'node_modules');
    const others = ['typescript', 'esbuild', '@esbuild', '@babylonjs'].reduce((sum, name) => sum + (existsSync(path.join(modules, name)) ? directorySize(path.join(modules, name)) : 0), 0);
    report.push(`client install: ${mib(directorySize(modules) - others)} of node_modules besides Babylon, typescript and esbuild (switchboard itself ${kib(directorySize(path.join(modules, 'switchboard')))})`);
  });

  it(`a strict browser game (types: [], skipLibCheck: false) type-checks against Babylon ${TESTED_BABYLON} and the newest 9.x`, function () {
    const tested = ourTypeErrors(game);
    expect(tested.ours, `errors from our typings with Babylon ${TESTED_BABYLON}`).to.deep.equal([]);
    const versions = JSON.parse(mustRun(NPM, ['view', '@babylonjs/core@^9', 'version', '--json'], game)) as string | string[];
    const newest = Array.isArray(versions) ? (versions[versions.length - 1] as string) : versions;
    mustRun(NPM, ['install', '--no-audit', '--no-fund', `@babylonjs/core@${newest}`], game);
    const latest = ourTypeErrors(game);
    expect(latest.ours, `errors from our typings with Babylon ${newest}`).to.deep.equal([]);
    report.push(`strict browser typecheck: 0 errors from our typings with Babylon ${TESTED_BABYLON} and ${newest} (${tested.theirs} and ${latest.theirs} inside Babylon's own WebGPU typings, which do not count)`);
    mustRun(NPM, ['install', '--no-audit', '--no-fund', `@babylonjs/core@${TESTED_BABYLON}`], game);
  });

  it('esbuild bundles the game for the browser with no Node module; NetworkManager alone bundles neither Babylon nor colyseus.js', async function () {
    const esbuild = require(path.join(game, 'node_modules', 'esbuild')) as typeof import('esbuild');
    const nodeOnly = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'ws']);
    for (const entry of ['browser-game.ts', 'manager-only.ts', 'example-game.ts']) {
      const result = await esbuild.build({ absWorkingDir: game, entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, metafile: true, logLevel: 'silent', outfile: 'out.js' });
      // Files that put bytes into the output (metafile.inputs also lists what tree-shaking dropped).
      const inputs = Object.values(result.metafile.outputs).flatMap((output) => Object.entries(output.inputs).filter(([, used]) => used.bytesInOutput > 0).map(([file]) => file));
      for (const [file, input] of Object.entries(result.metafile.inputs)) {
        for (const imported of input.imports) expect(nodeOnly.has(imported.path), `${file} imports ${imported.path}`).to.equal(false);
      }
      expect(inputs.filter((f) => /udp-socket|index\.node\.js/.test(f))).to.deep.equal([]);
      const js = result.outputFiles[0]?.contents ?? new Uint8Array();
      report.push(`browser bundle ${entry}: ${kib(js.length)} minified, ${kib(gzipSync(js).length)} gzip`);
      if (entry === 'manager-only.ts') {
        expect(inputs.filter((f) => f.includes('@babylonjs') || f.includes('colyseus.js'))).to.deep.equal([]);
        expect(gzipSync(js).length).to.be.at.most(60 * 1024);
      }
    }
  });

  it('installs switchboard-server beside it, without ts-node', function () {
    mustRun(NPM, ['install', '--no-audit', '--no-fund', path.join(work, client.filename), path.join(work, server.filename)], game);
    expect(existsSync(path.join(game, 'node_modules', 'ts-node'))).to.equal(false);
    expect(existsSync(path.join(game, 'node_modules', 'node-datachannel'))).to.equal(true);
    report.push(`client + server install: ${mib(directorySize(path.join(game, 'node_modules')))} of node_modules in all (with Babylon, typescript and esbuild)`);
  });

  it('a Node ESM script and a CommonJS script each deliver one reliable message through a relay', function () {
    expect(mustRun(process.execPath, ['relay-esm.mjs'], game)).to.contain('delivered: hello from ESM');
    expect(mustRun(process.execPath, ['relay-cjs.cjs'], game)).to.contain('delivered: hello from CJS');
    mustRun(process.execPath, ['--check', 'example-server.mjs'], game);
  });

  it('`npx switchboard relay --help` and `npx switchboard token` run from built JS', function () {
    const help = run('npx', ['--no-install', 'switchboard', 'relay', '--help'], game);
    expect(help.status, help.stderr).to.equal(0);
    expect(help.stdout).to.contain('usage: switchboard relay');
    const token = run('npx', ['--no-install', 'switchboard', 'token', '--secret', 'Ojl8yBq1cR4m2sX9vWkT0hZp3nE7uGfA5dLiN6bCoQe', '--ttl', '60'], game);
    expect(token.status, token.stderr).to.equal(0);
    expect(token.stdout.trim().length).to.be.greaterThan(10);
    for (const command of ['lobby', 'dev']) {
      const usage = run('npx', ['--no-install', 'switchboard', command, '--help'], game);
      expect(usage.status, `${command}: ${usage.stderr}`).to.equal(0);
    }
  });

  it('`npx switchboard dev --bots 1` serves the prebuilt sample page and its bot joins the lobby', async function () {
    const child = spawn('npx', ['--no-install', 'switchboard', 'dev', '--port', '0', '--relay-port', '0', '--lobby-port', '0', '--bots', '1'], { cwd: game, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const seen = (pattern: RegExp, what: string, timeoutMs: number): Promise<RegExpMatchArray> =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const match = output.match(pattern);
          if (match === null) return false;
          resolve(match);
          return true;
        };
        if (check()) return;
        const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs / 1000} s; output:\n${output}`)), timeoutMs);
        const onData = (): void => {
          if (check()) {
            clearTimeout(timer);
            child.stdout.off('data', onData);
            child.stderr.off('data', onData);
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
      });
    const fetchText = (url: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        get(url, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    try {
      const [, url] = await seen(/open (http:\/\/127\.0\.0\.1:\d+\/)/, 'page URL', 60_000);
      const page = await fetchText(url as string);
      expect(page.status).to.equal(200);
      expect(page.body).to.contain('<html');
      const app = await fetchText(`${url as string}app.js`);
      expect(app.status).to.equal(200);
      expect(app.body.length).to.be.greaterThan(100_000);
      await seen(/joined lobby "sample"/, 'bot joining the lobby', 60_000);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGINT');
      const bound = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(-child.pid, 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(bound);
    }
  });
});
