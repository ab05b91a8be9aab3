/** The sample's small pure parts: loot codec, movement, looks, net graph numbers, parameters, bot brain, CLI args. */
import { expect } from 'chai';
import fc from 'fast-check';
import { parseDevArgs } from '../../server/dev/dev-args';
import { parseBotArgs } from '../../sample-scene/bot/bot-args';
import { BotBrain } from '../../sample-scene/game/bot-brain';
import { ARENA_HALF_SIZE, MOVE_SPEED } from '../../sample-scene/game/constants';
import { lootCodec, type LootMessage } from '../../sample-scene/game/loot-messages';
import { pointAhead, stepMovement } from '../../sample-scene/game/movement';
import { NetGraphModel, sparklinePoints } from '../../sample-scene/game/net-graph-model';
import { parsePageConfig } from '../../sample-scene/game/page-config';
import { colourForPeer, cssColourForPeer, labelForPeer, spawnPointFor } from '../../sample-scene/game/peer-look';
import { parseSceneParams } from '../../sample-scene/game/scene-params';
import type { PeerStats } from '../../plugin/net/types';

describe('sample loot messages', () => {
  it('round-trips each kind in a few bytes', () => {
    const messages: LootMessage[] = [
      { kind: 'drop', seq: 7, x: 1.5, z: -2.25 },
      { kind: 'claim', seq: 0xffffffff },
      { kind: 'taken', seq: 1, winner: 0xffffffffffffffffn },
    ];
    for (const message of messages) {
      const bytes = lootCodec.encode(message);
      expect(bytes.length).to.be.at.most(13);
      expect(lootCodec.decode(bytes)).to.deep.equal({ ok: true, value: message });
    }
  });

  it('refuses unknown kinds, wrong lengths, non-finite coordinates and winner 0 without throwing', () => {
    expect(lootCodec.decode(new Uint8Array([])).ok).to.equal(false);
    expect(lootCodec.decode(new Uint8Array([9, 0, 0, 0, 1])).ok).to.equal(false);
    expect(lootCodec.decode(new Uint8Array([2, 0, 0, 0])).ok).to.equal(false);
    const nan = lootCodec.encode({ kind: 'drop', seq: 1, x: 0, z: 0 });
    new DataView(nan.buffer).setFloat32(5, Number.NaN);
    expect(lootCodec.decode(nan).ok).to.equal(false);
    const zero = lootCodec.encode({ kind: 'taken', seq: 1, winner: 1n });
    zero.fill(0, 5);
    expect(lootCodec.decode(zero).ok).to.equal(false);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => void lootCodec.decode(bytes)), { seed: 3, numRuns: 2000 });
  });
});

describe('sample movement', () => {
  it('walks at MOVE_SPEED, no faster on diagonals, faces where it goes, stays on the arena', () => {
    const step = stepMovement({ x: 0, z: 0 }, { right: 1, forward: 0 }, 0.2);
    expect(step.position.x).to.be.closeTo(MOVE_SPEED * 0.2, 1e-9);
    expect(step.yaw).to.be.closeTo(Math.PI / 2, 1e-9);
    const diagonal = stepMovement({ x: 0, z: 0 }, { right: 1, forward: 1 }, 0.1);
    expect(Math.hypot(diagonal.position.x, diagonal.position.z)).to.be.closeTo(MOVE_SPEED * 0.1, 1e-9);
    expect(stepMovement({ x: ARENA_HALF_SIZE - 0.1, z: 0 }, { right: 1, forward: 0 }, 0.25).position.x).to.equal(ARENA_HALF_SIZE);
    expect(stepMovement({ x: 1, z: 2 }, { right: 0, forward: 0 }, 0.1)).to.deep.equal({ position: { x: 1, z: 2 }, yaw: null });
    expect(stepMovement({ x: 1, z: 2 }, { right: Number.NaN, forward: 1 }, Number.POSITIVE_INFINITY).position).to.deep.equal({ x: 1, z: 2 });
    const ahead = pointAhead({ x: 0, z: 0 }, 0, 3);
    expect(ahead.x).to.be.closeTo(0, 1e-9);
    expect(ahead.z).to.be.closeTo(3, 1e-9);
  });
});

describe('sample peer looks', () => {
  it('are the same for the same peer id and differ between neighbours', () => {
    expect(colourForPeer(12345n)).to.deep.equal(colourForPeer(12345n));
    expect(cssColourForPeer(12345n)).to.match(/^#[0-9a-f]{6}$/);
    expect(cssColourForPeer(12345n)).to.not.equal(cssColourForPeer(12346n));
    expect(labelForPeer(0xabcdef1234n)).to.equal('P-1234');
    const spawn = spawnPointFor(0xffffffffffffffffn);
    expect(Math.abs(spawn.x)).to.be.at.most(ARENA_HALF_SIZE);
    expect(Math.abs(spawn.z)).to.be.at.most(ARENA_HALF_SIZE);
  });
});

describe('sample net graph model', () => {
  const stats = (sent: number, received: number, rttMs = 40, lossRate = 0.1): PeerStats => ({
    state: 'connected', rttMs, lossRate, sentPackets: 0, receivedPackets: 0, resentPackets: 0,
    sentBytes: sent, receivedBytes: received, pendingReliableBytes: 0, droppedUnreliable: 0,
  });

  it('turns byte counters into kbit/s, keeps a bounded series and forgets closed peers', () => {
    const model = new NetGraphModel({ capacity: 3 });
    model.sample(0, new Map([[1n, stats(0, 0)]]));
    model.sample(1000, new Map([[1n, stats(1000, 3000)]]));
    const [peer] = model.peers();
    expect(peer!.latest!.kbitPerSecondOut).to.equal(8);
    expect(peer!.latest!.kbitPerSecondIn).to.equal(24);
    expect(peer!.latest!.kbitPerSecond).to.equal(32);
    expect(peer!.latest!.lossRate).to.equal(0.1);
    for (let t = 2000; t <= 5000; t += 1000) model.sample(t, new Map([[1n, stats(1000, 3000)]]));
    expect(model.peers()[0]!.samples).to.have.length(3);
    model.sample(6000, new Map());
    expect(model.peers()).to.deep.equal([]);
  });

  it('draws sparklines inside their box', () => {
    const points = sparklinePoints([0, 5, 10], 100, 20);
    expect(points).to.deep.equal([{ x: 0, y: 20 }, { x: 50, y: 10 }, { x: 100, y: 0 }]);
    expect(sparklinePoints([1], 100, 20, 10)).to.deep.equal([{ x: 0, y: 18 }]);
  });
});

describe('sample page parameters and config', () => {
  it('reads the lobby and the link conditioner, and reports bad values', () => {
    const params = parseSceneParams('?lobby=room-1&loss=0.2&latency=80&seed=5');
    expect(params).to.deep.equal({ lobby: 'room-1', linkConditioner: { lossRate: 0.2, latencyMs: 80, seed: 5 }, problems: [] });
    expect(parseSceneParams('', { lobby: 'x' })).to.deep.equal({ lobby: 'x', linkConditioner: undefined, problems: [] });
    const bad = parseSceneParams('?lobby=no spaces&loss=2&latency=abc');
    expect(bad.lobby).to.equal('sample');
    expect(bad.linkConditioner).to.equal(undefined);
    expect(bad.problems).to.have.length(3);
  });

  it('accepts only ws URLs and a lobby name in /config.json', () => {
    expect(parsePageConfig({ relay: 'ws://127.0.0.1:1', lobbyUrl: 'wss://x:2', lobby: 'sample' }).ok).to.equal(true);
    expect(parsePageConfig({ relay: 'udp://127.0.0.1:1', lobbyUrl: 'ws://x:2', lobby: 'sample' }).ok).to.equal(false);
    expect(parsePageConfig({ relay: 'ws://127.0.0.1:1', lobbyUrl: 'ws://x:2', lobby: '' }).ok).to.equal(false);
    expect(parsePageConfig(null).ok).to.equal(false);
  });
});

describe('sample bot brain', () => {
  it('is repeatable for a seed, runs for nearby loot and drops now and then', () => {
    const run = (seed: number) => {
      const brain = new BotBrain({ seed, dropEveryMs: [100, 200] });
      return Array.from({ length: 50 }, (_, i) => brain.think(i * 20, { x: 0, z: 0 }, [], true));
    };
    expect(run(4)).to.deep.equal(run(4));
    expect(run(4).filter((d) => d.drop).length).to.be.within(4, 10);
    const brain = new BotBrain({ seed: 1 });
    const toLoot = brain.think(0, { x: 0, z: 0 }, [{ x: 3, z: 4 }, { x: 9, z: 9 }], false);
    expect(toLoot.input.right).to.be.closeTo(0.6, 1e-9);
    expect(toLoot.input.forward).to.be.closeTo(0.8, 1e-9);
    expect(toLoot.drop).to.equal(false);
  });
});

describe('sample command lines', () => {
  it('npm start options', () => {
    expect(parseDevArgs(['--port', '0', '--relay-port=0', '--lobby-port', '0', '--bots', '3', '--lobby', 'x'])).to.deep.equal({
      ok: true,
      help: false,
      options: { httpPort: 0, relayPort: 0, lobbyPort: 0, bots: 3, lobby: 'x' },
    });
    expect(parseDevArgs(['--bots', '99']).ok).to.equal(false);
    expect(parseDevArgs(['--port']).ok).to.equal(false);
    expect(parseDevArgs(['--nope']).ok).to.equal(false);
  });

  it('bot options', () => {
    const parsed = parseBotArgs(['--relay', 'udp://127.0.0.1:1', '--lobby-url', 'ws://127.0.0.1:2', '--seed', '4', '--report', '--min-peers', '2']);
    expect(parsed).to.deep.equal({
      ok: true,
      report: true,
      options: { relay: 'udp://127.0.0.1:1', lobbyUrl: 'ws://127.0.0.1:2', lobbyName: 'sample', seed: 4, minPeersToDrop: 2 },
    });
    expect(parseBotArgs(['--relay', 'udp://127.0.0.1:1']).ok).to.equal(false);
    const withDrops = parseBotArgs(['--relay', 'udp://127.0.0.1:1', '--lobby-url', 'ws://127.0.0.1:2', '--drop-every-ms', '700:1400']);
    expect(withDrops.ok && withDrops.options.dropEveryMs).to.deep.equal([700, 1400]);
    expect(parseBotArgs(['--relay', 'udp://127.0.0.1:1', '--lobby-url', 'ws://127.0.0.1:2', '--drop-every-ms', '900:100']).ok).to.equal(false);
  });
});
