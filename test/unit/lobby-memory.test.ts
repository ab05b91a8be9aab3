import { expect } from 'chai';
import { LobbyError } from '../../plugin/lobby/lobby-adapter';
import { MemoryLobbyHub } from '../../plugin/lobby/memory-lobby';
import { waitFor } from '../helpers/wait';
import { describeLobbyContract, expectLobbyError, metadataOf, record } from './lobby-contract';

describe('MemoryLobby', () => {
  describe('LobbyAdapter contract', () => {
    let hub = new MemoryLobbyHub();
    describeLobbyContract({
      nextLobby: () => (hub = new MemoryLobbyHub()),
      join: async () => hub.join(),
    });
  });

  it('refuses a join past capacity with LobbyError full, and takes one again after a leave', async () => {
    const hub = new MemoryLobbyHub({ capacity: 2 });
    const a = hub.join();
    hub.join();
    expect(() => hub.join()).to.throw(LobbyError, /full \(capacity 2\)/);
    await a.leave();
    expect(hub.join().selfId).to.be.a('string');
    expect(hub.stats().joinsRefused).to.equal(1);
  });

  it('names members m1, m2, … or as asked, and refuses malformed or duplicate ids', () => {
    const hub = new MemoryLobbyHub();
    expect(hub.join().selfId).to.equal('m1');
    expect(hub.join('player-7').selfId).to.equal('player-7');
    for (const id of ['', 'has space', 'x'.repeat(65), 'player-7']) {
      try {
        hub.join(id);
        expect.fail(`joined with id ${JSON.stringify(id)}`);
      } catch (error) {
        expect((error as LobbyError).code).to.equal('invalid_name');
      }
    }
  });

  it('counts refused updates by reason', async () => {
    const hub = new MemoryLobbyHub();
    const a = hub.join();
    await expectLobbyError(a.setMemberMetadata({ route: 7 } as unknown as Record<string, string>), 'invalid_metadata');
    await expectLobbyError(a.setMemberMetadata({ route: 'x'.repeat(2000) }), 'invalid_metadata');
    await a.setMemberMetadata({ route: 'ok' });
    expect(hub.stats().updatesRefused).to.deep.equal({ value_not_string: 1, value_too_long: 1 });
    expect(hub.stats().updatesAccepted).to.equal(1);
  });

  it('never emits from inside a call: events come after it returns, in order', async () => {
    const hub = new MemoryLobbyHub();
    const a = hub.join();
    const seen = record(a);
    const b = hub.join();
    const pending = b.setMemberMetadata({ n: '1' });
    expect(seen.joins).to.have.length(0);
    await pending;
    expect(seen.joins.map((m) => m.id)).to.deep.equal([b.selfId]);
    expect(seen.updates.map((m) => m.metadata.get('n'))).to.deep.equal(['1']);
  });

  it('a member joining later starts from the current metadata without events for the past', async () => {
    const hub = new MemoryLobbyHub();
    const a = hub.join();
    await a.setMemberMetadata({ route: 'r1' });
    const b = hub.join();
    const seen = record(b);
    expect(metadataOf(b, a.selfId)).to.deep.equal({ route: 'r1' });
    await a.setMemberMetadata({ route: 'r2' });
    await waitFor('b to see r2', () => metadataOf(b, a.selfId)?.route === 'r2');
    expect(seen.joins).to.have.length(0);
  });
});
