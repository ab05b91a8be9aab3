/**
 * Screen layout of the labels over avatars and loot piles: each label wants to sit centred just
 * above its anchor; where that would cover a label already placed it is lifted above that one,
 * so labels of avatars standing close together stack up instead of hiding each other. Pure
 * (no DOM): the page measures the labels, this decides where they go.
 */

export interface LabelBox {
  readonly id: string;
  /** The point the label belongs to, in pixels: the label's bottom edge is centred on it. */
  readonly anchorX: number;
  readonly anchorY: number;
  readonly width: number;
  readonly height: number;
}

export interface PlacedLabel {
  readonly id: string;
  /** Top-left corner of the label, in pixels. */
  readonly left: number;
  readonly top: number;
  /** True when the label was moved up off its anchor to stay clear of another one. */
  readonly lifted: boolean;
}

/** Labels laid out at most; past this the rest sit on their anchors (never more in the sample). */
export const MAX_LAID_OUT_LABELS = 256;
/** Pixels kept free between stacked labels. */
export const LABEL_GAP = 2;

interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

const overlaps = (a: Rect, b: Rect): boolean => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

/**
 * Places every label; the result is in the order of `boxes`. The label lowest on the screen
 * (nearest the camera) keeps its spot first, ties broken by x then id, so the layout does not
 * depend on the order the labels come in and does not flicker between frames.
 */
export function layoutLabels(boxes: readonly LabelBox[], gap: number = LABEL_GAP): PlacedLabel[] {
  const order = boxes
    .map((box, index) => ({ box, index }))
    .sort((a, b) => b.box.anchorY - a.box.anchorY || a.box.anchorX - b.box.anchorX || (a.box.id < b.box.id ? -1 : a.box.id > b.box.id ? 1 : 0));
  const placed: Rect[] = [];
  const result: PlacedLabel[] = new Array<PlacedLabel>(boxes.length);
  for (const { box, index } of order) {
    const width = finiteOr(box.width, 0);
    const height = finiteOr(box.height, 0);
    const left = finiteOr(box.anchorX, 0) - width / 2;
    const bottom = finiteOr(box.anchorY, 0);
    const rect: Rect = { left, right: left + width, top: bottom - height, bottom };
    let lifted = false;
    if (placed.length < MAX_LAID_OUT_LABELS) {
      // Each pass lifts the label above one placed label it covers; it only ever moves up, so a
      // label it has cleared cannot be covered again: at most placed.length passes.
      for (let pass = 0; pass <= placed.length; pass++) {
        const hit = placed.find((other) => overlaps(rect, other));
        if (!hit) break;
        rect.bottom = hit.top - gap;
        rect.top = rect.bottom - height;
        lifted = true;
      }
      placed.push(rect);
    }
    result[index] = { id: box.id, left: rect.left, top: rect.top, lifted };
  }
  return result;
}

function finiteOr(value: number, fallback: number): number {
  return Number.isFinite(value) ? value : fallback;
}
