/**
 * NetworkManagers over a MemorySwitch in virtual time, for unit tests and the fuzz runner:
 * every manager reads the switch's clock, and one "frame" advances the switch, delivers what is
 * due, then runs runCallbacks() and flush() on each manager, as a game loop would.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { Identity } from '../plugin/net/identity';
import type { NetworkManagerOptions } from '../plugin/net/network-manager';
import { MemorySwitch } from '../plugin/net/transport/memory-switch';
import { createTestPeer, frame, type TestPeer } from '../test/helpers/managers';

/** Manager options but the relay, socket factory and clock, which the switch provides; `relayScheme` picks a UDP-like or WebSocket-like socket. */
export type VirtualPeerOptions = Omit<NetworkManagerOptions, 'relay' | 'socketFactory' | 'clock'> & { relayScheme?: 'udp' | 'ws' };

/** A recording manager whose relay is the switch and whose clock is the switch's. */
export function virtualPeer(sw: MemorySwitch, options: VirtualPeerOptions = {}): TestPeer {
  const { relayScheme = 'udp', ...rest } = options;
  return createTestPeer({ ...rest, relay: relayScheme === 'udp' ? sw.udpUrl : sw.wsUrl, socketFactory: sw.socketFactory, clock: sw.clock });
}

/** One game frame in virtual time: `stepMs` pass, due datagrams arrive, every manager receives then sends. */
export function virtualFrame(sw: MemorySwitch, peers: TestPeer[], stepMs = 5): void {
  sw.advance(stepMs);
  frame(peers);
}

/**
 * Runs virtual frames until `condition` holds; throws naming what it waited for after `maxFrames`.
 * `each` runs before every frame (a game's sends). Returns the frames it took.
 */
export function pumpVirtual(
  sw: MemorySwitch,
  peers: TestPeer[],
  what: string,
  condition: () => boolean,
  options: { stepMs?: number; maxFrames?: number; each?: (frameIndex: number) => void } = {},
): number {
  const maxFrames = options.maxFrames ?? 20_000;
  for (let i = 0; i < maxFrames; i++) {
    if (condition()) return i;
    options.each?.(i);
    virtualFrame(sw, peers, options.stepMs ?? 5);
  }
  if (condition()) return maxFrames;
  throw new Error(`still waiting for ${what} after ${maxFrames} virtual frames (virtual time ${sw.now} ms)`);
}

/** Both managers get a route (the switch registers them within a few frames). */
export function registerVirtual(sw: MemorySwitch, peers: TestPeer[]): void {
  pumpVirtual(sw, peers, 'every manager to register with the switch', () => peers.every((p) => p.net.getRoute() !== null), { maxFrames: 100 });
}

/**
 * An identity derived from a label (test only: the secret key is public). With seeded identities
 * the roles, and so the whole virtual-time run, repeat exactly from the switch's seed.
 */
export function seededIdentity(label: string): Identity {
  return Identity.fromSecretKey(sha256(new TextEncoder().encode(`switchboard test identity ${label}`)));
}

/** A message body carrying its index on its channel: u32 index, then `padding` patterned bytes. */
export function numbered(index: number, padding = 0): Uint8Array {
  const bytes = new Uint8Array(4 + padding);
  new DataView(bytes.buffer).setUint32(0, index);
  for (let i = 0; i < padding; i++) bytes[4 + i] = (index * 31 + i) & 0xff;
  return bytes;
}

export function indexOf(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
}

export { MemorySwitch, type TestPeer };
