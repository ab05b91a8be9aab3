import { expect } from 'chai';
import { startRelay, type RelayServer } from '../../server';
import { mulberry32 } from '../../plugin/net/transport/prng';
import { MIN_UDP_REGISTER_BYTES, RefusalReason, encodeData, encodeRegister, sessionIdFromBytes } from '../../plugin/net/wire/relay-codec';
import { waitFor } from '../helpers/wait';
import { RawUdpClient, RawWsClient, payloadFor, quietLogger, registerRaw, registeredClient, startRecordedClient, testNonce } from './relay-test-helpers';

describe('relay limits (real relay on 127.0.0.1)', () => {
  const closers: (() => Promise<void>)[] = [];

  afterEach(async () => {
    // Clients before relays.
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function relayWith(options: Parameters<typeof startRelay>[0]): Promise<RelayServer> {
    const relay = await startRelay({ port: 0, logger: quietLogger, ...options });
    closers.push(() => relay.close());
    return relay;
  }

  async function udp(relay: RelayServer): Promise<RawUdpClient> {
    const client = await RawUdpClient.open(relay.port);
    closers.push(() => client.close());
    return client;
  }

  it('refuses registration past maxSessions with reason 4; a RelayClient retries until there is room', async () => {
    const relay = await relayWith({ maxSessions: 2 });
    const first = await udp(relay);
    await registerRaw(first);
    const second = await registeredClient({ url: relay.wsUrl, logger: quietLogger });
    closers.push(() => second.client.dispose());
    const third = await udp(relay);
    const nonce = testNonce();
    third.send(encodeRegister({ nonce, padToBytes: MIN_UDP_REGISTER_BYTES }));
    const answer = await third.nextDecoded('REFUSED relay full');
    expect(answer.kind === 'refused' && [answer.reason, answer.reference]).to.deep.equal([RefusalReason.RelayFull, sessionIdFromBytes(nonce)]);

    const waiting = startRecordedClient({ url: relay.udpUrl, reconnectInitialDelayMs: 5, reconnectMaxDelayMs: 20 });
    closers.push(() => waiting.client.dispose());
    await waitFor('the RelayClient to be refused as the relay is full', () => waiting.refusals.length > 0);
    expect(waiting.refusals[0]).to.include({ reason: RefusalReason.RelayFull, final: false });
    await second.client.dispose();
    await waitFor('the waiting RelayClient to register once there is room', () => waiting.registrations.length === 1);
    expect(relay.stats().drops.relayFull).to.be.at.least(2);
    expect(relay.stats().sessions).to.equal(2);
  });

  it('drops oversize datagrams over UDP and WebSocket, and counts them', async () => {
    const relay = await relayWith({});
    const a = await udp(relay);
    const b = await udp(relay);
    const ws = await RawWsClient.open(relay.wsUrl);
    closers.push(() => ws.close());
    await registerRaw(a);
    const registeredB = await registerRaw(b);
    await registerRaw(ws);
    a.send(encodeData(registeredB.sessionId, payloadFor(1, 1500 - 9 + 1)));
    ws.send(encodeData(registeredB.sessionId, payloadFor(2, 1500 - 9 + 1)));
    await waitFor('both oversize datagrams to be counted', () => relay.stats().drops.oversize === 2);
    // The biggest allowed datagram still goes through, and it is what B gets next.
    a.send(encodeData(registeredB.sessionId, payloadFor(3, 1500 - 9)));
    const delivered = await b.nextDecoded('the 1500-byte DATA');
    expect(delivered.kind === 'delivery' && delivered.payload.length).to.equal(1491);
    expect(relay.stats().forwarded).to.equal(1);
    expect(ws.isOpen).to.equal(true);
  });

  it('drops DATA over the per-session datagram rate and counts it', async () => {
    const relay = await relayWith({ sessionDatagramsPerSecond: 5 });
    const a = await udp(relay);
    const b = await udp(relay);
    await registerRaw(a);
    const registeredB = await registerRaw(b);
    const sent = 40;
    for (let i = 0; i < sent; i++) a.send(encodeData(registeredB.sessionId, payloadFor(i, 10)));
    await waitFor('every DATA to be forwarded or dropped', () => relay.stats().forwarded + relay.stats().drops.rateLimited === sent);
    const stats = relay.stats();
    expect(stats.drops.rateLimited).to.be.at.least(1);
    expect(stats.forwarded).to.be.at.least(5);
    await waitFor('B to get every forwarded DATA', () => b.received.length === 1 + stats.forwarded);
  });

  it('drops DATA over the per-session byte rate and counts it', async () => {
    const relay = await relayWith({ sessionBytesPerSecond: 3000 });
    const a = await RawWsClient.open(relay.wsUrl);
    closers.push(() => a.close());
    const b = await udp(relay);
    await registerRaw(a);
    const registeredB = await registerRaw(b);
    for (let i = 0; i < 10; i++) a.send(encodeData(registeredB.sessionId, payloadFor(i, 1000)));
    await waitFor('every DATA to be forwarded or dropped', () => relay.stats().forwarded + relay.stats().drops.rateLimited === 10);
    expect(relay.stats().drops.rateLimited).to.be.at.least(5);
  });

  it('gives each destination a bounded inbound budget shared fairly: a flooding source cannot starve another source to the same victim', async () => {
    // 100 kB/s for the victim, all sources together (each datagram counts 64 bytes more than its length).
    const relay = await relayWith({ destinationBytesPerSecond: 100_000, maxWebSocketBufferedBytes: 16 << 20 });
    const victim = await RawWsClient.open(relay.wsUrl);
    closers.push(() => victim.close());
    const flooder = await udp(relay);
    const honest = await udp(relay);
    const victimId = (await registerRaw(victim)).sessionId;
    await registerRaw(flooder);
    const honestId = (await registerRaw(honest)).sessionId;
    const chunks = 100;
    const floodPerChunk = 20;
    // The flooder offers 2.1 MB (about 20 s of the budget); the honest source 10 kB, well inside its half.
    for (let chunk = 0; chunk < chunks; chunk++) {
      for (let i = 0; i < floodPerChunk; i++) flooder.send(encodeData(victimId, payloadFor(chunk * floodPerChunk + i, 1000)));
      honest.send(encodeData(victimId, payloadFor(chunk, 40)));
      // A turn of the event loop per chunk, so the relay reads as the test sends (no kernel buffer overflows).
      await new Promise((resolve) => setImmediate(resolve));
    }
    const total = chunks * (floodPerChunk + 1);
    await waitFor('every DATA to be forwarded or dropped', () => relay.stats().forwarded + relay.stats().drops.inboundLimited === total);
    const stats = relay.stats();
    await waitFor('the victim to get every forwarded DATA', () => victim.received.length === 1 + stats.forwarded);
    const fromHonest = victim.received.filter((d) => d.length === 9 + 40 && sessionIdFromBytes(d, 1) === honestId);
    expect(fromHonest, 'DATA of the honest source reaching the victim').to.have.length(chunks);
    expect(stats.drops.inboundLimited, 'flood DATA dropped at the victim\'s budget').to.be.at.least((chunks * floodPerChunk) / 2);
    expect(stats.drops.rateLimited).to.equal(0);
  });

  it('drops a UDP REGISTER shorter than 256 bytes without answering', async () => {
    const relay = await relayWith({});
    const client = await udp(relay);
    client.send(encodeRegister({ nonce: testNonce(), padToBytes: MIN_UDP_REGISTER_BYTES - 1 }));
    await waitFor('the short REGISTER to be counted', () => relay.stats().drops.tooShortRegister === 1);
    const nonce = testNonce();
    client.send(encodeRegister({ nonce, padToBytes: MIN_UDP_REGISTER_BYTES }));
    // The first answer this socket ever gets is for the second, full-size REGISTER.
    const answer = await client.nextDecoded('REGISTERED');
    expect(answer.kind === 'registered' && sessionIdFromBytes(answer.nonce)).to.equal(sessionIdFromBytes(nonce));
    expect(relay.stats().datagramsOut).to.equal(1);
    expect(relay.stats().sessions).to.equal(1);
  });

  it('refuses registrations past the per-IP rate with reason 5', async () => {
    const relay = await relayWith({ registrationBurstPerIp: 2, registrationsPerIpPerSecond: 0.01 });
    await registerRaw(await udp(relay));
    await registerRaw(await udp(relay));
    const third = await udp(relay);
    third.send(encodeRegister({ nonce: testNonce(), padToBytes: MIN_UDP_REGISTER_BYTES }));
    const answer = await third.nextDecoded('REFUSED rate limited');
    expect(answer.kind === 'refused' && answer.reason).to.equal(RefusalReason.RateLimited);
    const client = startRecordedClient({ url: relay.wsUrl });
    closers.push(() => client.client.dispose());
    await waitFor('the RelayClient to be refused', () => client.refusals.length > 0);
    expect(client.refusals[0]).to.include({ reason: RefusalReason.RateLimited, final: false });
    expect(relay.stats().drops.registerRateLimited).to.be.at.least(2);
  });

  it('survives seeded junk on UDP and WebSocket, never sending more than it got, and still forwards', async () => {
    const relay = await relayWith({});
    const junkUdp = await udp(relay);
    const junkWs = await RawWsClient.open(relay.wsUrl);
    closers.push(() => junkWs.close());
    const random = mulberry32(20240601);
    const types = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x81, 0x82, 0x83, 0x84, 0xff];
    const count = 400;
    const batch = 40;
    for (let i = 0; i < count; i++) {
      const length = 1 + Math.floor(random() * (i % 10 === 0 ? 1600 : 300));
      const bytes = new Uint8Array(length);
      for (let j = 0; j < length; j++) bytes[j] = Math.floor(random() * 256);
      bytes[0] = types[Math.floor(random() * types.length)];
      if (i % 2 === 0) junkUdp.send(bytes);
      else junkWs.send(bytes);
      // In batches, so no kernel socket buffer overflows and every datagram is accounted for.
      if ((i + 1) % batch === 0) await waitFor(`the relay to read ${i + 1} junk datagrams`, () => relay.stats().datagramsIn === i + 1);
    }
    junkWs.sendText('not a datagram');
    await waitFor('the relay to read all the junk', () => relay.stats().datagramsIn === count + 1);
    const stats = relay.stats();
    expect(stats.bytesOut).to.be.at.most(stats.bytesIn);
    expect(stats.forwarded).to.equal(0);
    expect(stats.drops.malformed).to.be.at.least(1);
    const a = await registeredClient({ url: relay.udpUrl });
    const b = await registeredClient({ url: relay.wsUrl });
    closers.push(() => a.client.dispose(), () => b.client.dispose());
    a.client.send(b.sessionId, payloadFor(9, 99));
    await waitFor('DATA after the junk', () => b.data.length === 1);
  });
});
