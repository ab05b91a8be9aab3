/**
 * bindRouteSync with real NetworkManagers on a real relay (127.0.0.1, port 0), over both lobby
 * adapters: MemoryLobby and ColyseusLobby on a real lobby server. The same tests run on both.
 * The last block drives the sync from a scripted LobbyAdapter to produce event orders a
 * well-behaved lobby never sends (update before join, a leave for a stranger, …).
 */
import { expect } from 'chai';
import { Subject } from 'rxjs';
import { ColyseusLobby } from '../../plugin/lobby/colyseus-lobby';
import type { LobbyAdapter, LobbyMember } from '../../plugin/lobby/lobby-adapter';
import { MemoryLobbyHub } from '../../plugin/lobby/memory-lobby';
import { bindRouteSync, type RouteSyncClash, type RouteSyncSubscription } from '../../plugin/lobby/route-sync';
import { Identity, formatPeerId } from '../../plugin/net/identity';
import { Result } from '../../plugin/net/result';
import { startLobbyServer, type LobbyServer } from '../../server/lobby';
import { createRelayToken, startRelay, type RelayServer } from '../../server/relay';
import { bytesOf, createTestPeer, disposeAll, isConnected, pumpUntil, textOf, waitForRoutes, type TestPeer } from '../helpers/managers';
import { expectLobbyError } from '../unit/lobby-contract';
import { testRelaySecret } from '../helpers/secrets';

const quiet = { info: () => undefined, warn: () => undefined };
const CHANNELS = [
  { id: 0, reliable: true },
  { id: 1, reliable: false },
];
const RELAY_SECRET = testRelaySecret('route-sync');

interface LobbyKind {
  name: string;
  /** The relay the managers use; the Colyseus kind runs it with a secret and gets tokens from the lobby. */
  relaySecret?: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A fresh lobby for the next test. */
  nextLobby(): void;
  join(): Promise<LobbyAdapter & { relayToken?: string }>;
}

function memoryKind(): LobbyKind {
  let hub = new MemoryLobbyHub();
  return {
    name: 'MemoryLobby',
    start: async () => undefined,
    stop: async () => undefined,
    nextLobby: () => (hub = new MemoryLobbyHub()),
    join: async () => hub.join(),
  };
}

function colyseusKind(): LobbyKind {
  let server: LobbyServer | undefined;
  let counter = 0;
  let name = 'sync-0';
  return {
    name: 'ColyseusLobby',
    relaySecret: RELAY_SECRET,
    start: async () => {
      server = await startLobbyServer({ port: 0, logger: quiet, relaySecret: RELAY_SECRET, relayTokenTtlSeconds: 600 });
    },
    stop: async () => {
      await server?.close();
    },
    nextLobby: () => (name = `sync-${++counter}`),
    join: () => ColyseusLobby.join((server as LobbyServer).url, name, { logger: quiet }),
  };
}

interface Player {
  index: number;
  peer: TestPeer;
  lobby: LobbyAdapter;
  sync: RouteSyncSubscription;
  warnings: string[];
}

for (const kind of [memoryKind(), colyseusKind()]) {
  describe(`bindRouteSync over ${kind.name} (real relay and managers)`, () => {
    let relay: RelayServer;
    let players: Player[] = [];
    const others: LobbyAdapter[] = [];

    before(async () => {
      relay = await startRelay({ port: 0, logger: quiet, secret: kind.relaySecret });
      await kind.start();
    });
    after(async () => {
      await kind.stop();
      await relay.close();
    });
    beforeEach(() => kind.nextLobby());
    afterEach(async () => {
      for (const player of players) player.sync.unsubscribe();
      await Promise.all([...players.map((p) => p.lobby.leave()), ...others.splice(0).map((l) => l.leave())]);
      await disposeAll(players.map((p) => p.peer));
      players = [];
    });

    const peers = () => players.map((p) => p.peer);

    async function addPlayer(index: number): Promise<Player> {
      const lobby = await kind.join();
      // Mix transports: even players over UDP, odd ones over WebSocket.
      const relayUrl = index % 2 === 0 ? relay.udpUrl : relay.wsUrl;
      const peer = createTestPeer({ relay: relayUrl, token: lobby.relayToken });
      const warnings: string[] = [];
      const logger = { info: () => undefined, warn: (line: string) => warnings.push(line) };
      const sync = bindRouteSync(peer.net, lobby, { channels: CHANNELS, logger, closePeersOnUnsubscribe: true });
      const player = { index, peer, lobby, sync, warnings };
      players.push(player);
      return player;
    }

    const meshed = (group: Player[]) => () =>
      group.every((a) => group.every((b) => a === b || isConnected(a.peer, b.peer.id)));

    async function exchangeReliable(group: Player[], tag: string): Promise<void> {
      for (const from of group) {
        for (const to of group) {
          if (from === to) continue;
          expect(from.peer.net.sendMessage(to.peer.id, 0, bytesOf(`${tag}:${from.index}->${to.index}`))).to.equal(Result.Ok);
        }
      }
      const received = (p: Player) => p.peer.messages.filter((m) => m.channelId === 0 && textOf(m.data).startsWith(`${tag}:`));
      await pumpUntil(peers(), `every "${tag}" message`, () => group.every((p) => received(p).length === group.length - 1));
      for (const player of group) {
        const texts = received(player).map((m) => textOf(m.data));
        const expected = group.filter((o) => o !== player).map((o) => `${tag}:${o.index}->${player.index}`);
        expect(texts).to.have.members(expected);
      }
    }

    it('four managers sharing nothing but the lobby reach a full mesh and exchange reliable messages', async () => {
      const group: Player[] = [];
      for (let i = 0; i < 4; i++) group.push(await addPlayer(i));
      await pumpUntil(peers(), 'a full mesh of four', meshed(group));
      await exchangeReliable(group, 'hello');
      for (const player of group) {
        const stats = player.sync.stats();
        expect(stats.opened).to.equal(3);
        expect(stats.published).to.be.greaterThan(0);
        expect(stats.ignoredMalformed + stats.ignoredConflicts).to.equal(0);
        expect(player.warnings).to.deep.equal([]);
      }
    });

    it('a member that leaves is closed on the others; when it rejoins it is opened again', async () => {
      const group: Player[] = [];
      for (let i = 0; i < 4; i++) group.push(await addPlayer(i));
      await pumpUntil(peers(), 'a full mesh of four', meshed(group));
      const [p0, p1, p2, leaver] = group;
      const stayers = [p0, p1, p2];

      await leaver.lobby.leave();
      await pumpUntil(peers(), 'the others to close the leaver', () =>
        stayers.every((p) => p.peer.net.getPeerStats(leaver.peer.id) === undefined),
      );
      expect(p0.peer.net.sendMessage(leaver.peer.id, 0, bytesOf('gone'))).to.equal(Result.NotFound);
      for (const p of stayers) expect(p.sync.stats().closed).to.equal(1);
      leaver.sync.unsubscribe(); // closes its own side too

      leaver.lobby = await kind.join();
      leaver.sync = bindRouteSync(leaver.peer.net, leaver.lobby, { channels: CHANNELS, logger: quiet, closePeersOnUnsubscribe: true });
      await pumpUntil(peers(), 'the mesh to include the rejoined member', meshed(group));
      await exchangeReliable(group, 'again');
    });

    it('the relay restarts: routes are republished through the lobby, peers update, and no reliable message is lost', async function () {
      this.timeout(45_000);
      const group: Player[] = [];
      for (let i = 0; i < 3; i++) group.push(await addPlayer(i));
      await pumpUntil(peers(), 'a full mesh of three', meshed(group));
      const port = Number(new URL(relay.udpUrl).port);
      const oldRoutes = group.map((p) => p.peer.net.getRoute());
      const updatesBefore = group.map((p) => p.sync.stats().updated);
      let next = 0;
      const sendBatch = (count: number) => {
        for (let n = 0; n < count; n++, next++) {
          for (const from of group) {
            for (const to of group) {
              if (from !== to) expect(from.peer.net.sendMessage(to.peer.id, 0, bytesOf(`seq:${from.index}:${next}`))).to.equal(Result.Ok);
            }
          }
        }
      };
      sendBatch(10);
      for (const p of group) p.peer.net.flush();
      await relay.close();
      sendBatch(10); // queued while there is no relay at all
      relay = await startRelay({ port, logger: quiet, secret: kind.relaySecret });
      await pumpUntil(
        peers(),
        'new routes for everyone, published and applied by the others',
        () =>
          group.every((p, i) => p.peer.net.getRoute() !== null && p.peer.net.getRoute() !== oldRoutes[i]) &&
          group.every((p, i) => p.sync.stats().updated >= updatesBefore[i] + group.length - 1),
        30_000,
      );
      sendBatch(10);
      const received = (p: Player, from: Player) =>
        p.peer.messages
          .filter((m) => m.peerId === from.peer.id && textOf(m.data).startsWith('seq:'))
          .map((m) => Number(textOf(m.data).split(':')[2]));
      await pumpUntil(peers(), 'all 30 reliable messages from every other player', () =>
        group.every((p) => group.every((from) => from === p || received(p, from).length >= next)),
        30_000,
      );
      for (const p of group) {
        for (const from of group) {
          if (from !== p) expect(received(p, from), `${from.index} -> ${p.index}`).to.deep.equal(Array.from({ length: next }, (_, i) => i));
        }
      }
    });

    it('members with unusable metadata are ignored, counted and logged once; the mesh is unaffected', async () => {
      const group: Player[] = [];
      for (let i = 0; i < 3; i++) group.push(await addPlayer(i));
      await pumpUntil(peers(), 'a full mesh of three', meshed(group));
      const [p0, p1] = group;
      const route0 = p0.peer.net.getRoute() as string;
      const route1 = p1.peer.net.getRoute() as string;
      // A different unknown id each: the lobby refuses a peer_id another member already published.
      const stranger = () => formatPeerId(Identity.generate().peerId);
      const hostile: Array<Record<string, string>> = [
        { peer_id: 'not-a-number', route: route0 }, // non-numeric peer id
        { peer_id: '-5', route: route0 },
        { peer_id: stranger(), route: '%%% not base64 %%%' }, // InvalidBase64
        { peer_id: stranger(), route: 'AAAA' }, // decodes, malformed: InvalidPayload
        { peer_id: stranger(), route: route0 }, // a real route, but its key does not derive this id
      ];
      const hostiles: LobbyAdapter[] = [];
      for (const metadata of hostile) {
        const member = await kind.join();
        others.push(member);
        hostiles.push(member);
        await member.setMemberMetadata(metadata);
      }
      // Repeat each problem (a new route, same kind of garbage): logged once per member and problem.
      await hostiles[0].setMemberMetadata({ peer_id: 'still-not-a-number' });
      await hostiles[2].setMemberMetadata({ route: '### still not base64' });
      // Values past the limits never even reach the others.
      await expectLobbyError(hostiles[1].setMemberMetadata({ route: 'A'.repeat(5000) }), 'invalid_metadata');
      // Someone else's published peer id is refused by the lobby itself (issue 16.5).
      await expectLobbyError(hostiles[4].setMemberMetadata({ peer_id: formatPeerId(p0.peer.id), route: route1 }), 'peer_id_taken');
      // Every hostile update is counted (the two repeats too).
      const ignored = (p: Player) => p.sync.stats().ignoredMalformed + p.sync.stats().ignoredConflicts;
      const expected = hostile.length + 2;
      await pumpUntil(peers(), 'every player to have seen every hostile update', () => group.every((p) => ignored(p) >= expected));

      for (const player of group) {
        const stats = player.sync.stats();
        expect(stats.opened, `player ${player.index} opened`).to.equal(2);
        expect(ignored(player)).to.equal(expected);
        expect(stats.ignoredConflicts).to.equal(0);
        expect(stats.clashes).to.equal(0);
        // One line per hostile member: repeating the same kind of garbage is not logged again.
        expect(player.warnings.length, player.warnings.join('\n')).to.equal(hostile.length);
        expect(player.warnings.some((line) => /InvalidBase64/.test(line))).to.equal(true);
        expect(player.warnings.some((line) => /InvalidPayload/.test(line))).to.equal(true);
        expect(player.warnings.some((line) => /not a decimal uint64/.test(line))).to.equal(true);
      }
      for (const player of group) expect(player.peer.net.getPeerStats(Identity.generate().peerId)).to.equal(undefined);
      await exchangeReliable(group, 'unharmed');
    });

    it('our peer_id squatted by another member: publishing is refused as taken, retried, and succeeds once the squatter left', async () => {
      const squatter = await kind.join();
      others.push(squatter);
      const lobby = await kind.join();
      const token = kind.relaySecret !== undefined ? () => lobby.relayToken : undefined;
      const peer = createTestPeer({ relay: relay.udpUrl, token });
      const warnings: string[] = [];
      await squatter.setMemberMetadata({ peer_id: formatPeerId(peer.id), route: 'squatted' });
      const sync = bindRouteSync(peer.net, lobby, { channels: CHANNELS, logger: { info: () => undefined, warn: (line) => warnings.push(line) } });
      players.push({ index: 0, peer, lobby, sync, warnings });
      await pumpUntil([peer], 'a refused publish', () => sync.stats().publishFailures >= 1);
      expect(sync.stats().published).to.equal(0);
      expect(warnings.some((line) => /peer_id is taken/.test(line)), warnings.join('\n')).to.equal(true);
      await squatter.leave();
      await pumpUntil([peer], 'the publish after the squatter left', () => sync.stats().published === 1);
      const mine = lobby.members().find((m) => m.id === lobby.selfId);
      expect(mine?.metadata.get('peer_id')).to.equal(formatPeerId(peer.id));
    });

    it('a route with another key for an open peer id is a clash: refused, counted, logged, on clash$; the peer keeps its key', async () => {
      const p0 = await addPlayer(0);
      const token = kind.relaySecret !== undefined ? createRelayToken(kind.relaySecret, { ttlSeconds: 600 }) : undefined;
      const b = createTestPeer({ relay: relay.udpUrl, token });
      const c = createTestPeer({ relay: relay.udpUrl, token });
      try {
        await waitForRoutes([p0.peer, b, c]);
        const clashes: RouteSyncClash[] = [];
        p0.sync.clash$.subscribe((event) => clashes.push(event));
        // A member publishing b's public metadata drives b's peer id (the key is b's own)…
        const copycat = await kind.join();
        others.push(copycat);
        await copycat.setMemberMetadata({ peer_id: formatPeerId(b.id), route: b.net.getRoute() as string });
        await pumpUntil([p0.peer, b, c], 'p0 to open b', () => p0.peer.net.getPeerStats(b.id) !== undefined);
        const described = p0.peer.net.describePeer(b.id);
        // …then switches the route under that id to one with c's key: never an update.
        await copycat.setMemberMetadata({ route: c.net.getRoute() as string });
        await pumpUntil([p0.peer, b, c], 'the clash', () => clashes.length === 1);
        expect(clashes[0]).to.deep.equal({ peerId: b.id, memberId: copycat.selfId, keptMemberId: copycat.selfId });
        expect(p0.sync.stats()).to.deep.include({ clashes: 1, updated: 0, ignoredMalformed: 0 });
        expect(p0.warnings.filter((line) => /never replaced/.test(line)), p0.warnings.join('\n')).to.have.length(1);
        expect(p0.peer.net.describePeer(b.id).split('\n')[0]).to.equal(described.split('\n')[0]);
        expect(p0.peer.net.updatePeer(b.id, c.net.getRoute() as string)).to.equal(Result.Conflict);
      } finally {
        await disposeAll([b, c]);
      }
    });
  });
}

/** A LobbyAdapter whose events the test fires by hand, in any order. */
class ScriptedLobby implements LobbyAdapter {
  readonly selfId = 'me';
  readonly joins = new Subject<LobbyMember>();
  readonly updates = new Subject<LobbyMember>();
  readonly leaves = new Subject<LobbyMember>();
  readonly memberJoin$ = this.joins.asObservable();
  readonly memberUpdate$ = this.updates.asObservable();
  readonly memberLeave$ = this.leaves.asObservable();
  readonly written: Array<Record<string, string>> = [];
  present: LobbyMember[] = [];

  members(): LobbyMember[] {
    return this.present;
  }

  async setMemberMetadata(entries: Record<string, string>): Promise<void> {
    this.written.push({ ...entries });
  }

  async leave(): Promise<void> {
    this.joins.complete();
    this.updates.complete();
    this.leaves.complete();
  }
}

const member = (id: string, peer: TestPeer, route = peer.net.getRoute() as string): LobbyMember => ({
  id,
  metadata: new Map([
    ['peer_id', formatPeerId(peer.id)],
    ['route', route],
  ]),
});

describe('bindRouteSync with a scripted lobby (events in any order)', () => {
  let relay: RelayServer;
  let secondRelay: RelayServer;
  let all: TestPeer[] = [];

  before(async () => {
    relay = await startRelay({ port: 0, logger: quiet });
    secondRelay = await startRelay({ port: 0, logger: quiet });
  });
  after(async () => {
    await relay.close();
    await secondRelay.close();
  });
  afterEach(async () => {
    await disposeAll(all);
    all = [];
  });

  const peer = (relayUrl: string, identity?: Identity): TestPeer => {
    const p = createTestPeer({ relay: relayUrl, identity });
    all.push(p);
    return p;
  };

  it('opens on an update never preceded by a join, ignores repeats, itself and its own id, and hands a peer id over on leave', async () => {
    const a = peer(relay.udpUrl);
    const b = peer(relay.udpUrl);
    const c = peer(relay.wsUrl);
    const d = peer(relay.udpUrl);
    await waitForRoutes(all);
    const lobby = new ScriptedLobby();
    lobby.present = [{ id: 'me', metadata: new Map() }];
    const warnings: string[] = [];
    const sync = bindRouteSync(a.net, lobby, { channels: CHANNELS, logger: { info: () => undefined, warn: (l) => warnings.push(l) } });

    expect(lobby.written).to.deep.equal([{ peer_id: formatPeerId(a.id), route: a.net.getRoute() }]);

    lobby.updates.next(member('b', b)); // an update for a member never seen joining
    expect(a.net.getPeerStats(b.id)).to.not.equal(undefined);
    expect(a.net.sendMessage(b.id, 0, bytesOf('x'))).to.equal(Result.Ok); // its channels are open
    lobby.updates.next(member('b', b)); // the same route again
    lobby.joins.next(member('b', b)); // and a late join
    expect(sync.stats()).to.include({ opened: 1, updated: 0 });

    lobby.updates.next(member('me', c)); // our own member: ignored whatever it says
    expect(a.net.getPeerStats(c.id)).to.equal(undefined);
    lobby.joins.next(member('x', a)); // someone claiming our peer id
    expect(sync.stats().ignoredMalformed).to.equal(1);

    lobby.joins.next(member('b2', b)); // a second member with b's id waits while b drives it
    expect(sync.stats().ignoredConflicts).to.equal(1);
    lobby.leaves.next(member('zzz', d)); // a leave for a stranger: nothing
    lobby.leaves.next(member('b', b)); // b leaves: closed, then opened again for b2
    expect(sync.stats()).to.include({ opened: 2, closed: 1 });
    expect(a.net.getPeerStats(b.id)).to.not.equal(undefined);
    lobby.leaves.next(member('b2', b));
    expect(a.net.getPeerStats(b.id)).to.equal(undefined);

    expect(a.net.openPeer(c.id, c.net.getRoute() as string)).to.equal(Result.Ok); // the game opened c itself
    lobby.joins.next(member('c', c)); // adopted, channels opened
    expect(a.net.sendMessage(c.id, 1, bytesOf('y'))).to.equal(Result.Ok);
    expect(sync.stats().opened).to.equal(3);

    sync.unsubscribe();
    lobby.joins.next(member('d', d));
    expect(a.net.getPeerStats(d.id)).to.equal(undefined);
    expect(warnings.length).to.equal(2); // our own id, and the waiting claimant
  });

  it('a new route for an open peer is an updatePeer; a garbage one is refused and the peer keeps its route', async () => {
    const a = peer(relay.udpUrl);
    const identity = Identity.generate();
    const b = peer(relay.udpUrl, identity);
    const bElsewhere = peer(secondRelay.wsUrl, identity); // same peer id, another relay: another valid route
    await waitForRoutes(all);
    const lobby = new ScriptedLobby();
    const sync = bindRouteSync(a.net, lobby, { channels: CHANNELS, logger: quiet });
    lobby.joins.next(member('b', b));
    lobby.updates.next(member('b', bElsewhere));
    expect(sync.stats()).to.include({ opened: 1, updated: 1 });
    lobby.updates.next(member('b', bElsewhere));
    expect(sync.stats()).to.include({ opened: 1, updated: 1 });
    lobby.updates.next(member('b', b, 'AAAA'));
    expect(sync.stats()).to.include({ opened: 1, updated: 1, ignoredMalformed: 1 });
    expect(a.net.getPeerStats(b.id)).to.not.equal(undefined);
    lobby.updates.next(member('b', b));
    expect(sync.stats()).to.include({ updated: 2 });
    sync.unsubscribe();
  });
});
