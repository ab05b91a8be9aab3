/** Starting `mesh` children and wiring their managers to each other through a relay. */
import type { MeshLink, MeshOptions, MeshResults, MeshRoute } from '../roles/mesh';
import { spawnRole, type RoleChild } from './child';
import { distribution, type Distribution } from './stats';

export interface MeshChild {
  child: RoleChild<{ count: number }>;
  routes: MeshRoute[];
}

/** A peer by (child, local index). */
export interface PeerRef {
  child: number;
  index: number;
}

export async function startMeshChildren(configs: MeshOptions[], nodeFlags: string[] = [], onRouteChange?: (child: number, change: MeshRoute) => void): Promise<MeshChild[]> {
  const children = await Promise.all(
    configs.map((options, i) =>
      spawnRole<{ count: number }>('mesh', options, {
        nodeFlags,
        startTimeoutMs: 120_000,
        onEvent: (name, data) => {
          if (name === 'route') onRouteChange?.(i, data as MeshRoute);
        },
      }),
    ),
  );
  const routes = await Promise.all(children.map((child) => child.call<MeshRoute[]>('routes', { timeoutMs: 120_000 }, 130_000)));
  return children.map((child, i) => ({ child, routes: routes[i] }));
}

/**
 * Keeps peers reachable when a manager re-registers with the relay (new session, new route): the
 * new route is stored and every peer linked to it gets updatePeer(), as a lobby's route sync would.
 * Returns the handler for startMeshChildren and a function that records the pairs once known.
 */
export function routeSync(getMeshes: () => MeshChild[]): { onRouteChange: (child: number, change: MeshRoute) => void; setPairs: (pairs: [PeerRef, PeerRef][]) => void; count: () => number } {
  const mates = new Map<string, PeerRef[]>();
  let changes = 0;
  return {
    onRouteChange: (child, change) => {
      changes++;
      const meshes = getMeshes();
      const entry = meshes[child]?.routes[change.index];
      if (entry) entry.route = change.route;
      for (const mate of mates.get(`${child}:${change.index}`) ?? []) {
        meshes[mate.child]?.child.call('updateRoutes', { links: [{ local: mate.index, peerId: change.peerId, route: change.route }] }).catch(() => undefined);
      }
    },
    setPairs: (pairs) => {
      for (const [a, b] of pairs) {
        const ka = `${a.child}:${a.index}`;
        const kb = `${b.child}:${b.index}`;
        mates.set(ka, [...(mates.get(ka) ?? []), b]);
        mates.set(kb, [...(mates.get(kb) ?? []), a]);
      }
    },
    count: () => changes,
  };
}

/** Opens both directions of every pair, with the given channels, and waits until all are connected. */
export async function connectPairs(meshes: MeshChild[], pairs: [PeerRef, PeerRef][], channels: { id: number; reliable: boolean }[], timeoutMs = 60_000): Promise<void> {
  const links: MeshLink[][] = meshes.map(() => []);
  for (const [a, b] of pairs) {
    const ra = meshes[a.child].routes[a.index];
    const rb = meshes[b.child].routes[b.index];
    links[a.child].push({ local: a.index, peerId: rb.peerId, route: rb.route });
    links[b.child].push({ local: b.index, peerId: ra.peerId, route: ra.route });
  }
  await Promise.all(meshes.map((m, i) => m.child.call('connect', { links: links[i], channels })));
  await Promise.all(meshes.map((m) => m.child.call('waitConnected', { timeoutMs }, timeoutMs + 5_000)));
}

/** Every pair of all the peers of all the children. */
export function allPairs(meshes: MeshChild[]): [PeerRef, PeerRef][] {
  const peers: PeerRef[] = meshes.flatMap((m, child) => m.routes.map((_, index) => ({ child, index })));
  const pairs: [PeerRef, PeerRef][] = [];
  for (let i = 0; i < peers.length; i++) for (let j = i + 1; j < peers.length; j++) pairs.push([peers[i], peers[j]]);
  return pairs;
}

/** Merges per-child channel results: counts add up, latency samples are pooled. */
export function mergeChannel(results: { channels: Record<string, { sent: number; received: number; outOfOrder: number; duplicates: number; samples?: Float64Array; refused?: Record<string, number> }> }[], channel: number): { sent: number; received: number; outOfOrder: number; duplicates: number; refused: number; latencyMs: Distribution } {
  let sent = 0;
  let received = 0;
  let outOfOrder = 0;
  let duplicates = 0;
  let refused = 0;
  const pooled: number[] = [];
  for (const r of results) {
    const c = r.channels[String(channel)];
    if (!c) continue;
    sent += c.sent;
    received += c.received;
    outOfOrder += c.outOfOrder;
    duplicates += c.duplicates;
    refused += Object.values(c.refused ?? {}).reduce((a, b) => a + b, 0);
    if (c.samples) for (const v of c.samples) pooled.push(v);
  }
  return { sent, received, outOfOrder, duplicates, refused, latencyMs: distribution(pooled) };
}

export function pooledFreshness(results: { freshnessSamples?: Float64Array }[]): Distribution {
  const pooled: number[] = [];
  for (const r of results) if (r.freshnessSamples) for (const v of r.freshnessSamples) pooled.push(v);
  return distribution(pooled);
}

export type { MeshResults };
