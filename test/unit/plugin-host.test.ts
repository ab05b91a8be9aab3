import { expect } from 'chai';
import { PluginHost, type FrameContext, type PluginSystem } from '../../plugin/host/plugin-host';
import type { FramePhase } from '../../plugin/manifest';
import { createHeadlessScene, RecordingLogger, VirtualClock, type HeadlessScene } from '../integration/plugin-support';

function probe(name: string, phase: FramePhase, order: number, log: string[], extra: Partial<PluginSystem> = {}): PluginSystem {
  return { name, phase, order, run: (frame: FrameContext) => log.push(`${name}#${frame.frame}`), ...extra };
}

describe('plugin host (phases in a Babylon frame, NullEngine)', () => {
  let headless: HeadlessScene;
  let logger: RecordingLogger;
  let clock: VirtualClock;

  beforeEach(() => {
    headless = createHeadlessScene();
    logger = new RecordingLogger();
    clock = new VirtualClock();
  });
  afterEach(() => headless.dispose());

  it('runs early-update first, update among onBeforeRender observers, late-update after every observer of the frame', () => {
    const { scene } = headless;
    const log: string[] = [];
    scene.onBeforeAnimationsObservable.add(() => log.push('gameplay:beforeAnimations(pre-install)'));
    scene.onBeforeRenderObservable.add(() => log.push('gameplay:beforeRender(pre-install)'));
    const host = new PluginHost(scene, clock, logger);
    host.addSystem(probe('early', 'early-update', 0, log));
    host.addSystem(probe('update', 'update', 0, log));
    host.addSystem(probe('late', 'late-update', 0, log));
    scene.onBeforeRenderObservable.add(() => log.push('gameplay:beforeRender(post-install)'));
    scene.onAfterRenderObservable.add(() => log.push('gameplay:afterRender(post-install)'));
    scene.render();
    expect(log).to.deep.equal([
      'early#1',
      'gameplay:beforeAnimations(pre-install)',
      'gameplay:beforeRender(pre-install)',
      'update#1',
      'gameplay:beforeRender(post-install)',
      'gameplay:afterRender(post-install)',
      'late#1',
    ]);
  });

  it('stays first and last when scripts add observers later, first-inserted ones and ones added mid-frame included', () => {
    const { scene } = headless;
    const log: string[] = [];
    const host = new PluginHost(scene, clock, logger);
    host.addSystem(probe('early', 'early-update', 0, log));
    host.addSystem(probe('late', 'late-update', 0, log));
    scene.render();
    log.length = 0;
    // Between frames: observers inserted first on both observables the host hooks.
    scene.onBeforeAnimationsObservable.add(() => log.push('insertFirst:beforeAnimations'), -1, true);
    scene.onAfterRenderObservable.add(() => log.push('insertFirst:afterRender'), -1, true);
    // Mid-frame: a gameplay observer that registers an afterRender observer while the frame runs.
    let added = false;
    scene.onBeforeRenderObservable.add(() => {
      log.push('gameplay:beforeRender');
      if (!added) {
        added = true;
        scene.onAfterRenderObservable.add(() => log.push('added-mid-frame:afterRender'));
      }
    });
    scene.render(); // the insertFirst beforeAnimations observer beats early-update once…
    scene.render(); // …then the host is first again.
    expect(log).to.deep.equal([
      'insertFirst:beforeAnimations',
      'early#2',
      'gameplay:beforeRender',
      'insertFirst:afterRender',
      'added-mid-frame:afterRender',
      'late#2',
      'early#3',
      'insertFirst:beforeAnimations',
      'gameplay:beforeRender',
      'insertFirst:afterRender',
      'added-mid-frame:afterRender',
      'late#3',
    ]);
  });

  it('runs each phase exactly once per rendered frame', () => {
    const { scene } = headless;
    const counts: Record<FramePhase, number> = { 'early-update': 0, update: 0, 'late-update': 0 };
    const host = new PluginHost(scene, clock, logger);
    for (const phase of ['early-update', 'update', 'late-update'] as const) {
      host.addSystem({ name: phase, phase, order: 0, run: () => counts[phase]++ });
    }
    for (let i = 0; i < 25; i++) scene.render();
    expect(counts).to.deep.equal({ 'early-update': 25, update: 25, 'late-update': 25 });
    expect(host.frameCount).to.equal(25);
  });

  it('orders systems by order, then by registration; additions and removals apply from the next run', () => {
    const { scene } = headless;
    const log: string[] = [];
    const host = new PluginHost(scene, clock, logger);
    host.addSystem(probe('b', 'late-update', 10, log));
    host.addSystem(probe('a', 'late-update', -5, log));
    const c = host.addSystem(probe('c', 'late-update', 10, log));
    let added = false;
    host.addSystem(probe('adder', 'late-update', 0, log, {
      run: (frame) => {
        log.push(`adder#${frame.frame}`);
        if (!added) {
          added = true;
          host.addSystem(probe('late-comer', 'late-update', 1, log));
          c.dispose();
        }
      },
    }));
    expect(host.systemsOf('late-update')).to.deep.equal(['a', 'adder', 'b', 'c']);
    scene.render();
    scene.render();
    expect(log).to.deep.equal(['a#1', 'adder#1', 'b#1', 'c#1', 'a#2', 'adder#2', 'late-comer#2', 'b#2']);
  });

  it('passes the host clock and keeps running other systems when one throws (logged a bounded number of times)', () => {
    const { scene } = headless;
    const seen: number[] = [];
    const host = new PluginHost(scene, clock, logger);
    host.addSystem({ name: 'broken', phase: 'late-update', order: 0, run: () => { throw new Error('boom'); } });
    host.addSystem({ name: 'after', phase: 'late-update', order: 1, run: (frame) => seen.push(frame.nowMs) });
    for (let i = 0; i < 5; i++) {
      clock.advance(16);
      scene.render();
    }
    expect(seen).to.deep.equal([1016, 1032, 1048, 1064, 1080]);
    const warnings = logger.lines.filter((l) => l.includes("system 'broken' threw"));
    expect(warnings).to.have.length(3);
    expect(warnings[2]).to.contain('further errors of this system are not logged');
  });

  it('scene.dispose() disposes systems and parts, completes disposed$, and stops every phase', () => {
    const { scene } = headless;
    const events: string[] = [];
    const host = new PluginHost(scene, clock, logger);
    let runs = 0;
    host.addSystem({ name: 's1', phase: 'early-update', order: 0, run: () => runs++, dispose: () => events.push('s1 disposed') });
    host.addSystem({ name: 's2', phase: 'late-update', order: 0, run: () => runs++, dispose: () => events.push('s2 disposed') });
    host.addDisposable({ dispose: () => events.push('part A disposed') });
    host.addDisposable({ dispose: () => events.push('part B disposed') });
    host.disposed$.subscribe({ next: () => events.push('disposed$ next'), complete: () => events.push('disposed$ complete') });
    scene.render();
    expect(runs).to.equal(2);
    scene.dispose();
    expect(host.isDisposed).to.equal(true);
    expect(events).to.deep.equal(['s2 disposed', 's1 disposed', 'part B disposed', 'part A disposed', 'disposed$ next', 'disposed$ complete']);
    host.dispose(); // idempotent
    expect(events).to.have.length(6);
    expect(() => host.addSystem(probe('x', 'update', 0, []))).to.throw(/disposed plugin host/);
  });

  it('dispose() on its own unhooks the frame', () => {
    const { scene } = headless;
    let runs = 0;
    const host = new PluginHost(scene, clock, logger);
    host.addSystem({ name: 's', phase: 'update', order: 0, run: () => runs++ });
    scene.render();
    host.dispose();
    scene.render();
    expect(runs).to.equal(1);
  });

  it('refuses a disposed scene', () => {
    headless.scene.dispose();
    expect(() => new PluginHost(headless.scene, clock, logger)).to.throw(/disposed scene/);
  });
});
