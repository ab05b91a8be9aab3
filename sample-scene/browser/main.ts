/**
 * The sample page: asks the server where the relay and lobby are (/config.json), joins the lobby
 * named by ?lobby= (with the ?loss=&latency=&jitter= link conditioner on what it sends), and runs
 * the game: WASD/arrows move, space throws loot, walking over someone else's loot claims it.
 */
import { Engine } from '@babylonjs/core/Engines/engine.js';
import { Scene } from '@babylonjs/core/scene.js';
import type { Logger } from 'switchboard';
import { GameWorld } from '../babylon/game-world';
import { createStage } from '../babylon/stage';
import { stepMovement } from '../game/movement';
import { PAGE_CONFIG_PATH, parsePageConfig } from '../game/page-config';
import { parseSceneParams } from '../game/scene-params';
import type { SessionEvent } from '../session/game-session';
import { joinSample } from '../session/join-sample';
import { AvatarLabels } from './avatar-labels';
import { startBackgroundTicker } from './background-ticker';
import { installDebugHook, type DebugSources } from './debug-hook';
import { KeyboardInput } from './keyboard-input';
import { NetGraphOverlay } from './net-graph-overlay';

/** When animation frames stop (hidden tab), a frame is run this often to keep the network going. */
const BACKGROUND_FRAME_MS = 50;
/** Event log lines kept on the page (newest first); older ones are removed. */
const FEED_LINES = 6;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`sample page: missing #${id}`);
  return found as T;
}

async function main(): Promise<void> {
  const status = element<HTMLDivElement>('status');
  const feed = element<HTMLDivElement>('feed');
  const sources: DebugSources = { status: 'joining', lobby: '', problems: [], joined: null, world: null };
  installDebugHook(window, sources);
  const setStatus = (text: string) => (status.textContent = text);
  const say = (text: string) => {
    const line = document.createElement('div');
    line.textContent = text;
    feed.prepend(line);
    while (feed.childElementCount > FEED_LINES) feed.lastElementChild?.remove();
  };
  const logger: Logger = {
    info: (m) => console.info(`[switchboard] ${m}`),
    warn: (m) => console.warn(`[switchboard] ${m}`),
  };

  try {
    const response = await fetch(PAGE_CONFIG_PATH, { cache: 'no-store' });
    if (!response.ok) throw new Error(`${PAGE_CONFIG_PATH} answered ${response.status}`);
    const parsedConfig = parsePageConfig(await response.json());
    if (!parsedConfig.ok) throw new Error(parsedConfig.error);
    const config = parsedConfig.config;
    const params = parseSceneParams(location.search, { lobby: config.lobby, seed: (Math.random() * 0xffffffff) >>> 0 });
    sources.lobby = params.lobby;
    sources.problems = params.problems;
    for (const problem of params.problems) say(`⚠ ${problem}`);
    setStatus(`joining lobby "${params.lobby}"…`);

    const canvas = element<HTMLCanvasElement>('scene');
    // preserveDrawingBuffer: screenshots of the canvas show the last frame.
    const engine = new Engine(canvas, true, { preserveDrawingBuffer: true, stencil: false });
    const scene = new Scene(engine);
    createStage(scene);
    const joined = await joinSample(scene, { relay: config.relay, lobbyUrl: config.lobbyUrl, lobbyName: params.lobby, linkConditioner: params.linkConditioner, logger });
    const { session } = joined;
    const world = new GameWorld(scene, session, { visual: true });
    sources.joined = joined;
    sources.world = world;

    const keys = new KeyboardInput(window);
    const labels = new AvatarLabels(element('labels'), scene, world, canvas);
    const graph = new NetGraphOverlay(element('net-graph'), session);
    const me = session.player(session.self)!;
    const impairment = params.linkConditioner
      ? ` · link conditioner: loss ${((params.linkConditioner.lossRate ?? 0) * 100).toFixed(0)}%, latency ${params.linkConditioner.latencyMs ?? 0} ms`
      : '';
    const showStatus = () => setStatus(`lobby "${params.lobby}" · you are ${me.label} · ${session.players().length} player(s)${impairment}`);
    showStatus();
    session.events$.subscribe((event: SessionEvent) => {
      const name = (peerId: bigint) => session.player(peerId)?.label ?? `P-${(peerId & 0xffffn).toString(16).toUpperCase()}`;
      switch (event.kind) {
        case 'player-joined':
          say(`${event.player.label} joined`);
          showStatus();
          break;
        case 'player-left':
          say(`${event.player.label} left`);
          showStatus();
          break;
        case 'taken':
          say(`${event.pickup.winner === session.self ? 'you' : name(event.pickup.winner)} picked up loot from ${event.pickup.dropper === session.self ? 'you' : name(event.pickup.dropper)}`);
          break;
        default:
          break;
      }
    });

    let lastFrameAt = performance.now();
    scene.onBeforeRenderObservable.add(() => {
      const now = performance.now();
      const dt = (now - lastFrameAt) / 1000;
      lastFrameAt = now;
      world.moveLocal(stepMovement(world.localPosition(), keys.axes(), dt));
      session.tick(world.localPosition());
      if (keys.takeDrop()) {
        const outcome = session.drop(world.localPosition(), world.localYaw());
        if (!outcome.ok) say(`can't drop: ${outcome.reason}`);
      }
    });
    const spin = scene.onBeforeRenderObservable.add(() => {
      for (const view of world.lootViewList()) if (view.mesh) view.mesh.rotation.y += 0.03;
    });
    scene.onAfterRenderObservable.add(() => labels.update());
    engine.runRenderLoop(() => scene.render());
    const ticker = startBackgroundTicker(BACKGROUND_FRAME_MS, () => {
      if (!scene.isDisposed && performance.now() - lastFrameAt > BACKGROUND_FRAME_MS * 2) scene.render();
    });
    window.addEventListener('resize', () => engine.resize());
    // Leave the lobby while the page can still send (idempotent): beforeunload comes first when the
    // tab closes, pagehide also covers navigations and mobile browsers that skip beforeunload.
    window.addEventListener('beforeunload', () => void joined.leave());
    window.addEventListener('pagehide', () => {
      ticker.dispose();
      scene.onBeforeRenderObservable.remove(spin);
      keys.dispose();
      graph.dispose();
      labels.dispose();
      void joined.leave().finally(() => {
        world.dispose();
        scene.dispose();
        engine.dispose();
      });
    });
    sources.status = 'ready';
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    sources.status = `failed: ${message}`;
    setStatus(`could not start: ${message}`);
    console.error(error);
  }
}

void main();
