/**
 * How a player looks, derived from its peer id alone so every peer draws it the same without
 * sending anything: a colour, a short label and a spawn point.
 */
import type { PeerId } from 'switchboard';
import { ARENA_HALF_SIZE } from './constants';

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

const MASK_64 = 0xffffffffffffffffn;

/** Spreads neighbouring ids apart (splitmix64's finaliser), so similar ids get different colours. */
function mix(peerId: PeerId): bigint {
  let z = peerId & MASK_64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
  return z ^ (z >> 31n);
}

/** A fraction in [0, 1) taken from 16 bits of the mixed id starting at `shift`. */
function fraction(peerId: PeerId, shift: bigint): number {
  return Number((mix(peerId) >> shift) & 0xffffn) / 65536;
}

/** The loot's gold (its material's diffuse colour); no player may look like it. */
export const LOOT_COLOUR: Readonly<Rgb> = Object.freeze({ r: 1, g: 0.8, b: 0.2 });
/** Player hues keep at least this many degrees from the loot's hue. */
export const LOOT_HUE_CLEARANCE_DEGREES = 30;
/** A little more than the clearance is kept inside, so rounding to '#rrggbb' cannot cross it. */
const HUE_MARGIN_DEGREES = LOOT_HUE_CLEARANCE_DEGREES + 2;

/**
 * The player's colour: a saturated hue picked by the peer id, channels in 0..1. The hue is drawn
 * from the circle minus a band around the loot's hue, so a player never looks like loot.
 */
export function colourForPeer(peerId: PeerId): Rgb {
  const span = 360 - 2 * HUE_MARGIN_DEGREES;
  const hue = (hueOf(LOOT_COLOUR) + HUE_MARGIN_DEGREES + fraction(peerId, 0n) * span) % 360;
  return hslToRgb(hue / 360, 0.7, 0.55);
}

/** The hue of `rgb` in degrees [0, 360); 0 for greys. */
export function hueOf({ r, g, b }: Rgb): number {
  const max = Math.max(r, g, b);
  const delta = max - Math.min(r, g, b);
  if (delta === 0) return 0;
  const sector = max === r ? ((g - b) / delta) % 6 : max === g ? (b - r) / delta + 2 : (r - g) / delta + 4;
  return (sector * 60 + 360) % 360;
}

/** Shortest distance between two hues on the colour circle, in degrees [0, 180]. */
export function hueDistance(a: number, b: number): number {
  const d = Math.abs(a - b) % 360;
  return d > 180 ? 360 - d : d;
}

/** '#rrggbb' of colourForPeer, for the DOM. */
export function cssColourForPeer(peerId: PeerId): string {
  const { r, g, b } = colourForPeer(peerId);
  const hex = (v: number) => Math.round(v * 255).toString(16).padStart(2, '0');
  return `#${hex(r)}${hex(g)}${hex(b)}`;
}

/** A short name: 'P-' and the last four hex digits of the peer id, e.g. 'P-3FA2'. */
export function labelForPeer(peerId: PeerId): string {
  return `P-${(peerId & 0xffffn).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Where the player appears: on a circle around the centre, at an angle picked by the peer id. */
export function spawnPointFor(peerId: PeerId): { x: number; z: number } {
  const angle = fraction(peerId, 16n) * Math.PI * 2;
  const radius = ARENA_HALF_SIZE * 0.4;
  return { x: Math.cos(angle) * radius, z: Math.sin(angle) * radius };
}

function hslToRgb(h: number, s: number, l: number): Rgb {
  const a = s * Math.min(l, 1 - l);
  const channel = (n: number) => {
    const k = (n + h * 12) % 12;
    return l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return { r: channel(0), g: channel(8), b: channel(4) };
}
