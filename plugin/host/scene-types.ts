/**
 * The parts of a Babylon `Scene` the host uses, written structurally so that plugin/host needs no
 * import of @babylonjs/core (a Babylon Scene satisfies these types as it is).
 */

/** An observer handle as Babylon's Observable.add returns it; the host only hands it back. */
export type SceneObserverHandle = object;

/** A Babylon Observable as the host uses it (its callbacks ignore the event data). */
export interface SceneObservable {
  add(callback: () => void, mask?: number, insertFirst?: boolean): SceneObserverHandle | null;
  remove(observer: SceneObserverHandle | null): boolean;
  makeObserverTopPriority(observer: SceneObserverHandle): void;
  makeObserverBottomPriority(observer: SceneObserverHandle): void;
}

export interface HostScene {
  readonly onBeforeAnimationsObservable: SceneObservable;
  readonly onBeforeRenderObservable: SceneObservable;
  readonly onAfterRenderObservable: SceneObservable;
  readonly onDisposeObservable: SceneObservable;
  readonly isDisposed: boolean;
  getEngine(): object;
}

/** The @babylonjs/core version of the engine class the scene runs on (its static `Version`), if it says. */
export function engineVersionOf(scene: HostScene): string | null {
  const engineClass = scene.getEngine().constructor as { Version?: unknown };
  return typeof engineClass.Version === 'string' ? engineClass.Version : null;
}
