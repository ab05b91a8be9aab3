/**
 * The relay: sessions over UDP and WebSocket on one port number, forwarding DATA between them
 * (PROTOCOL.md §3). It authenticates the sender of every datagram it forwards (UDP: the
 * session's bound address; WebSocket: the connection's session), bounds every table and rate,
 * never answers an unverified UDP address with more bytes than it got, and reads no payload.
 */
import { randomBytes, timingSafeEqual } from 'crypto';
import * as dgram from 'dgram';
import * as http from 'http';
import { isIP } from 'net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  DATA_HEADER_BYTES,
  MIN_UDP_REGISTER_BYTES,
  RELAY_ID_BYTES,
  RELAY_PROTOCOL_VERSION,
  RefusalReason,
  MAX_RTC_OFFER_BYTES,
  RelayType,
  RtcAnswerStatus,
  RtcSignalType,
  SESSION_PROOF_BYTES,
  SESSION_SECRET_BYTES,
  decodeRelayDatagram,
  decodeRtcSignal,
  encodeKeepaliveAck,
  encodeRefused,
  encodeRegistered,
  encodeRtcAnswer,
  isRtcSignalType,
  rewriteDataAsDelivery,
  sessionIdFromBytes,
  sessionIdHighAt,
  sessionIdLowAt,
  type RegisterDatagram,
} from '../../plugin/net/wire/relay-codec';
import type { Logger } from '../../plugin/net/types';
import { LogLimiter } from './log-limiter';
import { resolveRelayOptions, type RelayOptions, type ResolvedRelayOptions } from './options';
import { InboundBudget } from './inbound-budget';
import { BoundedBucketMap, TokenBucket } from './rate-limit';
import { SessionTable, type Session, type WsConnection } from './sessions';
import { emptyDrops, type RelayStats } from './stats';
import { verifyRelayToken, type RelayTokenStatus } from './token';
import { attachFleet, type FleetDirectory } from '../fleet/attach';
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
  /** The fleet directory entry when started with `fleet` (else absent). */
  readonly fleet?: FleetDirectory;
}

/** Where a control datagram came from, and so where its answer goes. */
type Origin = { transport: 'udp'; ip: string; port: number; connection: null } | { transport: 'ws'; ip: string; port: 0; connection: WsConnection };

/** Tries when port 0 gave a UDP port whose TCP twin is taken. */
const PORT_ATTEMPTS = 16;
/** A REGISTERED must fit in the smallest UDP REGISTER, and a route's endpoint URLs are at most 100 bytes. */
const MAX_ENDPOINT_URL_BYTES = 100;
/** Biggest WebSocket message the server reads at all; longer ones (up to this) are dropped and counted as oversize. */
const WS_MAX_PAYLOAD = 64 * 1024;
const CLOSE_GRACE_MS = 500;
/** What a datagram costs in a destination's inbound budget beyond its length (headers, per-datagram work). */
const INBOUND_DATAGRAM_OVERHEAD = 64;
/** Sources with a share of one destination's budget; later ones share one. */
const MAX_SOURCES_PER_DESTINATION = 64;
/** A source silent this long to a destination loses its share there. */
const INBOUND_SHARE_IDLE_MS = 1000;
/** Bytes libuv may hold for the UDP socket when the kernel's send buffer is full; past it DATA is dropped. */
const MAX_UDP_SEND_QUEUE_BYTES = 4 << 20;
const TOKEN_REFUSALS: Record<Exclude<RelayTokenStatus, 'ok'>, { reason: RefusalReason; detail: string }> = {
  missing: { reason: RefusalReason.TokenMissing, detail: 'this relay needs an access token' },
  invalid: { reason: RefusalReason.TokenInvalid, detail: 'access token invalid' },
  expired: { reason: RefusalReason.TokenExpired, detail: 'access token expired' },
};

/** Starts a relay: UDP bound first on the requested port, then the WebSocket server on the port UDP got. */
export async function startRelay(options?: RelayOptions): Promise<RelayServer> {
  const config = resolveRelayOptions(options);
  const bound = await bindSamePort(config.host, config.port);
  const webrtc: NodeDataChannelLoad = config.webrtc ? loadNodeDataChannel(config.webrtcModule) : { module: null, error: null, version: null };
  const relay = new Relay(config, bound.udp, bound.server, bound.port, webrtc);
  return options?.fleet ? attachFleet(relay, options.fleet, config.logger) : relay;
}

/** Addresses are IPs already: skip the DNS module on every send (measurably faster). */
function ipLookup(address: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void {
  callback(null, address, isIP(address) === 6 ? 6 : 4);
}

function createUdpSocket(host: string): dgram.Socket {
  return dgram.createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', lookup: ipLookup as unknown as dgram.SocketOptions['lookup'] });
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

function hex(id: bigint): string {
  return id.toString(16).padStart(16, '0');
}

class Relay implements RelayServer {
  readonly udpUrl: string;
  readonly wsUrl: string;
  readonly relayId: Uint8Array;

  private readonly sessions = new SessionTable();
  private readonly connections = new Set<WsConnection>();
  /** Connections without a session, oldest first (insertion order), and the same by address. */
  private readonly pending = new Set<WsConnection>();
  private readonly pendingByIp = new Map<string, Set<WsConnection>>();
  private readonly connectionsByIp = new Map<string, number>();
  private readonly counters: RelayStats = {
    sessions: 0,
    udpSessions: 0,
    wsSessions: 0,
    wsConnections: 0,
    wsPendingConnections: 0,
    wsConnectionsEvicted: 0,
    wsConnectionsRefused: 0,
    wsRegisterTimeouts: 0,
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    forwarded: 0,
    forwardedBytes: 0,
    registrations: 0,
    left: 0,
    expired: 0,
    closed: 0,
    refusalsSent: 0,
    refusalsSuppressed: 0,
    drops: emptyDrops(),
    rtc: { available: false, links: 0, pending: 0, open: 0, offers: 0, answered: 0, refused: 0, opened: 0, closed: 0, timedOut: 0, datagramsIn: 0, bytesIn: 0, datagramsOut: 0, bytesOut: 0 },
  };
  private readonly drops = this.counters.drops;
  private readonly endpoints: string[];
  private readonly registrationBuckets: BoundedBucketMap;
  private readonly refusalBucket: TokenBucket;
  private readonly log: LogLimiter;
  private readonly logger: Logger;
  private readonly wss: WebSocketServer;
  private readonly rtc: RtcLinks;
  private readonly sweepTimer: ReturnType<typeof setInterval>;
  private readonly datagramsPerMs: number;
  private readonly bytesPerMs: number;
  private readonly datagramBurst: number;
  private readonly byteBurst: number;
  private readonly inboundPerMs: number;
  private readonly inboundBurst: number;
  private closing: Promise<void> | null = null;
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
    const now = performance.now();
    this.log = new LogLimiter(config.logger, config.logLinesPerSecond, () => performance.now());
    this.registrationBuckets = new BoundedBucketMap(config.registrationsPerIpPerSecond, config.registrationBurstPerIp, config.maxRateLimitEntries);
    this.refusalBucket = new TokenBucket(config.refusalsPerSecond, config.refusalsPerSecond, now);
    this.datagramsPerMs = config.sessionDatagramsPerSecond / 1000;
    this.bytesPerMs = config.sessionBytesPerSecond / 1000;
    this.datagramBurst = Math.max(1, config.sessionDatagramsPerSecond);
    this.byteBurst = Math.max(config.sessionBytesPerSecond, config.maxDatagramBytes);
    this.inboundPerMs = config.destinationBytesPerSecond / 1000;
    // Room for one biggest datagram in each of the shares at least.
    this.inboundBurst = Math.max(config.destinationBytesPerSecond, (config.maxDatagramBytes + INBOUND_DATAGRAM_OVERHEAD) * MAX_SOURCES_PER_DESTINATION);

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

    const sweepEveryMs = Math.min(1000, Math.max(10, Math.floor(config.sessionIdleMs / 4)));
    this.sweepTimer = setInterval(this.sweep, sweepEveryMs);
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
    return {
      ...this.counters,
      sessions: this.sessions.size,
      udpSessions: this.sessions.udpCount,
      wsSessions: this.sessions.wsCount,
      wsConnections: this.connections.size,
      wsPendingConnections: this.pending.size,
      drops: { ...this.drops },
      rtc: this.rtc.stats(),
    };
  }

  remoteAddresses(): string[] {
    const addresses = new Set<string>();
    for (const connection of this.connections) addresses.add(connection.ip);
    for (const session of this.sessions.values()) if (session.address !== null) addresses.add(session.address);
    for (const address of this.rtc.remoteAddresses()) addresses.add(address);
    return [...addresses];
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    clearInterval(this.sweepTimer);
    this.closing = this.shutDown();
    return this.closing;
  }

  // --- the per-datagram path ------------------------------------------------------------------

  private readonly onUdpMessage = (datagram: Buffer, remote: dgram.RemoteInfo): void => {
    const length = datagram.length;
    this.counters.datagramsIn++;
    this.counters.bytesIn += length;
    if (length > this.config.maxDatagramBytes) {
      this.drops.oversize++;
      return;
    }
    const type = length > 0 ? datagram[0] : -1;
    if (type === RelayType.Data) {
      if (length <= DATA_HEADER_BYTES) {
        this.drops.malformed++;
        return;
      }
      const source = this.sessions.findByAddress(remote.address, remote.port);
      if (source === undefined) {
        this.drops.unknownSource++;
        this.refuse(this.udpOrigin(remote), 0n, RefusalReason.UnknownSession, 'no session for this address; register again', length);
        return;
      }
      this.forward(source, datagram);
      return;
    }
    this.onControl(type, datagram, this.udpOrigin(remote));
  };

  private forward(source: Session, datagram: Buffer): void {
    const now = performance.now();
    source.lastSeenMs = now;
    const elapsed = now - source.refilledAtMs;
    if (elapsed > 0) {
      source.datagramTokens = Math.min(this.datagramBurst, source.datagramTokens + elapsed * this.datagramsPerMs);
      source.byteTokens = Math.min(this.byteBurst, source.byteTokens + elapsed * this.bytesPerMs);
      source.refilledAtMs = now;
    }
    if (source.datagramTokens < 1 || source.byteTokens < datagram.length) {
      this.drops.rateLimited++;
      return;
    }
    source.datagramTokens -= 1;
    source.byteTokens -= datagram.length;
    const destination = this.sessions.findById(sessionIdHighAt(datagram), sessionIdLowAt(datagram));
    if (destination === undefined) {
      this.drops.unknownDestination++;
      return;
    }
    let inbound = destination.inbound;
    if (inbound === null) {
      inbound = new InboundBudget(this.inboundPerMs, this.inboundBurst, MAX_SOURCES_PER_DESTINATION, INBOUND_SHARE_IDLE_MS, now);
      destination.inbound = inbound;
    }
    if (!inbound.take(source.idLow, datagram.length + INBOUND_DATAGRAM_OVERHEAD, now)) {
      this.drops.inboundLimited++;
      return;
    }
    // Same length in and out: the received buffer becomes the relay DATA, stamped with the source.
    rewriteDataAsDelivery(datagram, source.idBytes);
    if (!this.sendToSession(destination, datagram)) return;
    this.counters.forwarded++;
    this.counters.forwardedBytes += datagram.length - DATA_HEADER_BYTES;
  }

  private sendToSession(session: Session, datagram: Buffer): boolean {
    const rtc = session.rtc;
    if (rtc !== null && rtc.usable) {
      const sent = this.rtc.send(rtc, datagram);
      if (sent === 'dropped') {
        this.drops.backpressure++;
        return false;
      }
      if (sent) {
        this.counters.datagramsOut++;
        this.counters.bytesOut += datagram.length;
        return true;
      }
    }
    const connection = session.connection;
    if (connection !== null) {
      if (connection.ws.bufferedAmount > this.config.maxWebSocketBufferedBytes) {
        this.drops.backpressure++;
        return false;
      }
      connection.ws.send(datagram);
    } else {
      if (session.address === null) {
        this.drops.destinationUnbound++;
        return false;
      }
      // The kernel took everything so far unless libuv is queueing: bound that queue.
      if (this.udp.getSendQueueSize() > MAX_UDP_SEND_QUEUE_BYTES) {
        this.drops.backpressure++;
        return false;
      }
      this.udp.send(datagram, session.port, session.address);
    }
    this.counters.datagramsOut++;
    this.counters.bytesOut += datagram.length;
    return true;
  }

  // --- WebSocket clients ----------------------------------------------------------------------

  private readonly onConnection = (ws: WebSocket, request: http.IncomingMessage): void => {
    const ip = request.socket.remoteAddress ?? 'unknown';
    if (this.closing !== null) {
      this.counters.wsConnectionsRefused++;
      ws.close(1013, 'relay shutting down');
      return;
    }
    // An address at its connection bound gets in only if one of its unregistered connections gives way.
    if ((this.connectionsByIp.get(ip) ?? 0) >= this.config.maxConnectionsPerIp && !this.evictOldestPending(this.pendingByIp.get(ip))) {
      this.counters.wsConnectionsRefused++;
      ws.close(1013, 'too many connections from this address');
      return;
    }
    const connection: WsConnection = { ws, ip, session: null, registerTimer: null, closingSinceMs: null };
    this.connections.add(connection);
    this.connectionsByIp.set(ip, (this.connectionsByIp.get(ip) ?? 0) + 1);
    this.admitPending(connection);
    const origin: Origin = { transport: 'ws', ip: connection.ip, port: 0, connection };
    ws.on('message', (data: RawData, isBinary: boolean) => this.onWsMessage(origin, data, isBinary));
    ws.on('close', () => {
      this.leavePending(connection);
      this.connections.delete(connection);
      const left = (this.connectionsByIp.get(ip) ?? 1) - 1;
      if (left > 0) this.connectionsByIp.set(ip, left);
      else this.connectionsByIp.delete(ip);
      if (connection.session !== null) this.endSession(connection.session, 'closed');
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
      this.counters.wsRegisterTimeouts++;
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
    this.counters.wsConnectionsEvicted++;
    connection.ws.terminate();
    return true;
  }

  /** A close with a code; a peer that never completes the closing handshake is terminated by the sweep. */
  private closeConnection(connection: WsConnection, code: number, reason: string): void {
    if (connection.closingSinceMs === null) connection.closingSinceMs = performance.now();
    connection.ws.close(code, reason);
  }

  private onWsMessage(origin: Origin & { transport: 'ws' }, data: RawData, isBinary: boolean): void {
    const datagram = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const length = datagram.length;
    this.counters.datagramsIn++;
    this.counters.bytesIn += length;
    // An SDP offer may be longer than a datagram; it only ever comes over TCP.
    if (length > this.config.maxDatagramBytes && !(isBinary && datagram[0] === RtcSignalType.Offer && length <= MAX_RTC_OFFER_BYTES)) {
      this.drops.oversize++;
      return;
    }
    if (!isBinary || length === 0) {
      this.drops.malformed++;
      return;
    }
    const type = datagram[0];
    if (type === RelayType.Data) {
      if (length <= DATA_HEADER_BYTES) {
        this.drops.malformed++;
        return;
      }
      const source = origin.connection.session;
      if (source === null) {
        this.drops.unknownSource++;
        this.refuse(origin, 0n, RefusalReason.UnknownSession, 'no session on this connection; register again', length);
        return;
      }
      this.forward(source, datagram);
      return;
    }
    if (isRtcSignalType(type)) {
      this.onRtcSignal(datagram, origin.connection);
      return;
    }
    this.onControl(type, datagram, origin);
  }

  // --- WebRTC data channels -------------------------------------------------------------------

  /** RTC_OFFER / RTC_CLOSE over a WebSocket: they concern the connection's own session only. */
  private onRtcSignal(datagram: Buffer, connection: WsConnection): void {
    const decoded = decodeRtcSignal(datagram);
    if (!decoded.ok || decoded.value.kind === 'rtcAnswer') {
      this.drops.malformed++;
      return;
    }
    const message = decoded.value;
    const session = connection.session;
    if (session === null || session.id !== message.sessionId) {
      if (message.kind === 'rtcOffer') {
        // Not this connection's session (or none yet): answered, so the client stops waiting.
        const bytes = encodeRtcAnswer(message.sessionId, message.attempt, RtcAnswerStatus.Refused, 'not the session of this connection');
        connection.ws.send(bytes);
        this.counters.datagramsOut++;
        this.counters.bytesOut += bytes.length;
      }
      return;
    }
    session.lastSeenMs = performance.now();
    if (message.kind === 'rtcOffer') this.rtc.offer(session, message.attempt, message.sdp);
    else this.rtc.closeAttempt(session, message.attempt);
  }

  private sendRtcAnswer(session: Session, attempt: number, status: RtcAnswerStatus, text: string): void {
    const connection = session.connection;
    if (connection === null || connection.session !== session) return;
    const bytes = encodeRtcAnswer(session.id, attempt, status, text);
    connection.ws.send(bytes);
    this.counters.datagramsOut++;
    this.counters.bytesOut += bytes.length;
  }

  /** One message from a session's data channel: DATA, KEEPALIVE or LEAVE, as if over its WebSocket. */
  private readonly onRtcDatagram = (link: RtcLink, datagram: Buffer): void => {
    const length = datagram.length;
    this.counters.datagramsIn++;
    this.counters.bytesIn += length;
    if (length > this.config.maxDatagramBytes) {
      this.drops.oversize++;
      return;
    }
    const session = link.session;
    const connection = session.connection;
    const type = length > 0 ? datagram[0] : -1;
    if (connection === null || connection.session !== session) {
      this.drops.unknownSource++;
      return;
    }
    if (type === RelayType.Data) {
      if (length <= DATA_HEADER_BYTES) {
        this.drops.malformed++;
        return;
      }
      this.forward(session, datagram);
      return;
    }
    if (type === RelayType.Keepalive || type === RelayType.Leave) {
      this.sessionProof(type, datagram, { transport: 'ws', ip: connection.ip, port: 0, connection });
      return;
    }
    this.drops.malformed++;
  };

  // --- control datagrams ----------------------------------------------------------------------

  private udpOrigin(remote: dgram.RemoteInfo): Origin {
    return { transport: 'udp', ip: remote.address, port: remote.port, connection: null };
  }

  private onControl(type: number, datagram: Buffer, origin: Origin): void {
    switch (type) {
      case RelayType.Register:
        if (origin.transport === 'udp' && datagram.length < MIN_UDP_REGISTER_BYTES) {
          this.drops.tooShortRegister++;
          return;
        }
        this.register(datagram, origin);
        return;
      case RelayType.Keepalive:
      case RelayType.Leave:
        this.sessionProof(type, datagram, origin);
        return;
      default:
        // Relay→client types and unknown types: never answered.
        this.drops.malformed++;
    }
  }

  private register(datagram: Buffer, origin: Origin): void {
    const decoded = decodeRelayDatagram(datagram);
    if (!decoded.ok || decoded.value.kind !== 'register') {
      this.drops.malformed++;
      const reference = datagram.length >= 10 ? sessionIdFromBytes(datagram, 2) : 0n;
      this.refuse(origin, reference, RefusalReason.Malformed, decoded.ok ? 'not a REGISTER' : decoded.error, datagram.length);
      return;
    }
    const message: RegisterDatagram = decoded.value;
    const reference = sessionIdFromBytes(message.nonce);
    if (message.version !== RELAY_PROTOCOL_VERSION) {
      this.drops.badVersion++;
      this.refuse(origin, reference, RefusalReason.UnsupportedVersion, `this relay speaks protocol version ${RELAY_PROTOCOL_VERSION}, not ${message.version}`, datagram.length);
      return;
    }
    const existing = origin.connection !== null ? origin.connection.session : this.sessions.findByAddress(origin.ip, origin.port);
    if (existing != null && existing.nonce.equals(message.nonce)) {
      // A retry whose answer was lost: the same session, the same answer.
      existing.lastSeenMs = performance.now();
      this.answer(origin, existing.registered, datagram.length);
      return;
    }
    const now = performance.now();
    if (!this.registrationBuckets.take(origin.ip, now)) {
      this.drops.registerRateLimited++;
      this.refuse(origin, reference, RefusalReason.RateLimited, 'too many registrations from this address; retry later', datagram.length);
      return;
    }
    if (this.config.secret !== null) {
      const status = verifyRelayToken(this.config.secret, message.token, Math.floor(Date.now() / 1000));
      if (status !== 'ok') {
        this.drops.tokenRefused++;
        const refusal = TOKEN_REFUSALS[status];
        this.refuse(origin, reference, refusal.reason, refusal.detail, datagram.length);
        return;
      }
    }
    // A WebSocket has one session: registering again replaces it.
    if (origin.connection !== null && existing != null) this.endSession(existing, 'left');
    if (this.sessions.size >= this.config.maxSessions) {
      this.drops.relayFull++;
      this.refuse(origin, reference, RefusalReason.RelayFull, 'relay full; retry later', datagram.length);
      return;
    }
    const session = this.createSession(message.nonce, origin, now);
    this.counters.registrations++;
    this.answer(origin, session.registered, datagram.length);
    const where = origin.transport === 'udp' ? `udp ${origin.ip}:${origin.port}` : `ws ${origin.ip}`;
    this.log.info(`relay: session ${hex(session.id)} registered over ${where} (${this.sessions.size} session(s))`);
  }

  private createSession(nonce: Uint8Array, origin: Origin, now: number): Session {
    const id = this.sessions.allocateId();
    const secret = randomBytes(SESSION_SECRET_BYTES);
    const session: Session = {
      id: id.id,
      idHigh: id.high,
      idLow: id.low,
      idBytes: id.bytes,
      secret,
      nonce: Buffer.from(nonce),
      transport: origin.transport,
      ip: origin.ip,
      address: origin.transport === 'udp' ? origin.ip : null,
      port: origin.port,
      connection: origin.connection,
      registered: Buffer.from(
        encodeRegistered({ nonce, relayId: this.relayId, sessionId: id.id, secret, keepaliveMs: this.config.keepaliveMs, endpoints: this.endpoints }),
      ),
      lastSeenMs: now,
      datagramTokens: this.datagramBurst,
      byteTokens: this.byteBurst,
      refilledAtMs: now,
      inbound: null,
      rtc: null,
      rtcOffers: 0,
    };
    this.sessions.add(session);
    if (origin.connection !== null) {
      origin.connection.session = session;
      this.leavePending(origin.connection);
    }
    return session;
  }

  /** KEEPALIVE and LEAVE: both prove ownership with the session secret. */
  private sessionProof(type: number, datagram: Buffer, origin: Origin): void {
    if (datagram.length !== SESSION_PROOF_BYTES) {
      this.drops.malformed++;
      return;
    }
    const session = this.sessions.findById(sessionIdHighAt(datagram), sessionIdLowAt(datagram));
    if (session === undefined) {
      this.drops.unknownSession++;
      this.refuse(origin, sessionIdFromBytes(datagram, 1), RefusalReason.UnknownSession, 'unknown session; register again', datagram.length);
      return;
    }
    const secretMatches = timingSafeEqual(datagram.subarray(1 + 8, SESSION_PROOF_BYTES), session.secret);
    const transportMatches = origin.connection !== null ? origin.connection.session === session : session.transport === 'udp';
    if (!secretMatches || !transportMatches) {
      this.drops.spoofed++;
      return;
    }
    if (type === RelayType.Leave) {
      this.endSession(session, 'left');
      return;
    }
    session.lastSeenMs = performance.now();
    if (origin.connection === null && (session.address !== origin.ip || session.port !== origin.port)) {
      // NAT rebinding: the secret proves ownership, so the session follows the new address.
      this.sessions.bind(session, origin.ip, origin.port);
      this.log.info(`relay: session ${hex(session.id)} moved to udp ${origin.ip}:${origin.port}`);
    }
    this.answer(origin, encodeKeepaliveAck(session.id), datagram.length);
  }

  /** Answers the origin of a control datagram; over UDP never with more bytes than it sent. */
  private answer(origin: Origin, bytes: Uint8Array, requestLength: number): void {
    if (origin.connection !== null) {
      origin.connection.ws.send(bytes);
    } else {
      if (bytes.length > requestLength) return;
      this.udp.send(bytes, origin.port, origin.ip);
    }
    this.counters.datagramsOut++;
    this.counters.bytesOut += bytes.length;
  }

  private refuse(origin: Origin, reference: bigint, reason: RefusalReason, detail: string, requestLength: number): void {
    const bytes = this.refusalBucket.take(performance.now()) ? encodeRefused(reference, reason, detail, requestLength) : null;
    const from = origin.transport === 'udp' ? `udp ${origin.ip}:${origin.port}` : `ws ${origin.ip}`;
    this.log.warn(`relay: refused ${from}: reason ${reason} (${detail})`);
    if (bytes === null) {
      this.counters.refusalsSuppressed++;
      return;
    }
    this.answer(origin, bytes, requestLength);
    this.counters.refusalsSent++;
  }

  // --- session lifetime -----------------------------------------------------------------------

  private endSession(session: Session, why: 'left' | 'expired' | 'closed'): void {
    if (!this.sessions.remove(session)) return;
    this.rtc.sessionEnded(session);
    this.counters[why]++;
    const connection = session.connection;
    if (connection !== null && connection.session === session) {
      connection.session = null;
      if (why === 'expired') this.closeConnection(connection, 4000, 'session expired');
      // The client may register again on this connection; if it does not, the deadline closes it.
      else if (why === 'left' && connection.closingSinceMs === null) this.admitPending(connection);
    }
  }

  private readonly sweep = (): void => {
    const now = performance.now();
    for (const session of this.sessions.values()) {
      if (now - session.lastSeenMs > this.config.sessionIdleMs) {
        this.endSession(session, 'expired');
        this.log.info(`relay: session ${hex(session.id)} expired`);
      } else if (session.inbound !== null && session.inbound.prune(now)) {
        session.inbound = null;
      }
    }
    this.registrationBuckets.prune(now);
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
    for (const session of [...this.sessions.values()]) this.sessions.remove(session);
  }
}
