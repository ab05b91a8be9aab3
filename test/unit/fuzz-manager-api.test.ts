/**
 * "No method throws for any argument" (issue 2): every NetworkManager method called with
 * fast-check's anything() (bigints, typed arrays, boxed values, Maps, null prototypes…), numbers,
 * strings, huge arrays and hostile objects returns a Result (or its documented value), never throws,
 * and what the manager accepted before — peers, channels, queued reliable messages — is not lost.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Result } from '../../plugin/net/result';
import { MemorySwitch } from '../../plugin/net/transport/memory-switch';
import { connectPair, disposeAll, isConnected, type TestPeer } from '../helpers/managers';
import type { NetworkManager } from '../../plugin/net/network-manager';
import { indexOf, numbered, pumpVirtual, registerVirtual, virtualPeer } from '../../fuzz/virtual-managers';
import { hostileValues } from '../../fuzz/hostile-values';

const RESULT_CODES = new Set(Object.values(Result).filter((v): v is number => typeof v === 'number'));

/** Methods that return a Result. */
const RESULT_METHODS = ['openPeer', 'updatePeer', 'closePeer', 'openChannel', 'closeChannel', 'sendMessage', 'runCallbacks', 'flush'] as const;
type ResultMethod = (typeof RESULT_METHODS)[number];
/** Methods that return something else; they must not throw either. */
const QUERY_METHODS = ['getPeerStats', 'getDropCounts', 'describePeer', 'getPeerId', 'getRoute', 'getTransportInfo', 'getIdentity'] as const;

type QueryMethod = (typeof QUERY_METHODS)[number];

function call(net: NetworkManager, method: ResultMethod | QueryMethod, args: unknown[]): unknown {
  return Reflect.apply(net[method] as (...a: unknown[]) => unknown, net, args);
}

/** Stands for hostile value #index; swapped in inside the property, since fast-check itself must not touch them. */
class HostileRef {
  constructor(readonly index: number) {}
}

function resolve(args: unknown[]): unknown[] {
  return args.map((arg) => (arg instanceof HostileRef ? hostileValues()[arg.index] : arg));
}

/** Any value at all, weighted towards the types the methods expect; `hostile` mixes in hostileValues(). */
function anyArgument(extra: unknown[], hostile = false): fc.Arbitrary<unknown> {
  const choices: fc.WeightedArbitrary<unknown>[] = [
    { arbitrary: fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withObjectString: true, withNullPrototype: true, withDate: true, withTypedArray: true, withSparseArray: true, maxDepth: 2 }), weight: 4 },
    { arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), weight: 2 },
    { arbitrary: fc.constantFrom(0n, 1n, -1n, 2n ** 53n + 1n, 2n ** 64n - 1n, 2n ** 64n), weight: 1 },
    { arbitrary: fc.double(), weight: 1 },
    { arbitrary: fc.integer({ min: -200, max: 300 }), weight: 2 },
    { arbitrary: fc.string({ maxLength: 700 }), weight: 1 },
    { arbitrary: fc.base64String({ maxLength: 700 }), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 3000 }), weight: 2 },
    { arbitrary: fc.boolean(), weight: 1 },
    { arbitrary: fc.constantFrom(...extra), weight: 2 },
  ];
  if (hostile) choices.push({ arbitrary: fc.nat(hostileValues().length - 1).map((i) => new HostileRef(i)), weight: 2 });
  return fc.oneof(...choices);
}

describe('NetworkManager: no method throws for any argument (fast-check)', function () {
  this.timeout(60_000);
  const peers: TestPeer[] = [];
  afterEach(async () => {
    await disposeAll(peers.splice(0));
  });

  it('every method returns its Result (or documented value) for any arguments, and keeps what it accepted', () => {
    const sw = new MemorySwitch({ seed: 71, link: { latencyMs: 5 } });
    const a = virtualPeer(sw);
    const b = virtualPeer(sw);
    const c = virtualPeer(sw);
    peers.push(a, b, c);
    registerVirtual(sw, [a, b, c]);
    connectPair(a, b, [{ id: 0, reliable: true }, { id: 1, reliable: false }]);
    pumpVirtual(sw, [a, b], 'a and b connected', () => isConnected(a, b.id) && isConnected(b, a.id));
    // Accepted before the storm: ten reliable messages queued (not yet flushed).
    const expected: number[] = [];
    for (let i = 0; i < 10; i++) {
      expect(a.net.sendMessage(b.id, 0, numbered(i))).to.equal(Result.Ok);
      expected.push(i);
    }

    const routes = [a.net.getRoute()!, b.net.getRoute()!, c.net.getRoute()!];
    const ids = [a.id, b.id, c.id, a.id + 1n, b.id - 1n];
    const argument = anyArgument([...ids, ...routes, 0, 1, 127, 128, -1, 1.5, NaN, Infinity, true, false]);
    const seen: Record<string, number> = {};
    let fuzzSequence = 1_000_000;

    const callOnce = (method: ResultMethod | QueryMethod, args: unknown[]): void => {
      // Calls that would legitimately take b's state away are not part of the storm.
      const destructive =
        args[0] === b.id &&
        (method === 'closePeer' || method === 'updatePeer' || (method === 'closeChannel' && (args[1] === 0 || args[1] === 1)));
      if (destructive) return;
      // Messages the storm gets accepted on channel 0 join the stream b must receive, in order.
      let tracked = -1;
      if (method === 'sendMessage' && args[0] === b.id && args[1] === 0 && args[2] instanceof Uint8Array && !isHostile(args[2])) {
        tracked = fuzzSequence++;
        args = [b.id, 0, numbered(tracked)];
      }
      let value: unknown;
      try {
        value = call(a.net, method, args);
      } catch (error) {
        throw new Error(`${method}(${args.map(show).join(', ')}) threw: ${(error as Error).message}`);
      }
      if ((RESULT_METHODS as readonly string[]).includes(method)) {
        expect(RESULT_CODES.has(value as number), `${method} gave ${String(value)}`).to.equal(true);
        seen[`${method}:${Result[value as number]}`] = (seen[`${method}:${Result[value as number]}`] ?? 0) + 1;
        if (tracked >= 0 && value === Result.Ok) expected.push(tracked);
      } else if (method === 'getPeerStats' && value !== undefined) {
        expect(value).to.have.property('state');
      }
    };

    fc.assert(
      fc.property(
        fc.constantFrom(...RESULT_METHODS, ...QUERY_METHODS),
        fc.oneof(
          fc.array(argument, { minLength: 0, maxLength: 4 }),
          // Plausible shapes, so the storm also gets past the first checks of each method.
          fc.tuple(argument, fc.oneof(argument, fc.integer({ min: -2, max: 130 }), fc.constantFrom(0, 1), fc.constantFrom(...routes)), fc.oneof(argument, fc.boolean(), fc.uint8Array({ maxLength: 2000 }))),
        ),
        fc.boolean(),
        (method, args, withKnownPeer) => {
          // Half the time the first argument is a peer id the manager knows, to reach the later checks.
          const resolved = resolve(args);
          if (withKnownPeer && resolved.length > 0) resolved[0] = b.id;
          callOnce(method, resolved);
        },
      ),
      { seed: 4711, numRuns: 3000 },
    );
    expect(Object.keys(seen).length, JSON.stringify(seen)).to.be.greaterThan(20);

    // What was accepted is still there: b is open, both channels are, and the stream arrives whole.
    expect(a.net.getPeerStats(b.id)?.state).to.equal('connected');
    expect(a.net.openChannel(b.id, 0, true)).to.equal(Result.Ok);
    expect(a.net.openChannel(b.id, 1, false)).to.equal(Result.Ok);
    expect(a.net.sendMessage(b.id, 0, numbered(2_000_000))).to.equal(Result.Ok);
    expected.push(2_000_000);
    const stream = () => b.messages.filter((m) => m.channelId === 0).map((m) => indexOf(m.data));
    pumpVirtual(sw, [a, b, c], 'b to receive every accepted reliable message', () => stream().length >= expected.length, { maxFrames: 5000 });
    expect(stream()).to.deep.equal(expected);
  });

  // These found bugs (a Buffer aliased into the queue, throws on detached buffers, proxies and
  // symbols, a lying length past every limit); they guard the fixes.
  describe('hostile arguments', () => {
    it('sendMessage copies data even from a Node Buffer (whose slice() is a view): reusing the buffer changes nothing queued', () => {
      const sw = new MemorySwitch({ seed: 73 });
      const a = virtualPeer(sw);
      const b = virtualPeer(sw);
      peers.push(a, b);
      registerVirtual(sw, [a, b]);
      connectPair(a, b, [{ id: 0, reliable: true }, { id: 1, reliable: false }]);
      pumpVirtual(sw, [a, b], 'a and b connected', () => isConnected(a, b.id) && isConnected(b, a.id));
      const buffer = Buffer.from('loot: one sword');
      expect(a.net.sendMessage(b.id, 0, buffer)).to.equal(Result.Ok);
      expect(a.net.sendMessage(b.id, 1, buffer)).to.equal(Result.Ok);
      buffer.fill(0x2a); // the caller may reuse its buffer at once (API.md)
      pumpVirtual(sw, [a, b], 'both messages', () => b.messages.length === 2);
      expect(b.messages.map((m) => new TextDecoder().decode(m.data))).to.deep.equal(['loot: one sword', 'loot: one sword']);
    });

    it('no method throws for hostile arguments (revoked proxies, detached buffers, lying lengths, symbols), and no size limit is bypassed', () => {
      const sw = new MemorySwitch({ seed: 74 });
      const a = virtualPeer(sw);
      const b = virtualPeer(sw);
      peers.push(a, b);
      registerVirtual(sw, [a, b]);
      connectPair(a, b, [{ id: 0, reliable: true }, { id: 1, reliable: false }]);
      const failures: string[] = [];
      for (const method of [...RESULT_METHODS, ...QUERY_METHODS]) {
        for (const [index, hostile] of hostileValues().entries()) {
          for (let position = 0; position < 3; position++) {
            for (const channel of [0, 1]) {
              const args: unknown[] = [b.id, channel, numbered(0)];
              args[position] = hostile;
              if (args[0] === b.id && (method === 'closePeer' || method === 'updatePeer' || method === 'closeChannel')) continue;
              try {
                const value = call(a.net, method, args);
                if ((RESULT_METHODS as readonly string[]).includes(method) && !RESULT_CODES.has(value as number)) failures.push(`${method} #${index} at ${position}: gave ${String(value)}`);
              } catch (error) {
                failures.push(`${method} hostile #${index} at ${position}: threw ${(error as Error).message}`);
              }
            }
          }
        }
      }
      expect(failures).to.deep.equal([]);
      // The 2 MiB array that says its length is 0 was refused, not queued past every limit.
      expect(a.net.getPeerStats(b.id)!.pendingReliableBytes).to.be.below(1024 * 1024);
    });
  });

  it('after dispose every method says NotRunning (or nothing), whatever it is given, and dispose never throws', async () => {
    const sw = new MemorySwitch({ seed: 72 });
    const a = virtualPeer(sw);
    registerVirtual(sw, [a]);
    for (const hostile of hostileValues()) {
      const disposed = Reflect.apply(a.net.dispose as (...x: unknown[]) => Promise<void>, a.net, [hostile]);
      expect(disposed).to.be.instanceOf(Promise);
      await disposed;
    }
    const argument = anyArgument([a.id, 0, true]);
    fc.assert(
      fc.property(fc.constantFrom(...RESULT_METHODS, ...QUERY_METHODS), fc.array(argument, { maxLength: 4 }), (method, args) => {
        const value = call(a.net, method, resolve(args));
        if ((RESULT_METHODS as readonly string[]).includes(method)) expect(value).to.equal(Result.NotRunning);
      }),
      { seed: 4712, numRuns: 500 },
    );
  });
});

function isHostile(value: unknown): boolean {
  return hostileValues().includes(value);
}

function show(value: unknown): string {
  try {
    if (typeof value === 'bigint') return `${value}n`;
    if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
    if (typeof value === 'string') return JSON.stringify(value.slice(0, 40));
    return Object.prototype.toString.call(value);
  } catch {
    return '<hostile value>';
  }
}
