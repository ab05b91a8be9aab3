import { expect } from 'chai';
import { createRelayToken, startRelay, type RelayServer } from '../../server';
import {
  MIN_UDP_REGISTER_BYTES,
  RefusalReason,
  encodeData,
  encodeKeepalive,
  encodeRegister,
  type RelayDatagram,
} from '../../plugin/net/wire/relay-codec';
import { waitFor } from '../helpers/wait';
import { RawUdpClient, RawWsClient, payloadFor, quietLogger, recordingLogger, registerRaw, registeredClient, startRecordedClient, testNonce } from './relay-test-helpers';
import { testRelaySecret } from '../helpers/secrets';

function expectRefused(answer: RelayDatagram, reason: RefusalReason, reference: bigint): void {
  expect(answer.kind).to.equal('refused');
  if (answer.kind !== 'refused') return;
  expect(answer.reason).to.equal(reason);
  expect(answer.reference).to.equal(reference);
}

describe('relay sender authentication (real relay on 127.0.0.1)', () => {
  let relay: RelayServer;
  const closers: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    relay = await startRelay({ port: 0, logger: quietLogger });
  });

  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    await relay.close();
  });

  async function udp(): Promise<RawUdpClient> {
    const client = await RawUdpClient.open(relay.port);
    closers.push(() => client.close());
    return client;
  }

  it('does not forward DATA from a UDP address with no session, and answers at most its size', async () => {
    const [a, b, stranger] = [await udp(), await udp(), await udp()];
    const registeredA = await registerRaw(a);
    const registeredB = await registerRaw(b);
    // 10 bytes: even an empty REFUSED (11 bytes) would be bigger, so no answer at all.
    stranger.send(encodeData(registeredB.sessionId, new Uint8Array([1])));
    await waitFor('the relay to drop the tiny stranger DATA', () => relay.stats().drops.unknownSource === 1);
    expect(relay.stats().refusalsSuppressed).to.equal(1);
    const spoofed = encodeData(registeredB.sessionId, payloadFor(1, 40));
    stranger.send(spoofed);
    const answer = await stranger.nextDecoded('REFUSED for the stranger');
    expectRefused(answer, RefusalReason.UnknownSession, 0n);
    expect(stranger.received[0].length).to.be.at.most(spoofed.length);
    expect(relay.stats().drops.unknownSource).to.equal(2);
    // B got nothing from the stranger: the next thing it gets is A's DATA.
    a.send(encodeData(registeredB.sessionId, payloadFor(2, 30)));
    const delivered = await b.nextDecoded("A's DATA at B");
    expect(delivered.kind === 'delivery' && delivered.source).to.equal(registeredA.sessionId);
    expect(relay.stats().forwarded).to.equal(1);
  });

  it('ignores a KEEPALIVE with a wrong secret: no rebinding, counted as spoofed', async () => {
    const [a, b, attacker] = [await udp(), await udp(), await udp()];
    const registeredA = await registerRaw(a);
    const registeredB = await registerRaw(b);
    const wrongSecret = registeredB.secret.slice();
    wrongSecret[0] ^= 1;
    attacker.send(encodeKeepalive(registeredB.sessionId, wrongSecret));
    await waitFor('the spoofed KEEPALIVE to be counted', () => relay.stats().drops.spoofed === 1);
    a.send(encodeData(registeredB.sessionId, payloadFor(3, 20)));
    const delivered = await b.nextDecoded('DATA at the real B');
    expect(delivered.kind === 'delivery' && delivered.source).to.equal(registeredA.sessionId);
    expect(attacker.received).to.have.length(0);
  });

  it('moves a session to a new UDP address on KEEPALIVE with the right secret (the only rebinding)', async () => {
    const [a, b, bAfterNat] = [await udp(), await udp(), await udp()];
    const registeredA = await registerRaw(a);
    const registeredB = await registerRaw(b);
    bAfterNat.send(encodeKeepalive(registeredB.sessionId, registeredB.secret));
    const ack = await bAfterNat.nextDecoded('KEEPALIVE_ACK at the new address');
    expect(ack.kind === 'keepaliveAck' && ack.sessionId).to.equal(registeredB.sessionId);
    a.send(encodeData(registeredB.sessionId, payloadFor(4, 20)));
    const delivered = await bAfterNat.nextDecoded('DATA at the new address');
    expect(delivered.kind === 'delivery' && delivered.source).to.equal(registeredA.sessionId);
    // The old address is no longer B's: its DATA is unknown-source.
    b.send(encodeData(registeredA.sessionId, payloadFor(5, 20)));
    expectRefused(await b.nextDecoded('REFUSED at the old address'), RefusalReason.UnknownSession, 0n);
    expect(relay.stats().drops.unknownSource).to.equal(1);
    expect(relay.stats().forwarded).to.equal(1);
  });

  it('refuses KEEPALIVE for a WebSocket session over UDP and from another WebSocket', async () => {
    const owner = await RawWsClient.open(relay.wsUrl);
    const other = await RawWsClient.open(relay.wsUrl);
    closers.push(() => owner.close(), () => other.close());
    const registered = await registerRaw(owner);
    const attacker = await udp();
    attacker.send(encodeKeepalive(registered.sessionId, registered.secret));
    other.send(encodeKeepalive(registered.sessionId, registered.secret));
    await waitFor('both transport-mismatched KEEPALIVEs to be counted', () => relay.stats().drops.spoofed === 2);
    expect(relay.stats().wsSessions).to.equal(1);
    owner.send(encodeKeepalive(registered.sessionId, registered.secret));
    const ack = await owner.nextDecoded('KEEPALIVE_ACK over the owning WebSocket');
    expect(ack.kind).to.equal('keepaliveAck');
  });

  it('refuses DATA on a WebSocket that has not registered', async () => {
    const ws = await RawWsClient.open(relay.wsUrl);
    closers.push(() => ws.close());
    ws.send(encodeData(12345n, payloadFor(6, 50)));
    expectRefused(await ws.nextDecoded('REFUSED on the WebSocket'), RefusalReason.UnknownSession, 0n);
    expect(relay.stats().drops.unknownSource).to.equal(1);
  });

  it('answers KEEPALIVE for an unknown session with REFUSED 6 naming it', async () => {
    const client = await udp();
    client.send(encodeKeepalive(0x0123456789abcdefn, new Uint8Array(16)));
    expectRefused(await client.nextDecoded('REFUSED'), RefusalReason.UnknownSession, 0x0123456789abcdefn);
    expect(client.received[0].length).to.be.at.most(25);
    expect(relay.stats().drops.unknownSession).to.equal(1);
  });

  it('refuses another protocol version with reason 7', async () => {
    const client = await udp();
    const nonce = testNonce();
    client.send(encodeRegister({ nonce, version: 2, padToBytes: MIN_UDP_REGISTER_BYTES }));
    expectRefused(await client.nextDecoded('REFUSED'), RefusalReason.UnsupportedVersion, Buffer.from(nonce).readBigUInt64BE(0));
    expect(relay.stats().drops.badVersion).to.equal(1);
  });
});

describe('relay access tokens (real relay on 127.0.0.1)', () => {
  const secret = testRelaySecret('relay-security');
  let relay: RelayServer;
  let log: ReturnType<typeof recordingLogger>;
  const closers: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    log = recordingLogger();
    relay = await startRelay({ port: 0, secret, logger: log });
  });

  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    await relay.close();
  });

  async function expectFinalRefusal(token: string | undefined, reason: RefusalReason): Promise<void> {
    let registersSent = 0;
    for (const url of [relay.udpUrl, relay.wsUrl]) {
      const clientLog = recordingLogger();
      // A 1 ms retry delay: were a final refusal retried, it would show in the counts below.
      const recorded = startRecordedClient({ url, token, logger: clientLog, reconnectInitialDelayMs: 1, reconnectMaxDelayMs: 1 });
      closers.push(() => recorded.client.dispose());
      await waitFor(`refusal over ${url}`, () => recorded.refusals.length > 0);
      expect(recorded.refusals[0]).to.include({ reason, final: true });
      expect(recorded.client.refusal?.reason).to.equal(reason);
      expect(recorded.client.registration).to.equal(null);
      expect(recorded.client.send(1n, new Uint8Array([1]))).to.equal(false);
      const sentAtRefusal = recorded.client.stats().datagramsSent;
      registersSent += sentAtRefusal;
      // Something else completes a whole registration meanwhile; the refused client stayed quiet.
      await registeredClient({ url, token: createRelayToken(secret, { ttlSeconds: 60 }) }).then((ok) => closers.push(() => ok.client.dispose()));
      expect(recorded.refusals).to.have.length(1);
      expect(recorded.client.stats().datagramsSent).to.equal(sentAtRefusal);
      expect(clientLog.lines.filter((line) => line.includes('refused'))).to.have.length(1);
    }
    // Every REGISTER the refused clients sent (a retry may cross the first answer) was refused.
    await waitFor('every REGISTER to be refused', () => relay.stats().drops.tokenRefused === registersSent);
  }

  it('refuses a REGISTER without a token with reason 1', async () => {
    await expectFinalRefusal(undefined, RefusalReason.TokenMissing);
  });

  it('refuses a forged token with reason 2', async () => {
    await expectFinalRefusal(createRelayToken(testRelaySecret('another'), { ttlSeconds: 60 }), RefusalReason.TokenInvalid);
  });

  it('refuses a tampered token with reason 2', async () => {
    const token = createRelayToken(secret, { ttlSeconds: 60, subject: 'alice' });
    const tampered = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
    await expectFinalRefusal(tampered, RefusalReason.TokenInvalid);
  });

  it('refuses an expired token with reason 3', async () => {
    const expired = createRelayToken(secret, { ttlSeconds: 60 }, Math.floor(Date.now() / 1000) - 120);
    await expectFinalRefusal(expired, RefusalReason.TokenExpired);
  });

  it('registers with a valid token over UDP and WebSocket, and does not call itself open', async () => {
    const token = createRelayToken(secret, { ttlSeconds: 60, subject: 'player-1' });
    for (const url of [relay.udpUrl, relay.wsUrl]) {
      const recorded = await registeredClient({ url, token });
      closers.push(() => recorded.client.dispose());
    }
    expect(relay.stats().sessions).to.equal(2);
    expect(log.lines.some((line) => line.includes('OPEN'))).to.equal(false);
  });

  it('logs at startup that a relay without a secret is OPEN', async () => {
    const openLog = recordingLogger();
    const open = await startRelay({ port: 0, logger: openLog });
    closers.push(() => open.close());
    expect(openLog.lines.some((line) => line.includes('OPEN'))).to.equal(true);
    const recorded = await registeredClient({ url: open.udpUrl });
    closers.push(() => recorded.client.dispose());
  });
});
