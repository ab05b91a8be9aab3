/** The sample's stage for the browser: a fixed camera over the arena, a light and a gridded ground. */
import { FreeCamera } from '@babylonjs/core/Cameras/freeCamera.js';
import { HemisphericLight } from '@babylonjs/core/Lights/hemisphericLight.js';
import { StandardMaterial } from '@babylonjs/core/Materials/standardMaterial.js';
import { Color3, Color4 } from '@babylonjs/core/Maths/math.color.js';
import { Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import { CreateGround } from '@babylonjs/core/Meshes/Builders/groundBuilder.js';
import { CreateLineSystem } from '@babylonjs/core/Meshes/Builders/linesBuilder.js';
import type { Scene } from '@babylonjs/core/scene.js';
import { ARENA_HALF_SIZE } from '../game/constants';

/**
 * Builds the stage. The camera does not move: +x is right and +z is up on the screen, which is
 * what the arrow keys and WASD map to.
 */
export function createStage(scene: Scene): void {
  scene.clearColor = new Color4(0.09, 0.1, 0.13, 1);
  const camera = new FreeCamera('camera', new Vector3(0, ARENA_HALF_SIZE * 2.1, -ARENA_HALF_SIZE * 1.75), scene);
  camera.setTarget(new Vector3(0, 0, -ARENA_HALF_SIZE * 0.12));
  camera.fov = 0.72;
  const light = new HemisphericLight('light', new Vector3(0.3, 1, -0.4), scene);
  light.intensity = 0.95;
  light.groundColor = new Color3(0.25, 0.25, 0.3);

  const size = ARENA_HALF_SIZE * 2 + 2;
  const ground = CreateGround('ground', { width: size, height: size }, scene);
  const groundMaterial = new StandardMaterial('ground material', scene);
  groundMaterial.diffuseColor = new Color3(0.22, 0.3, 0.24);
  groundMaterial.specularColor = new Color3(0, 0, 0);
  ground.material = groundMaterial;
  ground.isPickable = false;

  const lines: Vector3[][] = [];
  const half = size / 2;
  for (let v = -half; v <= half + 1e-6; v += 2) {
    lines.push([new Vector3(v, 0.01, -half), new Vector3(v, 0.01, half)]);
    lines.push([new Vector3(-half, 0.01, v), new Vector3(half, 0.01, v)]);
  }
  const grid = CreateLineSystem('grid', { lines }, scene);
  grid.color = new Color3(0.32, 0.42, 0.34);
  grid.isPickable = false;
}
