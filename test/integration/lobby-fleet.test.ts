/**
 * The lobby hands out the relay fleet (issue 15): a real redis-server, two real relays in fleet
 * mode and a real lobby server reading the directory. Joiners get the relays least-loaded first,
 * entries that do not verify under the fleet secret are never handed out, a token minted by the
 * lobby registers on every relay of the fleet, and a Redis outage leaves the last list in place.
 */
import { expect } from 'chai';
import Redis from 'ioredis';
import { ColyseusLobby } from '../../plugin/lobby/colyseus-lobby';
import { createRelayToken, startRelay, type RelayServer } from '../../server';
import { startFleetDirectory, type FleetDirectory } from '../../server/fleet/fleet-directory';
import { startLobbyServer, type LobbyServer } from '../../server/lobby';
import { parseLobbyCliArgs } from '../../server/lobby/lobby-cli';
import { createTestPeer, frame, pumpUntil, quietLogger, type TestPeer } from '../helpers/managers';
import { requireRedisServer, startTestRedis, type TestRedis } from '../helpers/redis-server';
import { testRelaySecret } from '../helpers/secrets';
import { waitFor } from '../helpers/wait';

const FLEET_SECRET = testRelaySecret('lobby fleet: fleet');
const RELAY_SECRET = testRelaySecret('lobby fleet: relay');

describe('the lobby hands out the relay fleet (real redis-server, relays and lobby)', function () {
  this.timeout(40_000);
  let redis: TestRedis;
  let relays: RelayServer[] = [];
  let server: LobbyServer | undefined;
  let peers: TestPeer[] = [];
  let lobbies: ColyseusLobby[] = [];
  let others: FleetDirectory[] = [];
  let admin: Redis | undefined;
  const warnings: string[] = [];
  const logger = { info: (): void => undefined, warn: (line: string): void => void warnings.push(line) };

  before(async function () {
    requireRedisServer(this);
    redis = await startTestRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined); // the outage test stops Redis on purpose
  });
  after(async () => {
    admin?.disconnect();
    await redis?.dispose();
  });
  afterEach(async () => {
    await Promise.all(peers.map((p) => p.net.dispose()));
    peers = [];
    await Promise.all(lobbies.map((l) => l.leave().catch(() => undefined)));
    lobbies = [];
    await server?.close();
    server = undefined;
    for (const d of others.splice(0)) await d.dispose();
    for (const r of relays.splice(0)) await r.close();
    warnings.length = 0;
    if (admin?.status === 'ready') await admin.flushall();
  });

  const startFleet = async (): Promise<[RelayServer, RelayServer]> => {
    const fleet = { redisUrl: redis.url, secret: FLEET_SECRET };
    const a = await startRelay({ host: '127.0.0.1', port: 0, secret: RELAY_SECRET, logger: quietLogger, webrtc: false, fleet });
    relays.push(a);
    const b = await startRelay({ host: '127.0.0.1', port: 0, secret: RELAY_SECRET, logger: quietLogger, webrtc: false, fleet });
    relays.push(b);
    return [a, b];
  };
  const startLobby = async (): Promise<LobbyServer> => {
    server = await startLobbyServer({ port: 0, logger, redisUrl: redis.url, fleetSecret: FLEET_SECRET, relaySecret: RELAY_SECRET });
    return server;
  };
  const join = async (name: string): Promise<ColyseusLobby> => {
    const lobby = await ColyseusLobby.join(server!.url, name, { logger: quietLogger });
    lobbies.push(lobby);
    return lobby;
  };
  /** `count` managers registered on `relay` with tokens straight from the relay secret. */
  const load = async (relay: RelayServer, count: number): Promise<void> => {
    const mine = Array.from({ length: count }, () => createTestPeer({ relay: relay.udpUrl, token: createRelayToken(RELAY_SECRET, { ttlSeconds: 120 }) }));
    peers.push(...mine);
    await pumpUntil(peers, `${count} sessions on ${relay.udpUrl}`, () => relay.stats().sessions === count);
  };
  /** Waits (pumping the managers, so their sessions stay alive) until the lobby would hand out `udp`. */
  const untilOrder = async (udp: string[]): Promise<void> => {
    await waitFor(`the lobby to list ${udp.join(', ')} (it lists ${JSON.stringify(server!.relays())})`, () => JSON.stringify(server!.relays()?.udp) === JSON.stringify(udp), {
      timeoutMs: 15_000,
      intervalMs: 20,
      step: () => frame(peers),
    });
  };

  it('joiners get the relays least-loaded first, and the order follows the load', async () => {
    const [a, b] = await startFleet();
    await startLobby();
    await load(a, 2);
    await untilOrder([b.udpUrl, a.udpUrl]);
    const first = await join('fleet-order-1');
    expect(first.relays).to.deep.equal({ udp: [b.udpUrl, a.udpUrl], ws: [b.wsUrl, a.wsUrl] });

    await load(b, 3); // b now carries 3 sessions, a 2
    await untilOrder([a.udpUrl, b.udpUrl]);
    const second = await join('fleet-order-2');
    expect(second.relays).to.deep.equal({ udp: [a.udpUrl, b.udpUrl], ws: [a.wsUrl, b.wsUrl] });
    // What a member got at join stays what it got (a copy, not a live view).
    expect(first.relays?.udp).to.deep.equal([b.udpUrl, a.udpUrl]);
  });

  it('entries with a bad HMAC, or signed with another fleet secret, are not handed out', async () => {
    // Written before the lobby starts: its first read (done before startLobbyServer resolves) sees them.
    const forged = { id: 'f'.repeat(32), relayNumber: 4001, endpoints: { udp: { host: '127.0.0.1', port: 9 }, ws: { host: '127.0.0.1', port: 9 } }, sessions: 0, mac: '00'.repeat(32) };
    await admin!.set('switchboard:fleet:relay:4001', JSON.stringify(forged), 'PX', 60_000);
    await admin!.set('switchboard:fleet:relay:4002', 'not json at all', 'PX', 60_000);
    others.push(
      await startFleetDirectory({
        redisUrl: redis.url,
        secret: testRelaySecret('lobby fleet: some other fleet'),
        endpoints: { udp: { host: '127.0.0.1', port: 10 }, ws: { host: '127.0.0.1', port: 10 } },
        sessionCount: () => 0,
        log: () => undefined,
      }),
    );
    const [a, b] = await startFleet();
    await startLobby();
    const member = await join('fleet-forged');
    const handed = member.relays!;
    expect([...handed.udp].sort()).to.deep.equal([a.udpUrl, b.udpUrl].sort());
    expect([...handed.ws].sort()).to.deep.equal([a.wsUrl, b.wsUrl].sort());
    expect(JSON.stringify(handed)).not.to.match(/:(9|10)"/);
  });

  it('a relay token minted by the lobby registers on both relays of the fleet', async () => {
    await startFleet();
    await startLobby();
    const member = await join('fleet-tokens');
    const handed = member.relays!;
    expect(handed.udp).to.have.length(2);
    const viaUdp = createTestPeer({ relay: handed.udp[0]!, token: () => member.relayToken });
    const viaWs = createTestPeer({ relay: handed.ws[1]!, token: () => member.relayToken });
    peers.push(viaUdp, viaWs);
    await pumpUntil(peers, 'both managers registered', () => viaUdp.net.getRelayState().state === 'registered' && viaWs.net.getRelayState().state === 'registered');
    expect(relays.map((r) => r.stats().sessions)).to.deep.equal([1, 1]);
  });

  it('without relays the list is empty; without fleetSecret there is none', async () => {
    await startLobby();
    const member = await join('fleet-empty');
    expect(member.relays).to.deep.equal({ udp: [], ws: [] });
    await member.leave();
    await server!.close();
    server = await startLobbyServer({ port: 0, logger, redisUrl: redis.url });
    const plain = await join('fleet-none');
    expect(plain.relays).to.equal(undefined);
    expect(server.relays()).to.equal(undefined);
  });

  it('refuses fleetSecret without redisUrl, and a weak one, naming the option', async () => {
    let error = await startLobbyServer({ port: 0, logger, fleetSecret: FLEET_SECRET }).catch((e: Error) => e);
    expect(String(error)).to.match(/fleetSecret needs redisUrl/);
    error = await startLobbyServer({ port: 0, logger, redisUrl: redis.url, fleetSecret: 'weak' }).catch((e: Error) => e);
    expect(String(error)).to.match(/fleetSecret: /);
  });

  it('switchboard lobby: --fleet-secret needs --redis; SWITCHBOARD_FLEET_SECRET applies with --redis', () => {
    expect(parseLobbyCliArgs(['--fleet-secret', FLEET_SECRET])).to.deep.equal({ ok: false, error: '--fleet-secret needs --redis' });
    const withFlag = parseLobbyCliArgs(['--redis', redis.url, '--fleet-secret', FLEET_SECRET]);
    expect(withFlag.ok && withFlag.options.fleetSecret).to.equal(FLEET_SECRET);
    const fromEnv = parseLobbyCliArgs(['--redis', redis.url], { SWITCHBOARD_FLEET_SECRET: FLEET_SECRET });
    expect(fromEnv.ok && fromEnv.options.fleetSecret).to.equal(FLEET_SECRET);
    const envWithoutRedis = parseLobbyCliArgs([], { SWITCHBOARD_FLEET_SECRET: FLEET_SECRET });
    expect(envWithoutRedis.ok && envWithoutRedis.options.fleetSecret).to.equal(undefined);
  });

  it('while Redis is down the lobby hands out its last list, and reads again once Redis is back', async () => {
    const [a, b] = await startFleet();
    await startLobby();
    await untilOrder([a.udpUrl, b.udpUrl].sort((x, y) => relayNumberOf(x) - relayNumberOf(y)));
    const before = server!.relays();
    await redis.stop();
    await waitFor(`the lobby to notice the outage (warnings: ${JSON.stringify(warnings)})`, () => warnings.some((w) => /fleet directory unreachable/.test(w)), { timeoutMs: 10_000, intervalMs: 20 });
    expect(server!.relays()).to.deep.equal(before);
    await redis.start();
    await waitFor(`the lobby to read again (warnings: ${JSON.stringify(warnings)})`, () => warnings.some((w) => /fleet directory reachable again/.test(w)), { timeoutMs: 15_000, intervalMs: 20 });
    // The relays re-claim their entries within a heartbeat of Redis coming back.
    await waitFor('both relays listed again', () => (server!.relays()?.udp.length ?? 0) === 2, { timeoutMs: 15_000, intervalMs: 20 });
  });

  /** Equal loads are ordered by relay number; each relay's number is in its directory handle. */
  function relayNumberOf(udpUrl: string): number {
    const relay = relays.find((r) => r.udpUrl === udpUrl);
    return relay?.fleet?.relayNumber ?? 0;
  }
});
