/**
 * A DOM label over every avatar (name, score, "you"), placed each frame by projecting the
 * avatar's head onto the canvas. DOM rather than Babylon GUI: no extra package, crisp text.
 */
import { Matrix, Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import type { Scene } from '@babylonjs/core/scene.js';
import type { PeerId } from 'switchboard';
import type { GameWorld } from '../babylon/game-world';

const HEAD_HEIGHT = 1.1;

export class AvatarLabels {
  private readonly labels = new Map<PeerId, HTMLDivElement>();
  private readonly head = new Vector3();

  constructor(
    private readonly layer: HTMLElement,
    private readonly scene: Scene,
    private readonly world: GameWorld,
    private readonly canvas: HTMLCanvasElement,
  ) {}

  /** Call after each render. */
  update(): void {
    const camera = this.scene.activeCamera;
    if (!camera) return;
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    const viewport = camera.viewport.toGlobal(width, height);
    const transform = this.scene.getTransformMatrix();
    const seen = new Set<PeerId>();
    for (const { player, node } of this.world.placedAvatarViews()) {
      seen.add(player.peerId);
      let label = this.labels.get(player.peerId);
      if (!label) {
        label = document.createElement('div');
        label.className = 'avatar-label';
        label.style.borderColor = player.cssColour;
        this.layer.appendChild(label);
        this.labels.set(player.peerId, label);
      }
      const score = this.world.session.loot.scoreOf(player.peerId);
      const text = `${player.label}${player.isSelf ? ' (you)' : ''}${score > 0 ? ` ★${score}` : ''}${player.state === 'connected' ? '' : ` · ${player.state}`}`;
      if (label.textContent !== text) label.textContent = text;
      this.head.set(node.position.x, node.position.y + HEAD_HEIGHT, node.position.z);
      const projected = Vector3.Project(this.head, Matrix.IdentityReadOnly, transform, viewport);
      label.style.transform = `translate(${projected.x.toFixed(1)}px, ${projected.y.toFixed(1)}px) translate(-50%, -100%)`;
    }
    for (const [peerId, label] of this.labels) {
      if (seen.has(peerId)) continue;
      label.remove();
      this.labels.delete(peerId);
    }
  }

  dispose(): void {
    for (const label of this.labels.values()) label.remove();
    this.labels.clear();
  }
}
