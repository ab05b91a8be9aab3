// A browser game's code, type-checked under a strict browser tsconfig ("types": []) and bundled
// for the browser by the packaging test. It touches every part of the public surface a game uses.
import { Engine } from '@babylonjs/core/Engines/engine.js';
import { TransformNode } from '@babylonjs/core/Meshes/transformNode.js';
import { Scene } from '@babylonjs/core/scene.js';
import {
  ColyseusLobby,
  NetworkManager,
  NetworkedTransform,
  Result,
  bindRouteSync,
  installSwitchboard,
  jsonCodec,
  structCodec,
  type NetworkMessage,
  type PeerStats,
} from 'switchboard';

interface Chat {
  text: string;
}

const isChat = (value: unknown): value is Chat => typeof value === 'object' && value !== null && typeof (value as { text?: unknown }).text === 'string';

export async function startGame(canvas: HTMLCanvasElement): Promise<void> {
  const engine = new Engine(canvas);
  const scene = new Scene(engine);
  const lobby = await ColyseusLobby.join('ws://127.0.0.1:2567', 'packaging');
  const net = installSwitchboard(scene, { config: { relay: 'ws://127.0.0.1:7777', token: lobby.relayToken ?? null } });
  const routeSync = bindRouteSync(net.manager, lobby, { channels: [...net.config.channels] });
  const avatar = new TransformNode('avatar', scene);
  avatar.addBehavior(new NetworkedTransform({ entityId: 1, owner: net.manager.getPeerId() }));
  const chat = jsonCodec<Chat>(isChat);
  const pose = structCodec({ x: 'f32', y: 'f32' });
  net.manager.message$.subscribe((message: NetworkMessage) => {
    const decoded = chat.decode(message.data);
    if (decoded.ok) console.log(decoded.value.text);
    const stats: PeerStats | undefined = net.manager.getPeerStats(message.peerId);
    if (stats !== undefined) console.log(stats.rttMs);
  });
  const bytes = pose.encode({ x: 1, y: 2 });
  console.log(bytes.length, routeSync !== null);
  engine.runRenderLoop(() => scene.render());
}

export function managerOnly(): Result {
  const manager = new NetworkManager({ relay: 'wss://relay.example.test:443' });
  const result = manager.flush();
  void manager.dispose();
  return result === Result.Ok ? Result.Ok : result;
}
