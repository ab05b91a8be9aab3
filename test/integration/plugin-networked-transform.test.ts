import { expect } from 'chai';
import { CreateBox } from '@babylonjs/core/Meshes/Builders/boxBuilder.js';
import type { Mesh } from '@babylonjs/core/Meshes/mesh.js';
import { Quaternion } from '@babylonjs/core/Maths/math.vector.js';
import type { NetworkManagerComponent } from '../../plugin/components/network-manager-component';
import { NetworkedTransform } from '../../plugin/components/networked-transform/networked-transform';
import { angleBetween } from '../../plugin/components/networked-transform/pose-math';
import { POSITION_MAX_ERROR, ROTATION_MAX_ERROR_RAD } from '../../plugin/components/networked-transform/quantize';
import { getSwitchboard, installSwitchboard } from '../../plugin/host';
import { startRelay, type RelayServer } from '../../server';
import { connectComponents, createHeadlessScene, RecordingLogger, renderAll, stepUntil, VirtualClock, type HeadlessScene } from './plugin-support';

const FRAME_MS = 16;
const SPEED = 2; // units per second along x
const TURN_RATE = 1; // radians per second about y
const SEND_RATE_HZ = 20;

describe('NetworkedTransform: two scenes over a real relay, 10% loss on the owner', function () {
  this.timeout(30_000);
  let relay: RelayServer;
  let clock: VirtualClock;
  let a: { scene: HeadlessScene; net: NetworkManagerComponent };
  let b: { scene: HeadlessScene; net: NetworkManagerComponent };
  let boxA: Mesh;
  let boxB: Mesh;

  const frame = () => {
    clock.advance(FRAME_MS);
    renderAll([a.scene, b.scene]);
  };

  beforeEach(async () => {
    relay = await startRelay({ port: 0, logger: new RecordingLogger() });
    clock = new VirtualClock();
    const sceneA = createHeadlessScene();
    const sceneB = createHeadlessScene();
    a = {
      scene: sceneA,
      net: installSwitchboard(sceneA.scene, {
        clock,
        config: { relay: relay.udpUrl, sendRateHz: SEND_RATE_HZ },
        logger: new RecordingLogger(),
        managerOptions: { linkConditioner: { lossRate: 0.1, seed: 7 } },
      }),
    };
    b = { scene: sceneB, net: installSwitchboard(sceneB.scene, { clock, config: { relay: relay.wsUrl }, logger: new RecordingLogger() }) };
    await connectComponents(a, b, frame);
    boxA = CreateBox('box', { size: 1 }, sceneA.scene);
    boxB = CreateBox('box', { size: 1 }, sceneB.scene);
    boxA.addBehavior(new NetworkedTransform({ entityId: 1, owner: a.net.getPeerId() }));
    boxB.addBehavior(new NetworkedTransform({ entityId: 1, owner: a.net.getPeerId() }));
  });

  afterEach(async () => {
    a.scene.dispose();
    b.scene.dispose();
    await Promise.all([a.net.whenDisposed(), b.net.whenDisposed()]);
    await relay.close();
  });

  it('the replica follows the moving box within a bounded number of frames, smoothly, and settles on its final pose', async () => {
    let moving = true;
    // Gameplay on A: move and turn the box every frame (an observer added after install).
    a.scene.scene.onBeforeRenderObservable.add(() => {
      if (!moving) return;
      boxA.position.x += (SPEED * FRAME_MS) / 1000;
      boxA.rotation.y += (TURN_RATE * FRAME_MS) / 1000;
    });
    const replicaX: number[] = [];
    let firstMoveFrame = -1;
    const MOVING_FRAMES = 240;
    for (let i = 0; i < MOVING_FRAMES; i++) {
      frame();
      replicaX.push(boxB.position.x);
      if (firstMoveFrame < 0 && boxB.position.x > 0.01) firstMoveFrame = i;
      await new Promise((resolve) => setTimeout(resolve, 1)); // let the sockets deliver
    }
    expect(firstMoveFrame, 'replica started moving').to.be.within(0, 30);

    // Smooth: after the first snapshot, no frame step larger than the motion between two snapshots.
    const snapshotMotion = (SPEED * 1000) / SEND_RATE_HZ / 1000;
    let maxStep = 0;
    for (let i = firstMoveFrame + 1; i < replicaX.length; i++) {
      const step = replicaX[i]! - replicaX[i - 1]!;
      expect(step, `frame ${i} went backwards`).to.be.at.least(-2 * POSITION_MAX_ERROR);
      maxStep = Math.max(maxStep, step);
    }
    expect(maxStep).to.be.at.most(snapshotMotion);
    // It keeps up: about interpolation delay + a few frames behind the owner, not seconds.
    expect(boxA.position.x - boxB.position.x).to.be.within(0, SPEED * 0.4);

    const owner = getSwitchboard(a.scene.scene).transforms.stats;
    const replica = getSwitchboard(b.scene.scene).transforms.stats;
    expect(replica.snapshotsReceived, 'some snapshots were lost on the way').to.be.below(owner.snapshotsSent);
    expect(replica.snapshotsReceived).to.be.above(owner.snapshotsSent * 0.6);

    // The owner stops: the replica settles on the final pose, within the quantization bounds.
    moving = false;
    await stepUntil('the replica to reach the owner’s final pose', () => Math.abs(boxB.position.x - boxA.position.x) <= POSITION_MAX_ERROR * 2, frame, { maxSteps: 200 });
    expect(boxB.position.subtract(boxA.position).length()).to.be.at.most(POSITION_MAX_ERROR * Math.sqrt(3) + 1e-9);
    const qa = Quaternion.FromEulerVector(boxA.rotation);
    const qb = boxB.rotationQuaternion!;
    expect(angleBetween([qa.x, qa.y, qa.z, qa.w], [qb.x, qb.y, qb.z, qb.w])).to.be.at.most(ROTATION_MAX_ERROR_RAD);
    expect(boxA.rotationQuaternion, 'the owner keeps its Euler rotation').to.equal(null);
  });

  it('a replica accepts snapshots only from its owner, and a detached behavior stops updating its node', async () => {
    // B claims to own entity 1 too on its side — its snapshots must not move A's box (A owns it).
    const rogue = CreateBox('rogue', { size: 1 }, b.scene.scene);
    rogue.addBehavior(new NetworkedTransform({ entityId: 1, owner: b.net.getPeerId() }));
    rogue.position.set(50, 50, 50);
    for (let i = 0; i < 30; i++) {
      frame();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(boxA.position.x).to.equal(0);
    expect(getSwitchboard(a.scene.scene).transforms.stats.unknownEntity).to.be.above(0);

    const behavior = boxB.getBehaviorByName('NetworkedTransform')!;
    boxB.removeBehavior(behavior);
    boxB.position.set(-3, 0, 0);
    boxA.position.set(9, 0, 0);
    for (let i = 0; i < 30; i++) {
      frame();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(boxB.position.x).to.equal(-3);
  });
});
