/**
 * Headless bots as child processes (sample-scene/bot/main.ts under ts-node). Each bot's stdin is
 * a pipe from us: `quit` stops it, and if we die its stdin ends and it stops on its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { REPOSITORY_ROOT } from './paths';

export const BOT_ENTRY = path.join(REPOSITORY_ROOT, 'sample-scene', 'bot', 'main.ts');
/** The bot compiled into the published switchboard-server (dist/sample/bot.cjs, next to the command). */
const PREBUILT_BOT = path.join(__dirname, 'sample', 'bot.cjs');
export const MAX_BOTS = 32;
const STOP_GRACE_MS = 5_000;

export interface BotProcessOptions {
  relay: string;
  lobbyUrl: string;
  lobbyName: string;
  /** Seed of the first bot; bot i gets seed + i. */
  seed?: number;
  /** Extra arguments for every bot (e.g. ['--report', '--min-peers', '2']). */
  extraArgs?: readonly string[];
  /** 'inherit' (default) shows the bots' output; 'pipe' hands it to the caller through `children`. */
  stdout?: 'inherit' | 'pipe';
}

export interface BotProcesses {
  readonly children: readonly ChildProcess[];
  /** Asks every bot to quit, waits (bounded) and kills the ones still running. Idempotent. */
  stop(): Promise<void>;
}

/** The command line of one bot process. */
export function botCommand(options: BotProcessOptions, index: number): { command: string; args: string[] } {
  return {
    command: process.execPath,
    args: [
      // The repository runs the sources (the sample imports 'switchboard' from source: -C).
      ...(existsSync(PREBUILT_BOT) ? [PREBUILT_BOT] : ['-C', 'switchboard-source', '-r', 'ts-node/register/transpile-only', BOT_ENTRY]),
      '--relay',
      options.relay,
      '--lobby-url',
      options.lobbyUrl,
      '--lobby',
      options.lobbyName,
      '--seed',
      String((options.seed ?? 1) + index),
      ...(options.extraArgs ?? []),
    ],
  };
}

export function spawnBots(count: number, options: BotProcessOptions): BotProcesses {
  if (!Number.isInteger(count) || count < 0 || count > MAX_BOTS) throw new RangeError(`bots: expected an integer 0..${MAX_BOTS}, got ${count}`);
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const { command, args } = botCommand(options, i);
    const child = spawn(command, args, { cwd: REPOSITORY_ROOT, stdio: ['pipe', options.stdout ?? 'inherit', 'inherit'] });
    // A bot that already exited makes writes to its stdin fail; that is not our error.
    child.stdin?.on('error', () => undefined);
    children.push(child);
  }
  let stopping: Promise<void> | null = null;
  return {
    children,
    stop() {
      stopping ??= Promise.all(children.map((child) => stopChild(child))).then(() => undefined);
      return stopping;
    },
  };
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.stdin && !child.stdin.destroyed) child.stdin.end('quit\n');
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_GRACE_MS)));
  const late = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late && !hasExited(child)) {
    child.kill('SIGKILL');
    await exited;
  }
}
