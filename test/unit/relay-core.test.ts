/**
 * The socket-free relay core (plugin/net/relay-core) in virtual time: `now` is a number the test
 * moves, randomness is seeded, output is what the sink was handed. No sockets, no timers.
 */
import { expect } from 'chai';
import { RelayCore, type FleetSendOutcome, type CoreConnection, type CoreSession, type CoreTokenStatus, type RelayCoreConfig, type SessionEnd } from '../../plugin/net/relay-core/relay-core';
import { mulberry32 } from '../../plugin/net/transport/prng';
import {
  MIN_UDP_REGISTER_BYTES,
  RefusalReason,
  decodeRelayDatagram,
  encodeData,
  encodeKeepalive,
  encodeLeave,
  encodeRegister,
  type RelayDatagram,
} from '../../plugin/net/wire/relay-codec';
import { createRelayToken, verifyRelayToken } from '../../server/relay/token';
import { testRelaySecret } from '../helpers/secrets';

interface Conn extends CoreConnection<Sess> {
  readonly name: string;
}
type Sess = CoreSession<Conn>;

interface Sent {
  to: string;
  message: RelayDatagram;
  length: number;
}

function harness(overrides: Partial<RelayCoreConfig> = {}, start = 1000) {
  const random = mulberry32(7);
  const sent: Sent[] = [];
  const ended: Array<[bigint, SessionEnd]> = [];
  let accept = true;
  const toFleet: Array<{ relayNumber: number; destination: bigint; source: bigint }> = [];
  let fleetAnswer: FleetSendOutcome = 'ok';
  const decode = (bytes: Uint8Array): RelayDatagram => {
    const decoded = decodeRelayDatagram(bytes);
    if (!decoded.ok) throw new Error(decoded.error);
    return decoded.value;
  };
  const core = new RelayCore<Conn, Sess>(
    {
      relayId: new Uint8Array(8).fill(9),
      endpoints: ['udp://127.0.0.1:1', 'ws://127.0.0.1:1'],
      keepaliveMs: 5000,
      maxSessions: 8,
      maxDatagramBytes: 1500,
      sessionIdleMs: 10_000,
      sessionDatagramsPerSecond: Infinity,
      sessionBytesPerSecond: Infinity,
      destinationBytesPerSecond: Infinity,
      registrationsPerIpPerSecond: Infinity,
      registrationBurstPerIp: Infinity,
      maxRateLimitEntries: 16,
      refusalsPerSecond: Infinity,
      verifyToken: null,
      randomFill: (bytes) => {
        for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      },
      ...overrides,
    },
    {
      toSession: (session, bytes) => {
        if (!accept) return false;
        sent.push({ to: session.connection !== null ? session.connection.name : `${session.address}:${session.port}`, message: decode(bytes), length: bytes.length });
        return true;
      },
      toAddress: (ip, port, bytes) => sent.push({ to: `${ip}:${port}`, message: decode(bytes), length: bytes.length }),
      toConnection: (connection, bytes) => sent.push({ to: connection.name, message: decode(bytes), length: bytes.length }),
      sessionEnded: (session, why) => ended.push([session.id, why]),
      toFleet: (relayNumber, datagram, source) => {
        const message = decode(datagram);
        if (message.kind !== 'data') throw new Error('toFleet: not DATA');
        toFleet.push({ relayNumber, destination: message.destination, source: source.id });
        return fleetAnswer;
      },
    },
    (session) => session,
    start,
  );
  let nonce = 1;
  const register = (ip: string, port: number, now: number, token = '') => {
    const bytes = encodeRegister({ nonce: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, nonce++), token, padToBytes: MIN_UDP_REGISTER_BYTES });
    const outcome = core.handleUdp(ip, port, bytes, now);
    const answer = sent.pop();
    return { outcome, answer: answer?.message, bytes };
  };
  const registerOk = (ip: string, port: number, now: number) => {
    const { answer } = register(ip, port, now);
    if (answer?.kind !== 'registered') throw new Error(`expected REGISTERED, got ${answer?.kind}`);
    return answer;
  };
  const connect = (name: string, now: number): { conn: Conn; id: bigint; secret: Uint8Array } => {
    const conn: Conn = { name, ip: '127.0.0.9', session: null };
    core.handleConnection(conn, encodeRegister({ nonce: Uint8Array.of(1, 0, 0, 0, 0, 0, 0, nonce++) }), now);
    const answer = sent.pop()?.message;
    if (answer?.kind !== 'registered') throw new Error('expected REGISTERED over the connection');
    return { conn, id: answer.sessionId, secret: answer.secret };
  };
  return {
    core,
    sent,
    ended,
    register,
    registerOk,
    connect,
    refuseBackpressure: () => {
      accept = false;
    },
    toFleet,
    answerFleet: (outcome: FleetSendOutcome) => {
      fleetAnswer = outcome;
    },
  };
}

const payload = Uint8Array.of(1, 2, 3);

describe('relay core (no sockets, virtual time)', () => {
  it('forwards DATA from a UDP address to a connection and back, stamped with the authenticated source', () => {
    const h = harness();
    const a = h.registerOk('127.0.0.1', 4000, 1000);
    const b = h.connect('b', 1000);
    expect(h.core.handleUdp('127.0.0.1', 4000, encodeData(b.id, payload), 1001)).to.equal('ok');
    expect(h.sent.shift()).to.deep.include({ to: 'b', message: { kind: 'delivery', source: a.sessionId, payload } });
    expect(h.core.handleConnection(b.conn, encodeData(a.sessionId, payload), 1002)).to.equal('ok');
    expect(h.sent.shift()).to.deep.include({ to: '127.0.0.1:4000', message: { kind: 'delivery', source: b.id, payload } });
    // DATA from an address with no session: REFUSED 6, counted unknownSource.
    expect(h.core.handleUdp('127.0.0.2', 4000, encodeData(b.id, payload), 1003)).to.equal('unknownSource');
    expect(h.sent.shift()?.message).to.deep.include({ kind: 'refused', reason: RefusalReason.UnknownSession });
    expect(h.core.counters).to.deep.include({ forwarded: 2, registrations: 2 });
  });

  it('expires a silent session at the first handleTimeout past sessionIdleMs, and not before', () => {
    const h = harness({ sessionIdleMs: 10_000 });
    const a = h.registerOk('127.0.0.1', 4000, 1000);
    const b = h.connect('b', 1000);
    expect(h.core.nextTimeout()).to.equal(1000 + h.core.sweepEveryMs);
    h.core.handleUdp('127.0.0.1', 4000, encodeKeepalive(a.sessionId, a.secret), 6000);
    h.core.handleTimeout(11_000);
    expect(h.core.sessionCount).to.equal(2);
    h.core.handleTimeout(11_001);
    expect(h.ended).to.deep.equal([[b.id, 'expired']]);
    expect(b.conn.session).to.equal(null);
    h.core.handleTimeout(16_001);
    expect(h.core.sessionCount).to.equal(0);
    expect(h.core.counters.expired).to.equal(2);
  });

  it('checks tokens with the injected verifier: REFUSED 1, 2, 3 and a session for a good one', () => {
    const secret = testRelaySecret('relay core');
    let wallSeconds = 2_000_000_000;
    const verifyToken = (token: string): CoreTokenStatus => verifyRelayToken(secret, token, wallSeconds);
    const h = harness({ verifyToken });
    const token = createRelayToken(secret, { ttlSeconds: 60 }, wallSeconds);
    expect(h.register('127.0.0.1', 1, 1000).answer).to.deep.include({ kind: 'refused', reason: RefusalReason.TokenMissing });
    expect(h.register('127.0.0.1', 2, 1000, createRelayToken(testRelaySecret('another relay'), { ttlSeconds: 60 }, wallSeconds)).answer).to.deep.include({ kind: 'refused', reason: RefusalReason.TokenInvalid });
    expect(h.register('127.0.0.1', 3, 1000, token).answer?.kind).to.equal('registered');
    wallSeconds += 60;
    expect(h.register('127.0.0.1', 4, 1000, token).answer).to.deep.include({ kind: 'refused', reason: RefusalReason.TokenExpired });
    expect(h.core.counters.drops.tokenRefused).to.equal(3);
  });

  it("limits a session's datagram rate, refilled as virtual time passes", () => {
    const h = harness({ sessionDatagramsPerSecond: 10, sessionBytesPerSecond: 1_000_000 });
    const a = h.registerOk('127.0.0.1', 4000, 1000);
    const b = h.registerOk('127.0.0.2', 4000, 1000);
    const outcomes = Array.from({ length: 12 }, () => h.core.handleUdp('127.0.0.1', 4000, encodeData(b.sessionId, payload), 1000));
    expect(outcomes.filter((o) => o === 'ok')).to.have.length(10);
    expect(outcomes.filter((o) => o === 'rateLimited')).to.have.length(2);
    expect(h.core.handleUdp('127.0.0.1', 4000, encodeData(b.sessionId, payload), 1100)).to.equal('ok');
    expect(h.core.handleUdp('127.0.0.1', 4000, encodeData(b.sessionId, payload), 1100)).to.equal('rateLimited');
    expect(a.sessionId).to.not.equal(b.sessionId);
  });

  it('limits REGISTERs per IP (REFUSED 5) and refusals overall (suppressed, counted)', () => {
    const h = harness({ registrationsPerIpPerSecond: 2, registrationBurstPerIp: 2, refusalsPerSecond: 1 });
    h.registerOk('127.0.0.1', 1, 1000);
    h.registerOk('127.0.0.1', 2, 1000);
    expect(h.register('127.0.0.1', 3, 1000)).to.deep.include({ outcome: 'registerRateLimited' });
    expect(h.core.counters.refusalsSent).to.equal(1);
    // The refusal bucket is empty now: the next refusal is counted, not sent.
    expect(h.register('127.0.0.1', 4, 1000).answer).to.equal(undefined);
    expect(h.core.counters.refusalsSuppressed).to.equal(1);
    h.registerOk('127.0.0.2', 1, 1000);
    h.registerOk('127.0.0.1', 5, 1500);
  });

  it("bounds what all sources forward to one destination (its inbound budget)", () => {
    const h = harness({ destinationBytesPerSecond: 10_000, maxDatagramBytes: 300 });
    const b = h.registerOk('127.0.0.2', 4000, 1000);
    h.registerOk('127.0.0.1', 4000, 1000);
    const big = new Uint8Array(80);
    let ok = 0;
    for (let i = 0; i < 400; i++) if (h.core.handleUdp('127.0.0.1', 4000, encodeData(b.sessionId, big), 1000) === 'ok') ok++;
    expect(ok).to.be.greaterThan(0).and.lessThan(400);
    expect(h.core.counters.drops.inboundLimited).to.equal(400 - ok);
    // One second later the destination takes about its rate again.
    let later = 0;
    for (let i = 0; i < 400; i++) if (h.core.handleUdp('127.0.0.1', 4000, encodeData(b.sessionId, big), 2000) === 'ok') later++;
    expect(later).to.be.within(1, Math.ceil(10_000 / (80 + 9 + 64)) + 1);
  });

  it('refuses past maxSessions (REFUSED 4), never answers UDP with more bytes than it got, and drops short UDP REGISTERs', () => {
    const h = harness({ maxSessions: 1 });
    h.registerOk('127.0.0.1', 1, 1000);
    expect(h.register('127.0.0.1', 2, 1000)).to.deep.include({ outcome: 'relayFull' });
    expect(h.core.handleUdp('127.0.0.1', 3, encodeRegister({ nonce: new Uint8Array(8) }), 1000)).to.equal('tooShortRegister');
    // A 26-byte KEEPALIVE for an unknown session: the REFUSED fits in 26 bytes.
    h.core.handleUdp('127.0.0.9', 9, encodeKeepalive(5n, new Uint8Array(16)), 1000);
    const refusal = h.sent.pop();
    expect(refusal?.message.kind).to.equal('refused');
    expect(refusal?.length).to.be.at.most(encodeKeepalive(5n, new Uint8Array(16)).length);
  });

  it('moves a UDP session to a new address on a KEEPALIVE with its secret (NAT rebinding); a wrong secret is spoofed', () => {
    const h = harness();
    const a = h.registerOk('127.0.0.1', 4000, 1000);
    const b = h.connect('b', 1000);
    expect(h.core.handleUdp('127.0.0.1', 5000, encodeKeepalive(a.sessionId, new Uint8Array(16)), 1001)).to.equal('spoofed');
    expect(h.core.handleUdp('127.0.0.1', 5000, encodeKeepalive(a.sessionId, a.secret), 1002)).to.equal('ok');
    expect(h.sent.pop()).to.deep.include({ to: '127.0.0.1:5000', message: { kind: 'keepaliveAck', sessionId: a.sessionId } });
    h.core.handleConnection(b.conn, encodeData(a.sessionId, payload), 1003);
    expect(h.sent.pop()?.to).to.equal('127.0.0.1:5000');
    // A KEEPALIVE of a connection's session over UDP is spoofed, over its own connection fine; LEAVE ends it.
    expect(h.core.handleUdp('127.0.0.1', 5000, encodeKeepalive(b.id, b.secret), 1004)).to.equal('spoofed');
    expect(h.core.handleConnection(b.conn, encodeLeave(b.id, b.secret), 1005)).to.equal('ok');
    expect(h.ended).to.deep.equal([[b.id, 'left']]);
  });

  it("counts backpressure when the adapter cannot take forwarded DATA, and takes a session's side-channel datagrams as its own", () => {
    const h = harness();
    const a = h.registerOk('127.0.0.1', 4000, 1000);
    const b = h.connect('b', 1000);
    expect(h.core.handleChannel(b.conn.session as Sess, encodeData(a.sessionId, payload), 1001)).to.equal('ok');
    expect(h.sent.pop()?.message).to.deep.include({ kind: 'delivery', source: b.id });
    h.refuseBackpressure();
    expect(h.core.handleUdp('127.0.0.1', 4000, encodeData(b.id, payload), 1002)).to.equal('backpressure');
    expect(h.core.counters.drops.backpressure).to.equal(1);
    expect(h.core.handleConnection(b.conn, Uint8Array.of(0x80, 1), 1003, false)).to.equal('malformed');
  });

  describe('in a fleet (relay number in the session id, PROTOCOL.md §3.13)', () => {
    it('stamps its relay number into the top 12 bits of new session ids; 0 before it has one; random when standalone', () => {
      const h = harness();
      const standalone = h.registerOk('127.0.0.1', 4000, 1000).sessionId;
      h.core.setFleetNumber(0);
      expect(h.registerOk('127.0.0.1', 4001, 1000).sessionId >> 52n).to.equal(0n);
      h.core.setFleetNumber(4095);
      const a = h.registerOk('127.0.0.1', 4002, 1000).sessionId;
      expect(a >> 52n).to.equal(4095n);
      h.core.setFleetNumber(17);
      expect(h.registerOk('127.0.0.1', 4003, 1000).sessionId >> 52n).to.equal(17n);
      expect(standalone).to.not.equal(0n);
      expect(() => h.core.setFleetNumber(4096)).to.throw(RangeError, /0\.\.4095/);
    });

    it('hands DATA for another relay number to the fleet link, after the source is authenticated and rate-limited; local ids first', () => {
      const h = harness({ sessionDatagramsPerSecond: 1 });
      h.core.setFleetNumber(5);
      const a = h.registerOk('127.0.0.1', 4000, 1000);
      const remote = (9n << 52n) | 77n;
      expect(h.core.handleUdp('127.0.0.1', 4000, encodeData(remote, payload), 1001)).to.equal('ok');
      expect(h.toFleet).to.deep.equal([{ relayNumber: 9, destination: remote, source: a.sessionId }]);
      expect(h.core.counters.forwardedToFleet).to.equal(1);
      // Over the source's rate: dropped before the link sees it.
      expect(h.core.handleUdp('127.0.0.1', 4000, encodeData(remote, payload), 1001)).to.equal('rateLimited');
      expect(h.toFleet).to.have.length(1);
      // A session made under another number (before a renumbering) is still found here first.
      h.core.setFleetNumber(6);
      const b = h.connect('b', 1000);
      h.core.setFleetNumber(7);
      expect(h.core.handleUdp('127.0.0.1', 4000, encodeData(b.id, payload), 3000)).to.equal('ok');
      expect(h.sent.shift()).to.deep.include({ to: 'b' });
      expect(h.toFleet).to.have.length(1);
    });

    it('drops DATA for its own number or number 0 that it does not have as unknownDestination, and what the link refuses under the link\'s reason', () => {
      const h = harness();
      h.core.setFleetNumber(5);
      h.registerOk('127.0.0.1', 4000, 1000);
      expect(h.core.handleUdp('127.0.0.1', 4000, encodeData((5n << 52n) | 1n, payload), 1001)).to.equal('unknownDestination');
      expect(h.core.handleUdp('127.0.0.1', 4000, encodeData(1n, payload), 1002)).to.equal('unknownDestination');
      h.answerFleet('unknownRelay');
      expect(h.core.handleUdp('127.0.0.1', 4000, encodeData((8n << 52n) | 1n, payload), 1003)).to.equal('unknownRelay');
      h.answerFleet('backpressure');
      expect(h.core.handleUdp('127.0.0.1', 4000, encodeData((8n << 52n) | 1n, payload), 1004)).to.equal('backpressure');
      expect(h.core.counters.drops).to.deep.include({ unknownDestination: 2, unknownRelay: 1, backpressure: 1 });
      expect(h.core.counters.forwardedToFleet).to.equal(0);
      // A standalone relay never uses the link.
      const standalone = harness();
      standalone.registerOk('127.0.0.1', 4000, 1000);
      expect(standalone.core.handleUdp('127.0.0.1', 4000, encodeData((8n << 52n) | 1n, payload), 1001)).to.equal('unknownDestination');
      expect(standalone.toFleet).to.have.length(0);
    });

    it('delivers what the fleet link authenticated to the local session, under its inbound budget', () => {
      const h = harness({ destinationBytesPerSecond: 1000 });
      h.core.setFleetNumber(5);
      const b = h.connect('b', 1000);
      const delivery = (source: bigint): Uint8Array => {
        const bytes = new Uint8Array(9 + 500);
        bytes[0] = 0x83;
        new DataView(bytes.buffer).setBigUint64(1, source);
        return bytes;
      };
      const high = Number(b.id >> 32n);
      const low = Number(b.id & 0xffffffffn);
      const source = (9n << 52n) | 3n;
      expect(h.core.deliverFromFleet(high, low, 3, delivery(source), 1001)).to.equal('ok');
      expect(h.sent.shift()).to.deep.include({ to: 'b', message: { kind: 'delivery', source, payload: new Uint8Array(500) } });
      expect(h.core.deliverFromFleet(high, low + 1, 3, delivery(source), 1001)).to.equal('unknownDestination');
      let outcome = 'ok';
      for (let i = 0; i < 2000 && outcome === 'ok'; i++) outcome = h.core.deliverFromFleet(high, low, 3, delivery(source), 1001);
      expect(outcome).to.equal('inboundLimited');
      expect(h.core.counters.fromFleet).to.be.greaterThan(2);
    });
  });
});
