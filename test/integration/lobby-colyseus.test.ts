/**
 * ColyseusLobby against the real lobby server (Colyseus 0.16 on 127.0.0.1, port 0): the adapter
 * contract, capacity, relay tokens, reconnects, and hostile members talking raw colyseus.js.
 */
import { matchMaker } from '@colyseus/core';
import { expect } from 'chai';
import { createServer, type AddressInfo } from 'node:net';
import { Client, type Room } from 'colyseus.js';
import { ColyseusLobby } from '../../plugin/lobby/colyseus-lobby';
import type { LobbyAdapter } from '../../plugin/lobby/lobby-adapter';
import { LOBBY_ROOM_TYPE, LobbyMessageType } from '../../plugin/lobby/lobby-protocol';
import { verifyRelayToken } from '../../server/relay/token';
import { startLobbyServer, type LobbyServer, type LobbyServerOptions } from '../../server/lobby';
import { nextValue, waitFor } from '../helpers/wait';
import { describeLobbyContract, expectLobbyError, metadataOf, record } from '../unit/lobby-contract';
import { testRelaySecret } from '../helpers/secrets';

const quiet = { info: () => undefined, warn: () => undefined };
let lobbyCounter = 0;
const freshName = () => `lobby-${++lobbyCounter}`;

function useLobbyServer(options: LobbyServerOptions = {}): { server: () => LobbyServer } {
  let server: LobbyServer | undefined;
  before(async () => {
    server = await startLobbyServer({ port: 0, logger: quiet, ...options });
  });
  after(async () => {
    await server?.close();
  });
  return { server: () => server as LobbyServer };
}

function join(server: LobbyServer, name: string, options: Record<string, unknown> = {}): Promise<ColyseusLobby> {
  return ColyseusLobby.join(server.url, name, { logger: quiet, ...options });
}

/** The server-side socket of a member, for dropping it the way a network failure would. */
async function serverSocketOf(memberId: string): Promise<{ terminate(): void }> {
  const rooms = await matchMaker.query({ name: LOBBY_ROOM_TYPE });
  for (const listing of rooms) {
    const client = matchMaker.getLocalRoomById(listing.roomId)?.clients.getById(memberId);
    if (client !== undefined) return client.ref as unknown as { terminate(): void };
  }
  throw new Error(`member ${memberId} is in no lobby`);
}

/** A raw colyseus.js member, which can send whatever it likes. */
async function rawMember(server: LobbyServer, lobbyName: string): Promise<{ room: Room; results: Array<Record<string, unknown>> }> {
  const room = await new Client(server.url).joinOrCreate(LOBBY_ROOM_TYPE, { lobbyName });
  const results: Array<Record<string, unknown>> = [];
  room.onMessage(LobbyMessageType.MetadataResult, (message: Record<string, unknown>) => results.push(message));
  room.onMessage('*', () => undefined);
  room.onError.clear();
  return { room, results };
}

describe('ColyseusLobby with the Colyseus lobby server', () => {
  describe('LobbyAdapter contract', () => {
    const { server } = useLobbyServer();
    let name = freshName();
    describeLobbyContract({
      nextLobby: () => (name = freshName()),
      join: () => join(server(), name),
    });
  });

  describe('lobbies, refusals and reconnects', () => {
    const { server } = useLobbyServer({ capacity: 2, reconnectSeconds: 1 });
    const open: LobbyAdapter[] = [];
    const track = <T extends LobbyAdapter>(lobby: T): T => {
      open.push(lobby);
      return lobby;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((lobby) => lobby.leave()));
    });

    it('refuses a join past capacity clearly, never opening a second lobby of that name', async () => {
      const name = freshName();
      const a = track(await join(server(), name));
      track(await join(server(), name));
      const refusal = await expectLobbyError(join(server(), name), 'full');
      expect(refusal.message).to.match(new RegExp(`lobby "${name}" is full \\(capacity 2\\)`));
      expect(server().stats().joinsRefused.full).to.be.greaterThan(0);
      await a.leave();
      const c = track(await join(server(), name));
      expect(c.members()).to.have.length(2);
    });

    it('keeps lobbies of different names apart, and refuses malformed names', async () => {
      const a = track(await join(server(), freshName()));
      const b = track(await join(server(), freshName()));
      expect(a.members().map((m) => m.id)).to.deep.equal([a.selfId]);
      expect(b.members().map((m) => m.id)).to.deep.equal([b.selfId]);
      await expectLobbyError(join(server(), 'has space'), 'invalid_name');
      const raw = new Client(server().url);
      const refused = await raw.joinOrCreate(LOBBY_ROOM_TYPE, { lobbyName: { $gt: '' } }).then(
        () => null,
        (error: Error) => error,
      );
      expect(refused?.message).to.match(/lobbyName must be/);
      expect(server().stats().joinsRefused.invalid_name).to.be.greaterThan(0);
    });

    it('without a relaySecret hands out no relay token', async () => {
      const a = track(await join(server(), freshName()));
      expect(a.relayToken).to.equal(undefined);
    });

    it('a dropped connection reconnects as the same member; the others never see it leave', async () => {
      const name = freshName();
      const a = track(await join(server(), name));
      const b = track(await join(server(), name));
      const seenByA = record(a);
      await b.setMemberMetadata({ n: '1' });
      await waitFor('a to see n=1', () => metadataOf(a, b.selfId)?.n === '1');
      const reconnectionsBefore = server().stats().reconnections;
      (await serverSocketOf(b.selfId)).terminate();
      await b.setMemberMetadata({ n: '2' }); // waits out the reconnect, then goes through
      await waitFor('a to see n=2', () => metadataOf(a, b.selfId)?.n === '2');
      expect(seenByA.leaves).to.deep.equal([]);
      expect(b.selfId).to.equal(b.members().find((m) => m.id === b.selfId)?.id);
      expect(server().stats().reconnections).to.equal(reconnectionsBefore + 1);
    });

    it('a member that does not come back within reconnectSeconds leaves', async () => {
      const name = freshName();
      const a = track(await join(server(), name));
      const b = track(await join(server(), name, { reconnectAttempts: 0 }));
      const seenByA = record(a);
      const seenByB = record(b);
      (await serverSocketOf(b.selfId)).terminate();
      await waitFor('b to give up', () => seenByB.completed);
      await waitFor('a to see b leave', () => seenByA.leaves.some((m) => m.id === b.selfId), { timeoutMs: 5_000 });
    });
  });

  describe('relay tokens', () => {
    const { server } = useLobbyServer({ relaySecret: testRelaySecret('lobby-colyseus'), relayTokenTtlSeconds: 600 });

    it('hands every member a relay token the relay accepts', async () => {
      const a = await join(server(), freshName());
      try {
        expect(a.relayToken).to.be.a('string');
        expect(verifyRelayToken(testRelaySecret('lobby-colyseus'), a.relayToken, Math.floor(Date.now() / 1000))).to.equal('ok');
        expect(verifyRelayToken(testRelaySecret('another'), a.relayToken, Math.floor(Date.now() / 1000))).to.equal('invalid');
        expect(server().stats().relayTokensIssued).to.equal(1);
      } finally {
        await a.leave();
      }
    });
  });

  describe('hostile members', () => {
    const { server } = useLobbyServer({ updateBurst: 5, updatesPerSecond: 1 });

    it('refuses and counts writes that break the rules or name another member; the victim is untouched', async () => {
      const name = freshName();
      const victim = await join(server(), name);
      const observer = await join(server(), name);
      const hostile = await rawMember(server(), name);
      try {
        await victim.setMemberMetadata({ route: 'victim-route' });
        const attempts: unknown[] = [
          { seq: 1, entries: { route: 'x'.repeat(5000) } },
          { seq: 2, entries: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'])) },
          { seq: 3, entries: { route: 7 } },
          { seq: 4, entries: ['route', 'x'] },
          { seq: 5, entries: { route: 'mine' }, memberId: victim.selfId },
          { seq: 6, id: victim.selfId, entries: { route: 'mine' } },
          { entries: { route: 'no seq' } },
          'just a string',
        ];
        for (const attempt of attempts) hostile.room.send(LobbyMessageType.SetMetadata, attempt);
        await waitFor('answers to the six numbered attempts', () => hostile.results.length >= 6);
        expect(hostile.results.map((r) => r.ok)).to.deep.equal([false, false, false, false, false, false]);
        const stats = server().stats().updatesRefused;
        expect(stats.value_too_long).to.equal(1);
        expect(stats.too_many_entries).to.equal(1);
        expect(stats.value_not_string).to.equal(1);
        expect(stats.not_an_object).to.equal(1);
        expect(stats.malformed_request).to.equal(4);
        // An accepted write from the victim afterwards is the first thing the observer sees change.
        await victim.setMemberMetadata({ route: 'victim-route-2' });
        await waitFor('observer to see the victim’s own update', () => metadataOf(observer, victim.selfId)?.route === 'victim-route-2');
        expect(metadataOf(observer, hostile.room.sessionId)).to.deep.equal({});
      } finally {
        await hostile.room.leave();
        await victim.leave();
        await observer.leave();
      }
    });

    it('rate-limits metadata writes per member and says so', async () => {
      const a = await join(server(), freshName());
      try {
        const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => a.setMemberMetadata({ n: String(i) })));
        const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason);
        expect(refused.length).to.be.greaterThan(0);
        expect(refused.every((error: { code?: string }) => error.code === 'rate_limited')).to.equal(true);
        expect(server().stats().updatesRefused.rate_limited).to.equal(refused.length);
      } finally {
        await a.leave();
      }
    });

    it('survives unknown message types, including ones that break Colyseus dispatch, and disconnects a flooder', async () => {
      const name = freshName();
      const bystander = await join(server(), name);
      const hostile = await rawMember(server(), name);
      try {
        const before = server().stats();
        for (const type of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'no_such_type']) hostile.room.send(type, { x: 1 });
        hostile.room.sendBytes('constructor', new Uint8Array([1, 2, 3]));
        await waitFor('the server to count them', () => {
          const now = server().stats();
          return now.unknownMessages + now.undecodableMessages - before.unknownMessages - before.undecodableMessages >= 6;
        });
        const left = nextValue<number>('the flooder to be disconnected', (deliver) => {
          hostile.room.onLeave(deliver);
          return () => undefined;
        });
        for (let i = 0; i < 60; i++) hostile.room.send('no_such_type', i);
        expect(await left).to.equal(4002);
        expect(server().stats().kicked).to.equal(1);
        await bystander.setMemberMetadata({ still: 'fine' });
      } finally {
        if (hostile.room.connection.isOpen) await hostile.room.leave();
        await bystander.leave();
      }
    });

    it('drops a matchmaking request with an oversized body without reading it', async () => {
      const port = new URL(server().url).port;
      const body = JSON.stringify({ lobbyName: 'x', pad: 'p'.repeat(64 * 1024) });
      const outcome = await fetch(`http://127.0.0.1:${port}/matchmake/joinOrCreate/${LOBBY_ROOM_TYPE}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      }).then(
        (response) => `status ${response.status}`,
        () => 'connection dropped',
      );
      expect(outcome).to.equal('connection dropped');
      const a = await join(server(), freshName());
      await a.leave();
    });
  });

  describe('server lifecycle', () => {
    it('one server per process at a time: a second start is refused, a restart after close works', async () => {
      const first = await startLobbyServer({ port: 0, logger: quiet });
      try {
        let refused: Error | null = null;
        await startLobbyServer({ port: 0, logger: quiet }).catch((error: Error) => (refused = error));
        expect(String(refused)).to.match(/already running in this process/);
      } finally {
        await first.close();
      }
      const second = await startLobbyServer({ port: 0, logger: quiet });
      try {
        const a = await join(second, freshName());
        await a.leave();
      } finally {
        await second.close();
        await second.close(); // idempotent
      }
    });

    it('closing the server completes every member’s observables once it gives up joining again', async () => {
      const server = await startLobbyServer({ port: 0, logger: quiet });
      const name = freshName();
      const a = await join(server, name, { reconnectAttempts: 0 });
      const seen = record(a);
      await server.close();
      await waitFor('a’s observables to complete', () => seen.completed);
      await expectLobbyError(a.setMemberMetadata({ x: '1' }), 'closed');
    });

    it('after the server restarts on the same port, members join again with backoff, republish their metadata, and see who changed meanwhile', async () => {
      let server = await startLobbyServer({ port: 0, logger: quiet });
      const port = Number(new URL(server.url).port);
      const name = freshName();
      const lobbies: ColyseusLobby[] = [];
      try {
        const a = await join(server, name);
        const b = await join(server, name);
        const c = await join(server, name, { reconnectAttempts: 0 }); // gone for good while the server is down
        lobbies.push(a, b, c);
        await a.setMemberMetadata({ role: 'a' });
        await b.setMemberMetadata({ role: 'b' });
        await c.setMemberMetadata({ role: 'c' });
        await waitFor('a to see b and c', () => metadataOf(a, b.selfId)?.role === 'b' && metadataOf(a, c.selfId)?.role === 'c');
        const oldIds = { a: a.selfId, b: b.selfId, c: c.selfId };
        const seenByA = record(a);
        const seenByC = record(c);

        await server.close();
        await waitFor('c to give up', () => seenByC.completed);
        server = await startLobbyServer({ port, logger: quiet });

        await waitFor('a and b to join again', () => a.selfId !== oldIds.a && b.selfId !== oldIds.b && metadataOf(a, b.selfId)?.role === 'b', { timeoutMs: 15_000 });
        const d = await join(server, name);
        lobbies.push(d);
        // A newcomer sees both, with the metadata they had before the restart.
        await waitFor('the newcomer to see a and b with their metadata', () => metadataOf(d, a.selfId)?.role === 'a' && metadataOf(d, b.selfId)?.role === 'b');
        expect(d.members().map((m) => m.id).sort()).to.deep.equal([a.selfId, b.selfId, d.selfId].sort());
        await waitFor('a to see d', () => metadataOf(a, d.selfId) !== undefined);
        expect(seenByA.completed).to.equal(false);
        // a saw the old b and c leave and the new b and d join; never itself.
        expect(seenByA.leaves.map((m) => m.id).sort()).to.deep.equal([oldIds.b, oldIds.c].sort());
        expect(seenByA.joins.map((m) => m.id).sort()).to.deep.equal([b.selfId, d.selfId].sort());
        expect([...seenByA.joins, ...seenByA.leaves].some((m) => m.id === oldIds.a || m.id === a.selfId)).to.equal(false);
        expect(a.members().map((m) => m.id).sort()).to.deep.equal([a.selfId, b.selfId, d.selfId].sort());
        expect(metadataOf(a, a.selfId)).to.deep.equal({ role: 'a' });
        // Writes go through on the new session.
        await a.setMemberMetadata({ role: 'a2' });
        await waitFor('d to see a2', () => metadataOf(d, a.selfId)?.role === 'a2');
      } finally {
        for (const lobby of lobbies) await lobby.leave().catch(() => undefined);
        await server.close();
      }
    });

    it('a port already in use is a clear error, and the next start still works', async () => {
      const squatter = createServer();
      await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
      const port = (squatter.address() as AddressInfo).port;
      try {
        let failure: Error | null = null;
        await startLobbyServer({ port, logger: quiet }).catch((error: Error) => (failure = error));
        expect(String(failure)).to.match(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
      } finally {
        await new Promise<void>((resolve) => squatter.close(() => resolve()));
      }
      const again = await startLobbyServer({ port: 0, logger: quiet });
      await again.close();
    });

    it('refuses to join a server that is not there with LobbyError unreachable', async () => {
      const server = await startLobbyServer({ port: 0, logger: quiet });
      const url = server.url;
      await server.close();
      await expectLobbyError(ColyseusLobby.join(url, 'nobody-home', { logger: quiet }), 'unreachable');
    });
  });
});
