/**
 * The fleet end to end (issue 15): a real redis-server, two fleet relays in child processes, two
 * lobby processes sharing rooms through Redis and handing out the fleet's relays. Four managers
 * (UDP and WebSocket) spread over both relays and both lobbies reach a full mesh through
 * bindRouteSync; numbered reliable streams run between every ordered pair; one relay is SIGKILLed
 * mid-stream; its managers move to the other relay, their new routes go through the lobby, and
 * every stream arrives complete, exactly once and in order.
 */
import { expect } from 'chai';
import { bindRouteSync, type RouteSyncSubscription } from '../../plugin/lobby/route-sync';
import { ColyseusLobby } from '../../plugin/lobby/colyseus-lobby';
import { startLobbyServer, type LobbyServer } from '../../server/lobby';
import { createTestPeer, disposeAll, frame, isConnected, quietLogger, type TestPeer } from '../helpers/managers';
import { requireRedisServer, startTestRedis, type TestRedis } from '../helpers/redis-server';
import { testRelaySecret } from '../helpers/secrets';
import { killHard, spawnFixture, type FixtureChild } from '../helpers/child-fixtures';
import { waitFor } from '../helpers/wait';

const fleetSecret = testRelaySecret('fleet mesh');

type Child = FixtureChild<Record<string, unknown>>;

function numbered(from: number, index: number): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, from);
  view.setUint32(4, index);
  return bytes;
}

describe('relay fleet end to end: two relays, two lobbies, four managers, a relay SIGKILLed mid-stream', function () {
  this.timeout(120_000);
  let redis: TestRedis;
  const children: Child[] = [];
  let lobby: LobbyServer | null = null;
  const lobbies: ColyseusLobby[] = [];
  const syncs: RouteSyncSubscription[] = [];
  let peers: TestPeer[] = [];

  before(async function () {
    requireRedisServer(this);
    redis = await startTestRedis();
  });
  after(async () => {
    for (const sync of syncs) sync.unsubscribe();
    await disposeAll(peers);
    for (const member of lobbies) await member.leave().catch(() => undefined);
    await lobby?.close();
    await Promise.all(children.map(killHard));
    await redis?.dispose();
  });

  it('full mesh across both relays and both lobbies; after the kill every stream is complete, once, in order', async () => {
    const fleetEnv = { SWITCHBOARD_FLEET_REDIS: redis.url, SWITCHBOARD_FLEET_SECRET: fleetSecret };
    const relays = await Promise.all([0, 1].map(() => spawnFixture<Record<string, unknown>>('relay-child.ts', ['0', '500'], fleetEnv)));
    children.push(...relays);
    const ports = relays.map((r) => r.info.port as number);
    lobby = await startLobbyServer({ port: 0, logger: quietLogger, redisUrl: redis.url, fleetSecret });
    const remoteLobby = await spawnFixture<Record<string, unknown>>('lobby-child.ts', [redis.url], { SWITCHBOARD_FLEET_SECRET: fleetSecret });
    children.push(remoteLobby);
    const lobbyUrls = [lobby.url, remoteLobby.info.url as string];

    // Both lobbies hand out both relays (least loaded first); the managers take them in an order
    // that puts two on each relay.
    await waitFor('the lobby to list both relays', () => (lobby!.relays()?.udp.length ?? 0) === 2, { timeoutMs: 10_000 });
    const plan = [
      { lobby: 0, transport: 'udp', first: 0 },
      { lobby: 1, transport: 'ws', first: 0 },
      { lobby: 1, transport: 'udp', first: 1 },
      { lobby: 0, transport: 'ws', first: 1 },
    ] as const;
    const firstRelayUrl = (i: number): string => `${plan[i].transport}://127.0.0.1:${ports[plan[i].first]}`;
    for (const [i, p] of plan.entries()) {
      const member = await ColyseusLobby.join(lobbyUrls[p.lobby], 'fleet-mesh', { logger: quietLogger });
      lobbies.push(member);
      const handed = member.relays![p.transport];
      expect([...handed].sort(), `lobby ${p.lobby + 1} hands out both relays`).to.deep.equal(ports.map((port) => `${p.transport}://127.0.0.1:${port}`).sort());
      const list = [firstRelayUrl(i), ...handed.filter((url) => url !== firstRelayUrl(i))];
      const peer = createTestPeer({ relay: list, ...(p.transport === 'ws' ? { transport: 'websocket' as const } : {}), keepaliveMs: 500 });
      peers.push(peer);
      syncs.push(bindRouteSync(peer.net, member, { channels: [{ id: 0, reliable: true }], logger: quietLogger }));
    }
    const everyPair = (): boolean => peers.every((p) => peers.every((q) => p === q || isConnected(p, q.id)));
    await waitFor('a full mesh of four managers over two relays', everyPair, { timeoutMs: 30_000, step: () => frame(peers) });
    peers.forEach((p, i) => expect(p.net.getTransportInfo().relay).to.equal(firstRelayUrl(i)));

    const total = 600;
    const sent = peers.map(() => 0);
    const step = (): void => {
      peers.forEach((p, i) => {
        for (let k = 0; k < 5 && sent[i] < total; k++, sent[i]++) {
          for (const q of peers) if (q !== p) expect(p.net.sendMessage(q.id, 0, numbered(i, sent[i]))).to.equal(0);
        }
      });
      frame(peers);
    };
    const received = (p: TestPeer): number => p.messages.length;
    await waitFor('a third of every stream before the kill', () => peers.every((p) => received(p) >= total), { timeoutMs: 30_000, step });
    expect(peers.every((p) => received(p) < 3 * total), 'still streaming when the relay dies').to.equal(true);

    await killHard(relays[0]);
    await waitFor('every stream complete after the failover', () => peers.every((p) => received(p) >= 3 * total), { timeoutMs: 60_000, step });
    for (let i = 0; i < 20; i++) frame(peers);

    peers.forEach((p, i) => {
      const bySender = new Map<number, number[]>();
      for (const m of p.messages) {
        const view = new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength);
        const from = view.getUint32(0);
        bySender.set(from, [...(bySender.get(from) ?? []), view.getUint32(4)]);
      }
      for (const [j] of plan.entries()) {
        if (j === i) continue;
        expect(bySender.get(j), `stream ${j} → ${i}`).to.deep.equal(Array.from({ length: total }, (_, k) => k));
      }
      // The killed relay's managers are on the other one now; the others never moved.
      const expected = `${plan[i].transport}://127.0.0.1:${ports[1]}`;
      expect(p.net.getTransportInfo().relay, `manager ${i}`).to.equal(plan[i].first === 0 ? expected : firstRelayUrl(i));
    });
    expect(syncs.reduce((n, s) => n + s.stats().updated, 0), 'new routes went through the lobby').to.be.at.least(2);
  });
});
