/**
 * Keys held down → movement axes; space → one drop per press. WASD and the arrow keys both work
 * (by `code`, so WASD means the same positions on any layout).
 */
import type { MoveInput } from '../game/movement';

const AXES: Record<string, [right: number, forward: number]> = {
  KeyW: [0, 1],
  ArrowUp: [0, 1],
  KeyS: [0, -1],
  ArrowDown: [0, -1],
  KeyA: [-1, 0],
  ArrowLeft: [-1, 0],
  KeyD: [1, 0],
  ArrowRight: [1, 0],
};

export class KeyboardInput {
  private readonly held = new Set<string>();
  private drops = 0;
  private readonly onKeyDown = (event: KeyboardEvent) => {
    if (event.code in AXES) {
      this.held.add(event.code);
      event.preventDefault();
    } else if (event.code === 'Space') {
      if (!event.repeat) this.drops = Math.min(this.drops + 1, 4);
      event.preventDefault();
    }
  };
  private readonly onKeyUp = (event: KeyboardEvent) => {
    this.held.delete(event.code);
  };
  // A key released while the window had no focus never sends keyup.
  private readonly onBlur = () => this.held.clear();

  constructor(private readonly target: Window) {
    target.addEventListener('keydown', this.onKeyDown);
    target.addEventListener('keyup', this.onKeyUp);
    target.addEventListener('blur', this.onBlur);
  }

  axes(): MoveInput {
    let right = 0;
    let forward = 0;
    for (const code of this.held) {
      const axis = AXES[code];
      if (!axis) continue;
      right += axis[0];
      forward += axis[1];
    }
    return { right: Math.max(-1, Math.min(1, right)), forward: Math.max(-1, Math.min(1, forward)) };
  }

  /** True once per space press since the last call. */
  takeDrop(): boolean {
    if (this.drops === 0) return false;
    this.drops--;
    return true;
  }

  dispose(): void {
    this.target.removeEventListener('keydown', this.onKeyDown);
    this.target.removeEventListener('keyup', this.onKeyUp);
    this.target.removeEventListener('blur', this.onBlur);
    this.held.clear();
  }
}
