/** Shared helpers of the plugin tests: headless Babylon scenes, a virtual clock, bounded waits. */
import { FreeCamera } from '@babylonjs/core/Cameras/freeCamera.js';
import { NullEngine } from '@babylonjs/core/Engines/nullEngine.js';
import { Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import { Logger as BabylonLogger } from '@babylonjs/core/Misc/logger.js';
import { Scene } from '@babylonjs/core/scene.js';
import type { NetworkManagerComponent } from '../../plugin/components/network-manager-component';
import { Result } from '../../plugin/net/result';
import { createDatagramSocket, type DatagramSocket } from '../../plugin/net/transport';
import type { Clock, Logger } from '../../plugin/net/types';

export interface HeadlessScene {
  engine: NullEngine;
  scene: Scene;
  dispose(): void;
}

/** A NullEngine scene with a camera, so scene.render() runs a whole frame. */
export function createHeadlessScene(): HeadlessScene {
  // Keep Babylon's warnings and errors, drop its per-engine version banner.
  BabylonLogger.LogLevels = BabylonLogger.WarningLogLevel | BabylonLogger.ErrorLogLevel;
  const engine = new NullEngine();
  const scene = new Scene(engine);
  new FreeCamera('camera', new Vector3(0, 0, -10), scene);
  return {
    engine,
    scene,
    dispose() {
      if (!scene.isDisposed) scene.dispose();
      engine.dispose();
    },
  };
}

export class VirtualClock implements Clock {
  constructor(private time = 1000) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** A logger that keeps what it is told, so tests can read it and the console stays quiet. */
export class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  info(message: string): void {
    this.lines.push(`info: ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn: ${message}`);
  }
}

/**
 * Calls `step` (which may render frames) until `condition` holds, at most `maxSteps` times and
 * `timeoutMs` of real time, yielding to the event loop between steps so sockets deliver.
 * Fails naming `what` it waited for.
 */
export async function stepUntil(what: string, condition: () => boolean, step: () => void, options: { maxSteps?: number; timeoutMs?: number } = {}): Promise<number> {
  const maxSteps = options.maxSteps ?? 2000;
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (let i = 0; i < maxSteps; i++) {
    if (condition()) return i;
    if (Date.now() > deadline) break;
    step();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  if (condition()) return maxSteps;
  throw new Error(`timed out waiting for ${what}`);
}

/** Counts what a manager hands to its real relay link; everything is forwarded unchanged. */
export class CountingSocket implements DatagramSocket {
  sent = 0;
  sentBytes = 0;
  constructor(private readonly inner: DatagramSocket) {}
  send(datagram: Uint8Array): void {
    this.sent++;
    this.sentBytes += datagram.length;
    this.inner.send(datagram);
  }
  get onOpen() {
    return this.inner.onOpen;
  }
  set onOpen(handler) {
    this.inner.onOpen = handler;
  }
  get onMessage() {
    return this.inner.onMessage;
  }
  set onMessage(handler) {
    this.inner.onMessage = handler;
  }
  get onClose() {
    return this.inner.onClose;
  }
  set onClose(handler) {
    this.inner.onClose = handler;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A socket factory whose sockets count; `sockets` lists them in creation order. */
export function countingSocketFactory(): { factory: (url: string) => DatagramSocket; sockets: CountingSocket[]; sent(): number } {
  const sockets: CountingSocket[] = [];
  return {
    factory: (url) => {
      const socket = new CountingSocket(createDatagramSocket(url));
      sockets.push(socket);
      return socket;
    },
    sockets,
    sent: () => sockets.reduce((sum, s) => sum + s.sent, 0),
  };
}

/** Renders every scene once (one frame each, in order). */
export function renderAll(scenes: HeadlessScene[]): void {
  for (const s of scenes) s.scene.render();
}

/**
 * Waits (rendering frames) until both components have routes, opens each to the other with the
 * configured channels, and waits until both report the other `connected`.
 */
export async function connectComponents(a: { scene: HeadlessScene; net: NetworkManagerComponent }, b: { scene: HeadlessScene; net: NetworkManagerComponent }, step?: () => void): Promise<void> {
  const frame = step ?? (() => renderAll([a.scene, b.scene]));
  await stepUntil('both scenes to get a route from the relay', () => a.net.getRoute() !== null && b.net.getRoute() !== null, frame);
  const ab = a.net.connectPeer(b.net.getPeerId(), b.net.getRoute()!);
  const ba = b.net.connectPeer(a.net.getPeerId(), a.net.getRoute()!);
  if (ab !== Result.Ok || ba !== Result.Ok) throw new Error(`connectPeer gave ${Result[ab]} / ${Result[ba]}`);
  await stepUntil(
    'both scenes to see the other peer connected',
    () => a.net.connectedPeers().includes(b.net.getPeerId()) && b.net.connectedPeers().includes(a.net.getPeerId()),
    frame,
  );
}
