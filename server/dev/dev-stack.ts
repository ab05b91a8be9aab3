/**
 * The dev stack behind `npm start`: a relay, a Colyseus lobby server and a web server for the
 * sample page, all on 127.0.0.1, plus optional headless bots in child processes. The relay has a
 * fresh random secret per run; the lobby hands every member a relay token for it.
 *
 *   const stack = await startDevStack({ httpPort: 0, relayPort: 0, lobbyPort: 0 });
 *   stack.url → 'http://127.0.0.1:PORT/'  (open in two tabs)     await stack.close();
 */
import { startLobbyServer, type LobbyServer } from '../lobby';
import { generateRelaySecret, startRelay, type RelayServer } from '../relay';
import { consoleLogger, type Logger } from '../../plugin/net/types';
import type { PageConfig } from '../../sample-scene/game/page-config';
import { DEFAULT_LOBBY } from '../../sample-scene/game/scene-params';
import { MAX_BOTS, spawnBots, type BotProcesses } from './bot-processes';
import { DEV_USAGE, parseDevArgs } from './dev-args';
import { loadSceneBundle, type SceneBundle } from './scene-source';
import { samplePageFiles } from './page-files';
import { startStaticServer } from './static-server';

export interface DevStackOptions {
  /** Address of every server (default '127.0.0.1'). */
  host?: string;
  /** Web server port (default 8080; 0 = any free port). */
  httpPort?: number;
  /** Relay port, UDP and WebSocket (default 7777; 0 = any free port). */
  relayPort?: number;
  /** Lobby server port (default 2567; 0 = any free port). */
  lobbyPort?: number;
  /** Headless bots to start in child processes (default 0). */
  bots?: number;
  /** The lobby the page and the bots join by default (default 'sample'). */
  lobby?: string;
  /** An already built page (tests build once); built when absent. */
  bundle?: SceneBundle;
  /** Where the servers' warnings go (their per-connection info lines are dropped). */
  logger?: Logger;
}

export interface DevStack {
  /** The page: 'http://127.0.0.1:PORT/'. */
  readonly url: string;
  readonly relay: RelayServer;
  readonly lobby: LobbyServer;
  readonly pageConfig: PageConfig;
  readonly bots: BotProcesses;
  /** Stops the bots, then the web server, the lobby and the relay. Idempotent. */
  close(): Promise<void>;
}

export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const host = options.host ?? '127.0.0.1';
  const lobbyName = options.lobby ?? DEFAULT_LOBBY;
  const botCount = options.bots ?? 0;
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(lobbyName)) throw new RangeError(`dev stack: lobby name must be 1..64 characters of A-Z a-z 0-9 _ . : -, got ${JSON.stringify(lobbyName)}`);
  if (!Number.isInteger(botCount) || botCount < 0 || botCount > MAX_BOTS) throw new RangeError(`dev stack: bots must be an integer 0..${MAX_BOTS}, got ${botCount}`);
  const logger = warningsOnly(options.logger ?? consoleLogger);
  const bundle = options.bundle ?? (await loadSceneBundle());

  // Started in order, closed in reverse; a failure part-way closes what already runs.
  const started: { close(): Promise<void> }[] = [];
  const closeStarted = async () => {
    for (const part of started.reverse()) await part.close().catch((error: unknown) => logger.warn(`dev stack: closing failed: ${(error as Error).message}`));
  };
  try {
    const secret = generateRelaySecret();
    const relay = await startRelay({ host, port: options.relayPort ?? 7777, secret, logger });
    started.push(relay);
    const lobby = await startLobbyServer({ host, port: options.lobbyPort ?? 2567, relaySecret: secret, logger });
    started.push(lobby);
    const pageConfig: PageConfig = { relay: relay.wsUrl, lobbyUrl: lobby.url, lobby: lobbyName };
    const http = await startStaticServer({
      host,
      port: options.httpPort ?? 8080,
      files: samplePageFiles(bundle, pageConfig),
    });
    started.push(http);
    // Bots use UDP (Node), the page WebSocket: the relay forwards between both.
    const bots = spawnBots(botCount, { relay: relay.udpUrl, lobbyUrl: lobby.url, lobbyName });
    started.push({ close: () => bots.stop() });
    let closing: Promise<void> | null = null;
    return {
      url: http.url,
      relay,
      lobby,
      pageConfig,
      bots,
      close() {
        closing ??= closeStarted();
        return closing;
      },
    };
  } catch (error) {
    await closeStarted();
    throw error;
  }
}

/** A signal this soon after the first is the same Ctrl-C (npm's forwarded copy), not a second one. */
const SAME_INTERRUPT_MS = 1_000;

export interface DevCliIo {
  out(line: string): void;
  err(line: string): void;
}

/**
 * `npm start` / `switchboard dev`: starts the stack, prints the URL, and on SIGINT or SIGTERM
 * (Ctrl-C) closes everything. Resolves with the exit code: 0 after a clean stop, 1 when the stack
 * could not start or close, 2 for bad arguments. A second Ctrl-C while closing resolves 130 at once.
 * Signals within SAME_INTERRUPT_MS of the first count as that first one: under `npm start` the
 * terminal's SIGINT reaches node and npm, and npm forwards its copy to node as well.
 */
export async function runDevCli(args: readonly string[], io: Partial<DevCliIo> = {}): Promise<number> {
  const out = io.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = io.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const parsed = parseDevArgs(args);
  if (!parsed.ok) {
    err(`switchboard dev: ${parsed.error}`);
    err(DEV_USAGE);
    return 2;
  }
  if (parsed.help) {
    out(DEV_USAGE);
    return 0;
  }
  const logger: Logger = { info: (m) => out(m), warn: (m) => err(`[switchboard] ${m}`) };
  let stack: DevStack;
  try {
    stack = await startDevStack({ ...parsed.options, logger });
  } catch (error) {
    err(`switchboard dev: could not start: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  const bots = parsed.options.bots ?? 0;
  out(`switchboard dev: relay ${stack.relay.wsUrl.replace(/^ws:\/\//, '')}, lobby ${stack.lobby.url.replace(/^ws:\/\//, '')}${bots > 0 ? `, ${bots} bot(s) in lobby "${stack.pageConfig.lobby}"` : ''}`);
  out(`open ${stack.url} in two tabs   (?lobby=name&loss=0.1&latency=80 pick a lobby and impair the link)`);
  out('Ctrl-C stops everything');

  return new Promise<number>((resolve) => {
    let stoppingSince: number | null = null;
    let stopped = false;
    const onSignal = () => {
      // Listeners stay until the process exits: removing the last one restores the default
      // action, and npm's forwarded copy of the Ctrl-C can arrive after the stack has stopped.
      if (stopped) return;
      if (stoppingSince !== null && performance.now() - stoppingSince < SAME_INTERRUPT_MS) return;
      if (stoppingSince !== null) {
        err('switchboard dev: second interrupt, exiting without waiting');
        for (const child of stack.bots.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        resolve(130);
        return;
      }
      stoppingSince = performance.now();
      out('switchboard dev: stopping…');
      stack.close().then(
        () => {
          stopped = true;
          out('switchboard dev: stopped');
          resolve(0);
        },
        (error: unknown) => {
          stopped = true;
          err(`switchboard dev: close failed: ${error instanceof Error ? error.message : String(error)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** The servers log every registration and join as info; the dev console keeps only warnings. */
function warningsOnly(logger: Logger): Logger {
  return { info: () => undefined, warn: (m) => logger.warn(m) };
}
