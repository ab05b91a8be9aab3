import { strict as assert } from 'assert';
import { expect } from 'chai';
import * as dgram from 'dgram';
import { startRelay, type RelayServer } from '../../server';
import type { FleetRelayStats } from '../../server/fleet/attach';
import { encodeFleetData, fleetLinkKey } from '../../server/fleet/fleet-datagram';
import { incarnationOf } from '../../server/fleet/fleet-link';
import { bytesOf, connectPair, createTestPeer, disposeAll, isConnected, pumpUntil, textOf, waitForRoutes, type TestPeer } from '../helpers/managers';
import { requireRedisServer, startTestRedis, type TestRedis } from '../helpers/redis-server';
import { testRelaySecret } from '../helpers/secrets';
import { waitFor } from '../helpers/wait';
import { mulberry32 } from '../../plugin/net/transport/prng';

const quiet = { info: (): void => undefined, warn: (): void => undefined };

function fleetStats(relay: RelayServer): FleetRelayStats['fleet'] {
  return (relay.stats() as FleetRelayStats).fleet;
}

function sessionIdOf(route: string): bigint {
  const bytes = Buffer.from(route, 'base64');
  return bytes.readBigUInt64BE(1 + 8);
}

async function sendTo(port: number, datagrams: Uint8Array[]): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  for (const datagram of datagrams) await new Promise<void>((resolve, reject) => socket.send(datagram, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

describe('relay fleet: relay-to-relay forwarding on a real redis-server', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let relays: RelayServer[] = [];
  let peers: TestPeer[] = [];
  const secret = testRelaySecret('fleet forwarding');

  before(async function () {
    requireRedisServer(this);
    redis = await startTestRedis();
  });
  after(async () => redis?.dispose());
  afterEach(async () => {
    await disposeAll(peers);
    peers = [];
    for (const relay of relays) await relay.close();
    relays = [];
  });

  async function twoRelays(): Promise<[RelayServer, RelayServer]> {
    const fleet = { redisUrl: redis.url, secret };
    const a = await startRelay({ host: '127.0.0.1', port: 0, logger: quiet, webrtc: false, fleet });
    relays.push(a);
    const b = await startRelay({ host: '127.0.0.1', port: 0, logger: quiet, webrtc: false, fleet });
    relays.push(b);
    // The directory lists members each heartbeat (1.5 s): wait until each link knows the other.
    await waitFor('both fleet links to know the other relay', () => fleetStats(a).peers === 1 && fleetStats(b).peers === 1, { timeoutMs: 10_000 });
    return [a, b];
  }

  /** Alice on relay `a` (UDP), bob on relay `b`, connected with one reliable channel. */
  async function connectedAcross(a: RelayServer, b: RelayServer, channel: number, bobOverWebSocket = false): Promise<{ alice: TestPeer; bob: TestPeer }> {
    const alice = createTestPeer({ relay: a.udpUrl });
    const bob = createTestPeer(bobOverWebSocket ? { relay: b.wsUrl, transport: 'websocket' } : { relay: b.udpUrl });
    peers.push(alice, bob);
    await waitForRoutes(peers);
    connectPair(alice, bob, [{ id: channel, reliable: true }]);
    await pumpUntil(peers, 'alice and bob to connect across two relays', () => isConnected(alice, bob.id) && isConnected(bob, alice.id));
    return { alice, bob };
  }

  it('a manager on relay A (UDP) and one on relay B (WebSocket) connect from routes alone and exchange reliable messages both ways', async () => {
    const [a, b] = await twoRelays();
    assert.notEqual(a.fleet!.relayNumber, b.fleet!.relayNumber);
    const { alice, bob } = await connectedAcross(a, b, 0, true);
    // The relay number is in the top 12 bits of each session id.
    assert.equal(Number(sessionIdOf(alice.net.getRoute()!) >> 52n), a.fleet!.relayNumber);
    assert.equal(Number(sessionIdOf(bob.net.getRoute()!) >> 52n), b.fleet!.relayNumber);
    for (let i = 0; i < 50; i++) {
      assert.equal(alice.net.sendMessage(bob.id, 0, bytesOf(`a${i}`)), 0);
      assert.equal(bob.net.sendMessage(alice.id, 0, bytesOf(`b${i}`)), 0);
    }
    await pumpUntil(peers, 'all 100 messages', () => alice.messages.length === 50 && bob.messages.length === 50);
    assert.deepEqual(bob.messages.map((m) => textOf(m.data)), Array.from({ length: 50 }, (_, i) => `a${i}`));
    assert.deepEqual(alice.messages.map((m) => textOf(m.data)), Array.from({ length: 50 }, (_, i) => `b${i}`));
    assert.ok(a.stats().forwardedToFleet > 0 && b.stats().fromFleet > 0, 'traffic crossed the fleet link');
    assert.ok(b.stats().forwardedToFleet > 0 && a.stats().fromFleet > 0, 'both ways');
    // The relays saw only their own client's address.
    assert.deepEqual(a.remoteAddresses(), ['127.0.0.1']);
    const drops = fleetStats(a).drops;
    assert.deepEqual(Object.values(drops), [0, 0, 0, 0, 0], `no fleet drops: ${JSON.stringify(drops)}`);
  });

  it('drops and counts hostile datagrams at the relay-to-relay port (fuzzed, wrong secret, stale incarnation, replayed) and forwards none of them', async () => {
    const [a, b] = await twoRelays();
    const bob = createTestPeer({ relay: b.udpUrl });
    peers.push(bob);
    await waitForRoutes(peers);
    const bobSession = sessionIdOf(bob.net.getRoute()!);
    const data = Buffer.alloc(9 + 40, 7);
    data[0] = 0x03;
    data.writeBigUInt64BE(bobSession, 1);
    const source = Buffer.alloc(8);
    source.writeBigUInt64BE((BigInt(a.fleet!.relayNumber!) << 52n) | 12345n);
    const sender = { relayNumber: a.fleet!.relayNumber!, incarnation: incarnationOf(a.fleet!.id) };
    const key = fleetLinkKey(secret);
    const linkPort = b.fleet!.linkPort;
    const before = b.stats();

    // Fuzzed: seeded random bytes, some with a FLEET_DATA type and version so they reach the tag check.
    const random = mulberry32(0xf1ee7);
    const fuzz: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const bytes = new Uint8Array(1 + Math.floor(random() * 200));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      if (i % 2 === 0 && bytes.length > 2) {
        bytes[0] = 0x20;
        bytes[1] = 1;
      }
      fuzz.push(bytes);
    }
    await sendTo(linkPort, fuzz);
    // Wrong secret, otherwise well formed.
    const forged = encodeFleetData(fleetLinkKey(testRelaySecret('not the fleet')), sender, 1_000_000, data, source);
    // Right secret and number, but an incarnation the directory does not list (a restarted or invented relay).
    const stale = encodeFleetData(key, { ...sender, incarnation: Buffer.alloc(8, 0xee) }, 1_000_001, data, source);
    // A valid one (accepted once), then the same bytes replayed twice.
    const valid = encodeFleetData(key, sender, 2_000_000, data, source);
    await sendTo(linkPort, [forged, stale, valid, Buffer.from(valid), Buffer.from(valid)]);

    await waitFor('relay B to count all 205 datagrams', () => fleetStats(b).received === 205, { timeoutMs: 5_000 });
    const link = fleetStats(b);
    assert.equal(link.accepted, 1, 'only the one valid datagram');
    assert.equal(link.drops.replayed, 2);
    assert.ok(link.drops.badTag >= 1, 'the wrong-secret datagram');
    assert.ok(link.drops.unknownRelay >= 1, 'the stale incarnation');
    assert.equal(link.drops.malformed + link.drops.unknownRelay + link.drops.badTag, 202);
    const after = b.stats();
    assert.equal(after.fromFleet - before.fromFleet, 1);
    // The one valid datagram reached bob's session (it is not a peer packet bob knows: his manager drops it).
    assert.equal(after.forwarded - before.forwarded, 1);
  });

  it('Redis stopped and restarted mid-game: peers on two relays lose no reliable message, and each relay keeps its number', async () => {
    const [a, b] = await twoRelays();
    const numbers = [a.fleet!.relayNumber, b.fleet!.relayNumber];
    const { alice, bob } = await connectedAcross(a, b, 1);
    let sent = 0;
    const sendSome = (count: number): void => {
      for (let i = 0; i < count; i++, sent++) {
        assert.equal(alice.net.sendMessage(bob.id, 1, bytesOf(`m${sent}`)), 0);
        assert.equal(bob.net.sendMessage(alice.id, 1, bytesOf(`m${sent}`)), 0);
      }
    };
    sendSome(20);
    await pumpUntil(peers, 'the first 20 each way', () => bob.messages.length === 20 && alice.messages.length === 20);
    await redis.stop();
    await pumpUntil(peers, 'both relays to notice the outage', () => !a.fleet!.redisUp && !b.fleet!.redisUp);
    sendSome(20);
    await pumpUntil(peers, '40 each way with Redis down', () => bob.messages.length === 40 && alice.messages.length === 40);
    await redis.start(); // an empty Redis: every entry is gone and claimed again
    await pumpUntil(peers, 'both relays to re-claim and list each other', () => a.fleet!.redisUp && b.fleet!.redisUp && a.fleet!.members().length === 1 && b.fleet!.members().length === 1);
    sendSome(20);
    await pumpUntil(peers, 'all 60 each way', () => bob.messages.length === 60 && alice.messages.length === 60);
    const expected = Array.from({ length: 60 }, (_, i) => `m${i}`);
    assert.deepEqual(bob.messages.map((m) => textOf(m.data)), expected);
    assert.deepEqual(alice.messages.map((m) => textOf(m.data)), expected);
    assert.deepEqual([a.fleet!.relayNumber, b.fleet!.relayNumber], numbers, 'the number held before the outage is claimed again');
  });

  it('a relay closed cleanly leaves the directory at once; a restarted one rejoins under a new incarnation and forwarding resumes', async () => {
    const [a, b] = await twoRelays();
    const oldId = b.fleet!.id;
    await b.close();
    relays.splice(relays.indexOf(b), 1);
    await waitFor('a to drop b from its link', () => fleetStats(a).peers === 0, { timeoutMs: 5_000 });
    const b2 = await startRelay({ host: '127.0.0.1', port: 0, logger: quiet, webrtc: false, fleet: { redisUrl: redis.url, secret } });
    relays.push(b2);
    expect(b2.fleet!.id).to.not.equal(oldId);
    await waitFor('a and the restarted relay to know each other', () => fleetStats(a).peers === 1 && fleetStats(b2).peers === 1, { timeoutMs: 10_000 });
    const { alice, bob } = await connectedAcross(a, b2, 0);
    assert.equal(alice.net.sendMessage(bob.id, 0, bytesOf('after restart')), 0);
    await pumpUntil(peers, 'the message', () => bob.messages.length === 1);
    assert.equal(textOf(bob.messages[0].data), 'after restart');
  });

  it('a relay with another fleet secret on the same Redis is refused and counted: its entry is ignored, nothing is forwarded to or from it', async () => {
    const [a] = await twoRelays();
    const outsider = await startRelay({ host: '127.0.0.1', port: 0, logger: quiet, webrtc: false, fleet: { redisUrl: redis.url, secret: testRelaySecret('another fleet') } });
    relays.push(outsider);
    await waitFor('a to count the outsider entry as forged', () => a.fleet!.forgedEntries > 0 && outsider.fleet!.forgedEntries > 0, { timeoutMs: 10_000 });
    assert.equal(fleetStats(a).peers, 1, 'a still knows only its real fleet mate');
    assert.equal(fleetStats(outsider).peers, 0);
    const alice = createTestPeer({ relay: a.udpUrl });
    const mallory = createTestPeer({ relay: outsider.udpUrl });
    peers.push(alice, mallory);
    await waitForRoutes(peers);
    connectPair(alice, mallory, [{ id: 0, reliable: true }]);
    await pumpUntil(peers, 'both relays to drop what crosses the fleets', () => outsider.stats().drops.unknownRelay > 0 && a.stats().drops.unknownRelay > 0);
    assert.equal(isConnected(alice, mallory.id), false);
    assert.equal(outsider.stats().forwardedToFleet, 0);
    assert.equal(a.stats().fromFleet, 0);
  });
});

