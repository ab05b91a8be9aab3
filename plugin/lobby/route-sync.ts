/**
 * bindRouteSync: keeps a NetworkManager's peers in step with a lobby. It publishes this manager's
 * `peer_id` and `route` on every route update, and for every other member with usable metadata
 * opens the peer (or updates its route) and the configured channels; when the member leaves, it
 * closes the peer. Members whose metadata is unusable are ignored and logged once per problem.
 *
 * Order does not matter: every event is handled by comparing the member's metadata with what is
 * open now (an update for a member never seen joining is a join; a route already in use is no
 * change). A peer id is driven by one member at a time; a second member claiming it waits and
 * takes over when the first leaves (a player who rejoins before its old session timed out).
 *
 * An open peer's key is never replaced: a peer id is 64 bits of a key digest, which binds the key
 * only up to a second preimage, so a route for an open peer id carrying another key is a clash —
 * refused, counted, logged and emitted on `clash$` — never an update.
 */
import { Subject, Subscription, type Observable } from 'rxjs';
import { formatPeerId, parsePeerId } from '../net/identity';
import { decodeRoute } from '../net/route';
import type { NetworkManager } from '../net/network-manager';
import { Result } from '../net/result';
import { consoleLogger, type Logger, type PeerId } from '../net/types';
import { LobbyError, type LobbyAdapter, type LobbyMember } from './lobby-adapter';

/** The part of the NetworkManager route sync drives. */
export type RouteSyncNetwork = Pick<
  NetworkManager,
  'getPeerId' | 'getRoute' | 'openPeer' | 'updatePeer' | 'closePeer' | 'openChannel' | 'routeUpdate$'
>;

export interface RouteSyncChannel {
  id: number;
  reliable: boolean;
}

export interface RouteSyncOptions {
  channels: RouteSyncChannel[];
  /** Where ignored members are reported (default console). */
  logger?: Logger;
  /** Close the peers this sync opened when it is unsubscribed (default false: they stay open). */
  closePeersOnUnsubscribe?: boolean;
  /** Members tracked at most (default 1,024); more are ignored and counted. */
  maxMembers?: number;
}

export interface RouteSyncStats {
  /** Peers opened / routes updated / peers closed by the sync. */
  opened: number;
  updated: number;
  closed: number;
  /** Own peer_id + route written to the lobby, and writes that failed. */
  published: number;
  publishFailures: number;
  /** Member events ignored: unusable metadata (bad peer_id, refused route, our own peer id). */
  ignoredMalformed: number;
  /** Member events ignored because another member already drives that peer id. */
  ignoredConflicts: number;
  /** Members not tracked because `maxMembers` were. */
  ignoredOverflow: number;
  /** Routes refused because they carry another key than the open peer of that id (see RouteSyncClash). */
  clashes: number;
}

/** A member published, for a peer id that is open, a route with a different public key. */
export interface RouteSyncClash {
  peerId: PeerId;
  /** The member whose route was refused. */
  memberId: string;
  /** The member whose route the peer keeps (null when the game opened the peer itself). */
  keptMemberId: string | null;
}

export type RouteSyncSubscription = Subscription & {
  stats(): RouteSyncStats;
  /** Every clash, as it is refused; completes on unsubscribe. */
  readonly clash$: Observable<RouteSyncClash>;
};

export const PEER_ID_KEY = 'peer_id';
export const ROUTE_KEY = 'route';

/** Distinct (member, problem) pairs logged at most; later ones are only counted. */
const MAX_LOGGED_PROBLEMS = 256;
const PUBLISH_RETRIES = 5;
const PUBLISH_RETRY_DELAY_MS = 250;
/**
 * Our peer_id refused as taken: usually our own previous session, still in the lobby's reconnect
 * window (20 s by default), so this is retried longer, once a second.
 */
const TAKEN_RETRIES = 40;
const TAKEN_RETRY_DELAY_MS = 1000;

interface MemberRecord {
  id: string;
  /** What the member's metadata says, once it parsed. */
  peerId: PeerId | null;
  route: string | null;
  /** The route the manager uses for this member's peer, when this member drives it. */
  openRoute: string | null;
  /** The public key of that route. */
  openKey: Uint8Array | null;
}

type ProblemKind = 'peer_id' | 'own_id' | 'route' | 'conflict' | 'clash' | 'channel' | 'overflow';

type Parsed = { kind: 'incomplete' } | { kind: 'malformed'; problem: string } | { kind: 'ok'; peerId: PeerId; route: string };

export function bindRouteSync(net: RouteSyncNetwork, lobby: LobbyAdapter, options: RouteSyncOptions): RouteSyncSubscription {
  const channels = checkChannels(options?.channels);
  const logger = options.logger ?? consoleLogger;
  const maxMembers = options.maxMembers ?? 1024;
  if (!Number.isInteger(maxMembers) || maxMembers < 1) throw new TypeError('bindRouteSync: maxMembers must be a positive integer');
  const ownPeerId = net.getPeerId();
  const stats: RouteSyncStats = {
    opened: 0,
    updated: 0,
    closed: 0,
    published: 0,
    publishFailures: 0,
    ignoredMalformed: 0,
    ignoredConflicts: 0,
    ignoredOverflow: 0,
    clashes: 0,
  };
  const clashSubject = new Subject<RouteSyncClash>();
  const records = new Map<string, MemberRecord>();
  /** peer id → the member whose route the manager uses for it. */
  const drivers = new Map<PeerId, string>();
  const logged = new Set<string>();
  let stopped = false;

  /** Logs a problem once per member and kind (a member repeating its garbage is counted, not logged again). */
  const report = (memberId: string, kind: ProblemKind, problem: string): void => {
    const key = `${memberId}\u0000${kind}`;
    if (logged.has(key)) return;
    if (logged.size >= MAX_LOGGED_PROBLEMS) {
      if (logged.size === MAX_LOGGED_PROBLEMS) {
        logged.add('\u0000overflow');
        logger.warn('route sync: more lobby members with unusable metadata; no longer logging them (still counted)');
      }
      return;
    }
    logged.add(key);
    logger.warn(`route sync: ignoring lobby member ${JSON.stringify(memberId)}: ${problem}`);
  };

  /** A manager call said NotRunning: it was disposed, so there is nothing left to sync. */
  const managerGone = (result: Result): boolean => {
    if (result !== Result.NotRunning) return false;
    subscription.unsubscribe();
    return true;
  };

  const openChannels = (memberId: string, peerId: PeerId): void => {
    for (const channel of channels) {
      const result = net.openChannel(peerId, channel.id, channel.reliable);
      if (managerGone(result)) return;
      if (result !== Result.Ok) report(memberId, 'channel', `channel ${channel.id} not opened (${Result[result] ?? result})`);
    }
  };

  /** Opens or updates the peer of a member whose metadata parsed, if no other member drives it. */
  const clash = (record: MemberRecord, peerId: PeerId, keptMemberId: string | null): void => {
    stats.clashes++;
    const kept = keptMemberId === null ? 'the game opened it' : `member ${JSON.stringify(keptMemberId)} drives it`;
    report(record.id, 'clash', `its route for peer id ${formatPeerId(peerId)} carries another public key than the open peer (${kept}); keys are never replaced`);
    clashSubject.next({ peerId, memberId: record.id, keptMemberId });
  };

  const drive = (record: MemberRecord): void => {
    const { peerId, route } = record;
    if (peerId === null || route === null) return;
    const driver = drivers.get(peerId);
    const key = routeKey(route);
    const driverKey = driver === undefined ? null : (records.get(driver)?.openKey ?? null);
    if (key !== null && driverKey !== null && !sameKey(key, driverKey)) {
      clash(record, peerId, driver ?? null);
      return;
    }
    if (driver !== undefined && driver !== record.id) {
      stats.ignoredConflicts++;
      report(record.id, 'conflict', `peer id ${formatPeerId(peerId)} is already driven by member ${JSON.stringify(driver)}`);
      return;
    }
    if (driver === record.id) {
      if (record.openRoute === route) return;
      const result = net.updatePeer(peerId, route);
      if (managerGone(result)) return;
      if (result === Result.Ok) {
        record.openRoute = route;
        stats.updated++;
        return;
      }
      if (result === Result.Conflict) {
        clash(record, peerId, record.id);
        return;
      }
      if (result !== Result.NotFound) {
        stats.ignoredMalformed++;
        report(record.id, 'route', `route refused by updatePeer (${Result[result] ?? result})`);
        return;
      }
      // Closed behind our back (the game called closePeer): open it again below.
      drivers.delete(peerId);
      record.openRoute = null;
      record.openKey = null;
    }
    let result = net.openPeer(peerId, route);
    if (managerGone(result)) return;
    if (result === Result.Conflict) {
      // Opened outside the sync (by the game itself): adopt it with the member's route, unless
      // that route carries another key (updatePeer says Conflict again).
      result = net.updatePeer(peerId, route);
      if (managerGone(result)) return;
      if (result === Result.Conflict) {
        clash(record, peerId, null);
        return;
      }
    }
    if (result !== Result.Ok) {
      stats.ignoredMalformed++;
      report(record.id, 'route', `route refused by openPeer (${Result[result] ?? result})`);
      return;
    }
    drivers.set(peerId, record.id);
    record.openRoute = route;
    record.openKey = key;
    stats.opened++;
    openChannels(record.id, peerId);
  };

  /** Stops driving the member's peer: closes it, then lets a waiting claimant of that peer id take over. */
  const release = (record: MemberRecord): void => {
    const peerId = record.peerId;
    if (peerId === null || drivers.get(peerId) !== record.id) return;
    drivers.delete(peerId);
    record.openRoute = null;
    record.openKey = null;
    const result = net.closePeer(peerId);
    if (managerGone(result)) return;
    if (result === Result.Ok) stats.closed++;
    for (const other of records.values()) {
      if (other !== record && other.peerId === peerId && other.route !== null) {
        drive(other);
        if (drivers.has(peerId)) return;
      }
    }
  };

  const onMember = (member: LobbyMember): void => {
    if (stopped || member.id === lobby.selfId) return;
    let record = records.get(member.id);
    if (record === undefined) {
      if (records.size >= maxMembers) {
        stats.ignoredOverflow++;
        report(member.id, 'overflow', `more than ${maxMembers} members tracked`);
        return;
      }
      record = { id: member.id, peerId: null, route: null, openRoute: null, openKey: null };
      records.set(member.id, record);
    }
    const parsed = parseMetadata(member.metadata);
    if (parsed.kind === 'incomplete') return;
    if (parsed.kind === 'malformed') {
      stats.ignoredMalformed++;
      report(member.id, 'peer_id', parsed.problem);
      return;
    }
    if (parsed.peerId === ownPeerId) {
      stats.ignoredMalformed++;
      report(member.id, 'own_id', 'its peer_id is our own');
      return;
    }
    if (record.peerId !== null && record.peerId !== parsed.peerId) {
      // The member now speaks for another peer (a new identity): drop the old one first.
      release(record);
    }
    record.peerId = parsed.peerId;
    record.route = parsed.route;
    drive(record);
  };

  const onLeave = (member: LobbyMember): void => {
    if (stopped) return;
    const record = records.get(member.id);
    if (record === undefined) return;
    records.delete(member.id);
    release(record);
  };

  // Publishing our route: one write at a time, always the newest route, a few retries on failure.
  let publishing = false;
  let published: string | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let failures = 0;
  const publish = (): void => {
    if (stopped || publishing || retryTimer !== null) return;
    const route = net.getRoute();
    if (route === null || route === published) return;
    publishing = true;
    lobby.setMemberMetadata({ [PEER_ID_KEY]: formatPeerId(ownPeerId), [ROUTE_KEY]: route }).then(
      () => {
        publishing = false;
        published = route;
        failures = 0;
        stats.published++;
        publish();
      },
      (error: unknown) => {
        publishing = false;
        stats.publishFailures++;
        if (stopped || (error instanceof LobbyError && error.code === 'closed')) return;
        const taken = error instanceof LobbyError && error.code === 'peer_id_taken';
        if (taken && failures === 0) logger.warn(`route sync: the lobby says our peer_id is taken (${error.message}); retrying once a second`);
        if (++failures > (taken ? TAKEN_RETRIES : PUBLISH_RETRIES)) {
          logger.warn(`route sync: could not publish our route to the lobby: ${(error as Error).message}`);
          failures = 0;
          return; // the next route update tries again
        }
        retryTimer = setTimeout(() => {
          retryTimer = null;
          publish();
        }, taken ? TAKEN_RETRY_DELAY_MS : PUBLISH_RETRY_DELAY_MS * failures);
      },
    );
  };

  const subscription = new Subscription(() => {
    stopped = true;
    if (retryTimer !== null) clearTimeout(retryTimer);
    retryTimer = null;
    if (options.closePeersOnUnsubscribe === true) {
      for (const [peerId] of drivers) net.closePeer(peerId);
    }
    drivers.clear();
    records.clear();
    clashSubject.complete();
  });
  subscription.add(lobby.memberLeave$.subscribe(onLeave));
  subscription.add(lobby.memberJoin$.subscribe(onMember));
  subscription.add(lobby.memberUpdate$.subscribe(onMember));
  subscription.add(net.routeUpdate$.subscribe(() => publish()));
  for (const member of lobby.members()) onMember(member);
  publish();
  return Object.assign(subscription, { stats: (): RouteSyncStats => ({ ...stats }), clash$: clashSubject.asObservable() });
}

/** The public key a route carries; null when it does not decode (the manager then refuses it). */
function routeKey(route: string): Uint8Array | null {
  const decoded = decodeRoute(route);
  return decoded.ok ? decoded.route.publicKey : null;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function parseMetadata(metadata: ReadonlyMap<string, string>): Parsed {
  const peerIdText = metadata.get(PEER_ID_KEY);
  const route = metadata.get(ROUTE_KEY);
  if (peerIdText === undefined || route === undefined) {
    return peerIdText !== undefined && parsePeerId(peerIdText) === null ? malformedPeerId(peerIdText) : { kind: 'incomplete' };
  }
  const peerId = parsePeerId(peerIdText);
  if (peerId === null) return malformedPeerId(peerIdText);
  return { kind: 'ok', peerId, route };
}

function malformedPeerId(text: string): Parsed {
  const shown = text.length > 32 ? `${text.slice(0, 32)}…` : text;
  return { kind: 'malformed', problem: `peer_id ${JSON.stringify(shown)} is not a decimal uint64` };
}

function checkChannels(channels: unknown): RouteSyncChannel[] {
  if (!Array.isArray(channels)) throw new TypeError('bindRouteSync: options.channels must be an array of { id, reliable }');
  const seen = new Set<number>();
  return channels.map((channel: unknown, index) => {
    const { id, reliable } = (channel ?? {}) as Partial<RouteSyncChannel>;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 127) {
      throw new TypeError(`bindRouteSync: channels[${index}].id must be an integer 0..127`);
    }
    if (typeof reliable !== 'boolean') throw new TypeError(`bindRouteSync: channels[${index}].reliable must be a boolean`);
    if (seen.has(id)) throw new TypeError(`bindRouteSync: channel ${id} is listed twice`);
    seen.add(id);
    return { id, reliable };
  });
}
