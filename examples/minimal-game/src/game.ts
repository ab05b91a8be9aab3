/**
 * One cube per player. Join the lobby (it hands out a relay token), install Switchboard on the
 * scene, let bindRouteSync open every other member as a peer, and give each cube a
 * NetworkedTransform: mine is sent 20 times a second, theirs are interpolated.
 */
import { Engine } from '@babylonjs/core/Engines/engine.js';
import { FreeCamera } from '@babylonjs/core/Cameras/freeCamera.js';
import { HemisphericLight } from '@babylonjs/core/Lights/hemisphericLight.js';
import { Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import { CreateBox } from '@babylonjs/core/Meshes/Builders/boxBuilder.js';
import type { Mesh } from '@babylonjs/core/Meshes/mesh.js';
import { Scene } from '@babylonjs/core/scene.js';
import { ColyseusLobby, NetworkedTransform, bindRouteSync, installSwitchboard, type PeerId } from 'switchboard';

interface PageConfig {
  relay: string;
  lobbyUrl: string;
}

const CUBE_ENTITY = 1;
const SPEED = 4; // units a second

async function main(): Promise<void> {
  const config = (await (await fetch('/config.json')).json()) as PageConfig;
  const canvas = document.getElementById('game') as HTMLCanvasElement;
  const engine = new Engine(canvas, true);
  const scene = new Scene(engine);
  const camera = new FreeCamera('camera', new Vector3(0, 12, -14), scene);
  camera.setTarget(Vector3.Zero());
  new HemisphericLight('light', new Vector3(0, 1, 0), scene);

  const lobby = await ColyseusLobby.join(config.lobbyUrl, 'minimal-game');
  // The token as a function: lobby tokens live minutes and are renewed, and every REGISTER (after a relay restart, say) takes the newest.
  const net = installSwitchboard(scene, { config: { relay: config.relay, token: null }, managerOptions: { token: () => lobby.relayToken } });
  bindRouteSync(net.manager, lobby, { channels: [...net.config.channels] });

  const cubes = new Map<PeerId, Mesh>();
  const cubeFor = (owner: PeerId): Mesh => {
    const cube = CreateBox(`cube-${owner}`, { size: 1 }, scene);
    cube.addBehavior(new NetworkedTransform({ entityId: CUBE_ENTITY, owner }));
    cubes.set(owner, cube);
    return cube;
  };
  const mine = cubeFor(net.manager.getPeerId());
  net.peerState$.subscribe(({ peerId, state }) => {
    if (state === 'connecting' && !cubes.has(peerId)) cubeFor(peerId);
    if (state === 'closed') {
      cubes.get(peerId)?.dispose();
      cubes.delete(peerId);
    }
  });

  const held = new Set<string>();
  window.addEventListener('keydown', (event) => held.add(event.key));
  window.addEventListener('keyup', (event) => held.delete(event.key));
  scene.onBeforeRenderObservable.add(() => {
    const step = (SPEED * engine.getDeltaTime()) / 1000;
    if (held.has('ArrowLeft')) mine.position.x -= step;
    if (held.has('ArrowRight')) mine.position.x += step;
    if (held.has('ArrowUp')) mine.position.z += step;
    if (held.has('ArrowDown')) mine.position.z -= step;
  });
  engine.runRenderLoop(() => scene.render());
  window.addEventListener('resize', () => engine.resize());
}

main().catch((error: unknown) => {
  document.body.textContent = `could not start: ${error instanceof Error ? error.message : String(error)}`;
});
