/**
 * Native ENet (Debian's libenet-dev) for the loss baseline: bench/native/enet-peer.c compiled with
 * `cc` once per run into a temp folder (never a committed binary), and a small driver for the
 * program's line protocol (one command a line on stdin, one JSON line back on stdout). When cc or
 * libenet is missing, buildNativeEnet says so in one sentence and the suite reports it.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export type NativeBuild = { ok: true; binary: string; version: string } | { ok: false; reason: string };

const SOURCE = path.resolve(__dirname, '..', 'native', 'enet-peer.c');
let build: NativeBuild | null = null;
let folder: string | null = null;

/** Compiles the ENet peer (once per run). */
export function buildNativeEnet(): NativeBuild {
  if (build !== null) return build;
  const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (cc.error !== undefined || cc.status !== 0) {
    build = { ok: false, reason: 'no C compiler (`cc`) on PATH; install one (Debian: apt-get install gcc libenet-dev) to measure native ENet' };
    return build;
  }
  if (!fs.existsSync('/usr/include/enet/enet.h') && !fs.existsSync('/usr/local/include/enet/enet.h')) {
    build = { ok: false, reason: 'libenet headers not found (enet/enet.h); install them (Debian: apt-get install libenet-dev) to measure native ENet' };
    return build;
  }
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-enet-'));
  process.once('exit', () => {
    if (folder !== null) fs.rmSync(folder, { recursive: true, force: true });
  });
  const binary = path.join(folder, 'enet-peer');
  const compiled = spawnSync('cc', ['-O2', '-o', binary, SOURCE, '-lenet'], { encoding: 'utf8', timeout: 60_000 });
  if (compiled.status !== 0) {
    build = { ok: false, reason: `compiling ${path.relative(process.cwd(), SOURCE)} against libenet failed: ${(compiled.stderr || String(compiled.error)).trim().split('\n').slice(0, 3).join(' ')}` };
    return build;
  }
  build = { ok: true, binary, version: libenetVersion() };
  return build;
}

function libenetVersion(): string {
  const dpkg = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'libenet-dev'], { encoding: 'utf8' });
  return dpkg.status === 0 && dpkg.stdout.trim() !== '' ? `libenet-dev ${dpkg.stdout.trim()}` : 'libenet';
}

export interface NativeEnetPeer {
  readonly port: number;
  /** Sends one command line and resolves with its JSON answer (deadline `timeoutMs`). */
  call<T>(line: string, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

/** Starts the program as 'server' or 'client PORT'; resolves once it has bound its port. */
export function spawnNativeEnet(binary: string, args: string[]): Promise<NativeEnetPeer> {
  const child: ChildProcess = spawn(binary, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  // Dies with the parent: the program exits when its stdin closes, and is killed on exit anyway.
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);
  const waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }[] = [];
  let buffered = '';
  let exited = false;
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const next = waiting.shift();
      if (next === undefined) continue;
      clearTimeout(next.timer);
      try {
        next.resolve(JSON.parse(line));
      } catch {
        next.reject(new Error(`enet-peer: not JSON: ${line.slice(0, 200)}`));
      }
    }
  });
  child.once('exit', (code, signal) => {
    exited = true;
    process.removeListener('exit', kill);
    for (const w of waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error(`enet-peer exited (code ${code}, signal ${signal})`));
    }
  });
  const expect = <T>(timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = waiting.findIndex((w) => w.timer === timer);
        if (at >= 0) waiting.splice(at, 1);
        reject(new Error(`enet-peer: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.push({ resolve: resolve as (v: unknown) => void, reject, timer });
    });
  return expect<{ port: number }>(10_000).then((info) => ({
    port: info.port,
    call<T>(line: string, timeoutMs = 30_000): Promise<T> {
      if (exited) return Promise.reject(new Error('enet-peer has exited'));
      const answer = expect<T>(timeoutMs);
      child.stdin?.write(`${line}\n`);
      return answer;
    },
    stop(): Promise<void> {
      if (exited) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(kill, 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.stdin?.end('quit\n');
      });
    },
  }));
}
