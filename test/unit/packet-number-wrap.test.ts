/**
 * Issue 13.3: packet numbers are the AEAD nonce. They used to be u32, and a connection that
 * reached 2^32 threw inside flush (seal and closePacket). Now they run to 2^53 − 1: the DATA header
 * carries the low 32 bits, the nonce the whole number, and the receiver restores the high bits.
 * These tests drive the real SecureSession and ReliableConnection pair, in virtual time, from just
 * below 2^32 across it, through lossy reordering links and several rekeys, and then to the real end
 * of the numbers.
 */
import { expect } from 'chai';
import { sha256 } from '@noble/hashes/sha2.js';
import { SecureSession, roleFor, type HandshakeOutcome } from '../../plugin/net/crypto';
import { expandPacketNumber } from '../../plugin/net/crypto/secure-session';
import { Identity } from '../../plugin/net/identity';
import { defaultReliabilityConfig } from '../../plugin/net/reliability/config';
import { MAX_PACKET_NUMBER } from '../../plugin/net/reliability/constants';
import { ReliableConnection } from '../../plugin/net/reliability/connection';
import { mulberry32 } from '../../plugin/net/transport/prng';
import type { Clock } from '../../plugin/net/types';

class ManualClock implements Clock {
  time = 1000;
  now(): number {
    return this.time;
  }
}

function seededRandom(seed: number): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let offset = 0; offset < n; offset += 32) {
      const block = sha256(new TextEncoder().encode(`wrap seed ${seed} block ${counter++}`));
      out.set(block.subarray(0, Math.min(32, n - offset)), offset);
    }
    return out;
  };
}

interface Side {
  session: SecureSession;
  connection: ReliableConnection;
  received: string[];
  highestSealed: number;
}

interface InFlight {
  at: number;
  to: 0 | 1;
  kind: 'handshake' | 'data';
  bytes: Uint8Array;
}

/** Two ends joined by a link that loses and reorders (seeded), stepped 10 ms at a time. */
function makeLink(firstPacketNumber: number, seed: number, lossRate: number) {
  const clock = new ManualClock();
  const wall = { now: () => 1_700_000_000_000 + clock.time };
  const a = Identity.fromSecretKey(sha256(new TextEncoder().encode('wrap identity a')));
  const b = Identity.fromSecretKey(sha256(new TextEncoder().encode('wrap identity b')));
  const random = mulberry32(seed);
  const makeSide = (local: Identity, remote: Identity, incarnation: bigint): Side => ({
    session: new SecureSession({
      identity: local,
      remotePublicKey: remote.publicKey,
      role: roleFor(local.peerId, remote.peerId),
      incarnation,
      clock,
      wallClock: wall,
      random: seededRandom(Number(local.peerId % 1000n)),
      // Several rekeys on the way across 2^32.
      rekeyAfterPackets: 400,
    }),
    connection: new ReliableConnection(defaultReliabilityConfig, clock.time, { firstPacketNumber }),
    received: [],
    highestSealed: -1,
  });
  const sides: [Side, Side] = [makeSide(a, b, 1n), makeSide(b, a, 2n)];
  for (const side of sides) side.connection.setChannel(1, true);
  let inFlight: InFlight[] = [];
  const transmit = (to: 0 | 1, kind: InFlight['kind'], bytes: Uint8Array) => {
    if (random() < lossRate) return;
    inFlight.push({ at: clock.time + 10 + Math.floor(random() * 30), to, kind, bytes });
  };
  const deliverHandshake = (to: 0 | 1, bytes: Uint8Array) => {
    const outcome: HandshakeOutcome = sides[to].session.handleHandshake(bytes, clock.time);
    if (outcome.kind === 'reply') transmit(to === 0 ? 1 : 0, 'handshake', outcome.packet);
  };
  const step = () => {
    clock.time += 10;
    const due = inFlight.filter((p) => p.at <= clock.time);
    inFlight = inFlight.filter((p) => p.at > clock.time);
    for (const packet of due) {
      const side = sides[packet.to];
      if (packet.kind === 'handshake') {
        deliverHandshake(packet.to, packet.bytes);
        continue;
      }
      const opened = side.session.open(packet.bytes);
      if (!opened.ok) continue;
      if (side.connection.receive(opened.packetNumber, opened.plaintext, clock.time).accepted) opened.commit();
      for (const message of side.connection.takeDelivered()) side.received.push(new TextDecoder().decode(message.data));
    }
    for (const [index, side] of sides.entries()) {
      const other = index === 0 ? 1 : 0;
      const handshake = side.session.pollHandshake(clock.time);
      if (handshake) transmit(other, 'handshake', handshake);
      if (!side.session.isEstablished) continue;
      for (const packet of side.connection.poll(clock.time)) {
        side.highestSealed = Math.max(side.highestSealed, packet.packetNumber);
        transmit(other, 'data', side.session.seal(packet.packetNumber, packet.payload));
      }
    }
  };
  return { sides, step, clock };
}

describe('packet numbers past 2^32 (issue 13.3, PROTOCOL.md §5.6 rule 8)', () => {
  it('a link that starts 500 packets below 2^32 crosses it through loss, reordering and rekeys: every reliable message once, in order, nothing thrown', function () {
    this.timeout(60_000);
    const link = makeLink(2 ** 32 - 500, 7, 0.05);
    const total = 4000;
    let sent = 0;
    for (let tick = 0; tick < 30_000; tick++) {
      if (sent < total) {
        for (let i = 0; i < 5 && sent < total; i++, sent++) {
          expect(link.sides[0].connection.send(1, true, new TextEncoder().encode(`a${sent}`))).to.equal(0);
          expect(link.sides[1].connection.send(1, true, new TextEncoder().encode(`b${sent}`))).to.equal(0);
        }
      }
      link.step();
      if (link.sides[0].received.length === total && link.sides[1].received.length === total) break;
    }
    const expected = (prefix: string) => Array.from({ length: total }, (_, i) => `${prefix}${i}`);
    expect(link.sides[1].received).to.deep.equal(expected('a'));
    expect(link.sides[0].received).to.deep.equal(expected('b'));
    for (const side of link.sides) {
      expect(side.highestSealed, 'the sender went past 2^32').to.be.greaterThan(2 ** 32);
      expect(side.session.stats().dropped['data-auth'] ?? 0, 'no packet failed to open for a wrong high half').to.equal(0);
    }
    // Rekeys happened on the way (400 sealed or opened a key).
    const initiator = link.sides.find((s) => s.session.stats().handshakesSent > 0)!;
    expect(initiator.session.stats().handshakesCompleted).to.be.greaterThan(2);
  });

  it('the DATA header carries the low 32 bits and the nonce the whole number', () => {
    const link = makeLink(0, 1, 0);
    for (let tick = 0; tick < 50 && !link.sides.every((s) => s.session.isEstablished); tick++) link.step();
    const [a] = link.sides;
    const low = a.session.seal(5, Uint8Array.of(1, 2, 3));
    const high = a.session.seal(2 ** 32 + 5, Uint8Array.of(1, 2, 3));
    expect(Array.from(high.subarray(2, 6))).to.deep.equal(Array.from(low.subarray(2, 6)));
    expect(Array.from(high.subarray(6))).to.not.deep.equal(Array.from(low.subarray(6)));
  });

  it('expands the low 32 bits to the number nearest the one expected', () => {
    expect(expandPacketNumber(5, 0)).to.equal(5);
    expect(expandPacketNumber(0xffff_fff0, 2 ** 32 + 3)).to.equal(0xffff_fff0);
    expect(expandPacketNumber(3, 0xffff_fff0)).to.equal(2 ** 32 + 3);
    expect(expandPacketNumber(7, 5 * 2 ** 32 + 100)).to.equal(5 * 2 ** 32 + 7);
    expect(expandPacketNumber(0xffff_ffff, 1)).to.equal(0xffff_ffff);
    expect(expandPacketNumber(0, MAX_PACKET_NUMBER)).to.be.at.most(MAX_PACKET_NUMBER);
  });

  it('at the real end (2^53 − 1) the connection stops sending and closePacket returns null: no throw', () => {
    const c = new ReliableConnection(defaultReliabilityConfig, 0, { firstPacketNumber: MAX_PACKET_NUMBER - 66 });
    c.setChannel(1, true);
    const numbers: number[] = [];
    for (let t = 0; t < 10; t++) {
      expect(c.send(1, true, Uint8Array.of(t))).to.equal(0);
      for (const packet of c.poll(t * 10)) numbers.push(packet.packetNumber);
    }
    expect(numbers).to.have.length(3);
    expect(c.packetNumbersExhausted).to.equal(true);
    expect(Math.max(...numbers)).to.be.at.most(MAX_PACKET_NUMBER);
    const closes: unknown[] = [];
    for (let i = 0; i < 100; i++) closes.push(c.closePacket(0, 3000 + i));
    expect(closes).to.include(null);
    expect(closes.filter((p) => p !== null).length).to.be.at.most(64);
  });
});
