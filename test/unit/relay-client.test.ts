/**
 * RelayClient's state machine against a scripted relay end (a DatagramSocket the test drives
 * byte by byte). The real relay is exercised in test/integration/relay-*.test.ts.
 */
import { expect } from 'chai';
import type { DatagramSocket } from '../../plugin/net/transport/datagram-socket';
import { RelayClient, type RelayClientOptions, type RelayRegistration } from '../../plugin/net/transport/relay-client';
import {
  MIN_UDP_REGISTER_BYTES,
  RefusalReason,
  decodeRelayDatagram,
  encodeDelivery,
  encodeKeepaliveAck,
  encodeRefused,
  encodeRegistered,
  type RelayDatagram,
} from '../../plugin/net/wire/relay-codec';
import { waitFor } from '../helpers/wait';

class ScriptedLink implements DatagramSocket {
  onOpen: (() => void) | null = null;
  onMessage: ((datagram: Uint8Array) => void) | null = null;
  onClose: ((reason: string) => void) | null = null;
  readonly sent: Uint8Array[] = [];
  closed = false;

  constructor(readonly url: string) {
    setImmediate(() => {
      if (!this.closed) this.onOpen?.();
    });
  }

  send(datagram: Uint8Array): void {
    if (!this.closed) this.sent.push(datagram.slice());
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  deliver(bytes: Uint8Array | null): void {
    if (bytes !== null) this.onMessage?.(bytes);
  }

  /** Closes from the far side (a WebSocket the relay dropped). */
  drop(): void {
    this.closed = true;
    this.onClose?.('dropped by the test');
  }

  decodedSent(): RelayDatagram[] {
    return this.sent.map((bytes) => {
      const decoded = decodeRelayDatagram(bytes);
      if (!decoded.ok) throw new Error(`client sent an undecodable datagram: ${decoded.error}`);
      return decoded.value;
    });
  }

  kinds(): string[] {
    return this.decodedSent().map((d) => d.kind);
  }

  lastRegisterNonce(): Uint8Array {
    const registers = this.decodedSent().filter((d) => d.kind === 'register');
    const last = registers[registers.length - 1];
    if (last === undefined || last.kind !== 'register') throw new Error('no REGISTER sent yet');
    return last.nonce;
  }
}

const relayId = new Uint8Array(8).fill(7);
const secret = new Uint8Array(16).fill(9);

interface Harness {
  client: RelayClient;
  links: ScriptedLink[];
  registrations: RelayRegistration[];
  unregistered: number;
  refusals: { reason: number; final: boolean }[];
  data: { source: bigint; payload: Uint8Array }[];
  logs: string[];
}

const harnesses: Harness[] = [];

function harness(options: Partial<RelayClientOptions> = {}): Harness {
  const links: ScriptedLink[] = [];
  const logs: string[] = [];
  const client = new RelayClient({
    url: 'udp://127.0.0.1:7777',
    logger: { info: (m) => logs.push(m), warn: (m) => logs.push(m) },
    reconnectInitialDelayMs: 1,
    reconnectMaxDelayMs: 4,
    socketFactory: (url) => {
      const link = new ScriptedLink(url);
      links.push(link);
      return link;
    },
    ...options,
  });
  const h: Harness = { client, links, registrations: [], unregistered: 0, refusals: [], data: [], logs };
  client.onRegistered = (r) => h.registrations.push(r);
  client.onUnregistered = () => h.unregistered++;
  client.onRefused = (reason, _detail, final) => h.refusals.push({ reason, final });
  client.onData = (high, low, payload) => h.data.push({ source: (BigInt(high) << 32n) | BigInt(low), payload: payload.slice() });
  harnesses.push(h);
  return h;
}

async function started(h: Harness): Promise<ScriptedLink> {
  const index = h.links.length;
  h.client.start();
  await waitFor('a REGISTER on a new link', () => h.links.length > index && h.links[index].sent.length > 0);
  return h.links[index];
}

function answerRegistered(link: ScriptedLink, sessionId: bigint, keepaliveMs = 10_000): void {
  link.deliver(encodeRegistered({ nonce: link.lastRegisterNonce(), relayId, sessionId, secret, keepaliveMs, endpoints: ['udp://127.0.0.1:7777'] }));
}

async function registered(h: Harness, sessionId = 5n, keepaliveMs = 10_000): Promise<ScriptedLink> {
  const link = await started(h);
  answerRegistered(link, sessionId, keepaliveMs);
  expect(h.client.registration?.sessionId).to.equal(sessionId);
  return link;
}

describe('RelayClient (against a scripted relay end)', () => {
  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((h) => h.client.dispose()));
  });

  it('throws clear errors for a bad url, token, conditioner or delay', () => {
    expect(() => new RelayClient({ url: 'http://127.0.0.1:1' })).to.throw('udp://, ws:// and wss://');
    expect(() => new RelayClient({ url: 'udp://127.0.0.1' })).to.throw('needs a port');
    expect(() => new RelayClient({ url: 'ws://127.0.0.1:1', token: 'x'.repeat(1025) })).to.throw('1024');
    expect(() => new RelayClient({ url: 'ws://127.0.0.1:1', conditioner: { lossRate: 2 } })).to.throw('lossRate');
    expect(() => new RelayClient({ url: 'ws://127.0.0.1:1', reconnectInitialDelayMs: -1 })).to.throw('reconnectInitialDelayMs');
  });

  it('pads REGISTER to 256 bytes over UDP, not over WebSocket, and carries the token', async () => {
    const udp = await started(harness({ token: 'tok' }));
    expect(udp.sent[0].length).to.equal(MIN_UDP_REGISTER_BYTES);
    expect(udp.decodedSent()[0]).to.include({ kind: 'register', token: 'tok' });
    const ws = await started(harness({ url: 'ws://127.0.0.1:7777' }));
    expect(ws.sent[0].length).to.equal(11);
  });

  it('retries REGISTER with the same nonce until the relay answers, then reports the registration', async () => {
    const h = harness();
    const link = await started(h);
    await waitFor('three REGISTER attempts', () => link.sent.length >= 3);
    const nonces = new Set(link.decodedSent().map((d) => (d.kind === 'register' ? d.nonce.join() : '')));
    expect(nonces.size).to.equal(1);
    answerRegistered(link, 77n);
    expect(h.registrations).to.deep.equal([{ relayId, sessionId: 77n, endpoints: ['udp://127.0.0.1:7777'] }]);
    expect(h.client.stats().registrations).to.equal(1);
  });

  it('ignores a REGISTERED for another attempt and counts junk as dropped', async () => {
    const h = harness();
    const link = await started(h);
    link.deliver(encodeRegistered({ nonce: new Uint8Array(8), relayId, sessionId: 1n, secret, keepaliveMs: 100, endpoints: ['udp://x:1'] }));
    link.deliver(Uint8Array.of(0x99, 1, 2));
    link.deliver(encodeKeepaliveAck(1n));
    expect(h.client.registration).to.equal(null);
    expect(h.client.stats().dropped).to.equal(3);
  });

  it('stops for good on a final refusal, saying so once', async () => {
    const h = harness();
    const link = await started(h);
    const nonce = link.lastRegisterNonce();
    const reference = new DataView(nonce.buffer, nonce.byteOffset).getBigUint64(0);
    link.deliver(encodeRefused(reference, RefusalReason.UnsupportedVersion, 'v1 only'));
    expect(h.refusals).to.deep.equal([{ reason: 7, final: true }]);
    expect(h.client.refusal).to.deep.equal({ reason: 7, detail: 'v1 only' });
    expect(link.closed).to.equal(true);
    expect(h.logs.filter((line) => line.includes('refused'))).to.have.length(1);
    h.client.start();
    expect(h.links).to.have.length(1);
  });

  it('keeps retrying with backoff on a non-final refusal (relay full) and registers later', async () => {
    const h = harness();
    const link = await started(h);
    const nonce = link.lastRegisterNonce();
    const reference = new DataView(nonce.buffer, nonce.byteOffset).getBigUint64(0);
    link.deliver(encodeRefused(reference, RefusalReason.RelayFull, 'full'));
    expect(h.refusals).to.deep.equal([{ reason: 4, final: false }]);
    const before = link.sent.length;
    await waitFor('another REGISTER after the refusal', () => link.sent.length > before);
    answerRegistered(link, 9n);
    expect(h.registrations).to.have.length(1);
    expect(h.client.refusal).to.equal(null);
  });

  it('sends KEEPALIVE every keepaliveMs and, unanswered, reconnects and registers a new session', async () => {
    const h = harness();
    const first = await registered(h, 5n, 5);
    await waitFor('a KEEPALIVE', () => first.kinds().includes('keepalive'));
    const keepalive = first.decodedSent().find((d) => d.kind === 'keepalive');
    expect(keepalive).to.deep.include({ sessionId: 5n, secret });
    await waitFor('the client to give up on the silent relay', () => h.unregistered === 1);
    expect(h.client.registration).to.equal(null);
    expect(first.closed).to.equal(true);
    await waitFor('a REGISTER on a new link', () => h.links.length === 2 && h.links[1].sent.length > 0);
    answerRegistered(h.links[1], 6n);
    expect(h.registrations.map((r) => r.sessionId)).to.deep.equal([5n, 6n]);
  });

  it('counts the relay lost on the 4th keepalive tick with nothing received (PROTOCOL.md §3.11): 3 KEEPALIVEs go unanswered first', async () => {
    const h = harness();
    const first = await registered(h, 5n, 5);
    let keepalivesAtLoss = -1;
    h.client.onUnregistered = () => {
      keepalivesAtLoss = first.kinds().filter((k) => k === 'keepalive').length;
      h.unregistered++;
    };
    await waitFor('the client to give up on the silent relay', () => h.unregistered === 1);
    expect(keepalivesAtLoss).to.equal(3);
  });

  it('survives an event-loop stall longer than the loss timeout: answers queued behind it still count', async () => {
    const h = harness();
    const link = await registered(h, 5n, 20);
    const send = link.send.bind(link);
    let keepalives = 0;
    // The relay answers every KEEPALIVE, but the answer can only be read once the loop turns.
    link.send = (datagram) => {
      send(datagram);
      if (datagram[0] === 0x02) {
        keepalives++;
        setImmediate(() => link.deliver(encodeKeepaliveAck(5n)));
      }
    };
    await waitFor('a first answered KEEPALIVE', () => keepalives >= 1);
    const stallUntil = performance.now() + 20 * 10; // ten keepalive intervals of a blocked loop
    while (performance.now() < stallUntil) {
      // a long frame: the timer is due many times over when the loop turns again
    }
    const after = keepalives;
    await waitFor('five more answered KEEPALIVEs', () => keepalives >= after + 5);
    expect(h.unregistered).to.equal(0);
    expect(h.registrations.map((r) => r.sessionId)).to.deep.equal([5n]);
  });

  it('counts relay DATA as a sign of life when KEEPALIVE answers are lost', async () => {
    const h = harness();
    const link = await registered(h, 5n, 10);
    let delivered = 0;
    await waitFor('20 keepalive intervals of DATA only', () => {
      link.deliver(encodeDelivery(9n, Uint8Array.of(1, 2, 3)));
      delivered++;
      return delivered >= 20 && link.kinds().filter((k) => k === 'keepalive').length >= 20;
    }, { intervalMs: 5 });
    expect(h.unregistered).to.equal(0);
  });

  it('registers again at once when the relay says it does not know the session (REFUSED 6)', async () => {
    const h = harness();
    const link = await registered(h, 5n, 5);
    await waitFor('a KEEPALIVE', () => link.kinds().includes('keepalive'));
    link.deliver(encodeKeepaliveAck(5n));
    link.deliver(encodeRefused(5n, RefusalReason.UnknownSession, 'restarted'));
    expect(h.unregistered).to.equal(1);
    await waitFor('a REGISTER on a new link', () => h.links.length === 2 && h.links[1].sent.length > 0);
    answerRegistered(h.links[1], 8n);
    expect(h.registrations.map((r) => r.sessionId)).to.deep.equal([5n, 8n]);
  });

  it('reconnects when the link closes under it (a WebSocket dropped)', async () => {
    const h = harness({ url: 'ws://127.0.0.1:7777' });
    const link = await registered(h, 5n);
    link.drop();
    expect(h.unregistered).to.equal(1);
    await waitFor('a REGISTER on a new link', () => h.links.length === 2 && h.links[1].sent.length > 0);
    answerRegistered(h.links[1], 6n);
    expect(h.registrations).to.have.length(2);
  });

  it('sends DATA only when registered and valid, and hands received DATA over', async () => {
    const h = harness();
    expect(h.client.send(5n, Uint8Array.of(1))).to.equal(false);
    const link = await registered(h, 5n);
    const payload = Uint8Array.of(1, 2, 3);
    expect(h.client.send(42n, payload)).to.equal(true);
    payload[0] = 99;
    expect(link.decodedSent().pop()).to.deep.equal({ kind: 'data', destination: 42n, payload: Uint8Array.of(1, 2, 3) });
    expect(h.client.send(0n, payload)).to.equal(false);
    expect(h.client.send(42n, new Uint8Array(0))).to.equal(false);
    expect(h.client.send(42n, new Uint8Array(1492))).to.equal(false);
    expect(h.client.send(42n, new Uint8Array(1491))).to.equal(true);
    link.deliver(encodeDelivery(1234n, Uint8Array.of(4, 5)));
    expect(h.data).to.deep.equal([{ source: 1234n, payload: Uint8Array.of(4, 5) }]);
  });

  it('sendInPlace writes the DATA header into the room before the payload: the same bytes as send()', async () => {
    const h = harness();
    const destination = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 42);
    expect(h.client.sendInPlace(destination, new Uint8Array(12))).to.equal(false);
    const link = await registered(h, 5n);
    const datagram = new Uint8Array(9 + 3);
    datagram.set([1, 2, 3], 9);
    expect(h.client.sendInPlace(destination, datagram)).to.equal(true);
    expect(link.sent[link.sent.length - 1]).to.deep.equal(datagram);
    expect(h.client.send(42n, Uint8Array.of(1, 2, 3))).to.equal(true);
    expect(link.sent[link.sent.length - 1]).to.deep.equal(datagram);
    expect(h.client.sendInPlace(destination, new Uint8Array(9))).to.equal(false);
    expect(h.client.sendInPlace(destination, new Uint8Array(1501))).to.equal(false);
    expect(h.client.sendInPlace(Uint8Array.of(1, 2), new Uint8Array(12))).to.equal(false);
  });

  it('a batch holds sendInPlace() datagrams until endBatch(), then sends them back to back in order', async () => {
    const h = harness();
    const destination = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 42);
    const link = await registered(h, 5n);
    const before = link.sent.length;
    h.client.beginBatch();
    const datagrams = [1, 2, 3].map((n) => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, n));
    for (const datagram of datagrams) expect(h.client.sendInPlace(destination, datagram)).to.equal(true);
    expect(link.sent.length, 'held while the batch is open').to.equal(before);
    h.client.endBatch();
    expect(link.sent.slice(before)).to.deep.equal(datagrams);
    h.client.endBatch();
    expect(link.sent.length, 'a second endBatch() sends nothing').to.equal(before + 3);
    expect(h.client.sendInPlace(destination, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 4))).to.equal(true);
    expect(link.sent.length, 'no batch: at once').to.equal(before + 4);
  });

  it('hands received DATA over with the source id as two u32 (above 2^53 too) and the payload as a view of the datagram', async () => {
    const h = harness();
    let got: { high: number; low: number; payload: Uint8Array } | null = null;
    const link = await registered(h, 5n);
    h.client.onData = (high, low, payload) => {
      got = { high, low, payload };
    };
    const datagram = encodeDelivery(0xfedc_ba98_7654_3210n, Uint8Array.of(4, 5));
    link.deliver(datagram);
    expect(got).to.not.equal(null);
    const { high, low, payload } = got as unknown as { high: number; low: number; payload: Uint8Array };
    expect([high, low]).to.deep.equal([0xfedc_ba98, 0x7654_3210]);
    expect(payload).to.deep.equal(Uint8Array.of(4, 5));
    expect(payload.buffer).to.equal(datagram.buffer);
  });

  it('leaves on dispose, closes the link, is idempotent and does not reconnect', async () => {
    const h = harness();
    const link = await registered(h, 5n);
    const disposing = h.client.dispose();
    expect(h.client.dispose()).to.equal(disposing);
    await disposing;
    expect(link.decodedSent().pop()).to.deep.equal({ kind: 'leave', sessionId: 5n, secret });
    expect(link.closed).to.equal(true);
    expect(h.client.registration).to.equal(null);
    expect(h.client.send(1n, Uint8Array.of(1))).to.equal(false);
    h.client.start();
    expect(h.links).to.have.length(1);
  });

  it('impairs DATA with the conditioner but never the control datagrams', async () => {
    const h = harness({ conditioner: { lossRate: 1, seed: 1 } });
    const link = await registered(h, 5n);
    expect(h.client.send(42n, Uint8Array.of(1))).to.equal(true);
    const notRegister = (): string[] => link.kinds().filter((kind) => kind !== 'register');
    expect(notRegister()).to.deep.equal([]);
    await h.client.dispose();
    expect(notRegister()).to.deep.equal(['leave']);
  });
});

describe('RelayClient disposed from inside its own callback (a manager moving to its next relay)', () => {
  /** Timers kept in a list and run by hand: what is still armed after dispose() is visible. */
  function manualTimers() {
    let next = 1;
    const armed = new Map<number, () => void>();
    return {
      armed,
      setTimeout: (callback: () => void): unknown => {
        armed.set(next, callback);
        return next++;
      },
      clearTimeout: (handle: unknown): void => void armed.delete(handle as number),
      runAll(): void {
        for (const [handle, callback] of [...armed]) {
          armed.delete(handle);
          callback();
        }
      },
    };
  }

  it('a link that cannot even be made: disposed on unreachable, it arms no timer and opens nothing more', () => {
    const timers = manualTimers();
    let made = 0;
    const client = new RelayClient({ url: 'udp://127.0.0.1:9', timers, logger: { info: () => undefined, warn: () => undefined }, socketFactory: () => {
      made++;
      throw new Error('no network');
    } });
    client.onStateChange = (state) => {
      if (state === 'unreachable') void client.dispose();
    };
    client.start();
    // Stops at the transition: a timer armed after it (a stray retry) would still be there.
    for (let i = 0; i < 10 && client.linkState !== 'unreachable' && timers.armed.size > 0; i++) timers.runAll();
    expect(client.linkState).to.equal('unreachable');
    expect(made, 'three attempts, then nothing').to.equal(3);
    expect(timers.armed.size, 'timers left armed').to.equal(0);
  });

  it('REGISTERs with no answer: disposed on unreachable, no retry is armed and the link is closed', async () => {
    const timers = manualTimers();
    const links: ScriptedLink[] = [];
    const client = new RelayClient({ url: 'udp://127.0.0.1:9', timers, logger: { info: () => undefined, warn: () => undefined }, socketFactory: (url) => {
      const link = new ScriptedLink(url);
      links.push(link);
      return link;
    } });
    client.onStateChange = (state) => {
      if (state === 'unreachable') void client.dispose();
    };
    client.start();
    await waitFor('the link to open and REGISTER', () => links[0]?.sent.length === 1);
    // Stops at the transition: a timer armed after it (a stray retry) would still be there.
    for (let i = 0; i < 10 && client.linkState !== 'unreachable' && timers.armed.size > 0; i++) timers.runAll();
    expect(client.linkState).to.equal('unreachable');
    expect(timers.armed.size, 'timers left armed').to.equal(0);
    expect(links.map((l) => l.closed)).to.deep.equal([true]);
  });
});
