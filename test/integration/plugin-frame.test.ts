import { expect } from 'chai';
import type { NetworkManagerComponent } from '../../plugin/components/network-manager-component';
import { getSwitchboard, installSwitchboard } from '../../plugin/host';
import { Result } from '../../plugin/net/result';
import type { PeerStateChange } from '../../plugin/net/types';
import { startRelay, type RelayServer } from '../../server';
import { connectComponents, countingSocketFactory, createHeadlessScene, RecordingLogger, renderAll, stepUntil, type HeadlessScene } from './plugin-support';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe('Babylon plugin in the frame, two scenes over a real relay', function () {
  this.timeout(20_000);
  let relay: RelayServer;
  let a: { scene: HeadlessScene; net: NetworkManagerComponent };
  let b: { scene: HeadlessScene; net: NetworkManagerComponent };
  let counter: ReturnType<typeof countingSocketFactory>;

  beforeEach(async () => {
    relay = await startRelay({ port: 0, logger: new RecordingLogger() });
    counter = countingSocketFactory();
    const sceneA = createHeadlessScene();
    const sceneB = createHeadlessScene();
    // A over UDP through a counting wrapper of its real link; B over WebSocket.
    a = { scene: sceneA, net: installSwitchboard(sceneA.scene, { config: { relay: relay.udpUrl }, logger: new RecordingLogger(), managerOptions: { socketFactory: counter.factory } }) };
    b = { scene: sceneB, net: installSwitchboard(sceneB.scene, { config: { relay: relay.wsUrl }, logger: new RecordingLogger() }) };
    await connectComponents(a, b);
  });

  afterEach(async () => {
    a.scene.dispose();
    b.scene.dispose();
    await Promise.all([a.net.whenDisposed(), b.net.whenDisposed()]);
    await relay.close();
  });

  it('a message sent from an onBeforeRender observer added after install leaves in that same frame’s flush', async () => {
    const received: string[] = [];
    b.net.messagesOn(0).subscribe((m) => received.push(decoder.decode(m.data)));
    let sentWhenQueued = -1;
    let sentBeforeFlush = -1;
    let sendNow = false;
    a.scene.scene.onBeforeRenderObservable.add(() => {
      if (!sendNow) return;
      sendNow = false;
      expect(a.net.sendMessage(b.net.getPeerId(), 0, encoder.encode('hello from this frame'))).to.equal(Result.Ok);
      sentWhenQueued = counter.sent();
    });
    // A probe just before the flush system: nothing may have left between queueing and flushing.
    getSwitchboard(a.scene.scene).host.addSystem({ name: 'probe', phase: 'late-update', order: 999, run: () => (sentBeforeFlush = counter.sent()) });
    let flushes = 0;
    const manager = a.net.manager;
    const flush = manager.flush.bind(manager);
    manager.flush = () => (flushes++, flush());

    sendNow = true;
    a.scene.scene.render();
    const sentAfterFrame = counter.sent();
    expect(flushes).to.equal(1);
    expect(sentWhenQueued).to.be.at.least(0);
    expect(sentBeforeFlush, 'sendMessage itself sends nothing').to.equal(sentWhenQueued);
    expect(sentAfterFrame, 'the flush of that frame sent datagrams').to.be.above(sentBeforeFlush);

    // A renders no further frame: the message can only arrive from that flush.
    await stepUntil('B to receive the message from A’s single frame', () => received.length > 0, () => b.scene.scene.render(), { maxSteps: 500 });
    expect(received).to.deep.equal(['hello from this frame']);

    for (let i = 0; i < 7; i++) a.scene.scene.render();
    expect(flushes, 'exactly one flush per rendered frame').to.equal(8);
  });

  it('received messages reach subscribers in early update, before gameplay observers of that frame', async () => {
    const log: string[] = [];
    const hostB = getSwitchboard(b.scene.scene).host;
    b.net.messagesOn(0).subscribe((m) => log.push(`message ${decoder.decode(m.data)} @${hostB.frameCount}`));
    b.scene.scene.onBeforeRenderObservable.add(() => log.push(`gameplay @${hostB.frameCount}`));
    for (let i = 0; i < 5; i++) expect(a.net.sendMessage(b.net.getPeerId(), 0, encoder.encode(`m${i}`))).to.equal(Result.Ok);
    a.scene.scene.render();
    await stepUntil('B to receive five messages', () => log.filter((l) => l.startsWith('message')).length === 5, () => renderAll([a.scene, b.scene]), { maxSteps: 500 });
    const firstMessage = log.findIndex((l) => l.startsWith('message'));
    const frame = log[firstMessage]!.split('@')[1];
    const gameplayOfThatFrame = log.indexOf(`gameplay @${frame}`);
    expect(gameplayOfThatFrame, 'gameplay observer of the delivery frame ran').to.be.above(-1);
    for (const line of log.filter((l) => l.startsWith('message'))) {
      expect(log.indexOf(line), `${line} before gameplay of its frame`).to.be.below(log.indexOf(`gameplay @${line.split('@')[1]}`));
    }
    expect(log.filter((l) => l.startsWith('message')).map((l) => l.split(' ')[1])).to.deep.equal(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('disposing a scene completes its observables, stops its traffic and leaves the relay; the other end sees the peer closed', async () => {
    const statesAtB: PeerStateChange[] = [];
    b.net.peerState$.subscribe((s) => statesAtB.push(s));
    const completed: string[] = [];
    a.net.message$.subscribe({ complete: () => completed.push('message$') });
    a.net.peerState$.subscribe({ complete: () => completed.push('peerState$') });
    a.net.routeUpdate$.subscribe({ complete: () => completed.push('routeUpdate$') });
    expect(relay.stats().sessions).to.equal(2);

    a.scene.dispose();
    expect(completed).to.have.members(['message$', 'peerState$', 'routeUpdate$']);
    await a.net.whenDisposed();
    const sentAfterDispose = counter.sent();
    await stepUntil('the relay to drop A’s session', () => relay.stats().sessions === 1, () => b.scene.scene.render(), { maxSteps: 500 });
    await stepUntil('B to see A closed', () => statesAtB.some((s) => s.peerId === a.net.getPeerId() && s.state === 'closed'), () => b.scene.scene.render(), { maxSteps: 500 });
    for (let i = 0; i < 20; i++) b.scene.scene.render();
    expect(counter.sent(), 'A sends nothing after dispose').to.equal(sentAfterDispose);
  });
});
