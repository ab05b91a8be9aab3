/**
 * The sample's GameSession and GameWorld in three headless scenes over a real relay (127.0.0.1,
 * port 0): avatars replicate, a contested pick-up ends with one winner everywhere, and a player
 * who leaves takes its avatar and its undecided loot along.
 */
import { expect } from 'chai';
import type { NetworkManagerComponent } from '../../plugin/components/network-manager-component';
import { installSwitchboard } from '../../plugin/host';
import { GameWorld } from '../../sample-scene/babylon/game-world';
import { GameSession } from '../../sample-scene/session/game-session';
import { startRelay, type RelayServer } from '../../server';
import { connectComponents, createHeadlessScene, RecordingLogger, renderAll, stepUntil, VirtualClock, type HeadlessScene } from './plugin-support';

const FRAME_MS = 16;

interface Player {
  scene: HeadlessScene;
  net: NetworkManagerComponent;
  session: GameSession;
  world: GameWorld;
}

describe('sample session: three headless players over a real relay', function () {
  this.timeout(30_000);
  let relay: RelayServer;
  let clock: VirtualClock;
  let players: Player[];
  const frame = () => {
    clock.advance(FRAME_MS);
    renderAll(players.filter((p) => !p.scene.scene.isDisposed).map((p) => p.scene));
  };

  beforeEach(async () => {
    relay = await startRelay({ port: 0, logger: new RecordingLogger() });
    clock = new VirtualClock();
    players = [relay.udpUrl, relay.wsUrl, relay.udpUrl].map((url) => {
      const scene = createHeadlessScene();
      const logger = new RecordingLogger();
      const net = installSwitchboard(scene.scene, { clock, config: { relay: url }, logger });
      const session = new GameSession(net, { logger });
      return { scene, net, session, world: new GameWorld(scene.scene, session, { visual: false }) };
    });
    const [a, b, c] = players as [Player, Player, Player];
    await connectComponents(a, b, frame);
    await connectComponents(a, c, frame);
    await connectComponents(b, c, frame);
  });

  afterEach(async () => {
    for (const p of players) {
      p.world.dispose();
      p.session.dispose();
      p.scene.dispose();
    }
    await Promise.all(players.map((p) => p.net.whenDisposed()));
    await relay.close();
  });

  it('each player sees the others as avatars, and a move replicates', async () => {
    const [a, b, c] = players as [Player, Player, Player];
    for (const p of players) expect(p.world.avatarViews()).to.have.length(3);
    a.world.moveLocal({ position: { x: 5, z: -4 }, yaw: 1 });
    await stepUntil(
      "B's and C's replicas of A to reach A's position",
      () => [b, c].every((p) => {
        const node = p.world.avatar(a.session.self)!.node;
        return Math.abs(node.position.x - 5) < 0.01 && Math.abs(node.position.z + 4) < 0.01;
      }),
      frame,
    );
  });

  it('a contested pick-up: both claim in the same frame, the dropper picks one, everyone agrees', async () => {
    const [a, b, c] = players as [Player, Player, Player];
    const dropped = a.session.drop({ x: 0, z: 0 }, 0);
    if (!dropped.ok) throw new Error(dropped.reason);
    await stepUntil('the loot to reach B and C', () => [b, c].every((p) => p.session.loot.item(dropped.item.key) !== undefined), frame);
    // Both stand on it before the next frame: both claims are sent in that frame's flush.
    for (const p of [b, c]) {
      p.world.moveLocal({ position: { x: dropped.item.x, z: dropped.item.z }, yaw: null });
      p.session.tick(p.world.localPosition());
      expect(p.session.loot.item(dropped.item.key)?.state).to.equal('claim-pending');
    }
    await stepUntil('all three to know the winner', () => players.every((p) => p.session.loot.pickup(dropped.item.key) !== undefined), frame);
    const winners = players.map((p) => p.session.loot.pickup(dropped.item.key)!.winner);
    expect(new Set(winners).size).to.equal(1);
    expect([b.session.self, c.session.self]).to.include(winners[0]);
    for (const p of players) {
      expect(p.session.loot.items()).to.deep.equal([]);
      expect(p.world.lootViewList()).to.deep.equal([]);
    }
    expect(a.session.loot.stats().ignoredClaims).to.equal(1);
  });

  it('a player who leaves takes its avatar and its loot along', async () => {
    const [a, b, c] = players as [Player, Player, Player];
    const dropped = c.session.drop({ x: 3, z: 3 }, 0);
    if (!dropped.ok) throw new Error(dropped.reason);
    await stepUntil('the loot to reach A and B', () => [a, b].every((p) => p.world.lootView(dropped.item.key) !== undefined), frame);
    c.world.dispose();
    c.session.dispose();
    c.scene.dispose(); // the plugin closes its peers: A and B see it closed
    await stepUntil(
      'A and B to drop C and its loot',
      () => [a, b].every((p) => p.world.avatar(c.session.self) === undefined && p.session.loot.items().length === 0),
      frame,
    );
    expect(a.world.avatarViews()).to.have.length(2);
  });
});
