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

/** The player's colour: a saturated hue picked by the peer id, channels in 0..1. */
export function colourForPeer(peerId: PeerId): Rgb {
  return hslToRgb(fraction(peerId, 0n), 0.7, 0.55);
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
