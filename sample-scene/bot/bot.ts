/**
 * A headless player: a NullEngine scene running the sample's session and world, moved by a
 * BotBrain. Used by `npm start -- --bots N` and by the bot test, each bot in its own process.
 * With `report` set it describes what it sees as BotReport objects (the test compares them).
 */
import { FreeCamera } from '@babylonjs/core/Cameras/freeCamera.js';
import { NullEngine } from '@babylonjs/core/Engines/nullEngine.js';
import { Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import { Logger as BabylonLogger } from '@babylonjs/core/Misc/logger.js';
import { Scene } from '@babylonjs/core/scene.js';
import { consoleLogger, type Logger } from 'switchboard';
import { BotBrain } from '../game/bot-brain';
import { stepMovement } from '../game/movement';
import { GameWorld } from '../babylon/game-world';
import { joinSample, type JoinedSample } from '../session/join-sample';
import type { SessionEvent } from '../session/game-session';

export interface BotOptions {
  relay: string;
  lobbyUrl: string;
  lobbyName: string;
  seed: number;
  /** Drop loot only while at least this many other players are connected (default 0). */
  minPeersToDrop?: number;
  /** Time between drops, picked in this range (default BotBrain's). */
  dropEveryMs?: readonly [number, number];
  /** Frame interval (default 16 ms). */
  frameMs?: number;
  /** How often a 'state' report is made (default 250 ms). */
  stateEveryMs?: number;
  report?: (report: BotReport) => void;
  logger?: Logger;
}

export type BotReport =
  | { event: 'ready'; peerId: string; label: string }
  | { event: 'state'; self: { x: number; z: number }; others: { peerId: string; state: string; x: number; z: number }[] }
  | { event: 'appeared'; key: string; dropper: string }
  | { event: 'claimed'; key: string }
  | { event: 'taken'; key: string; dropper: string; winner: string }
  | { event: 'vanished'; key: string }
  | { event: 'frozen' }
  | { event: 'stopped' };

export interface RunningBot {
  readonly peerId: bigint;
  readonly joined: JoinedSample;
  /** Stops moving and dropping (networking goes on), so the others can settle. */
  freeze(): void;
  /** Leaves the lobby, closes the peers, leaves the relay and stops the frame loop. Idempotent. */
  stop(): Promise<void>;
}

export async function startBot(options: BotOptions): Promise<RunningBot> {
  const logger = options.logger ?? consoleLogger;
  const report = options.report ?? (() => undefined);
  BabylonLogger.LogLevels = BabylonLogger.WarningLogLevel | BabylonLogger.ErrorLogLevel;
  const engine = new NullEngine();
  const scene = new Scene(engine);
  // scene.render() needs an active camera.
  new FreeCamera('bot camera', new Vector3(0, 20, -20), scene);
  let joined: JoinedSample;
  try {
    joined = await joinSample(scene, { relay: options.relay, lobbyUrl: options.lobbyUrl, lobbyName: options.lobbyName, logger });
  } catch (error) {
    scene.dispose();
    engine.dispose();
    throw error;
  }
  const { session, net } = joined;
  const world = new GameWorld(scene, session, { visual: false });
  const brain = new BotBrain({ seed: options.seed, dropEveryMs: options.dropEveryMs });
  const minPeers = options.minPeersToDrop ?? 0;
  const stateEveryMs = options.stateEveryMs ?? 250;
  let frozen = false;
  let lastFrameAt = performance.now();
  let lastStateAt = -Infinity;

  session.events$.subscribe((event) => {
    const line = describe(event);
    if (line) report(line);
  });
  report({ event: 'ready', peerId: session.self.toString(), label: session.player(session.self)!.label });

  scene.onBeforeRenderObservable.add(() => {
    const now = performance.now();
    const dt = (now - lastFrameAt) / 1000;
    lastFrameAt = now;
    if (!frozen) {
      const position = world.localPosition();
      const claimable = session.loot.items().filter((item) => item.dropper !== session.self && item.state === 'on-ground');
      const connected = net.connectedPeers().length;
      const decision = brain.think(now, position, claimable, connected >= minPeers);
      world.moveLocal(stepMovement(position, decision.input, dt));
      session.tick(world.localPosition());
      if (decision.drop) session.drop(world.localPosition(), world.localYaw());
    }
    if (now - lastStateAt >= stateEveryMs) {
      lastStateAt = now;
      const self = world.localPosition();
      report({
        event: 'state',
        self: { x: round(self.x), z: round(self.z) },
        others: world
          .avatarViews()
          .filter((v) => !v.player.isSelf)
          .map((v) => ({ peerId: v.player.peerId.toString(), state: v.player.state, x: round(v.node.position.x), z: round(v.node.position.z) })),
      });
    }
  });

  const frameMs = options.frameMs ?? 16;
  const timer = setInterval(() => scene.render(), frameMs);
  let stopping: Promise<void> | null = null;
  return {
    peerId: session.self,
    joined,
    freeze() {
      if (frozen) return;
      frozen = true;
      report({ event: 'frozen' });
    },
    stop() {
      stopping ??= (async () => {
        await joined.leave();
        clearInterval(timer);
        world.dispose();
        scene.dispose();
        await net.whenDisposed();
        engine.dispose();
        report({ event: 'stopped' });
      })();
      return stopping;
    },
  };
}

function describe(event: SessionEvent): BotReport | null {
  switch (event.kind) {
    case 'appeared':
      return { event: 'appeared', key: event.item.key, dropper: event.item.dropper.toString() };
    case 'claimed':
      return { event: 'claimed', key: event.item.key };
    case 'taken':
      return { event: 'taken', key: event.pickup.key, dropper: event.pickup.dropper.toString(), winner: event.pickup.winner.toString() };
    case 'vanished':
      return { event: 'vanished', key: event.item.key };
    default:
      return null;
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;
