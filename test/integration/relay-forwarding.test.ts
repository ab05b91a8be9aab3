import { expect } from 'chai';
import { startRelay, type RelayServer } from '../../server';
import { encodeData, encodeLeave, encodeRegister, MIN_UDP_REGISTER_BYTES, decodeRelayDatagram } from '../../plugin/net/wire/relay-codec';
import { waitFor } from '../helpers/wait';
import { RawUdpClient, RawWsClient, payloadFor, quietLogger, registerRaw, registeredClient, testNonce, type RecordedClient } from './relay-test-helpers';

describe('relay forwarding (real relay on 127.0.0.1)', () => {
  let relay: RelayServer;
  const disposers: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    relay = await startRelay({ port: 0, logger: quietLogger });
  });

  afterEach(async () => {
    await Promise.all(disposers.splice(0).map((dispose) => dispose()));
    await relay.close();
  });

  async function client(url: string): Promise<RecordedClient & { sessionId: bigint }> {
    const recorded = await registeredClient({ url });
    disposers.push(() => recorded.client.dispose());
    return recorded;
  }

  async function exchange(a: RecordedClient & { sessionId: bigint }, b: RecordedClient & { sessionId: bigint }): Promise<void> {
    const count = 20;
    for (let i = 0; i < count; i++) {
      expect(a.client.send(b.sessionId, payloadFor(i, 1 + i * 37))).to.equal(true);
      expect(b.client.send(a.sessionId, payloadFor(1000 + i, 1200 - i * 13))).to.equal(true);
    }
    await waitFor('both clients to receive every DATA', () => a.data.length === count && b.data.length === count);
    // UDP on loopback may reorder in theory; compare as sets keyed by content.
    const key = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
    expect(new Set(b.data.map((d) => key(d.payload)))).to.deep.equal(new Set(Array.from({ length: count }, (_, i) => key(payloadFor(i, 1 + i * 37)))));
    expect(new Set(a.data.map((d) => key(d.payload)))).to.deep.equal(new Set(Array.from({ length: count }, (_, i) => key(payloadFor(1000 + i, 1200 - i * 13)))));
    expect(b.data.every((d) => d.source === a.sessionId)).to.equal(true);
    expect(a.data.every((d) => d.source === b.sessionId)).to.equal(true);
  }

  it('forwards DATA both ways between two UDP clients, bytes intact, stamped with the sender', async () => {
    const a = await client(relay.udpUrl);
    const b = await client(relay.udpUrl);
    expect(a.sessionId).to.not.equal(b.sessionId);
    await exchange(a, b);
    expect(relay.stats().udpSessions).to.equal(2);
  });

  it('forwards between a UDP client and a WebSocket client', async () => {
    const a = await client(relay.udpUrl);
    const b = await client(relay.wsUrl);
    await exchange(a, b);
    const stats = relay.stats();
    expect([stats.udpSessions, stats.wsSessions]).to.deep.equal([1, 1]);
  });

  it('forwards between two WebSocket clients', async () => {
    const a = await client(relay.wsUrl);
    const b = await client(relay.wsUrl);
    await exchange(a, b);
    expect(relay.stats().wsSessions).to.equal(2);
  });

  it('hands out both endpoint URLs, its relay id and a 16-byte secret in REGISTERED', async () => {
    const raw = await RawUdpClient.open(relay.port);
    disposers.push(() => raw.close());
    const registered = await registerRaw(raw);
    expect(registered.endpoints).to.deep.equal([relay.udpUrl, relay.wsUrl]);
    expect(relay.udpUrl).to.equal(`udp://127.0.0.1:${relay.port}`);
    expect(relay.wsUrl).to.equal(`ws://127.0.0.1:${relay.port}`);
    expect(Buffer.from(registered.relayId).equals(Buffer.from(relay.relayId))).to.equal(true);
    expect(registered.secret.length).to.equal(16);
    expect(registered.sessionId).to.not.equal(0n);
    expect(registered.keepaliveMs).to.equal(1000);
  });

  it('answers a repeated REGISTER (same nonce) with the same session', async () => {
    const raw = await RawUdpClient.open(relay.port);
    disposers.push(() => raw.close());
    const register = encodeRegister({ nonce: testNonce(), padToBytes: MIN_UDP_REGISTER_BYTES });
    raw.send(register);
    raw.send(register);
    const first = await raw.nextDecoded('first REGISTERED');
    const second = await raw.nextDecoded('second REGISTERED');
    expect(first).to.deep.equal(second);
    expect(relay.stats().sessions).to.equal(1);
    expect(relay.stats().registrations).to.equal(1);
  });

  it('counts exactly the datagrams and bytes it received, sent and forwarded', async () => {
    const a = await RawUdpClient.open(relay.port);
    const b = await RawUdpClient.open(relay.port);
    disposers.push(() => a.close(), () => b.close());
    const registeredA = await registerRaw(a);
    const registeredB = await registerRaw(b);
    let payloadBytes = 0;
    for (let i = 0; i < 15; i++) {
      const payload = payloadFor(i, 1 + i * 50);
      payloadBytes += payload.length;
      (i % 3 === 0 ? b : a).send(encodeData(i % 3 === 0 ? registeredA.sessionId : registeredB.sessionId, payload));
    }
    await waitFor('15 forwarded DATA to arrive', () => a.received.length + b.received.length === 2 + 15);
    const registeredBytes = a.received[0].length + b.received[0].length;
    const stats = relay.stats();
    expect(stats.forwarded).to.equal(15);
    expect(stats.forwardedBytes).to.equal(payloadBytes);
    expect(stats.datagramsIn).to.equal(2 + 15);
    expect(stats.bytesIn).to.equal(2 * MIN_UDP_REGISTER_BYTES + payloadBytes + 15 * 9);
    expect(stats.datagramsOut).to.equal(2 + 15);
    expect(stats.bytesOut).to.equal(registeredBytes + payloadBytes + 15 * 9);
    expect(stats.registrations).to.equal(2);
    expect(Object.values(stats.drops).reduce((sum, n) => sum + n, 0)).to.equal(0);
    // What arrived is relay DATA 0x83 stamped with the sender's session.
    const delivered = decodeRelayDatagram(b.received[1]);
    expect(delivered.ok && delivered.value.kind === 'delivery' && delivered.value.source).to.equal(registeredA.sessionId);
  });

  it('ends a session on LEAVE (RelayClient.dispose sends it)', async () => {
    const a = await registeredClient({ url: relay.udpUrl });
    expect(relay.stats().sessions).to.equal(1);
    await a.client.dispose();
    await waitFor('the relay to end the session', () => relay.stats().sessions === 0);
    expect(relay.stats().left).to.equal(1);
  });

  it('ignores a LEAVE with a wrong secret', async () => {
    const raw = await RawUdpClient.open(relay.port);
    disposers.push(() => raw.close());
    const registered = await registerRaw(raw);
    raw.send(encodeLeave(registered.sessionId, new Uint8Array(16)));
    await waitFor('the relay to count the spoofed LEAVE', () => relay.stats().drops.spoofed === 1);
    expect(relay.stats().sessions).to.equal(1);
  });

  it('ends a WebSocket session when its connection closes', async () => {
    const raw = await RawWsClient.open(relay.wsUrl);
    await registerRaw(raw);
    expect(relay.stats().wsSessions).to.equal(1);
    await raw.close();
    await waitFor('the relay to end the WebSocket session', () => relay.stats().sessions === 0);
    expect(relay.stats().closed).to.equal(1);
  });

  it('expires idle sessions', async () => {
    const idleRelay = await startRelay({ port: 0, logger: quietLogger, sessionIdleMs: 100, keepaliveMs: 20 });
    disposers.push(() => idleRelay.close());
    const raw = await RawUdpClient.open(idleRelay.port);
    disposers.push(() => raw.close());
    await registerRaw(raw);
    await waitFor('the silent session to expire', () => idleRelay.stats().expired === 1, { timeoutMs: 3000 });
    expect(idleRelay.stats().sessions).to.equal(0);
  });

  it('keeps a RelayClient session alive with KEEPALIVE past the idle time', async () => {
    const shortRelay = await startRelay({ port: 0, logger: quietLogger, sessionIdleMs: 150, keepaliveMs: 20 });
    disposers.push(() => shortRelay.close());
    for (const url of [shortRelay.udpUrl, shortRelay.wsUrl]) {
      const recorded = await registeredClient({ url });
      disposers.push(() => recorded.client.dispose());
      // 20 KEEPALIVE_ACKs take ~400 ms, well past the 150 ms idle time.
      await waitFor(`20 keepalive answers over ${url}`, () => recorded.client.stats().datagramsReceived >= 21, { timeoutMs: 5000 });
      expect(recorded.registrations.length).to.equal(1);
      expect(recorded.unregistered).to.equal(0);
    }
    expect(shortRelay.stats().expired).to.equal(0);
    expect(shortRelay.stats().sessions).to.equal(2);
  });
});
