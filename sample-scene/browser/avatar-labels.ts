/**
 * A DOM label over every avatar (name, score, "you") and a '×N' over every loot pile of two or
 * more, placed each frame by projecting the head (pile top) onto the canvas and laying the labels
 * out (game/label-layout.ts) so the labels of avatars standing close together stack instead of
 * covering each other. DOM rather than Babylon GUI: no extra package, crisp text.
 */
import { Matrix, Vector3 } from '@babylonjs/core/Maths/math.vector.js';
import type { Scene } from '@babylonjs/core/scene.js';
import type { GameWorld } from '../babylon/game-world';
import { layoutLabels, type LabelBox } from '../game/label-layout';
import { pileCaption } from '../game/loot-piles';

const HEAD_HEIGHT = 1.1;
const PILE_LABEL_HEIGHT = 1.2;

interface Shown {
  readonly element: HTMLDivElement;
  /** Size measured when the text last changed (measuring every frame would force layout). */
  width: number;
  height: number;
}

export class AvatarLabels {
  /** By 'avatar:<peer id>' or 'pile:<first loot key>'. */
  private readonly labels = new Map<string, Shown>();
  private readonly point = new Vector3();

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
    const viewport = camera.viewport.toGlobal(this.canvas.clientWidth, this.canvas.clientHeight);
    const transform = this.scene.getTransformMatrix();
    const project = (x: number, y: number, z: number) => {
      this.point.set(x, y, z);
      return Vector3.Project(this.point, Matrix.IdentityReadOnly, transform, viewport);
    };
    const boxes: LabelBox[] = [];
    const remeasure: Shown[] = [];
    const want = (id: string, className: string, text: string, colour: string | null, x: number, y: number, z: number) => {
      let shown = this.labels.get(id);
      if (!shown) {
        const element = document.createElement('div');
        element.className = className;
        element.dataset.labelId = id;
        if (colour) element.style.borderColor = colour;
        this.layer.appendChild(element);
        shown = { element, width: 0, height: 0 };
        this.labels.set(id, shown);
      }
      if (shown.element.textContent !== text) {
        shown.element.textContent = text;
        remeasure.push(shown);
      }
      const at = project(x, y, z);
      boxes.push({ id, anchorX: at.x, anchorY: at.y, width: 0, height: 0 });
    };

    for (const { player, node } of this.world.placedAvatarViews()) {
      const score = this.world.session.loot.scoreOf(player.peerId);
      const text = `${player.label}${player.isSelf ? ' (you)' : ''}${score > 0 ? ` ★${score}` : ''}${player.state === 'connected' ? '' : ` · ${player.state}`}`;
      want(`avatar:${player.peerId}`, 'avatar-label', text, player.cssColour, node.position.x, node.position.y + HEAD_HEIGHT, node.position.z);
    }
    for (const pile of this.world.lootPiles()) {
      const caption = pileCaption(pile);
      if (caption) want(`pile:${pile.keys[0]}`, 'loot-pile-label', caption, null, pile.x, PILE_LABEL_HEIGHT, pile.z);
    }

    // Reads after all the writes: one layout for all the labels whose text changed.
    for (const shown of remeasure) {
      shown.width = shown.element.offsetWidth;
      shown.height = shown.element.offsetHeight;
    }
    const sized = boxes.map((box) => {
      const shown = this.labels.get(box.id)!;
      return { ...box, width: shown.width, height: shown.height };
    });
    const seen = new Set<string>();
    for (const placed of layoutLabels(sized)) {
      seen.add(placed.id);
      const shown = this.labels.get(placed.id)!;
      shown.element.style.transform = `translate(${placed.left.toFixed(1)}px, ${placed.top.toFixed(1)}px)`;
      shown.element.classList.toggle('lifted', placed.lifted);
    }
    for (const [id, shown] of this.labels) {
      if (seen.has(id)) continue;
      shown.element.remove();
      this.labels.delete(id);
    }
  }

  dispose(): void {
    for (const shown of this.labels.values()) shown.element.remove();
    this.labels.clear();
  }
}
