/**
 * The sample's loot rules (sample-scene/game/loot-book.ts), with several LootBooks wired by a
 * tiny in-order message router standing in for the reliable channel: the dropper arbitrates,
 * every book ends with the same winner, late joiners and leaving droppers behave.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { LootBook, lootKey, type LootEffects, type LootEvent } from '../../sample-scene/game/loot-book';
import type { LootMessage } from '../../sample-scene/game/loot-messages';

const A = 11n;
const B = 22n;
const C = 33n;

/** Reliable-channel semantics: per (from, to) FIFO; `deliverNext` picks which queue moves next. */
class Router {
  readonly books = new Map<bigint, LootBook>();
  readonly events = new Map<bigint, LootEvent[]>();
  private readonly queues = new Map<string, { from: bigint; to: bigint; message: LootMessage }[]>();
  constructor(ids: bigint[]) {
    for (const id of ids) {
      this.books.set(id, new LootBook(id));
      this.events.set(id, []);
    }
  }
  book(id: bigint): LootBook {
    return this.books.get(id)!;
  }
  apply(from: bigint, effects: LootEffects): void {
    this.events.get(from)!.push(...effects.events);
    for (const send of effects.sends) {
      const targets = send.to === 'everyone' ? [...this.books.keys()].filter((id) => id !== from) : [send.to];
      for (const to of targets) {
        const key = `${from}>${to}`;
        if (!this.queues.has(key)) this.queues.set(key, []);
        this.queues.get(key)!.push({ from, to, message: send.message });
      }
    }
  }
  pending(): string[] {
    return [...this.queues.entries()].filter(([, q]) => q.length > 0).map(([k]) => k);
  }
  deliver(queueKey: string): void {
    const next = this.queues.get(queueKey)!.shift()!;
    this.apply(next.to, this.book(next.to).receive(next.from, next.message));
  }
  deliverAll(pick: (keys: string[]) => string = (keys) => keys[0]!): void {
    for (let i = 0; i < 10_000 && this.pending().length > 0; i++) this.deliver(pick(this.pending()));
    expect(this.pending(), 'router drained').to.deep.equal([]);
  }
}

function dropAt(router: Router, id: bigint, x: number, z: number) {
  const outcome = router.book(id).drop({ x, z });
  if (!outcome.ok) throw new Error(outcome.reason);
  router.apply(id, outcome.effects);
  return outcome.item;
}

describe('sample loot book', () => {
  it('a drop reaches everyone; the first claim the dropper processes wins, everywhere', () => {
    const router = new Router([A, B, C]);
    const item = dropAt(router, A, 2, 3);
    router.deliverAll();
    for (const id of [A, B, C]) expect(router.book(id).items().map((i) => i.key)).to.deep.equal([item.key]);
    // B and C both stand on it in the same instant; C's claim reaches A first.
    router.apply(B, router.book(B).touch({ x: 2, z: 3 }));
    router.apply(C, router.book(C).touch({ x: 2.5, z: 3 }));
    expect(router.book(B).item(item.key)?.state).to.equal('claim-pending');
    router.deliver(`${C}>${A}`);
    router.deliverAll();
    for (const id of [A, B, C]) {
      expect(router.book(id).pickup(item.key)?.winner, `book ${id}`).to.equal(C);
      expect(router.book(id).items(), `book ${id} ground`).to.deep.equal([]);
      expect(router.book(id).scoreOf(C)).to.equal(1);
    }
    expect(router.book(A).stats().ignoredClaims).to.equal(1); // B's late claim
  });

  it('the dropper cannot pick up its own loot, and claims only within the pick-up radius', () => {
    const router = new Router([A, B]);
    const item = dropAt(router, A, 0, 0);
    router.deliverAll();
    expect(router.book(A).touch({ x: 0, z: 0 }).sends).to.deep.equal([]);
    expect(router.book(B).touch({ x: 5, z: 0 }).sends).to.deep.equal([]);
    const near = router.book(B).touch({ x: 0.5, z: 0.5 });
    expect(near.sends).to.deep.equal([{ to: A, message: { kind: 'claim', seq: item.seq } }]);
    // Standing on it again does not claim twice.
    expect(router.book(B).touch({ x: 0.5, z: 0.5 }).sends).to.deep.equal([]);
  });

  it('every interleaving of three claimants converges on one winner (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 3 }), (choices, drops) => {
        const router = new Router([A, B, C]);
        const items = Array.from({ length: drops }, (_, i) => dropAt(router, [A, B, C][i % 3]!, i, -i));
        router.deliverAll();
        for (const id of [A, B, C]) for (const item of items) router.apply(id, router.book(id).touch({ x: item.x, z: item.z }));
        let turn = 0;
        router.deliverAll((keys) => keys[(choices[turn++ % choices.length] ?? 0) % keys.length]!);
        for (const item of items) {
          const winners = [A, B, C].map((id) => router.book(id).pickup(item.key)?.winner);
          expect(new Set(winners).size, `one winner for ${item.key}`).to.equal(1);
          expect(winners[0]).to.not.equal(item.dropper).and.to.not.equal(undefined);
        }
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it('a player who connects later gets the loot still on the ground, and repeats change nothing', () => {
    const a = new LootBook(A);
    const b = new LootBook(B);
    const first = a.drop({ x: 1, z: 1 });
    const second = a.drop({ x: -1, z: -1 });
    if (!first.ok || !second.ok) throw new Error('drops refused');
    // B missed both drops; the first is taken by C meanwhile.
    a.receive(C, { kind: 'claim', seq: first.item.seq });
    const snapshot = a.peerConnected(B);
    expect(snapshot.sends).to.deep.equal([{ to: B, message: { kind: 'drop', seq: second.item.seq, x: -1, z: -1 } }]);
    for (const send of [...snapshot.sends, ...snapshot.sends]) b.receive(A, send.message);
    expect(b.items().map((i) => i.key)).to.deep.equal([lootKey(A, second.item.seq)]);
    expect(b.stats().ignoredDrops).to.equal(1);
  });

  it("a dropper who leaves takes its undecided loot along; others' loot stays", () => {
    const router = new Router([A, B, C]);
    const aItem = dropAt(router, A, 1, 1);
    const cItem = dropAt(router, C, 2, 2);
    router.deliverAll();
    router.apply(B, router.book(B).touch({ x: 1, z: 1 })); // claim in flight to A when A leaves
    const left = router.book(B).peerClosed(A);
    expect(left.events).to.deep.equal([{ kind: 'vanished', item: { ...aItem, state: 'claim-pending' } }]);
    expect(router.book(B).items().map((i) => i.key)).to.deep.equal([cItem.key]);
  });

  it('refuses drops past the per-dropper limit, off the arena, or malformed', () => {
    const a = new LootBook(A, { maxPerDropper: 2 });
    expect(a.drop({ x: 0, z: 0 }).ok).to.equal(true);
    expect(a.drop({ x: 0, z: 0 }).ok).to.equal(true);
    const third = a.drop({ x: 0, z: 0 });
    expect(third.ok).to.equal(false);
    expect(a.drop({ x: 99, z: 0 }).ok).to.equal(false);
    const b = new LootBook(B, { maxPerDropper: 2 });
    b.receive(A, { kind: 'drop', seq: 1, x: 0, z: 0 });
    b.receive(A, { kind: 'drop', seq: 2, x: 0, z: 0 });
    b.receive(A, { kind: 'drop', seq: 3, x: 0, z: 0 }); // over A's limit
    b.receive(A, { kind: 'drop', seq: 4, x: Number.NaN, z: 0 });
    b.receive(A, { kind: 'drop', seq: 0, x: 0, z: 0 });
    b.receive(A, { kind: 'drop', seq: 5, x: 0, z: 1e9 });
    expect(b.items()).to.have.length(2);
    expect(b.stats().ignoredDrops).to.equal(4);
    // Nobody but the dropper decides its items; a repeated verdict changes nothing.
    b.receive(A, { kind: 'taken', seq: 1, winner: C });
    b.receive(A, { kind: 'taken', seq: 1, winner: B });
    expect(b.pickup(lootKey(A, 1))?.winner).to.equal(C);
    expect(b.stats().ignoredTaken).to.equal(1);
    // A message that claims to come from ourselves is ignored.
    expect(b.receive(B, { kind: 'drop', seq: 9, x: 0, z: 0 })).to.deep.equal({ sends: [], events: [] });
  });

  it('remembers a bounded number of decided pick-ups', () => {
    const a = new LootBook(A, { maxRememberedPickups: 3 });
    for (let seq = 1; seq <= 5; seq++) a.receive(B, { kind: 'taken', seq, winner: C });
    expect(a.pickups().map((p) => p.seq)).to.deep.equal([3, 4, 5]);
    expect(a.scoreOf(C)).to.equal(5);
  });
});
