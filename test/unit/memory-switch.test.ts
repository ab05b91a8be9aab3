/**
 * The MemorySwitch (the in-memory relay stand-in for unit tests of net/): it speaks PROTOCOL.md §3,
 * delivers only when the test moves virtual time, impairs DATA from a seed, and bounds its tables.
 */
import { expect } from 'chai';
import { build } from 'esbuild';
import * as path from 'path';
import * as vm from 'vm';
import { MemorySwitch, type MemorySocket } from '../../plugin/net/transport/memory-switch';
import {
  MIN_UDP_REGISTER_BYTES,
  RefusalReason,
  decodeRelayDatagram,
  encodeData,
  encodeKeepalive,
  encodeLeave,
  encodeRegister,
  sessionIdFromBytes,
  type RelayDatagram,
  type RegisteredDatagram,
} from '../../plugin/net/wire/relay-codec';
import { startRecordedClient, type RecordedClient } from '../integration/relay-test-helpers';
import { waitFor } from '../helpers/wait';

const repositoryRoot = path.resolve(__dirname, '..', '..');

/** A switch socket that records what it receives, decoded. */
function rawSocket(sw: MemorySwitch, url = sw.wsUrl): { socket: MemorySocket; received: RelayDatagram[]; raw: Uint8Array[] } {
  const socket = sw.createSocket(url);
  const received: RelayDatagram[] = [];
  const raw: Uint8Array[] = [];
  socket.onMessage = (bytes) => {
    raw.push(bytes.slice());
    const decoded = decodeRelayDatagram(bytes);
    if (!decoded.ok) throw new Error(`the switch sent an undecodable datagram: ${decoded.error}`);
    received.push(decoded.value);
  };
  return { socket, received, raw };
}

let nonceCounter = 0;
function nonce(): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(4, ++nonceCounter);
  return bytes;
}

function registerRaw(sw: MemorySwitch, client: ReturnType<typeof rawSocket>, padToBytes = 0): RegisteredDatagram {
  client.socket.send(encodeRegister({ nonce: nonce(), padToBytes }));
  sw.deliver();
  const answer = client.received[client.received.length - 1];
  if (answer?.kind !== 'registered') throw new Error(`expected REGISTERED, got ${answer?.kind}`);
  return answer;
}

describe('MemorySwitch (in-memory relay for unit tests)', () => {
  it('registers, answers KEEPALIVE, forwards DATA stamped with the source, and ends a session on LEAVE', () => {
    const sw = new MemorySwitch({ seed: 7 });
    const a = rawSocket(sw);
    const b = rawSocket(sw);
    const ra = registerRaw(sw, a);
    const rb = registerRaw(sw, b);
    expect(ra.sessionId).to.not.equal(rb.sessionId);
    expect(ra.endpoints).to.deep.equal(sw.endpoints);
    expect(sw.stats().sessions).to.equal(2);

    a.socket.send(encodeKeepalive(ra.sessionId, ra.secret));
    a.socket.send(encodeData(rb.sessionId, Uint8Array.of(1, 2, 3)));
    sw.deliver();
    expect(a.received[1]).to.deep.equal({ kind: 'keepaliveAck', sessionId: ra.sessionId });
    expect(b.received[1]).to.deep.include({ kind: 'delivery', source: ra.sessionId });
    expect(Array.from((b.received[1] as { payload: Uint8Array }).payload)).to.deep.equal([1, 2, 3]);

    // A repeated REGISTER (same nonce) gets the same session back.
    const again = nonce();
    const c = rawSocket(sw);
    c.socket.send(encodeRegister({ nonce: again }));
    c.socket.send(encodeRegister({ nonce: again }));
    sw.deliver();
    expect(c.received.map((d) => d.kind === 'registered' && d.sessionId)).to.have.length(2);
    expect((c.received[0] as RegisteredDatagram).sessionId).to.equal((c.received[1] as RegisteredDatagram).sessionId);

    a.socket.send(encodeLeave(ra.sessionId, ra.secret));
    sw.deliver();
    expect(sw.sessionIds()).to.not.include(ra.sessionId);
    b.socket.send(encodeData(ra.sessionId, Uint8Array.of(9)));
    sw.deliver();
    expect(sw.stats().drops.unknownDestination).to.equal(1);
  });

  it('refuses as the relay does: unknown sessions (6), wrong version (7), spoofed secrets silently, never longer than the request', () => {
    const sw = new MemorySwitch();
    const a = rawSocket(sw);
    const ra = registerRaw(sw, a);
    const stranger = rawSocket(sw);
    stranger.socket.send(encodeData(ra.sessionId, Uint8Array.of(1, 2)));
    stranger.socket.send(encodeKeepalive(0x1234n, new Uint8Array(16)));
    stranger.socket.send(encodeKeepalive(ra.sessionId, new Uint8Array(16)));
    stranger.socket.send(encodeKeepalive(ra.sessionId, ra.secret)); // right secret, other socket
    const oldVersion = nonce();
    stranger.socket.send(encodeRegister({ nonce: oldVersion, version: 2 }));
    stranger.socket.send(Uint8Array.of(0x83, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    stranger.socket.send(Uint8Array.of(0x03, 1, 2, 3, 4, 5, 6, 7, 8));
    stranger.socket.send(new Uint8Array(1501));
    sw.deliver();
    const refusals = stranger.received.map((d) => (d.kind === 'refused' ? [d.reason, d.reference] : d.kind));
    expect(refusals).to.deep.equal([
      [RefusalReason.UnknownSession, 0n],
      [RefusalReason.UnknownSession, 0x1234n],
      [RefusalReason.UnsupportedVersion, sessionIdFromBytes(oldVersion)],
    ]);
    stranger.raw.forEach((bytes, i) => expect(bytes.length, `answer ${i}`).to.be.at.most([11, 25, 11][i]));
    expect(sw.stats().drops).to.include({ unknownSource: 1, unknownSession: 1, spoofed: 2, badVersion: 1, malformed: 2, oversize: 1 });
    expect(a.received).to.have.length(1);
  });

  it('drops a udp:// REGISTER shorter than 256 bytes without answering, and accepts a padded one', () => {
    const sw = new MemorySwitch();
    const udp = rawSocket(sw, sw.udpUrl);
    udp.socket.send(encodeRegister({ nonce: nonce(), padToBytes: MIN_UDP_REGISTER_BYTES - 1 }));
    sw.deliver();
    expect(udp.received).to.have.length(0);
    expect(sw.stats().drops.tooShortRegister).to.equal(1);
    registerRaw(sw, udp, MIN_UDP_REGISTER_BYTES);
  });

  it('delivers nothing until virtual time reaches it: latency is exact, jitter stays within its bound', () => {
    const sw = new MemorySwitch({ link: { latencyMs: 30 } });
    const a = rawSocket(sw);
    const b = rawSocket(sw);
    a.socket.send(encodeRegister({ nonce: nonce() }));
    b.socket.send(encodeRegister({ nonce: nonce() }));
    sw.deliver();
    expect(a.received).to.have.length(0); // the REGISTER is 30 ms away
    sw.advance(29);
    expect(a.received).to.have.length(0);
    sw.advance(1);
    expect([a.received[0].kind, b.received[0].kind]).to.deep.equal(['registered', 'registered']);
    const ra = a.received[0] as RegisteredDatagram;

    b.socket.profile = { latencyMs: 10, jitterMs: 5 };
    const sentAt = sw.now;
    const arrivals: number[] = [];
    a.socket.onMessage = () => arrivals.push(sw.now - sentAt);
    for (let i = 0; i < 50; i++) b.socket.send(encodeData(ra.sessionId, Uint8Array.of(i)));
    for (let t = 0; t < 20; t++) sw.advance(1);
    expect(arrivals).to.have.length(50);
    for (const delay of arrivals) expect(delay).to.be.within(10, 15);
    expect(new Set(arrivals).size, 'jitter spreads them').to.be.greaterThan(1);
    expect(() => (b.socket.profile = { jitterMs: -1 })).to.throw(RangeError, /jitterMs/);
  });

  it('impairs DATA from its seed: the same seed gives the same losses, duplicates and order; another seed differs', () => {
    const run = (seed: number): number[] => {
      const sw = new MemorySwitch({ seed, link: { lossRate: 0.3, duplicateRate: 0.2, reorderRate: 0.2, latencyMs: 5, jitterMs: 5 } });
      const a = rawSocket(sw);
      const b = rawSocket(sw);
      // Control datagrams get the latency but never the impairment.
      a.socket.send(encodeRegister({ nonce: nonce() }));
      b.socket.send(encodeRegister({ nonce: nonce() }));
      sw.advance(5);
      const rb = b.received[0] as RegisteredDatagram;
      const got: number[] = [];
      b.socket.onMessage = (bytes) => got.push(bytes[bytes.length - 1]);
      for (let i = 0; i < 200; i++) {
        a.socket.send(encodeData(rb.sessionId, Uint8Array.of(i)));
        sw.advance(1);
      }
      sw.advance(100);
      return got;
    };
    const first = run(5);
    expect(run(5)).to.deep.equal(first);
    expect(run(6)).to.not.deep.equal(first);
    expect(first.length).to.be.within(100, 220);
    const inOrder = first.every((v, i) => i === 0 || v > first[i - 1]);
    expect(inOrder, 'reordering and duplication show').to.equal(false);
  });

  it('bounds its queue and its sessions, counting what it refused', () => {
    const sw = new MemorySwitch({ maxQueuedDatagrams: 10, maxSessions: 2 });
    const a = rawSocket(sw);
    sw.deliver();
    for (let i = 0; i < 25; i++) a.socket.send(Uint8Array.of(0x7f));
    expect(sw.stats().queued).to.equal(10);
    expect(sw.stats().drops.queueFull).to.equal(15);
    sw.deliver();
    const clients = [rawSocket(sw), rawSocket(sw), rawSocket(sw)];
    sw.deliver();
    registerRaw(sw, clients[0]);
    registerRaw(sw, clients[1]);
    clients[2].socket.send(encodeRegister({ nonce: nonce() }));
    sw.deliver();
    const refused = clients[2].received[0];
    expect(refused.kind === 'refused' && refused.reason).to.equal(RefusalReason.RelayFull);
    expect(sw.stats().sessions).to.equal(2);
    expect(() => new MemorySwitch({ maxSessions: 0 })).to.throw(RangeError, /maxSessions/);
    expect(() => new MemorySwitch({ link: { lossRate: 2 } })).to.throw(RangeError, /lossRate/);
  });

  it('injects deliveries from any source session and raw bytes, as a hostile relay or peer would', () => {
    const sw = new MemorySwitch();
    const a = rawSocket(sw);
    const ra = registerRaw(sw, a);
    expect(sw.injectDelivery(ra.sessionId, 0xdeadn, Uint8Array.of(4, 5))).to.equal(true);
    expect(sw.injectRaw(ra.sessionId, Uint8Array.of(0x82, 1, 2, 3, 4, 5, 6, 7, 8))).to.equal(true);
    expect(sw.injectRaw(0x999n, Uint8Array.of(1))).to.equal(false);
    sw.deliver();
    expect(a.received[1]).to.deep.include({ kind: 'delivery', source: 0xdeadn });
    expect(a.received[2]).to.deep.equal({ kind: 'keepaliveAck', sessionId: 0x0102030405060708n });
    expect(sw.stats().injected).to.equal(2);
  });

  describe('with a RelayClient on real timers', () => {
    const clients: RecordedClient[] = [];
    afterEach(async () => {
      for (const c of clients.splice(0)) await c.client.dispose();
    });

    it('registers at the first deliver; its retry timer is cancelled, so it sends one REGISTER over 300 ms of real time', async () => {
      const sw = new MemorySwitch();
      const registers: number[] = [];
      sw.tap = (event) => {
        if (event.direction === 'in' && event.bytes[0] === 0x01) registers.push(event.bytes.length);
      };
      const client = startRecordedClient({ url: sw.udpUrl, socketFactory: sw.socketFactory });
      clients.push(client);
      sw.deliver(); // the socket opens, REGISTER goes out
      sw.deliver(); // …and is answered
      expect(client.registrations).to.have.length(1);
      expect(registers).to.deep.equal([MIN_UDP_REGISTER_BYTES]);
      const until = Date.now() + 300;
      await waitFor('300 ms of real time', () => Date.now() >= until, { step: () => sw.deliver() });
      expect(registers).to.have.length(1);
      expect(client.registrations).to.have.length(1);
      expect(client.client.registration?.sessionId).to.equal(sw.sessionIds()[0]);
    });

    it('with a short keepalive, real-time KEEPALIVEs are answered at each deliver and the session holds', async () => {
      const sw = new MemorySwitch({ keepaliveMs: 20 });
      let keepalives = 0;
      sw.tap = (event) => {
        if (event.direction === 'out' && event.bytes[0] === 0x82) keepalives++;
      };
      const client = startRecordedClient({ url: sw.wsUrl, socketFactory: sw.socketFactory });
      clients.push(client);
      await waitFor('registration', () => client.registrations.length === 1, { step: () => sw.deliver() });
      await waitFor('five KEEPALIVE_ACKs', () => keepalives >= 5, { step: () => sw.deliver() });
      expect(client.registrations).to.have.length(1);
      expect(client.unregistered).to.equal(0);
    });

    it('with timers: sw.timers, KEEPALIVEs and re-registration after a forgotten session run in virtual time only', () => {
      const sw = new MemorySwitch({ keepaliveMs: 1000 });
      let keepalives = 0;
      let registers = 0;
      sw.tap = (event) => {
        if (event.direction === 'in' && event.bytes[0] === 0x02) keepalives++;
        if (event.direction === 'in' && event.bytes[0] === 0x01) registers++;
      };
      const client = startRecordedClient({ url: sw.udpUrl, socketFactory: sw.socketFactory, timers: sw.timers });
      clients.push(client);
      sw.deliver();
      sw.deliver();
      expect(client.registrations).to.have.length(1);
      // Ten virtual seconds in one call: ten KEEPALIVEs, each answered, the session holds.
      sw.advance(10_000);
      expect(keepalives).to.equal(10);
      expect(client.registrations).to.have.length(1);
      // The relay forgets the session: the next KEEPALIVE is refused and the client registers again, still without real time.
      sw.dropSession(client.registrations[0].sessionId);
      sw.advance(1000);
      expect(client.registrations).to.have.length(2);
      expect(registers).to.equal(2);
      sw.dispose();
      expect(sw.nextDueAt()).to.equal(null);
    });

    it('a dropped session or a closed socket makes the client register a new session', async () => {
      const sw = new MemorySwitch();
      const client = startRecordedClient({ url: sw.udpUrl, socketFactory: sw.socketFactory });
      clients.push(client);
      await waitFor('registration', () => client.registrations.length === 1, { step: () => sw.deliver() });
      const first = client.registrations[0].sessionId;
      sw.dropSession(first);
      client.client.send(0x42n, new Uint8Array(40)); // answered REFUSED 6, reference 0
      await waitFor('a second registration', () => client.registrations.length === 2, { step: () => sw.deliver() });
      const second = client.registrations[1].sessionId;
      expect(second).to.not.equal(first);
      sw.disconnect(second);
      await waitFor('a third registration', () => client.registrations.length === 3, { step: () => sw.deliver() });
      expect(sw.sessionIds()).to.deep.equal([client.registrations[2].sessionId]);
      expect(sw.stats().sockets).to.equal(1);
    });
  });

  it('bundles for the browser and runs there: no Node module in it', async () => {
    const result = await build({
      entryPoints: [path.join(repositoryRoot, 'plugin/net/transport/memory-switch.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'memorySwitch',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).to.deep.equal([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((input) => /udp-socket|node_modules\/ws\//.test(input))).to.deep.equal([]);
    // Everything runs inside the bare context, with its own Uint8Array (as in a page).
    const context = vm.createContext({ TextEncoder, TextDecoder, URL });
    vm.runInContext(`${result.outputFiles[0].text};globalThis.memorySwitch = memorySwitch;`, context);
    const answer = vm.runInContext(
      `(() => {
        const sw = new memorySwitch.MemorySwitch();
        const socket = sw.createSocket(sw.wsUrl);
        const got = [];
        socket.onMessage = (bytes) => got.push(bytes[0]);
        socket.send(new Uint8Array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0]));
        sw.deliver();
        return got;
      })()`,
      context,
    ) as number[];
    expect(Array.from(answer)).to.deep.equal([0x81]);
  });
});
