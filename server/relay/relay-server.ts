/**
 * The relay: sessions over UDP and WebSocket on one port number, forwarding DATA between them
 * (PROTOCOL.md §3). It authenticates the sender of every datagram it forwards (UDP: the
 * session's bound address; WebSocket: the connection's session), bounds every table and rate,
 * never answers an unverified UDP address with more bytes than it got, and reads no payload.
 */
import { randomBytes, randomFillSync } from 'crypto';
import * as dgram from 'dgram';
import * as http from 'http';
import { isIP } from 'net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { RtcAnswerStatus, RELAY_ID_BYTES, decodeRtcSignal, encodeRtcAnswer, writeU32At } from '../../plugin/net/wire/relay-codec';
import { RelayCore, type CoreSession, type SessionEnd } from '../../plugin/net/relay-core/relay-core';
import type { Logger } from '../../plugin/net/types';
import { LogLimiter } from './log-limiter';
import { createUdpSocket } from './udp-socket';
import { resolveRelayOptions, type RelayOptions, type ResolvedRelayOptions } from './options';
import type { Session, WsConnection } from './sessions';
import type { RelayStats } from './stats';
import { verifyRelayToken } from './token';
import { attachFleet, type FleetState } from '../fleet/attach';
import type { FleetSendOutcome } from '../../plugin/net/relay-core/relay-core';
import { RtcLinks, loadNodeDataChannel, type NodeDataChannelLoad, type RtcLink } from './webrtc';

export interface RelayServer {
  /** 'udp://host:port' */
  readonly udpUrl: string;
  /** 'ws://host:port' — the same port number over TCP. */
  readonly wsUrl: string;
  readonly port: number;
  /** Random per relay process: a restarted relay has a new one. */
  readonly relayId: Uint8Array;
  stats(): RelayStats;
  /**
   * Distinct remote IP addresses the relay talks to right now: of its WebSocket connections, UDP
   * sessions and the selected ICE pairs of its data channels (diagnostics; tests check loopback).
   */
  remoteAddresses(): string[];
  /** Closes the sockets, the WebSocket clients, the data channels and the timers; idempotent. */
  close(): Promise<void>;
  /** The relay's place in its fleet when started with `fleet` (else absent): directory entry, relay-to-relay link. */
  readonly fleet?: FleetState;
}

/** Where a fleet relay's link plugs into the relay (internal: server/fleet/attach.ts). */
export interface FleetHooks {
  /** The address the relay's sockets are bound to (the link binds there too). */
  readonly bindHost: string;
  /** New session ids carry this number; null: standalone. */
  setFleetNumber(relayNumber: number | null): void;
  /** Where DATA for another relay's session goes; null: dropped as unknownDestination. */
  setFleetSender(send: ((relayNumber: number, data: Uint8Array, sourceIdBytes: Uint8Array) => FleetSendOutcome) | null): void;
  /** A record of a FLEET_DATA the link authenticated: the client delivery (0x83 ‖ source ‖ payload). */
  deliverFromFleet(destinationHigh: number, destinationLow: number, sourceLow: number, delivery: Uint8Array, now: number): void;
}

/** Tries when port 0 gave a UDP port whose TCP twin is taken. */
const PORT_ATTEMPTS = 16;
/** A REGISTERED must fit in the smallest UDP REGISTER, and a route's endpoint URLs are at most 100 bytes. */
const MAX_ENDPOINT_URL_BYTES = 100;
/** Biggest WebSocket message the server reads at all; longer ones (up to this) are dropped and counted as oversize. */
const WS_MAX_PAYLOAD = 64 * 1024;
const CLOSE_GRACE_MS = 500;
/** Bytes libuv may hold for the UDP socket when the kernel's send buffer is full; past it DATA is dropped. */
const MAX_UDP_SEND_QUEUE_BYTES = 4 << 20;

/** Starts a relay: UDP bound first on the requested port, then the WebSocket server on the port UDP got. */
export async function startRelay(options?: RelayOptions): Promise<RelayServer> {
  const config = resolveRelayOptions(options);
  const bound = await bindSamePort(config.host, config.port);
  const webrtc: NodeDataChannelLoad = config.webrtc ? loadNodeDataChannel(config.webrtcModule) : { module: null, error: null, version: null };
  const relay = new Relay(config, bound.udp, bound.server, bound.port, webrtc);
  return options?.fleet ? attachFleet(relay, options.fleet, config.logger) : relay;
}

async function bindSamePort(host: string, port: number): Promise<{ udp: dgram.Socket; server: http.Server; port: number }> {
  const attempts = port === 0 ? PORT_ATTEMPTS : 1;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const udp = createUdpSocket(host);
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ port, address: host }, () => {
          udp.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      udp.close();
      throw new Error(`relay: cannot bind UDP ${host}:${port}: ${(error as Error).message}`);
    }
    const udpPort = udp.address().port;
    const server = http.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: udpPort, host }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return { udp, server, port: udpPort };
    } catch (error) {
      udp.close();
      const code = (error as NodeJS.ErrnoException).code;
      if (port !== 0 || code !== 'EADDRINUSE') {
        throw new Error(`relay: UDP ${host}:${udpPort} is bound but TCP ${host}:${udpPort} is not available: ${(error as Error).message}`);
      }
    }
  }
  throw new Error(`relay: found no port free for both UDP and TCP on ${host} in ${attempts} attempts`);
}

/**
 * The socket side of the relay: UDP, WebSocket and WebRTC I/O, the WebSocket connection limits and
 * the WebRTC signalling. Every forwarding and session rule is the core's (plugin/net/relay-core).
 */
class Relay implements RelayServer, FleetHooks {
  readonly udpUrl: string;
  readonly wsUrl: string;
  readonly relayId: Uint8Array;

  private readonly core: RelayCore<WsConnection, Session>;
  private readonly connections = new Set<WsConnection>();
  /** Connections without a session, oldest first (insertion order), and the same by address. */
  private readonly pending = new Set<WsConnection>();
  private readonly pendingByIp = new Map<string, Set<WsConnection>>();
  private readonly connectionsByIp = new Map<string, number>();
  private readonly wsCounters = { wsConnectionsEvicted: 0, wsConnectionsRefused: 0, wsRegisterTimeouts: 0 };
  private readonly endpoints: string[];
  private readonly log: LogLimiter;
  private readonly logger: Logger;
  private readonly wss: WebSocketServer;
  private readonly rtc: RtcLinks;
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private closing: Promise<void> | null = null;
  private fleetSend: ((relayNumber: number, data: Uint8Array, sourceIdBytes: Uint8Array) => FleetSendOutcome) | null = null;
  /** A session id as bytes for the fleet link, which copies them at once: one scratch, no bytes kept per session. */
  private readonly fleetSourceId = new Uint8Array(8);
  private allConnectionsGone: (() => void) | null = null;

  constructor(
    private readonly config: ResolvedRelayOptions,
    private readonly udp: dgram.Socket,
    private readonly server: http.Server,
    readonly port: number,
    webrtc: NodeDataChannelLoad,
  ) {
    const urlHost = isIP(config.publicHost) === 6 ? `[${config.publicHost}]` : config.publicHost;
    this.udpUrl = `udp://${urlHost}:${port}`;
    this.wsUrl = `ws://${urlHost}:${port}`;
    this.endpoints = [this.udpUrl, this.wsUrl];
    for (const endpoint of this.endpoints) {
      if (Buffer.byteLength(endpoint) > MAX_ENDPOINT_URL_BYTES) throw new RangeError(`relay endpoint ${endpoint} is longer than ${MAX_ENDPOINT_URL_BYTES} bytes`);
    }
    this.relayId = new Uint8Array(randomBytes(RELAY_ID_BYTES));
    this.logger = config.logger;
    this.log = new LogLimiter(config.logger, config.logLinesPerSecond, () => performance.now());
    const secret = config.secret;
    this.core = new RelayCore<WsConnection, Session>(
      {
        relayId: this.relayId,
        endpoints: this.endpoints,
        keepaliveMs: config.keepaliveMs,
        maxSessions: config.maxSessions,
        maxDatagramBytes: config.maxDatagramBytes,
        sessionIdleMs: config.sessionIdleMs,
        sessionDatagramsPerSecond: config.sessionDatagramsPerSecond,
        sessionBytesPerSecond: config.sessionBytesPerSecond,
        destinationBytesPerSecond: config.destinationBytesPerSecond,
        registrationsPerIpPerSecond: config.registrationsPerIpPerSecond,
        registrationBurstPerIp: config.registrationBurstPerIp,
        maxRateLimitEntries: config.maxRateLimitEntries,
        refusalsPerSecond: config.refusalsPerSecond,
        // Token expiry is wall-clock time (the lobby mints tokens with its clock).
        verifyToken: secret === null ? null : (token) => verifyRelayToken(secret, token, Math.floor(Date.now() / 1000)),
        randomFill: (bytes) => randomFillSync(bytes),
        log: this.log,
      },
      {
        toSession: (session, bytes) => this.sendToSession(session, bytes),
        toAddress: (ip, port, bytes) => this.udp.send(bytes, port, ip),
        toConnection: (connection, bytes) => connection.ws.send(bytes),
        sessionStarted: (session) => {
          if (session.connection !== null) this.leavePending(session.connection);
        },
        sessionEnded: (session, why) => this.sessionEnded(session, why),
        toFleet: (relayNumber, data, source) => (this.fleetSend === null ? 'unknownRelay' : this.fleetSend(relayNumber, data, this.idBytesOf(source))),
      },
      (session: CoreSession<WsConnection>): Session => Object.assign(session, { rtc: null, rtcOffers: 0 }),
      performance.now(),
    );

    udp.on('message', this.onUdpMessage);
    udp.on('error', (error) => this.log.warn(`relay udp socket error: ${error.message}`));
    for (const size of [4 << 20]) {
      try {
        udp.setRecvBufferSize(size);
        udp.setSendBufferSize(size);
      } catch {
        // The kernel caps buffer sizes; the defaults still work.
      }
    }

    server.on('request', (_request, response) => {
      response.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
      response.end('switchboard relay: connect with a WebSocket (binary messages), or over UDP on the same port\n');
    });
    this.wss = new WebSocketServer({ server, maxPayload: WS_MAX_PAYLOAD, perMessageDeflate: false, clientTracking: false });
    this.wss.on('connection', this.onConnection);
    this.wss.on('error', (error) => this.log.warn(`relay websocket server error: ${error.message}`));

    this.sweepTimer = setInterval(this.sweep, this.core.sweepEveryMs);
    this.sweepTimer.unref();

    this.rtc = new RtcLinks({
      load: webrtc,
      bindAddress: config.host,
      maxLinks: config.maxRtcLinks,
      maxPending: config.maxPendingRtcOffers,
      maxOffersPerSession: config.maxRtcOffersPerSession,
      connectTimeoutMs: config.rtcConnectTimeoutMs,
      maxBufferedBytes: config.maxRtcBufferedBytes,
      log: this.log,
      answer: (session, attempt, status, text) => this.sendRtcAnswer(session, attempt, status, text),
      onDatagram: this.onRtcDatagram,
    });

    this.logger.info(`relay ${Buffer.from(this.relayId).toString('hex')} listening on ${this.udpUrl} and ${this.wsUrl}`);
    if (webrtc.module !== null) this.logger.info(`relay: WebRTC data channels enabled for WebSocket sessions (libdatachannel ${webrtc.version ?? 'unknown version'}, bound to ${config.host})`);
    else if (webrtc.error !== null) this.logger.warn(`relay: WebRTC data channels unavailable (node-datachannel did not load: ${webrtc.error}); serving UDP and WebSocket only`);
    else this.logger.info('relay: WebRTC data channels turned off; serving UDP and WebSocket only');
    if (config.secret === null) this.logger.warn('relay is OPEN: no secret set, anyone can register (no token needed)');
  }

  stats(): RelayStats {
    const core = this.core.counters;
    return {
      ...core,
      ...this.wsCounters,
      sessions: this.core.sessionCount,
      udpSessions: this.core.udpSessionCount,
      wsSessions: this.core.wsSessionCount,
      wsConnections: this.connections.size,
      wsPendingConnections: this.pending.size,
      drops: { ...core.drops },
      rtc: this.rtc.stats(),
    };
  }

  get bindHost(): string {
    return this.config.host;
  }

  setFleetNumber(relayNumber: number | null): void {
    this.core.setFleetNumber(relayNumber);
  }

  setFleetSender(send: ((relayNumber: number, data: Uint8Array, sourceIdBytes: Uint8Array) => FleetSendOutcome) | null): void {
    this.fleetSend = send;
  }

  private idBytesOf(session: Session): Uint8Array {
    writeU32At(this.fleetSourceId, 0, session.idHigh);
    writeU32At(this.fleetSourceId, 4, session.idLow);
    return this.fleetSourceId;
  }

  deliverFromFleet(destinationHigh: number, destinationLow: number, sourceLow: number, delivery: Uint8Array, now: number): void {
    this.core.deliverFromFleet(destinationHigh, destinationLow, sourceLow, delivery, now);
  }

  remoteAddresses(): string[] {
    const addresses = new Set<string>();
    for (const connection of this.connections) addresses.add(connection.ip);
    for (const session of this.core.sessionValues()) if (session.address !== null) addresses.add(session.address);
    for (const address of this.rtc.remoteAddresses()) addresses.add(address);
    return [...addresses];
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    clearInterval(this.sweepTimer);
    this.closing = this.shutDown();
    return this.closing;
  }

  // --- socket I/O -----------------------------------------------------------------------------

  private readonly onUdpMessage = (datagram: Buffer, remote: dgram.RemoteInfo): void => {
    this.core.handleUdp(remote.address, remote.port, datagram, performance.now());
  };

  /** Forwarded DATA: over the session's data channel when usable, else its WebSocket, else its UDP address. */
  private sendToSession(session: Session, datagram: Uint8Array): boolean {
    const rtc = session.rtc;
    if (rtc !== null && rtc.usable) {
      const sent = this.rtc.send(rtc, datagram);
      if (sent === 'dropped') return false;
      if (sent) return true;
    }
    const connection = session.connection;
    if (connection !== null) {
      if (connection.ws.bufferedAmount > this.config.maxWebSocketBufferedBytes) return false;
      connection.ws.send(datagram);
      return true;
    }
    // The kernel took everything so far unless libuv is queueing: bound that queue.
    if (this.udp.getSendQueueSize() > MAX_UDP_SEND_QUEUE_BYTES) return false;
    this.udp.send(datagram, session.port, session.address as string);
    return true;
  }

  private sessionEnded(session: Session, why: SessionEnd): void {
    this.rtc.sessionEnded(session);
    const connection = session.connection;
    if (connection === null) return;
    if (why === 'expired') this.closeConnection(connection, 4000, 'session expired');
    // The client may register again on this connection; if it does not, the deadline closes it.
    else if (why === 'left' && connection.closingSinceMs === null) this.admitPending(connection);
  }

  // --- WebSocket clients ----------------------------------------------------------------------

  private readonly onConnection = (ws: WebSocket, request: http.IncomingMessage): void => {
    const ip = request.socket.remoteAddress ?? 'unknown';
    if (this.closing !== null) {
      this.wsCounters.wsConnectionsRefused++;
      ws.close(1013, 'relay shutting down');
      return;
    }
    // An address at its connection bound gets in only if one of its unregistered connections gives way.
    if ((this.connectionsByIp.get(ip) ?? 0) >= this.config.maxConnectionsPerIp && !this.evictOldestPending(this.pendingByIp.get(ip))) {
      this.wsCounters.wsConnectionsRefused++;
      ws.close(1013, 'too many connections from this address');
      return;
    }
    const connection: WsConnection = { ws, ip, session: null, registerTimer: null, closingSinceMs: null };
    this.connections.add(connection);
    this.connectionsByIp.set(ip, (this.connectionsByIp.get(ip) ?? 0) + 1);
    this.admitPending(connection);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onWsMessage(connection, data, isBinary));
    ws.on('close', () => {
      this.leavePending(connection);
      this.connections.delete(connection);
      const left = (this.connectionsByIp.get(ip) ?? 1) - 1;
      if (left > 0) this.connectionsByIp.set(ip, left);
      else this.connectionsByIp.delete(ip);
      if (connection.session !== null) this.core.endSession(connection.session, 'closed');
      if (this.connections.size === 0) this.allConnectionsGone?.();
    });
    ws.on('error', () => {
      // 'close' follows and ends the session.
    });
  };

  /**
   * A connection without a session (new, or after its LEAVE) waits in the pending set: it takes no
   * session capacity, the oldest pending one of its address (then of the relay) gives way when a
   * bound is reached, and it is closed if it registers nothing within registerTimeoutMs.
   */
  private admitPending(connection: WsConnection): void {
    const ofIp = this.pendingByIp.get(connection.ip);
    if (ofIp !== undefined && ofIp.size >= this.config.maxPendingConnectionsPerIp) this.evictOldestPending(ofIp);
    if (this.pending.size >= this.config.maxPendingConnections) this.evictOldestPending(this.pending);
    this.pending.add(connection);
    let set = this.pendingByIp.get(connection.ip);
    if (set === undefined) {
      set = new Set();
      this.pendingByIp.set(connection.ip, set);
    }
    set.add(connection);
    connection.registerTimer = setTimeout(() => {
      connection.registerTimer = null;
      if (connection.session !== null || !this.pending.has(connection)) return;
      this.leavePending(connection);
      this.wsCounters.wsRegisterTimeouts++;
      this.closeConnection(connection, 4001, 'no registration');
    }, this.config.registerTimeoutMs);
    connection.registerTimer.unref();
  }

  private leavePending(connection: WsConnection): void {
    if (connection.registerTimer !== null) clearTimeout(connection.registerTimer);
    connection.registerTimer = null;
    if (!this.pending.delete(connection)) return;
    const set = this.pendingByIp.get(connection.ip);
    if (set === undefined) return;
    set.delete(connection);
    if (set.size === 0) this.pendingByIp.delete(connection.ip);
  }

  /** Closes the oldest unregistered connection of `set` at once (no closing handshake: it never spoke). False when there is none. */
  private evictOldestPending(set: Set<WsConnection> | undefined): boolean {
    if (set === undefined) return false;
    const oldest = set.values().next();
    if (oldest.done) return false;
    const connection = oldest.value;
    this.leavePending(connection);
    this.wsCounters.wsConnectionsEvicted++;
    connection.ws.terminate();
    return true;
  }

  /** A close with a code; a peer that never completes the closing handshake is terminated by the sweep. */
  private closeConnection(connection: WsConnection, code: number, reason: string): void {
    if (connection.closingSinceMs === null) connection.closingSinceMs = performance.now();
    connection.ws.close(code, reason);
  }

  private onWsMessage(connection: WsConnection, data: RawData, isBinary: boolean): void {
    const datagram = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (this.core.handleConnection(connection, datagram, performance.now(), isBinary) === 'rtcSignal') this.onRtcSignal(datagram, connection);
  }

  // --- WebRTC data channels -------------------------------------------------------------------

  /** RTC_OFFER / RTC_CLOSE over a WebSocket: they concern the connection's own session only. */
  private onRtcSignal(datagram: Buffer, connection: WsConnection): void {
    const decoded = decodeRtcSignal(datagram);
    if (!decoded.ok || decoded.value.kind === 'rtcAnswer') {
      this.core.counters.drops.malformed++;
      return;
    }
    const message = decoded.value;
    const session = connection.session;
    if (session === null || session.id !== message.sessionId) {
      if (message.kind === 'rtcOffer') {
        // Not this connection's session (or none yet): answered, so the client stops waiting.
        const bytes = encodeRtcAnswer(message.sessionId, message.attempt, RtcAnswerStatus.Refused, 'not the session of this connection');
        connection.ws.send(bytes);
        this.core.countOut(bytes.length);
      }
      return;
    }
    this.core.touch(session, performance.now());
    if (message.kind === 'rtcOffer') this.rtc.offer(session, message.attempt, message.sdp);
    else this.rtc.closeAttempt(session, message.attempt);
  }

  private sendRtcAnswer(session: Session, attempt: number, status: RtcAnswerStatus, text: string): void {
    const connection = session.connection;
    if (connection === null || connection.session !== session) return;
    const bytes = encodeRtcAnswer(session.id, attempt, status, text);
    connection.ws.send(bytes);
    this.core.countOut(bytes.length);
  }

  /** One message from a session's data channel: DATA, KEEPALIVE or LEAVE, as if over its WebSocket. */
  private readonly onRtcDatagram = (link: RtcLink, datagram: Buffer): void => {
    this.core.handleChannel(link.session, datagram, performance.now());
  };

  // --- timers ---------------------------------------------------------------------------------

  private readonly sweep = (): void => {
    const now = performance.now();
    this.core.handleTimeout(now);
    for (const connection of this.connections) {
      if (connection.closingSinceMs !== null && now - connection.closingSinceMs > CLOSE_GRACE_MS) connection.ws.terminate();
    }
  };

  private async shutDown(): Promise<void> {
    this.rtc.closeAll();
    if (this.connections.size > 0) {
      const everyoneGone = new Promise<void>((resolve) => {
        this.allConnectionsGone = resolve;
      });
      for (const connection of this.connections) connection.ws.close(1001, 'relay shutting down');
      let timer: ReturnType<typeof setTimeout> | null = null;
      await Promise.race([everyoneGone, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
      if (timer !== null) clearTimeout(timer);
      for (const connection of this.connections) {
        if (connection.registerTimer !== null) clearTimeout(connection.registerTimer);
        connection.ws.terminate();
      }
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    this.core.forgetAll();
  }
}
