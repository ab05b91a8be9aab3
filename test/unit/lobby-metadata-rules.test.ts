import { expect } from 'chai';
import fc from 'fast-check';
import { checkMetadataUpdate, defaultLobbyMetadataLimits, isValidName, resolveMetadataLimits } from '../../plugin/lobby/metadata-rules';
import { MemberView } from '../../plugin/lobby/member-view';

const limits = defaultLobbyMetadataLimits;

describe('lobby metadata rules', () => {
  it('accepts string values under well-formed keys', () => {
    const verdict = checkMetadataUpdate(new Map(), { peer_id: '1', route: 'AAAA', 'a.b:c-d': '' }, limits);
    expect(verdict).to.deep.equal({ ok: true, entries: [['peer_id', '1'], ['route', 'AAAA'], ['a.b:c-d', '']] });
  });

  it('names the refusal for each broken rule', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'not_an_object'],
      [['a'], 'not_an_object'],
      [new Map([['a', 'b']]), 'not_an_object'],
      [JSON.parse('{"__proto__": {"x": "y"}}'), 'bad_key'],
      [Object.assign(Object.create({ inherited: 'x' }), { a: 'b' }), 'not_an_object'],
      [{ '': 'v' }, 'bad_key'],
      [{ 'sp ace': 'v' }, 'bad_key'],
      [{ ['k'.repeat(65)]: 'v' }, 'bad_key'],
      [{ k: 1 }, 'value_not_string'],
      [{ k: null }, 'value_not_string'],
      [{ k: 'v'.repeat(1025) }, 'value_too_long'],
      [Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])), 'too_many_entries'],
    ];
    for (const [entries, refusal] of cases) {
      const verdict = checkMetadataUpdate(new Map(), entries, limits);
      expect(verdict.ok, JSON.stringify(entries)).to.equal(false);
      if (!verdict.ok) expect(verdict.refusal, verdict.error).to.equal(refusal);
    }
  });

  it('counts keys after merging: replacing keys is fine, adding past the limit is not', () => {
    const full = new Map(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v'] as [string, string]));
    expect(checkMetadataUpdate(full, { k3: 'new' }, limits).ok).to.equal(true);
    const verdict = checkMetadataUpdate(full, { k16: 'v' }, limits);
    expect(verdict.ok === false && verdict.refusal).to.equal('too_many_keys');
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), (entries) => {
        checkMetadataUpdate(new Map(), entries, limits);
      }),
      { seed: 6, numRuns: 500 },
    );
  });

  it('checks names and limits', () => {
    expect(isValidName('lobby-1')).to.equal(true);
    for (const bad of ['', 'a b', 'x'.repeat(65), 7, null, 'é']) expect(isValidName(bad), String(bad)).to.equal(false);
    expect(() => resolveMetadataLimits({ maxKeys: 0 })).to.throw(TypeError, /maxKeys/);
    expect(resolveMetadataLimits({ maxValueLength: 2048 }).maxValueLength).to.equal(2048);
  });
});

describe('MemberView', () => {
  const snapshot = (entries: Record<string, Record<string, string>>) =>
    new Map(Object.entries(entries).map(([id, metadata]) => [id, new Map(Object.entries(metadata))]));

  it('turns snapshots into leaves, then joins, then updates; never a join or leave of itself', () => {
    const view = new MemberView('me');
    expect(view.apply(snapshot({ me: {}, a: { r: '1' } })).map((e) => `${e.kind}:${e.member.id}`)).to.deep.equal(['join:a']);
    const events = view.apply(snapshot({ me: { r: 'x' }, a: { r: '2' }, b: {} }));
    expect(events.map((e) => `${e.kind}:${e.member.id}`)).to.deep.equal(['join:b', 'update:me', 'update:a']);
    expect(view.apply(snapshot({ me: { r: 'x' }, a: { r: '2' }, b: {} }))).to.deep.equal([]);
    expect(view.apply(snapshot({ c: {} })).map((e) => `${e.kind}:${e.member.id}`)).to.deep.equal(['leave:a', 'leave:b', 'join:c']);
  });

  it('a leave carries the last metadata it knew', () => {
    const view = new MemberView('me');
    view.apply(snapshot({ a: { route: 'last' } }));
    const [leave] = view.apply(snapshot({}));
    expect(leave.kind).to.equal('leave');
    expect(leave.member.metadata.get('route')).to.equal('last');
  });
});
