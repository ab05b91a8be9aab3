import { expect } from 'chai';
import { TransformNode } from '@babylonjs/core/Meshes/transformNode.js';
import manifestJson from '../../plugin.json';
import { NetworkedTransform } from '../../plugin/components/networked-transform/networked-transform';
import { getNetworkManager, getSwitchboard, installSwitchboard, isSwitchboardInstalled } from '../../plugin/host';
import { PluginConfigError } from '../../plugin/manifest';
import { Result } from '../../plugin/net/result';
import { createHeadlessScene, RecordingLogger, VirtualClock, type HeadlessScene } from '../integration/plugin-support';

/** No relay listens here: these tests need the real manager but no traffic. */
const NO_RELAY = 'udp://127.0.0.1:9';

function manifestWith(change: (m: { systems: { name: string; phase: string; order: number }[]; engine: string; components: unknown[] }) => void): unknown {
  const copy = structuredClone(manifestJson) as unknown as { systems: { name: string; phase: string; order: number }[]; engine: string; components: unknown[] };
  change(copy);
  return copy;
}

describe('installSwitchboard (NullEngine, real NetworkManager, no relay)', () => {
  let headless: HeadlessScene;
  let logger: RecordingLogger;
  const installed: ReturnType<typeof installSwitchboard>[] = [];

  function install(options: Parameters<typeof installSwitchboard>[1] = {}) {
    const net = installSwitchboard(headless.scene, { logger, ...options, config: { relay: NO_RELAY, ...options.config } });
    installed.push(net);
    return net;
  }

  beforeEach(() => {
    headless = createHeadlessScene();
    logger = new RecordingLogger();
  });
  afterEach(async () => {
    headless.dispose();
    await Promise.all(installed.splice(0).map((n) => n.whenDisposed()));
  });

  it('installs into a scene; getNetworkManager(scene) returns the same component from anywhere', () => {
    expect(isSwitchboardInstalled(headless.scene)).to.equal(false);
    const net = install({ config: { sendRateHz: 30 } });
    expect(getNetworkManager(headless.scene)).to.equal(net);
    expect(isSwitchboardInstalled(headless.scene)).to.equal(true);
    expect(net.config.sendRateHz).to.equal(30);
    expect(typeof net.getPeerId()).to.equal('bigint');
    const { host } = getSwitchboard(headless.scene);
    expect(host.systemsOf('early-update')).to.deep.equal(['switchboard.receive', 'switchboard.transform-replicas']);
    expect(host.systemsOf('late-update')).to.deep.equal(['switchboard.transform-owners', 'switchboard.flush']);
  });

  it('refuses a second install on the same scene, leaving the first one working', () => {
    const net = install();
    expect(() => installSwitchboard(headless.scene, { config: { relay: NO_RELAY }, logger })).to.throw(/already installed on this scene; reach it with getNetworkManager\(scene\)/);
    expect(getNetworkManager(headless.scene)).to.equal(net);
    headless.scene.render();
    expect(getSwitchboard(headless.scene).host.frameCount).to.equal(1);
  });

  it('getNetworkManager on a scene without the plugin throws a clear error', () => {
    expect(() => getNetworkManager(headless.scene)).to.throw('Switchboard is not installed on this scene (or the scene was disposed); call installSwitchboard(scene) first');
  });

  describe('refuses bad manifests and config, naming the field, and installs nothing', () => {
    const cases: [what: string, options: Parameters<typeof installSwitchboard>[1], message: RegExp][] = [
      ['unknown system phase', { manifest: manifestWith((m) => (m.systems[0]!.phase = 'pre-update')) }, /systems\[0\]\.phase: expected one of 'early-update', 'update', 'late-update', got "pre-update"/],
      ['unknown system name', { manifest: manifestWith((m) => (m.systems[1]!.name = 'physics')) }, /systems\[1\]\.name: expected one of 'switchboard\.receive'.*got 'physics'/],
      ['flush moved out of late-update', { manifest: manifestWith((m) => (m.systems[3]!.phase = 'update')) }, /systems\[3\]\.phase: 'switchboard\.flush' must run in 'late-update', got 'update'/],
      ['receive missing', { manifest: manifestWith((m) => m.systems.splice(0, 1)) }, /systems: expected an entry named 'switchboard\.receive'/],
      ['owners after flush', { manifest: manifestWith((m) => (m.systems[2]!.order = 2000)) }, /systems\[2\]\.order: 'switchboard\.transform-owners' must run before 'switchboard\.flush' \(order 1000\), got 2000/],
      ['unknown component', { manifest: manifestWith((m) => m.components.push({ name: 'Chat', scope: 'scene' })) }, /components\[2\]\.name: expected one of 'NetworkManager', 'NetworkedTransform', got 'Chat'/],
      ['bad channel override', { config: { channels: [{ id: 0, reliable: true }, { id: 200, reliable: false }] } }, /config\.channels\[1\]\.id: expected an integer 0\.\.127, got 200/],
      ['bad relay override', { config: { relay: 'tcp://127.0.0.1:1' } }, /config\.relay: expected 'ws:\/\/host:port'/],
    ];
    for (const [what, options, message] of cases) {
      it(what, () => {
        let thrown: unknown;
        try {
          installSwitchboard(headless.scene, { logger, ...options, config: { relay: NO_RELAY, ...options?.config } });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).to.be.instanceOf(PluginConfigError);
        expect((thrown as Error).message).to.match(message);
        expect(isSwitchboardInstalled(headless.scene)).to.equal(false);
        expect(headless.scene.onBeforeAnimationsObservable.hasObservers()).to.equal(false);
      });
    }
  });

  it('refuses an engine outside the manifest range', () => {
    expect(() => installSwitchboard(headless.scene, { logger, manifest: manifestWith((m) => (m.engine = '>=10')), config: { relay: NO_RELAY } })).to.throw(
      /switchboard 0\.1\.0 needs @babylonjs\/core >=10, but this scene runs 9\./,
    );
    expect(isSwitchboardInstalled(headless.scene)).to.equal(false);
  });

  it('receive runs in early update before gameplay observers, flush after them, each once per rendered frame', () => {
    const net = install();
    const { scene } = headless;
    const log: string[] = [];
    const manager = net.manager;
    const runCallbacks = manager.runCallbacks.bind(manager);
    const flush = manager.flush.bind(manager);
    // Counting wrappers around the real calls: they record and forward.
    manager.runCallbacks = () => (log.push('runCallbacks'), runCallbacks());
    manager.flush = () => (log.push('flush'), flush());
    scene.onBeforeRenderObservable.add(() => log.push('gameplay:beforeRender'));
    scene.onAfterRenderObservable.add(() => log.push('gameplay:afterRender'));
    for (let i = 0; i < 10; i++) scene.render();
    const frames = log.join(' ').split('runCallbacks ').filter((f) => f !== '');
    expect(frames).to.have.length(10);
    for (const f of frames) expect(f.trim()).to.equal('gameplay:beforeRender gameplay:afterRender flush');
  });

  it('scene.dispose() completes the observables at once, disposes the manager and forgets the installation', async () => {
    const net = install();
    const { scene } = headless;
    const completed: string[] = [];
    net.message$.subscribe({ complete: () => completed.push('message$') });
    net.routeUpdate$.subscribe({ complete: () => completed.push('routeUpdate$') });
    net.peerState$.subscribe({ complete: () => completed.push('peerState$') });
    net.messagesOn(0).subscribe({ complete: () => completed.push('messagesOn(0)') });
    net.messagesFrom(5n).subscribe({ complete: () => completed.push('messagesFrom') });
    net.disposed$.subscribe({ complete: () => completed.push('disposed$') });
    scene.render();
    scene.dispose();
    expect(completed).to.have.members(['message$', 'routeUpdate$', 'peerState$', 'messagesOn(0)', 'messagesFrom', 'disposed$']);
    expect(net.isDisposed).to.equal(true);
    expect(isSwitchboardInstalled(scene)).to.equal(false);
    expect(() => getNetworkManager(scene)).to.throw(/not installed/);
    await net.whenDisposed();
    expect(net.manager.runCallbacks()).to.equal(Result.NotRunning);
    expect(net.manager.flush()).to.equal(Result.NotRunning);
    let lateCompleted = false;
    net.message$.subscribe({ complete: () => (lateCompleted = true) });
    expect(lateCompleted).to.equal(true);
  });

  it('the NetworkManager component helpers check their arguments', () => {
    const net = install();
    expect(() => net.messagesOn(128)).to.throw(RangeError, /channelId: expected an integer 0\.\.127, got 128/);
    expect(() => net.messagesFrom(1 as unknown as bigint)).to.throw(TypeError, /peerId/);
    expect(net.connectedPeers()).to.deep.equal([]);
    expect(net.broadcast(1, new Uint8Array(1))).to.equal(0);
    expect(net.connectPeer(net.getPeerId() + 1n, 'not base64!')).to.equal(Result.InvalidBase64);
  });

  describe('NetworkedTransform behavior', () => {
    it('needs the plugin installed on the node scene', () => {
      const node = new TransformNode('box', headless.scene);
      expect(() => node.addBehavior(new NetworkedTransform({ entityId: 1, owner: 7n }))).to.throw(/Switchboard is not installed on the scene of 'box'; call installSwitchboard\(scene\) first/);
    });

    it('refuses to attach when the manifest lacks the transform system it needs', () => {
      const net = install({ manifest: manifestWith((m) => m.systems.splice(1, 1)) });
      const node = new TransformNode('remote', headless.scene);
      expect(() => node.addBehavior(new NetworkedTransform({ entityId: 1, owner: net.getPeerId() + 1n }))).to.throw(/no 'switchboard\.transform-replicas' system, so the node would never be updated/);
      const mine = new TransformNode('mine', headless.scene);
      expect(() => mine.addBehavior(new NetworkedTransform({ entityId: 1, owner: net.getPeerId() }))).to.not.throw();
    });

    it('checks its options', () => {
      expect(() => new NetworkedTransform({ entityId: -1, owner: 7n })).to.throw(RangeError, /entityId/);
      expect(() => new NetworkedTransform({ entityId: 1, owner: 0n })).to.throw(TypeError, /owner/);
      expect(() => new NetworkedTransform({ entityId: 1, owner: 7n, sendRateHz: 0 })).to.throw(RangeError, /sendRateHz/);
    });

    it('registers on attach, refuses a duplicate entity, and unregisters on detach and node dispose', () => {
      const net = install();
      const { transforms } = getSwitchboard(headless.scene);
      const a = new TransformNode('a', headless.scene);
      const b = new TransformNode('b', headless.scene);
      const owned = new NetworkedTransform({ entityId: 1, owner: net.getPeerId() });
      a.addBehavior(owned);
      expect(owned.isOwner).to.equal(true);
      expect(owned.attachedNode).to.equal(a);
      expect(() => b.addBehavior(new NetworkedTransform({ entityId: 1, owner: net.getPeerId() }))).to.throw(/entity 1 of owner .* is already attached/);
      const replica = new NetworkedTransform({ entityId: 1, owner: 12345n });
      b.addBehavior(replica);
      expect(replica.isOwner).to.equal(false);
      expect(transforms.size).to.equal(2);
      a.removeBehavior(owned);
      expect(transforms.size).to.equal(1);
      expect(owned.attachedNode).to.equal(null);
      b.dispose();
      expect(transforms.size).to.equal(0);
    });

    it('an owner queues snapshots at sendRateHz of host-clock time, whatever the frame rate', () => {
      const clock = new VirtualClock();
      const net = install({ clock });
      const node = new TransformNode('a', headless.scene);
      node.addBehavior(new NetworkedTransform({ entityId: 1, owner: net.getPeerId() }));
      const { transforms } = getSwitchboard(headless.scene);
      for (let i = 0; i < 120; i++) {
        clock.advance(1000 / 120);
        headless.scene.render();
      }
      // 1 s at 20 Hz: 20 snapshots (the first at once), one frame of slack for float edges.
      expect(transforms.stats.snapshotsSent).to.be.within(20, 21);
    });
  });
});
