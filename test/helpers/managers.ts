import { NetworkManager, type NetworkManagerOptions } from '../../plugin/net/network-manager';
import type { NetworkMessage, PeerId, PeerStateChange } from '../../plugin/net/types';
import { startRelay, type RelayOptions, type RelayServer } from '../../server';
import { waitFor } from './wait';

/** A NetworkManager in a test, with everything it emitted recorded. */
export interface TestPeer {
  net: NetworkManager;
  id: PeerId;
  messages: NetworkMessage[];
  states: PeerStateChange[];
  routes: string[];
}

export const quietLogger = { info: () => undefined, warn: () => undefined };

export function createTestPeer(options: NetworkManagerOptions): TestPeer {
  const net = new NetworkManager({ logger: quietLogger, ...options });
  const peer: TestPeer = { net, id: net.getPeerId(), messages: [], states: [], routes: [] };
  net.message$.subscribe((m) => peer.messages.push(m));
  net.peerState$.subscribe((s) => peer.states.push(s));
  net.routeUpdate$.subscribe((r) => peer.routes.push(r));
  return peer;
}

/** One game frame for each manager: receive at the start, send at the end. */
export function frame(peers: TestPeer[]): void {
  for (const p of peers) p.net.runCallbacks();
  for (const p of peers) p.net.flush();
}

export async function pumpUntil(peers: TestPeer[], what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  await waitFor(what, condition, { timeoutMs, step: () => frame(peers) });
}

export async function waitForRoutes(peers: TestPeer[]): Promise<void> {
  await pumpUntil(peers, 'every manager to get a route', () => peers.every((p) => p.net.getRoute() !== null));
}

/** Opens a and b to each other with the given channels (routes must be known). */
export function connectPair(a: TestPeer, b: TestPeer, channels: { id: number; reliable: boolean }[]): void {
  for (const [self, other] of [[a, b], [b, a]] as const) {
    const route = other.net.getRoute();
    if (route === null) throw new Error('connectPair: a route is not known yet');
    const opened = self.net.openPeer(other.id, route);
    if (opened !== 0) throw new Error(`openPeer gave Result ${opened}`);
    for (const c of channels) {
      const r = self.net.openChannel(other.id, c.id, c.reliable);
      if (r !== 0) throw new Error(`openChannel gave Result ${r}`);
    }
  }
}

export function isConnected(peer: TestPeer, other: PeerId): boolean {
  return peer.net.getPeerStats(other)?.state === 'connected';
}

export async function disposeAll(peers: TestPeer[]): Promise<void> {
  await Promise.all(peers.map((p) => p.net.dispose()));
}

export function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function textOf(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/**
 * Mocha hooks for a suite that needs a fresh relay (127.0.0.1, port 0) per test; managers made
 * with `peer()` are disposed after each test, before the relay closes.
 */
export function useRelay(options: RelayOptions = {}): { readonly relay: RelayServer; peer(options: NetworkManagerOptions): TestPeer } {
  let relay: RelayServer | null = null;
  let peers: TestPeer[] = [];
  beforeEach(async () => {
    relay = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger, ...options });
  });
  afterEach(async () => {
    await disposeAll(peers);
    peers = [];
    await relay?.close();
    relay = null;
  });
  return {
    get relay(): RelayServer {
      if (relay === null) throw new Error('useRelay: the relay exists only inside a test');
      return relay;
    },
    peer(peerOptions) {
      const p = createTestPeer(peerOptions);
      peers.push(p);
      return p;
    },
  };
}
