/**
 * The relay's session and forwarding rules (PROTOCOL.md §3.10) as one case table, run against
 * both implementations: the real relay over 127.0.0.1 (test/integration/relay-rules.test.ts) and
 * the in-memory switch of the unit tests (test/unit/memory-switch-rules.test.ts). A case speaks
 * only bytes through a driver, so the two can never quietly disagree again (issue 13.4).
 */
import { expect } from 'chai';
import {
  MIN_UDP_REGISTER_BYTES,
  RefusalReason,
  encodeData,
  encodeKeepalive,
  encodeLeave,
  encodeRegister,
  type RegisteredDatagram,
  type RelayDatagram,
} from '../../plugin/net/wire/relay-codec';

export type RuleTransport = 'udp' | 'ws';

/** One client end: a UDP socket (an address) or a WebSocket connection. */
export interface RuleEndpoint {
  readonly transport: RuleTransport;
  send(bytes: Uint8Array): void;
  /** The next datagram to this end, decoded; fails naming `what` when none comes. */
  next(what: string): Promise<RelayDatagram>;
}

export interface RuleDriver {
  open(transport: RuleTransport): Promise<RuleEndpoint>;
  /** Drop counters by reason (the reasons both implementations share). */
  drops(): Record<string, number>;
  sessions(): number;
}

export interface RuleCase {
  name: string;
  run(driver: RuleDriver): Promise<void>;
}

let nonceCounter = 0x5000;
function nonce(): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(4, nonceCounter++);
  return bytes;
}

async function register(end: RuleEndpoint, withNonce: Uint8Array = nonce()): Promise<RegisteredDatagram> {
  end.send(encodeRegister({ nonce: withNonce, padToBytes: end.transport === 'udp' ? MIN_UDP_REGISTER_BYTES : 0 }));
  const answer = await end.next('REGISTERED');
  if (answer.kind !== 'registered') throw new Error(`expected REGISTERED, got ${answer.kind}`);
  return answer;
}

/** No session has id 1 (ids are random 64-bit): a KEEPALIVE for it is always answered with REFUSED 6. */
const PROBE_SESSION = 1n;

/** Proves that nothing arrived before a probe's answer (both implementations keep order per end). */
async function nothingElse(end: RuleEndpoint, what: string): Promise<void> {
  end.send(encodeKeepalive(PROBE_SESSION, new Uint8Array(16)));
  const answer = await end.next(`the probe's answer (${what})`);
  expect(answer.kind === 'refused' && answer.reference, `${what}: something arrived before the probe's answer`).to.equal(PROBE_SESSION);
}

async function expectDelivery(end: RuleEndpoint, source: bigint, payload: Uint8Array): Promise<void> {
  const got = await end.next('forwarded DATA');
  expect(got.kind).to.equal('delivery');
  if (got.kind !== 'delivery') return;
  expect(got.source).to.equal(source);
  expect([...got.payload]).to.deep.equal([...payload]);
}

async function expectRefused(end: RuleEndpoint, reason: RefusalReason, reference: bigint): Promise<void> {
  const got = await end.next(`REFUSED ${reason}`);
  expect(got.kind === 'refused' && [got.reason, got.reference]).to.deep.equal([reason, reference]);
}

function dropDelta(driver: RuleDriver, reason: string): () => number {
  const before = driver.drops()[reason] ?? 0;
  return () => (driver.drops()[reason] ?? 0) - before;
}

const payload = Uint8Array.of(1, 2, 3, 4, 5);

export const RELAY_RULE_CASES: RuleCase[] = [
  {
    name: 'forwards DATA as 0x83 stamped with the authenticated source, UDP ↔ WebSocket',
    async run(driver) {
      const a = await driver.open('udp');
      const b = await driver.open('ws');
      const sa = await register(a);
      const sb = await register(b);
      a.send(encodeData(sb.sessionId, payload));
      await expectDelivery(b, sa.sessionId, payload);
      b.send(encodeData(sa.sessionId, payload));
      await expectDelivery(a, sb.sessionId, payload);
    },
  },
  {
    name: 'a repeated REGISTER (same nonce) is answered with the same session, over UDP and WebSocket',
    async run(driver) {
      for (const transport of ['udp', 'ws'] as const) {
        const end = await driver.open(transport);
        const sessions = driver.sessions();
        const n = nonce();
        const first = await register(end, n);
        const again = await register(end, n);
        expect(again.sessionId).to.equal(first.sessionId);
        expect([...again.secret]).to.deep.equal([...first.secret]);
        expect(driver.sessions()).to.equal(sessions + 1);
      }
    },
  },
  {
    name: 'over UDP a REGISTER with a new nonce from a bound address makes a new session; the older keeps its id unbound until its KEEPALIVE',
    async run(driver) {
      const a = await driver.open('udp');
      const b = await driver.open('udp');
      const older = await register(a);
      const sb = await register(b);
      const newer = await register(a);
      expect(newer.sessionId).to.not.equal(older.sessionId);
      expect(driver.sessions()).to.equal(3);
      const unbound = dropDelta(driver, 'destinationUnbound');
      b.send(encodeData(older.sessionId, payload));
      b.send(encodeData(newer.sessionId, payload));
      await expectDelivery(a, sb.sessionId, payload);
      await nothingElse(a, 'DATA to the unbound older session');
      expect(unbound()).to.equal(1);
      // The older session's secret binds it again; the newer one loses the address.
      a.send(encodeKeepalive(older.sessionId, older.secret));
      const ack = await a.next('KEEPALIVE_ACK');
      expect(ack.kind === 'keepaliveAck' && ack.sessionId).to.equal(older.sessionId);
      b.send(encodeData(newer.sessionId, payload));
      b.send(encodeData(older.sessionId, payload));
      await expectDelivery(a, sb.sessionId, payload);
      await nothingElse(a, 'DATA to the newer session after the older took the address back');
      expect(unbound()).to.equal(2);
    },
  },
  {
    name: 'over a WebSocket a REGISTER with a new nonce replaces the session: the old id is gone (REFUSED 6)',
    async run(driver) {
      const w = await driver.open('ws');
      const older = await register(w);
      const newer = await register(w);
      expect(newer.sessionId).to.not.equal(older.sessionId);
      expect(driver.sessions()).to.equal(1);
      w.send(encodeKeepalive(older.sessionId, older.secret));
      await expectRefused(w, RefusalReason.UnknownSession, older.sessionId);
    },
  },
  {
    name: 'KEEPALIVE with a wrong secret: no answer, counted spoofed, no rebinding',
    async run(driver) {
      const a = await driver.open('udp');
      const b = await driver.open('udp');
      const stranger = await driver.open('udp');
      const sa = await register(a);
      const sb = await register(b);
      const spoofed = dropDelta(driver, 'spoofed');
      stranger.send(encodeKeepalive(sa.sessionId, new Uint8Array(16).fill(0xee)));
      await nothingElse(stranger, 'KEEPALIVE with a wrong secret');
      expect(spoofed()).to.equal(1);
      b.send(encodeData(sa.sessionId, payload));
      await expectDelivery(a, sb.sessionId, payload);
      await nothingElse(stranger, 'DATA to the session the stranger tried to take');
    },
  },
  {
    name: 'a UDP session follows its KEEPALIVE with the right secret to a new address (NAT rebinding)',
    async run(driver) {
      const a = await driver.open('udp');
      const moved = await driver.open('udp');
      const b = await driver.open('udp');
      const sa = await register(a);
      const sb = await register(b);
      moved.send(encodeKeepalive(sa.sessionId, sa.secret));
      const ack = await moved.next('KEEPALIVE_ACK at the new address');
      expect(ack.kind === 'keepaliveAck' && ack.sessionId).to.equal(sa.sessionId);
      b.send(encodeData(sa.sessionId, payload));
      await expectDelivery(moved, sb.sessionId, payload);
      await nothingElse(a, 'DATA at the old address');
    },
  },
  {
    name: 'a WebSocket session accepts KEEPALIVE only over its own connection (spoofed over UDP or another connection)',
    async run(driver) {
      const w = await driver.open('ws');
      const other = await driver.open('ws');
      const viaUdp = await driver.open('udp');
      const sw = await register(w);
      const spoofed = dropDelta(driver, 'spoofed');
      other.send(encodeKeepalive(sw.sessionId, sw.secret));
      viaUdp.send(encodeKeepalive(sw.sessionId, sw.secret));
      await nothingElse(other, 'KEEPALIVE from another connection');
      await nothingElse(viaUdp, 'KEEPALIVE over UDP');
      expect(spoofed()).to.equal(2);
      w.send(encodeKeepalive(sw.sessionId, sw.secret));
      const ack = await w.next('KEEPALIVE_ACK on its own connection');
      expect(ack.kind).to.equal('keepaliveAck');
    },
  },
  {
    name: 'DATA with no session gets REFUSED 6 reference 0; DATA to an unknown id is dropped unanswered',
    async run(driver) {
      for (const transport of ['udp', 'ws'] as const) {
        const end = await driver.open(transport);
        end.send(encodeData(7n, payload));
        await expectRefused(end, RefusalReason.UnknownSession, 0n);
        await register(end);
        const unknown = dropDelta(driver, 'unknownDestination');
        end.send(encodeData(0x1234_5678_9abc_def0n, payload));
        await nothingElse(end, 'DATA to an unknown session id');
        expect(unknown()).to.equal(1);
      }
    },
  },
  {
    name: 'LEAVE ends the session unanswered; then its KEEPALIVE gets REFUSED 6 and DATA to it is unknownDestination',
    async run(driver) {
      for (const transport of ['udp', 'ws'] as const) {
        const end = await driver.open(transport);
        const other = await driver.open('udp');
        const s = await register(end);
        await register(other);
        const sessions = driver.sessions();
        end.send(encodeLeave(s.sessionId, s.secret));
        await nothingElse(end, 'LEAVE');
        expect(driver.sessions()).to.equal(sessions - 1);
        end.send(encodeKeepalive(s.sessionId, s.secret));
        await expectRefused(end, RefusalReason.UnknownSession, s.sessionId);
        const unknown = dropDelta(driver, 'unknownDestination');
        other.send(encodeData(s.sessionId, payload));
        await nothingElse(other, 'DATA to the session that left');
        expect(unknown()).to.equal(1);
      }
    },
  },
];
