/**
 * The LobbyAdapter contract, run against every adapter (MemoryLobby in test/unit/lobby-memory.test.ts,
 * ColyseusLobby over a real lobby server in test/integration/lobby-colyseus.test.ts).
 */
import { expect } from 'chai';
import { LobbyError, type LobbyAdapter, type LobbyMember } from '../../plugin/lobby/lobby-adapter';
import { waitFor } from '../helpers/wait';

export interface LobbyContractHooks {
  /** Joins a new member to one lobby shared by the calls of a single test. */
  join(): Promise<LobbyAdapter>;
  /** Starts a fresh lobby for the next test (a new name or hub). */
  nextLobby(): void;
}

interface Recorded {
  joins: LobbyMember[];
  updates: LobbyMember[];
  leaves: LobbyMember[];
  completed: boolean;
}

export function record(lobby: LobbyAdapter): Recorded {
  const recorded: Recorded = { joins: [], updates: [], leaves: [], completed: false };
  lobby.memberJoin$.subscribe((member) => recorded.joins.push(member));
  lobby.memberUpdate$.subscribe((member) => recorded.updates.push(member));
  lobby.memberLeave$.subscribe({ next: (member) => recorded.leaves.push(member), complete: () => (recorded.completed = true) });
  return recorded;
}

export function metadataOf(lobby: LobbyAdapter, memberId: string): Record<string, string> | undefined {
  const member = lobby.members().find((m) => m.id === memberId);
  return member === undefined ? undefined : Object.fromEntries(member.metadata);
}

export async function expectLobbyError(promise: Promise<unknown>, code: string): Promise<LobbyError> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(LobbyError);
    expect((error as LobbyError).code, (error as Error).message).to.equal(code);
    return error as LobbyError;
  }
  throw new Error(`expected a LobbyError ${code}, but the call succeeded`);
}

export function describeLobbyContract(hooks: LobbyContractHooks): void {
  const joined: LobbyAdapter[] = [];
  const join = async (): Promise<LobbyAdapter> => {
    const lobby = await hooks.join();
    joined.push(lobby);
    return lobby;
  };

  beforeEach(() => hooks.nextLobby());
  afterEach(async () => {
    await Promise.all(joined.splice(0).map((lobby) => lobby.leave()));
  });

  it('a member sees later members join; members() lists everyone, itself included', async () => {
    const a = await join();
    const seenByA = record(a);
    const b = await join();
    expect(a.selfId).to.not.equal(b.selfId);
    expect(b.members().map((m) => m.id)).to.have.members([a.selfId, b.selfId]);
    await waitFor('a to see b join', () => seenByA.joins.some((m) => m.id === b.selfId));
    expect(a.members().map((m) => m.id)).to.have.members([a.selfId, b.selfId]);
    expect(seenByA.joins.map((m) => m.id)).to.not.include(a.selfId);
  });

  it('metadata a member writes reaches everyone; the writer sees it when the promise resolves', async () => {
    const a = await join();
    const b = await join();
    const seenByA = record(a);
    const seenByB = record(b);
    await b.setMemberMetadata({ peer_id: '12345', route: 'AAAA' });
    expect(metadataOf(b, b.selfId)).to.deep.equal({ peer_id: '12345', route: 'AAAA' });
    expect(seenByB.updates.map((m) => m.id)).to.include(b.selfId);
    await waitFor('a to see b update', () => metadataOf(a, b.selfId)?.route === 'AAAA');
    const seen = [...seenByA.joins, ...seenByA.updates].filter((m) => m.id === b.selfId);
    expect(Object.fromEntries(seen[seen.length - 1].metadata)).to.deep.equal({ peer_id: '12345', route: 'AAAA' });
  });

  it('an update merges into the member’s metadata', async () => {
    const a = await join();
    await a.setMemberMetadata({ x: '1' });
    await a.setMemberMetadata({ y: '2' });
    await a.setMemberMetadata({ x: '3' });
    expect(metadataOf(a, a.selfId)).to.deep.equal({ x: '3', y: '2' });
  });

  it('refuses metadata that breaks the rules as a whole, and nobody sees any of it', async () => {
    const a = await join();
    const b = await join();
    await waitFor('a to see b', () => metadataOf(a, b.selfId) !== undefined);
    const seenByA = record(a);
    const tooMany: Record<string, string> = {};
    for (let i = 0; i < 17; i++) tooMany[`k${i}`] = 'v';
    const bad: unknown[] = [
      { route: 42 },
      { ok: 'fine', 'bad key': 'v' },
      { ['k'.repeat(65)]: 'v' },
      { route: 'x'.repeat(1025) },
      tooMany,
      ['route', 'x'],
      null,
      'route=x',
    ];
    for (const entries of bad) {
      await expectLobbyError(b.setMemberMetadata(entries as Record<string, string>), 'invalid_metadata');
    }
    const fill: Record<string, string> = {};
    for (let i = 0; i < 16; i++) fill[`f${i}`] = 'v';
    await b.setMemberMetadata(fill);
    await expectLobbyError(b.setMemberMetadata({ one_more: 'v' }), 'invalid_metadata');
    await b.setMemberMetadata({ f0: 'last' });
    await waitFor('a to see b’s last update', () => metadataOf(a, b.selfId)?.f0 === 'last');
    const fromB = seenByA.updates.filter((m) => m.id === b.selfId);
    for (const member of fromB) {
      expect([...member.metadata.keys()].every((key) => key.startsWith('f')), 'only the accepted keys').to.equal(true);
    }
    expect(metadataOf(b, b.selfId)).to.include({ f0: 'last' }).and.not.have.property('route');
  });

  it('refuses a peer_id another member already published (peer_id_taken), changing nothing; free again once it left', async () => {
    const a = await join();
    const b = await join();
    await a.setMemberMetadata({ peer_id: '12345678901234567890', route: 'a-route' });
    await waitFor('b to see a', () => metadataOf(b, a.selfId)?.peer_id === '12345678901234567890');
    const refused = await expectLobbyError(b.setMemberMetadata({ peer_id: '12345678901234567890', route: 'b-route' }), 'peer_id_taken');
    expect(refused.message).to.contain('peer_id');
    expect(metadataOf(b, b.selfId)).to.deep.equal({});
    // Republishing one's own claim is no clash; another id is fine.
    await a.setMemberMetadata({ peer_id: '12345678901234567890', route: 'a-route-2' });
    await b.setMemberMetadata({ peer_id: '42', route: 'b-route' });
    await expectLobbyError(b.setMemberMetadata({ peer_id: '12345678901234567890' }), 'peer_id_taken');
    expect(metadataOf(b, b.selfId)).to.deep.equal({ peer_id: '42', route: 'b-route' });
    await a.leave();
    await waitFor('b to see a leave', () => metadataOf(b, a.selfId) === undefined);
    await b.setMemberMetadata({ peer_id: '12345678901234567890' });
    expect(metadataOf(b, b.selfId)).to.deep.equal({ peer_id: '12345678901234567890', route: 'b-route' });
  });

  it('a leave reaches the others with the last metadata; the leaver’s observables complete', async () => {
    const a = await join();
    const b = await join();
    const seenByA = record(a);
    const seenByB = record(b);
    await b.setMemberMetadata({ route: 'bye' });
    await b.leave();
    expect(seenByB.completed).to.equal(true);
    expect(b.members()).to.deep.equal([]);
    await expectLobbyError(b.setMemberMetadata({ route: 'again' }), 'closed');
    await b.leave(); // idempotent
    await waitFor('a to see b leave', () => seenByA.leaves.some((m) => m.id === b.selfId));
    const left = seenByA.leaves.find((m) => m.id === b.selfId) as LobbyMember;
    expect(left.metadata.get('route')).to.equal('bye');
    expect(a.members().map((m) => m.id)).to.deep.equal([a.selfId]);
  });

  it('members() and events hand out copies nobody can change the lobby through', async () => {
    const a = await join();
    await a.setMemberMetadata({ route: 'mine' });
    const seen = record(a);
    const copy = a.members().find((m) => m.id === a.selfId) as LobbyMember;
    (copy.metadata as Map<string, string>).set('route', 'forged');
    expect(metadataOf(a, a.selfId)).to.deep.equal({ route: 'mine' });
    await a.setMemberMetadata({ other: '1' });
    const event = seen.updates[seen.updates.length - 1];
    (event.metadata as Map<string, string>).set('route', 'forged');
    expect(metadataOf(a, a.selfId)).to.deep.equal({ route: 'mine', other: '1' });
  });

  it('a burst of updates arrives in order and ends at the last value', async () => {
    const a = await join();
    const b = await join();
    await waitFor('a to see b', () => metadataOf(a, b.selfId) !== undefined);
    const seenByA = record(a);
    await Promise.all(Array.from({ length: 15 }, (_, i) => b.setMemberMetadata({ n: String(i) })));
    await waitFor('a to see the last update', () => metadataOf(a, b.selfId)?.n === '14');
    const values = seenByA.updates.filter((m) => m.id === b.selfId).map((m) => Number(m.metadata.get('n')));
    expect(values.length).to.be.greaterThan(0);
    expect([...values].sort((x, y) => x - y)).to.deep.equal(values);
  });
}
