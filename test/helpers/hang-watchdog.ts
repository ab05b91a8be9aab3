/**
 * A blocked event loop stops mocha's own timeouts, so a synchronous endless loop would hang the
 * test run until CI kills it, printing nothing. This watchdog (loaded by `npm test` with --require)
 * notices the stall from a worker thread, starts the inspector (SIGUSR1, served from its own
 * thread), pauses the main thread through it and prints the test that was running and the main
 * thread's stack, then kills the run so it fails at once.
 *
 * SWITCHBOARD_TEST_STALL_SECONDS sets how long the loop may stay blocked (default 60; 0 turns the
 * watchdog off).
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

const STALL_SECONDS = Number(process.env.SWITCHBOARD_TEST_STALL_SECONDS ?? 60);
const TITLE_BYTES = 4096;

// [0]: the main thread's last heartbeat (seconds since start), [1]: the inspector's port; then the running test's title.
const shared = new SharedArrayBuffer(8 + TITLE_BYTES);
const beat = new Int32Array(shared, 0, 2);
const title = new Uint8Array(shared, 8, TITLE_BYTES);
const started = Date.now();

function setTitle(text: string): void {
  const encoded = new TextEncoder().encode(text).subarray(0, TITLE_BYTES - 1);
  title.fill(0);
  title.set(encoded);
}

// Plain JavaScript: the worker does not go through ts-node.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const http = require('node:http');
const WebSocket = require(workerData.wsPath);
const beat = new Int32Array(workerData.shared, 0, 2);
const title = new Uint8Array(workerData.shared, 8, ${TITLE_BYTES});
const say = (text) => fs.writeSync(2, text + '\\n');
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const finish = (why) => {
  say('hang watchdog: ' + why + '; killing the test run');
  process.kill(process.pid, 'SIGKILL');
};
function findInspector(attempt) {
  http.get({ host: '127.0.0.1', port: Atomics.load(beat, 1), path: '/json/list' }, (response) => {
    let body = '';
    response.on('data', (chunk) => (body += chunk));
    response.on('end', () => printStack(JSON.parse(body)[0].webSocketDebuggerUrl));
  }).on('error', (error) => {
    if (attempt < 50) setTimeout(() => findInspector(attempt + 1), 200);
    else finish('the inspector did not start (' + error.message + ')');
  });
}
function printStack(url) {
  const socket = new WebSocket(url);
  const scripts = new Map();
  socket.on('open', () => {
    socket.send(JSON.stringify({ id: 1, method: 'Debugger.enable' }));
    socket.send(JSON.stringify({ id: 2, method: 'Debugger.pause' }));
  });
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw));
    if (message.method === 'Debugger.scriptParsed') scripts.set(message.params.scriptId, message.params.url);
    if (message.method !== 'Debugger.paused') return;
    const frames = message.params.callFrames.map((f) =>
      '    at ' + (f.functionName || '(anonymous)') + ' (' + (scripts.get(f.location.scriptId) || f.url || '?') + ':' + (f.location.lineNumber + 1) + ':' + (f.location.columnNumber + 1) + ')');
    say('hang watchdog: main thread stack (positions in the transpiled JavaScript):\\n' + frames.join('\\n'));
    finish('stack printed');
  });
  socket.on('error', (error) => finish('no inspector connection (' + error.message + ')'));
}
for (;;) {
  Atomics.wait(sleeper, 0, 0, 1000);
  const blocked = Math.floor((Date.now() - workerData.started) / 1000) - Atomics.load(beat, 0);
  if (blocked < workerData.stallSeconds) continue;
  const end = title.indexOf(0);
  const running = new TextDecoder().decode(title.slice(0, end < 0 ? title.length : end));
  say('\\nhang watchdog: the event loop has been blocked for ' + blocked + ' s, in: ' + (running || '(no test has run yet)'));
  setTimeout(() => finish('no stack within 20 s'), 20000);
  // SIGUSR1 starts Node's inspector even while the main thread runs JavaScript (it interrupts V8).
  process.kill(process.pid, 'SIGUSR1');
  findInspector(0);
  break;
}
`;

if (STALL_SECONDS > 0) {
  const heartbeat = setInterval(() => Atomics.store(beat, 0, Math.floor((Date.now() - started) / 1000)), 1000);
  heartbeat.unref();
  // The inspector starts only on a stall, on a port free now (and on loopback, Node's default host).
  const probe = net.createServer().listen(0, '127.0.0.1', () => {
    const port = (probe.address() as net.AddressInfo).port;
    probe.close();
    process.debugPort = port;
    Atomics.store(beat, 1, port);
  });
  probe.unref();
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { shared, started, stallSeconds: STALL_SECONDS, wsPath: path.dirname(require.resolve('ws/package.json')) },
  });
  worker.unref();
}

/** Mocha root hooks: the title of the running test, for the watchdog's report. */
export const mochaHooks = {
  beforeEach(this: Mocha.Context): void {
    setTitle(this.currentTest?.fullTitle() ?? '');
  },
  afterEach(this: Mocha.Context): void {
    // A hang in a later hook or between files still says where the run was.
    setTitle(`after: ${this.currentTest?.fullTitle() ?? ''}`);
  },
};
