/**
 * Fuzzing a RUNNING relay (startRelay on 127.0.0.1, port 0) with random and mutated datagrams
 * from several raw UDP sockets and a WebSocket, while two NetworkManagers (one over UDP, one over
 * WebSocket) keep reliable streams flowing through it.
 *
 * The corpus is real: each fuzz socket registers for real and keeps what the relay said
 * (REGISTERED, KEEPALIVE_ACK, REFUSED, forwarded DATA); its own KEEPALIVE and LEAVE carry its real
 * session secret; DATA names the real sessions of the managers and of the other fuzz sockets;
 * the WebSocket also sends WebRTC signalling, text frames and (rarely) messages past the 64 KiB
 * limit. Mutants of those — bit flips, truncation, extension, splicing, type swaps — go out in
 * batches, and the campaign waits for the relay to read each batch, so the counters account for
 * (nearly) everything: UDP on loopback may still drop a few in the kernel, which the report shows.
 *
 * Checks: the relay never throws (an uncaught exception fails the run), keeps forwarding the
 * legitimate streams whole and in order, never sends a UDP fuzz socket more bytes than the fuzz
 * sockets sent, keeps its session table bounded, and counts the refusals. Failures are collected.
 */
import * as dgram from 'dgram';
import { WebSocket } from 'ws';
import { startRelay, type RelayServer } from '../server';
import { decodeRoute } from '../plugin/net/route';
import {
  MIN_UDP_REGISTER_BYTES,
  decodeRelayDatagram,
  encodeData,
  encodeKeepalive,
  encodeLeave,
  encodeRegister,
  encodeRtcClose,
  encodeRtcOffer,
} from '../plugin/net/wire/relay-codec';
import { connectPair, createTestPeer, disposeAll, frame, isConnected, quietLogger, type TestPeer } from '../test/helpers/managers';
import { Mutator, Tally } from './mutators';
import { indexOf, numbered } from './virtual-managers';

export interface RelayCampaignOptions {
  seed: number;
  /** Junk datagrams to send (UDP and WebSocket together). */
  datagrams: number;
  /** Raw UDP fuzz sockets (default 4). */
  udpSockets?: number;
  /** Datagrams per batch before waiting for the relay to read them (default 200). */
  batch?: number;
  progress?: (line: string) => void;
}

export interface RelayCampaignReport {
  sent: { udp: number; ws: number; wsText: number; wsOversize: number };
  /** Datagrams the relay read during the campaign (its datagramsIn), legitimate traffic included. */
  relayRead: number;
  /** UDP datagrams that the kernel dropped before the relay read them (sent but never read). */
  lostOnLoopback: number;
  drops: Record<string, number>;
  refusalsSent: number;
  refusalsSuppressed: number;
  forwarded: number;
  registrations: number;
  maxSessions: number;
  wsReconnects: number;
  udpFuzzBytesSent: number;
  udpFuzzBytesReceived: number;
  mutations: Record<string, number>;
  legit: { reliableEachWay: number; managerDrops: Record<string, number> };
  failures: string[];
}

const RELAY_TYPES = [0x01, 0x02, 0x03, 0x04, 0x81, 0x82, 0x83, 0x84, 0x10, 0x11, 0x90, 0x00, 0x05, 0x7f, 0xff];
const SDP = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n';
const MAX_CORPUS = 128;

/** A fuzz client: a raw UDP socket or a WebSocket, with what it learned from the relay. */
interface FuzzClient {
  kind: 'udp' | 'ws';
  corpus: Uint8Array[];
  session: { id: bigint; secret: Uint8Array } | null;
  /** False when it could not go (a WebSocket being replaced). */
  send(bytes: Uint8Array): boolean;
}

function randomNonce(mutator: Mutator): Uint8Array {
  return mutator.randomBytes(8);
}

export async function runRelayCampaign(options: RelayCampaignOptions): Promise<RelayCampaignReport> {
  const failures: string[] = [];
  const fail = (what: string) => {
    if (failures.length < 50) failures.push(what);
  };
  const mutator = new Mutator(options.seed, RELAY_TYPES, 1600);
  const mutations = new Tally();
  const batch = options.batch ?? 200;
  const relay: RelayServer = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger });
  const peers: TestPeer[] = [];
  const udpSockets: dgram.Socket[] = [];
  const link: { ws: WebSocket | null } = { ws: null };
  let udpFuzzBytesSent = 0;
  let udpFuzzBytesReceived = 0;
  const sent = { udp: 0, ws: 0, wsText: 0, wsOversize: 0 };
  let wsReconnects = 0;
  let maxSessions = 0;
  try {
    // The legitimate pair, one per transport, streaming reliably both ways through the relay.
    const a = createTestPeer({ relay: relay.udpUrl });
    const b = createTestPeer({ relay: relay.wsUrl });
    peers.push(a, b);
    await pumpReal(peers, 'the managers to register', () => a.net.getRoute() !== null && b.net.getRoute() !== null);
    connectPair(a, b, [{ id: 0, reliable: true }]);
    await pumpReal(peers, 'the managers to connect', () => isConnected(a, b.id) && isConnected(b, a.id));
    const legitSessions = [a, b].map((p) => {
      const decoded = decodeRoute(p.net.getRoute());
      if (!decoded.ok) throw new Error(decoded.error);
      return decoded.route.sessionId;
    });
    const onA: number[] = [];
    const onB: number[] = [];
    a.net.message$.subscribe((m) => (m.peerId === b.id ? onA.push(indexOf(m.data)) : fail(`a got a message from ${m.peerId}`)));
    b.net.message$.subscribe((m) => (m.peerId === a.id ? onB.push(indexOf(m.data)) : fail(`b got a message from ${m.peerId}`)));
    let legitSent = 0;
    const legitStep = () => {
      for (let k = 0; k < 2; k++, legitSent++) {
        a.net.sendMessage(b.id, 0, numbered(legitSent));
        b.net.sendMessage(a.id, 0, numbered(legitSent));
      }
      frame(peers);
    };

    // Fuzz clients: register each for real first, so mutants start from real sessions.
    const clients: FuzzClient[] = [];
    const learn = (client: FuzzClient, bytes: Uint8Array) => {
      const copy = new Uint8Array(bytes);
      if (client.corpus.length < MAX_CORPUS) client.corpus.push(copy);
      else client.corpus[mutator.int(MAX_CORPUS)] = copy;
      const decoded = decodeRelayDatagram(copy);
      if (decoded.ok && decoded.value.kind === 'registered') client.session = { id: decoded.value.sessionId, secret: decoded.value.secret.slice() };
    };
    for (let i = 0; i < (options.udpSockets ?? 4); i++) {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind({ port: 0, address: '127.0.0.1' }, resolve));
      udpSockets.push(socket);
      const client: FuzzClient = {
        kind: 'udp',
        corpus: [],
        session: null,
        send: (bytes) => {
          udpFuzzBytesSent += bytes.length;
          sent.udp++;
          socket.send(bytes, relay.port, '127.0.0.1');
          return true;
        },
      };
      socket.on('message', (message) => {
        udpFuzzBytesReceived += message.length;
        learn(client, message);
      });
      socket.on('error', () => undefined);
      clients.push(client);
    }
    const wsClient: FuzzClient = {
      kind: 'ws',
      corpus: [],
      session: null,
      send: (bytes) => {
        if (link.ws === null || link.ws.readyState !== WebSocket.OPEN) return false;
        sent.ws++;
        link.ws.send(bytes);
        return true;
      },
    };
    const openWs = async () => {
      const socket = new WebSocket(relay.wsUrl);
      socket.on('message', (data: Buffer) => learn(wsClient, new Uint8Array(data)));
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        socket.once('open', () => resolve());
        socket.once('close', () => resolve());
      });
      link.ws = socket;
      wsClient.session = null;
    };
    await openWs();
    clients.push(wsClient);
    const registerAll = () => {
      for (const client of clients) client.send(encodeRegister({ nonce: randomNonce(mutator), padToBytes: client.kind === 'udp' ? MIN_UDP_REGISTER_BYTES : 0 }));
    };
    registerAll();
    await waitRead(relay, relay.stats().datagramsIn, 0, 2000);
    await settle(50);

    /** Valid datagrams this client could send now: the seeds of its mutants. */
    const seeds = (client: FuzzClient): Uint8Array[] => {
      const out: Uint8Array[] = [];
      const pad = client.kind === 'udp' ? MIN_UDP_REGISTER_BYTES : 0;
      out.push(encodeRegister({ nonce: randomNonce(mutator), padToBytes: pad }));
      out.push(encodeRegister({ nonce: randomNonce(mutator), token: 'v1.AQAAAABoTuG8AAECAwQFBgcICQoLDA0ODwVhbGljZQ.AkRz0mVHC0ZIVLcqU1ZDJeC9Pk6dVEIEjEjWcYjIKwQ', padToBytes: pad }));
      const targets = [...legitSessions, ...clients.filter((c) => c.session !== null).map((c) => c.session!.id)];
      out.push(encodeData(mutator.pick(targets), mutator.randomBytes(1 + mutator.int(200))));
      if (client.session !== null) {
        out.push(encodeKeepalive(client.session.id, client.session.secret));
        if (mutator.random() < 0.05) out.push(encodeLeave(client.session.id, client.session.secret));
        if (client.kind === 'ws') {
          out.push(encodeRtcOffer(client.session.id, mutator.int(2 ** 32), SDP));
          out.push(encodeRtcClose(client.session.id, mutator.int(2 ** 32)));
        }
      }
      // Fresh valid datagrams most of the time; what the relay sent (its own types) the rest.
      return mutator.random() < 0.7 || client.corpus.length === 0 ? out : out.concat(client.corpus);
    };

    const before = relay.stats();
    const started = Date.now();
    let nextProgress = started + 5000;
    const totalSent = () => sent.udp + sent.ws + sent.wsText + sent.wsOversize;
    let lostOnLoopback = 0;
    let batches = 0;
    while (totalSent() < options.datagrams) {
      const readBefore = relay.stats().datagramsIn;
      let wsInBatch = 0;
      let udpInBatch = 0;
      for (let k = 0; k < batch && totalSent() < options.datagrams; k++) {
        const client = mutator.random() < 0.8 ? clients[mutator.int(clients.length - 1)] : wsClient;
        const roll = mutator.random();
        if (client.kind === 'ws' && roll < 0.01) {
          if (link.ws?.readyState !== WebSocket.OPEN) continue;
          link.ws.send(`text frame ${k}`);
          sent.wsText++;
          wsInBatch++;
          continue;
        }
        if (client.kind === 'ws' && roll < 0.0105) {
          // Past the 64 KiB limit: the relay closes this connection; the campaign opens another.
          if (link.ws?.readyState !== WebSocket.OPEN) continue;
          link.ws.send(mutator.randomBytes(64 * 1024 + 1 + mutator.int(1000)));
          sent.wsOversize++;
          continue;
        }
        const mutant = roll < 0.1 ? { bytes: mutator.randomBytes(mutator.int(1600)), kind: 'random' as const } : mutator.mutate(seeds(client));
        if (mutant.bytes.length === 0 && client.kind === 'udp') continue;
        if (!client.send(mutant.bytes)) continue;
        mutations.add(mutant.kind);
        if (client.kind === 'ws') wsInBatch++;
        else udpInBatch++;
      }
      // Wait for the relay to read the batch; what UDP loses in the kernel is counted, not waited for.
      const read = await waitRead(relay, readBefore, udpInBatch + wsInBatch, 1000);
      lostOnLoopback += Math.max(0, udpInBatch + wsInBatch - read);
      legitStep();
      maxSessions = Math.max(maxSessions, relay.stats().sessions);
      batches++;
      if (link.ws === null || link.ws.readyState !== WebSocket.OPEN) {
        await openWs();
        wsReconnects++;
      }
      // Now and then everyone registers afresh, so sessions keep existing to aim at.
      if (batches % 50 === 0) registerAll();
      if (options.progress && Date.now() > nextProgress) {
        nextProgress = Date.now() + 5000;
        const s = relay.stats();
        options.progress(`relay: ${totalSent()}/${options.datagrams} datagrams, ${s.sessions} sessions, forwarded ${s.forwarded}, legit ${Math.min(onA.length, onB.length)}/${legitSent}`);
      }
    }

    // The legitimate streams finish whole and in order.
    await pumpReal(peers, 'the legitimate streams to finish', () => onA.length >= legitSent && onB.length >= legitSent, 30_000).catch((error: Error) => fail(error.message));
    for (const [values, what] of [[onA, 'a from b'], [onB, 'b from a']] as const) {
      if (values.length !== legitSent) fail(`${what}: ${values.length} of ${legitSent} legitimate messages`);
      const wrong = values.findIndex((v, i) => v !== i);
      if (wrong >= 0) fail(`${what}: message #${wrong} is ${values[wrong]}`);
    }
    const after = relay.stats();
    const drops: Record<string, number> = {};
    for (const [reason, n] of Object.entries(after.drops)) if (n - (before.drops as Record<string, number>)[reason] !== 0) drops[reason] = n - (before.drops as Record<string, number>)[reason];
    // Everything a UDP fuzz socket got is an answer no longer than a request, or DATA another fuzz socket sent.
    if (udpFuzzBytesReceived > udpFuzzBytesSent) fail(`the relay sent the UDP fuzz sockets ${udpFuzzBytesReceived} bytes for ${udpFuzzBytesSent}`);
    if (maxSessions > 10_000) fail(`the relay held ${maxSessions} sessions`);
    const managerDrops = new Tally();
    managerDrops.merge(a.net.getDropCounts(), 'a:');
    managerDrops.merge(b.net.getDropCounts(), 'b:');
    return {
      sent,
      relayRead: after.datagramsIn - before.datagramsIn,
      lostOnLoopback,
      drops,
      refusalsSent: after.refusalsSent - before.refusalsSent,
      refusalsSuppressed: after.refusalsSuppressed - before.refusalsSuppressed,
      forwarded: after.forwarded - before.forwarded,
      registrations: after.registrations - before.registrations,
      maxSessions,
      wsReconnects,
      udpFuzzBytesSent,
      udpFuzzBytesReceived,
      mutations: mutations.counts,
      legit: { reliableEachWay: Math.min(onA.length, onB.length), managerDrops: managerDrops.counts },
      failures,
    };
  } finally {
    await disposeAll(peers);
    for (const socket of udpSockets) await new Promise<void>((resolve) => socket.close(() => resolve()));
    const socket = link.ws;
    if (socket !== null && socket.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.terminate();
      });
    }
    await relay.close();
  }
}

/** Waits (bounded) until the relay has read `count` more datagrams than `from`; returns how many it read. */
async function waitRead(relay: RelayServer, from: number, count: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let quietSince = Date.now();
  let last = relay.stats().datagramsIn;
  for (;;) {
    const read = relay.stats().datagramsIn - from;
    if (read >= count) return read;
    if (relay.stats().datagramsIn !== last) {
      last = relay.stats().datagramsIn;
      quietSince = Date.now();
    }
    // Nothing new for a while: the rest was lost on loopback.
    if (Date.now() > deadline || Date.now() - quietSince > 100) return read;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function settle(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs frames in real time until `condition` holds; rejects naming what it waited for. */
async function pumpReal(peers: TestPeer[], what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    frame(peers);
    if (condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
