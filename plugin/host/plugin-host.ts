import { Subject, type Observable } from 'rxjs';
import type { FramePhase } from '../manifest';
import type { Clock, Logger } from '../net/types';
import type { HostScene, SceneObservable, SceneObserverHandle } from './scene-types';

/** What a system learns about the frame it runs in. */
export interface FrameContext {
  /** Rendered frames since install, counting this one (starts at 1). */
  readonly frame: number;
  readonly phase: FramePhase;
  /** The host clock's time at the start of this phase, in ms. */
  readonly nowMs: number;
}

/** A unit of per-frame work; the host runs it in its phase, ordered by `order` then by registration. */
export interface PluginSystem {
  readonly name: string;
  readonly phase: FramePhase;
  readonly order: number;
  run(frame: FrameContext): void;
  /** Called once when the system is removed or the host is disposed. */
  dispose?(): void;
}

export interface Disposable {
  dispose(): void;
}

interface SystemSlot {
  system: PluginSystem;
  sequence: number;
  errors: number;
}

/** Errors of one system that are logged before the host stops repeating them. */
const LOGGED_ERRORS_PER_SYSTEM = 3;

/**
 * Runs systems inside a Babylon scene's frame and owns what is installed with them.
 *
 * Frame order of Babylon's Scene.render() (scene.pure.ts `_renderFrame`):
 *   onBeforeAnimationsObservable → animations → camera update → onBeforeRenderObservable
 *   → render targets, meshes → afterRender → onAfterRenderObservable.
 * Phases are hooked as follows:
 * - early-update: first observer of onBeforeAnimationsObservable — the first hook of the frame, so
 *   messages reach subscribers before animations and before every onBeforeRender observer (where
 *   gameplay lives). Moved back to the top at the end of each frame, in case a script inserted an
 *   observer first since.
 * - update: an onBeforeRenderObservable observer added at install, among gameplay's.
 * - late-update: the last observer of onAfterRenderObservable, the last hook of the frame. Observers
 *   added to onBeforeRender at any time run before it because that whole observable is notified
 *   earlier; observers added to onAfterRender after install are passed too: a guard observer at the
 *   top of onAfterRender moves the late-update observer to the bottom just before each notification
 *   walks the list. (onAfterAnimationsObservable would not do: it fires before onBeforeRender.)
 */
export class PluginHost {
  private readonly slots: Record<FramePhase, SystemSlot[]> = { 'early-update': [], update: [], 'late-update': [] };
  private readonly disposables: Disposable[] = [];
  private readonly disposedSubject = new Subject<void>();
  private readonly observers: { observable: SceneObservable; handle: SceneObserverHandle | null }[] = [];
  private readonly earlyObserver: SceneObserverHandle | null;
  private readonly lateGuardObserver: SceneObserverHandle | null;
  private readonly lateObserver: SceneObserverHandle | null;
  private sequence = 0;
  private frameNumber = 0;
  private disposed = false;

  /** Emits once and completes when the host is disposed (scene.dispose() or dispose()). */
  readonly disposed$: Observable<void> = this.disposedSubject.asObservable();

  constructor(readonly scene: HostScene, private readonly clock: Clock, private readonly logger: Logger) {
    if (scene.isDisposed) throw new Error('Switchboard: cannot install into a disposed scene');
    this.earlyObserver = this.observe(scene.onBeforeAnimationsObservable, () => this.runEarly(), true);
    this.observe(scene.onBeforeRenderObservable, () => this.runPhase('update'), false);
    this.lateGuardObserver = this.observe(scene.onAfterRenderObservable, () => this.keepLateLast(), true);
    this.lateObserver = this.observe(scene.onAfterRenderObservable, () => this.runLate(), false);
    this.observe(scene.onDisposeObservable, () => this.dispose(), false);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Rendered frames seen since install. */
  get frameCount(): number {
    return this.frameNumber;
  }

  /** Adds a system; the returned handle removes it (and calls its dispose). */
  addSystem(system: PluginSystem): Disposable {
    if (this.disposed) throw new Error(`Switchboard: cannot add system '${system.name}' to a disposed plugin host`);
    const slot: SystemSlot = { system, sequence: this.sequence++, errors: 0 };
    // Copy on write: a system added or removed while a phase runs takes effect from the next run.
    const next = [...this.slots[system.phase], slot];
    next.sort((a, b) => a.system.order - b.system.order || a.sequence - b.sequence);
    this.slots[system.phase] = next;
    let removed = false;
    return {
      dispose: () => {
        if (removed) return;
        removed = true;
        this.slots[system.phase] = this.slots[system.phase].filter((s) => s !== slot);
        this.disposeQuietly(system, `system '${system.name}'`);
      },
    };
  }

  /** Names of the systems of a phase in the order they run. */
  systemsOf(phase: FramePhase): string[] {
    return this.slots[phase].map((s) => s.system.name);
  }

  /** Disposed with the host, in reverse order of registration. */
  addDisposable(disposable: Disposable): void {
    if (this.disposed) {
      this.disposeQuietly(disposable, 'a disposable added after dispose');
      return;
    }
    this.disposables.push(disposable);
  }

  /** Removes the frame hooks, disposes systems and everything added; idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const { observable, handle } of this.observers) observable.remove(handle);
    this.observers.length = 0;
    for (const phase of ['late-update', 'update', 'early-update'] as const) {
      const slots = this.slots[phase];
      this.slots[phase] = [];
      for (let i = slots.length - 1; i >= 0; i--) this.disposeQuietly(slots[i]!.system, `system '${slots[i]!.system.name}'`);
    }
    for (let i = this.disposables.length - 1; i >= 0; i--) this.disposeQuietly(this.disposables[i]!, 'a plugin part');
    this.disposables.length = 0;
    this.disposedSubject.next();
    this.disposedSubject.complete();
  }

  private observe(observable: SceneObservable, callback: () => void, insertFirst: boolean): SceneObserverHandle | null {
    const handle = observable.add(callback, -1, insertFirst);
    this.observers.push({ observable, handle });
    return handle;
  }

  private runEarly(): void {
    this.frameNumber++;
    this.runPhase('early-update');
  }

  private keepLateLast(): void {
    if (this.lateObserver) this.scene.onAfterRenderObservable.makeObserverBottomPriority(this.lateObserver);
  }

  private runLate(): void {
    this.runPhase('late-update');
    if (this.disposed) return;
    // Ready for the next frame: be first again wherever a script inserted an observer first.
    if (this.earlyObserver) this.scene.onBeforeAnimationsObservable.makeObserverTopPriority(this.earlyObserver);
    if (this.lateGuardObserver) this.scene.onAfterRenderObservable.makeObserverTopPriority(this.lateGuardObserver);
  }

  private runPhase(phase: FramePhase): void {
    if (this.disposed) return;
    const context: FrameContext = { frame: this.frameNumber, phase, nowMs: this.clock.now() };
    for (const slot of this.slots[phase]) {
      if (this.disposed) return;
      try {
        slot.system.run(context);
      } catch (error) {
        // One broken system must not stop the others (above all, not the flush).
        slot.errors++;
        if (slot.errors <= LOGGED_ERRORS_PER_SYSTEM) {
          const more = slot.errors === LOGGED_ERRORS_PER_SYSTEM ? ' (further errors of this system are not logged)' : '';
          this.logger.warn(`system '${slot.system.name}' threw in ${phase} of frame ${this.frameNumber}: ${errorText(error)}${more}`);
        }
      }
    }
  }

  private disposeQuietly(disposable: { dispose?(): void }, what: string): void {
    try {
      disposable.dispose?.();
    } catch (error) {
      this.logger.warn(`disposing ${what} threw: ${errorText(error)}`);
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
