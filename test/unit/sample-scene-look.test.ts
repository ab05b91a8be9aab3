/** How the sample scene reads to a person: stacked labels, player colours apart from the loot's gold, loot piles. */
import { expect } from 'chai';
import fc from 'fast-check';
import { LABEL_GAP, layoutLabels, type LabelBox } from '../../sample-scene/game/label-layout';
import { groupIntoPiles, pileCaption, PILE_RADIUS } from '../../sample-scene/game/loot-piles';
import { colourForPeer, cssColourForPeer, hueDistance, hueOf, LOOT_COLOUR, LOOT_HUE_CLEARANCE_DEGREES } from '../../sample-scene/game/peer-look';
import { SeededRandom } from '../../sample-scene/game/rng';

type Box = { left: number; top: number; right: number; bottom: number };
const rectOf = (box: LabelBox, placed: { left: number; top: number }): Box => ({ left: placed.left, top: placed.top, right: placed.left + box.width, bottom: placed.top + box.height });
const intersect = (a: Box, b: Box) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

describe('sample label layout', () => {
  it('leaves a lone label centred just above its anchor', () => {
    expect(layoutLabels([{ id: 'a', anchorX: 100, anchorY: 50, width: 40, height: 16 }])).to.deep.equal([{ id: 'a', left: 80, top: 34, lifted: false }]);
  });

  it('stacks the labels of avatars standing on one spot, the one lowest on screen keeping its place', () => {
    const boxes: LabelBox[] = [
      { id: 'far', anchorX: 100, anchorY: 49, width: 60, height: 16 },
      { id: 'near', anchorX: 102, anchorY: 50, width: 60, height: 16 },
      { id: 'third', anchorX: 101, anchorY: 50, width: 40, height: 16 },
    ];
    const placed = layoutLabels(boxes);
    expect(placed.map((p) => p.id)).to.deep.equal(['far', 'near', 'third']);
    // Lowest on screen, then leftmost: 'third' keeps its spot.
    expect(placed[2]).to.deep.equal({ id: 'third', left: 81, top: 34, lifted: false });
    // The others sit one above the other, a gap apart.
    const tops = placed.map((p) => p.top).sort((a, b) => b - a);
    expect(tops).to.deep.equal([34, 34 - 16 - LABEL_GAP, 34 - 2 * (16 + LABEL_GAP)]);
    expect(placed.filter((p) => p.lifted)).to.have.length(2);
  });

  it('leaves labels far apart alone', () => {
    const placed = layoutLabels([
      { id: 'a', anchorX: 100, anchorY: 50, width: 60, height: 16 },
      { id: 'b', anchorX: 300, anchorY: 50, width: 60, height: 16 },
    ]);
    expect(placed.every((p) => !p.lifted)).to.equal(true);
  });

  it('never leaves two labels overlapping, whatever their order, and gives the same layout for any order', () => {
    const box = fc.record({
      anchorX: fc.integer({ min: 0, max: 300 }),
      anchorY: fc.integer({ min: 0, max: 300 }),
      width: fc.integer({ min: 1, max: 120 }),
      height: fc.integer({ min: 1, max: 30 }),
    });
    fc.assert(
      fc.property(fc.array(box, { maxLength: 24 }), (raw) => {
        const boxes = raw.map((b, i) => ({ ...b, id: `l${i}` }));
        const placed = layoutLabels(boxes);
        const rects = boxes.map((b, i) => rectOf(b, placed[i]!));
        for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) expect(intersect(rects[i]!, rects[j]!), `${i} and ${j}`).to.equal(false);
        const reversed = layoutLabels([...boxes].reverse()).reverse();
        expect(reversed).to.deep.equal(placed);
      }),
      { seed: 13, numRuns: 500 },
    );
  });

  it('survives non-finite sizes and positions without throwing', () => {
    const placed = layoutLabels([{ id: 'x', anchorX: Number.NaN, anchorY: Number.POSITIVE_INFINITY, width: Number.NaN, height: -0 }]);
    expect(placed).to.deep.equal([{ id: 'x', left: 0, top: 0, lifted: false }]);
  });
});

describe('sample player colours', () => {
  it(`keep at least ${LOOT_HUE_CLEARANCE_DEGREES}° of hue from the loot's gold, over many peer ids (also as '#rrggbb')`, () => {
    const lootHue = hueOf(LOOT_COLOUR);
    expect(lootHue).to.be.closeTo(45, 1e-9);
    const rng = new SeededRandom(21);
    const random = () => rng.next();
    const hues: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Both random 64-bit ids and small consecutive ones (ids handed out in order).
      const peerId = i % 2 === 0 ? (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32)) : BigInt(i);
      const hue = hueOf(colourForPeer(peerId));
      hues.push(hue);
      expect(hueDistance(hue, lootHue), `peer ${peerId}`).to.be.at.least(LOOT_HUE_CLEARANCE_DEGREES);
      const hex = cssColourForPeer(peerId);
      const rgb = { r: parseInt(hex.slice(1, 3), 16) / 255, g: parseInt(hex.slice(3, 5), 16) / 255, b: parseInt(hex.slice(5, 7), 16) / 255 };
      expect(hueDistance(hueOf(rgb), lootHue), `peer ${peerId} as ${hex}`).to.be.at.least(LOOT_HUE_CLEARANCE_DEGREES);
    }
    // Still spread over the rest of the circle: every 30° bucket outside the loot band is used.
    const buckets = new Set(hues.map((h) => Math.floor(h / 30)));
    expect(buckets.size).to.be.at.least(10);
  });

  it('hue helpers: hueOf of primaries, distance wraps around 360', () => {
    expect(hueOf({ r: 1, g: 0, b: 0 })).to.equal(0);
    expect(hueOf({ r: 0, g: 1, b: 0 })).to.equal(120);
    expect(hueOf({ r: 0, g: 0, b: 1 })).to.equal(240);
    expect(hueOf({ r: 0.5, g: 0.5, b: 0.5 })).to.equal(0);
    expect(hueDistance(350, 10)).to.equal(20);
    expect(hueDistance(10, 190)).to.equal(180);
  });
});

describe('sample loot piles', () => {
  it('groups items thrown at one spot into a pile of N, leaves items apart alone', () => {
    const piles = groupIntoPiles([
      { key: '1:3', x: 2, z: 2.1 },
      { key: '1:1', x: 2, z: 2 },
      { key: '9:1', x: 2.3, z: 2 },
      { key: '1:2', x: -4, z: 0 },
    ]);
    expect(piles).to.deep.equal([
      { keys: ['1:1', '1:3', '9:1'], x: 2, z: 2, count: 3 },
      { keys: ['1:2'], x: -4, z: 0, count: 1 },
    ]);
    expect(piles.map(pileCaption)).to.deep.equal(['×3', '']);
    expect(groupIntoPiles([])).to.deep.equal([]);
  });

  it('puts every item in exactly one pile, the same piles in any order, each within the radius of its first item', () => {
    const item = fc.record({ x: fc.integer({ min: -6, max: 6 }).map((v) => v / 4), z: fc.integer({ min: -6, max: 6 }).map((v) => v / 4) });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 40 }), (raw) => {
        const items = raw.map((p, i) => ({ key: `k${String(i).padStart(2, '0')}`, ...p }));
        const piles = groupIntoPiles(items);
        expect(piles.flatMap((p) => p.keys).sort()).to.deep.equal(items.map((i) => i.key).sort());
        expect(piles.reduce((n, p) => n + p.count, 0)).to.equal(items.length);
        for (const pile of piles) {
          for (const key of pile.keys) {
            const it = items.find((i) => i.key === key)!;
            expect(Math.hypot(it.x - pile.x, it.z - pile.z)).to.be.at.most(PILE_RADIUS);
          }
        }
        expect(groupIntoPiles([...items].reverse())).to.deep.equal(piles);
      }),
      { seed: 17, numRuns: 300 },
    );
  });
});
