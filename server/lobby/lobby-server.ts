/**
 * startLobbyServer(): a Colyseus 0.16 server (@colyseus/core + @colyseus/ws-transport) whose one
 * room type is the Switchboard lobby, joined by name. Colyseus keeps its matchmaker in module state,
 * so one lobby server runs per process at a time; starting a second one while the first runs is
 * refused with an error saying so (close the first, then start again: that works).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { LOBBY_ROOM_TYPE, type LobbyRelays } from '../../plugin/lobby/lobby-protocol';
import { maxUpdateBytes, resolveMetadataLimits, type LobbyMetadataLimits } from '../../plugin/lobby/metadata-rules';
import { consoleLogger, type Logger } from '../../plugin/net/types';
import { startFleetReader, type FleetReader } from '../fleet/fleet-reader';
import { relaySecretProblem } from '../relay/token';
import { LobbyCounters, type LobbyServerStats } from './lobby-counters';
import { createLobbyRoomClass, type LobbyRoomConfig } from './lobby-room';
import { freePort, lobbyRedis, refuseJoinsWhileRedisDown, watchRedis, type RedisHealth } from './lobby-redis';

export type { LobbyServerStats } from './lobby-counters';

export interface LobbyServerOptions {
  /** Address to listen on (default '127.0.0.1'). */
  host?: string;
  /** TCP port; 0 picks a free one (default 2567). */
  port?: number;
  /** When set, every member gets a relay token (createRelayToken) in its welcome. */
  relaySecret?: string;
  /** Members per lobby (default 16, at most 1024); a join past it is refused with "lobby … is full". */
  capacity?: number;
  /** Where warnings go (default console); Colyseus's own log lines go here too while the server runs. */
  logger?: Logger;
  /**
   * Lifetime of handed-out relay tokens (default 600 s). A token is a bearer token, valid from any
   * address until it expires; members renew theirs at half-life over the lobby connection, and a
   * registered relay session never needs it again, so minutes are enough.
   */
  relayTokenTtlSeconds?: number;
  /** How long a dropped member keeps its place for a reconnect (default 20 s; 0 = leave at once). */
  reconnectSeconds?: number;
  /** Lobbies open at once at most (default 1,000). */
  maxLobbies?: number;
  limits?: Partial<LobbyMetadataLimits>;
  /** Metadata updates per member: burst and sustained rate (defaults 20 and 10/s). */
  updateBurst?: number;
  updatesPerSecond?: number;
  /** How often state changes are sent to members (default 50 ms, Colyseus's own default). */
  patchRateMs?: number;
  /** Colyseus Redis presence + driver: lobby servers given the same URL share rooms (docs/SCALING.md). */
  redisUrl?: string;
  /**
   * The relay fleet's secret (needs redisUrl): the lobby reads the fleet directory on that Redis
   * (about every 1.5 s) and each welcome carries the fleet's relays, least-loaded first
   * (ColyseusLobby.relays). Same strength rule as relaySecret.
   */
  fleetSecret?: string;
}

export interface LobbyServer {
  /** 'ws://host:port', what ColyseusLobby.join takes. */
  url: string;
  stats(): LobbyServerStats;
  /** What a member joining now is handed as `relays` (least-loaded first); undefined without fleetSecret. */
  relays(): LobbyRelays | undefined;
  /** Disconnects every member, disposes the lobbies and stops listening. Idempotent. */
  close(): Promise<void>;
}

/** Relay tokens live minutes, not hours: a leaked one is useful only briefly. */
const DEFAULT_RELAY_TOKEN_TTL_SECONDS = 600;

/** Matchmaking request bodies are small JSON; Colyseus reads them without a bound, so this guard adds one. */
const MAX_MATCHMAKE_BODY_BYTES = 16 * 1024;
const CLOSE_TIMEOUT_MS = 5_000;

/** Whether this process runs a lobby server now (Colyseus's matchmaker is per process). */
let running = false;

export async function startLobbyServer(options: LobbyServerOptions = {}): Promise<LobbyServer> {
  const host = options.host ?? '127.0.0.1';
  let port = options.port ?? 2567;
  const logger = options.logger ?? consoleLogger;
  const config = resolveConfig(options, logger);
  if (typeof host !== 'string' || host.length === 0) throw new TypeError('startLobbyServer: host must be a non-empty string');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`startLobbyServer: port must be an integer 0..65535, got ${String(port)}`);
  if (running) {
    throw new Error('startLobbyServer: a lobby server is already running in this process (Colyseus keeps one matchmaker per process); close it first');
  }
  running = true;

  let shared: Awaited<ReturnType<typeof lobbyRedis>> | null = null;
  let fleet: FleetReader | null = null;
  let health: RedisHealth | null = null;
  if (options.redisUrl !== undefined) {
    try {
      shared = await lobbyRedis(options.redisUrl);
      // Other lobby servers send members here for rooms this process holds: advertise the real port.
      if (port === 0) port = await freePort(host);
      if (options.fleetSecret !== undefined) {
        fleet = await startFleetReader({ redisUrl: options.redisUrl, secret: options.fleetSecret, log: (line) => logger.warn(line) });
        const reader = fleet;
        config.relays = () => reader.relays();
      }
    } catch (error) {
      running = false;
      throw error;
    }
  }
  const counters = new LobbyCounters();
  const transport = new WebSocketTransport({ maxPayload: maxUpdateBytes(config.limits) + 1024 });
  const colyseus = new Server({ transport, greet: false, gracefullyShutdown: false, logger: colyseusLogger(logger), ...(shared ? { presence: shared.presence, driver: shared.driver, publicAddress: `${host.includes(':') ? `[${host}]` : host}:${port}` } : {}) });
  const httpServer = transport.server;
  if (httpServer === undefined || !('closeAllConnections' in httpServer)) {
    await fleet?.dispose();
    running = false;
    throw new Error('startLobbyServer: the WebSocket transport has no HTTP server');
  }
  if (options.redisUrl !== undefined) {
    health = watchRedis(options.redisUrl, (line) => logger.warn(line));
    refuseJoinsWhileRedisDown(httpServer, health, () => counters.joinsRefusedRedisDown++);
  }
  httpServer.prependListener('request', boundRequestBody);
  colyseus.define(LOBBY_ROOM_TYPE, createLobbyRoomClass(config, counters)).filterBy(['lobbyName']);

  const httpClosed = new Promise<void>((resolve) => httpServer.once('close', () => resolve()));
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        await colyseus.gracefullyShutdown(false);
      } finally {
        httpServer.closeAllConnections();
        if (httpServer.listening) httpServer.close();
        await withTimeout(httpClosed, CLOSE_TIMEOUT_MS);
        await fleet?.dispose();
        health?.dispose();
        running = false;
      }
    })();
    return closing;
  };

  try {
    await colyseus.listen(port, host);
  } catch (error) {
    await close().catch(() => undefined);
    throw new Error(`startLobbyServer: cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  const address = httpServer.address() as AddressInfo;
  const url = `ws://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  return { url, stats: () => counters.snapshot(), relays: () => fleet?.relays(), close };
}

function resolveConfig(options: LobbyServerOptions, logger: Logger): LobbyRoomConfig {
  const config: LobbyRoomConfig = {
    capacity: options.capacity ?? 16,
    limits: resolveMetadataLimits(options.limits),
    relaySecret: options.relaySecret,
    relayTokenTtlSeconds: options.relayTokenTtlSeconds ?? DEFAULT_RELAY_TOKEN_TTL_SECONDS,
    reconnectSeconds: options.reconnectSeconds ?? 20,
    maxLobbies: options.maxLobbies ?? 1_000,
    patchRateMs: options.patchRateMs ?? 50,
    updateBurst: options.updateBurst ?? 20,
    updatesPerSecond: options.updatesPerSecond ?? 10,
    maxMisbehaviour: 50,
    logger,
  };
  checkInteger('capacity', config.capacity, 1, 1024);
  checkInteger('relayTokenTtlSeconds', config.relayTokenTtlSeconds, 1, 365 * 24 * 3600);
  checkInteger('reconnectSeconds', config.reconnectSeconds, 0, 3600);
  checkInteger('maxLobbies', config.maxLobbies, 1, 1_000_000);
  checkInteger('patchRateMs', config.patchRateMs, 1, 10_000);
  checkInteger('updateBurst', config.updateBurst, 1, 10_000);
  checkInteger('updatesPerSecond', config.updatesPerSecond, 1, 10_000);
  if (config.relaySecret !== undefined) {
    const problem = relaySecretProblem(config.relaySecret);
    if (problem !== null) throw new TypeError(`startLobbyServer: relaySecret: ${problem}`);
  }
  if (options.fleetSecret !== undefined) {
    if (options.redisUrl === undefined) throw new TypeError('startLobbyServer: fleetSecret needs redisUrl (the fleet directory lives on that Redis)');
    const problem = relaySecretProblem(options.fleetSecret);
    if (problem !== null) throw new TypeError(`startLobbyServer: fleetSecret: ${problem}`);
  }
  return config;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`startLobbyServer: ${name} must be an integer ${min}..${max}, got ${String(value)}`);
  }
}

/** Drops the connection of a matchmaking request whose body is larger than any legitimate one. */
function boundRequestBody(req: IncomingMessage, _res: ServerResponse): void {
  req.on('error', () => undefined); // an aborted request must not become an uncaught error
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_MATCHMAKE_BODY_BYTES) {
    req.socket.destroy();
    return;
  }
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_MATCHMAKE_BODY_BYTES) req.socket.destroy();
  });
}

/** Colyseus logs through a console-like object; route it to our Logger and drop its debug chatter. */
function colyseusLogger(logger: Logger) {
  const text = (args: unknown[]) => args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ');
  return {
    debug: () => undefined,
    trace: () => undefined,
    info: (...args: unknown[]) => logger.info(`colyseus: ${text(args)}`),
    warn: (...args: unknown[]) => logger.warn(`colyseus: ${text(args)}`),
    error: (...args: unknown[]) => logger.warn(`colyseus: ${text(args)}`),
  };
}

async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
