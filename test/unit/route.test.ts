import { expect } from 'chai';
import fc from 'fast-check';
import { networkInterfaces } from 'node:os';
import { Identity, peerIdFromPublicKey } from '../../plugin/net/identity';
import { Result } from '../../plugin/net/result';
import {
  checkRouteForPeer,
  decodeRoute,
  decodeRouteForPeer,
  encodeRoute,
  MAX_ROUTE_CHARS,
  sameRoute,
  type RouteInfo,
} from '../../plugin/net/route';
import { ByteWriter, toBase64 } from '../../plugin/net/wire';

const alice = Identity.fromSecretKey(new Uint8Array(32).fill(7));
const mallory = Identity.fromSecretKey(new Uint8Array(32).fill(9));

function sampleRoute(overrides: Partial<RouteInfo> = {}): RouteInfo {
  return {
    relayId: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
    sessionId: 0x1122_3344_5566_7788n,
    publicKey: alice.publicKey,
    endpoints: ['udp://relay.example:7777', 'ws://relay.example:7777'],
    ...overrides,
  };
}

/** Route bytes written field by field, so each field can be broken on purpose. */
function rawRoute(fields: {
  version?: number;
  relayId?: Uint8Array;
  sessionId?: bigint;
  publicKey?: Uint8Array;
  count?: number;
  endpoints?: Uint8Array[];
  trailing?: Uint8Array;
} = {}): Uint8Array {
  const endpoints = fields.endpoints ?? [new TextEncoder().encode('udp://relay.example:7777')];
  const w = new ByteWriter();
  w.u8(fields.version ?? 1)
    .bytes(fields.relayId ?? new Uint8Array(8).fill(1))
    .u64(fields.sessionId ?? 5n)
    .bytes(fields.publicKey ?? alice.publicKey)
    .u8(fields.count ?? endpoints.length);
  for (const e of endpoints) w.u8(e.length).bytes(e);
  if (fields.trailing) w.bytes(fields.trailing);
  return w.toBytes();
}

function expectRefused(route: unknown, code: Result, pattern: RegExp): void {
  const decoded = decodeRoute(route);
  expect(decoded.ok, `route ${String(route).slice(0, 40)} should be refused`).to.equal(false);
  if (decoded.ok) return;
  expect(decoded.code, decoded.error).to.equal(code);
  expect(decoded.error).to.match(pattern);
}

describe('route', () => {
  it('round-trips through standard base64', () => {
    const info = sampleRoute();
    const text = encodeRoute(info);
    expect(text).to.match(/^[A-Za-z0-9+/]+=*$/);
    const decoded = decodeRoute(text);
    expect(decoded.ok).to.equal(true);
    if (!decoded.ok) return;
    expect(decoded.route).to.deep.equal(info);
    expect(sameRoute(decoded.route, info)).to.equal(true);
    expect(sameRoute(decoded.route, sampleRoute({ sessionId: 2n }))).to.equal(false);
  });

  it('the largest route fits well within the length bound', () => {
    const longest = encodeRoute(sampleRoute({ endpoints: Array.from({ length: 4 }, (_, i) => `${i}`.padEnd(100, 'x')) }));
    expect(longest.length).to.equal(608);
    expect(longest.length).to.be.below(MAX_ROUTE_CHARS);
    expect(decodeRoute(longest).ok).to.equal(true);
  });

  it('holds nothing but relay id, session, key and relay endpoints — no client address', () => {
    const text = encodeRoute(sampleRoute());
    const decoded = decodeRoute(text);
    if (!decoded.ok) throw new Error(decoded.error);
    expect(Object.keys(decoded.route).sort()).to.deep.equal(['endpoints', 'publicKey', 'relayId', 'sessionId']);
    // 1 version + 8 relay id + 8 session + 32 key + 1 count + endpoints: no byte left for anything else.
    const endpointBytes = sampleRoute().endpoints.reduce((sum, e) => sum + 1 + e.length, 0);
    expect(Buffer.from(text, 'base64').length).to.equal(50 + endpointBytes);
    const routeBytes = Buffer.from(text, 'base64');
    const addresses = Object.values(networkInterfaces()).flatMap((list) => list ?? []).map((entry) => entry.address);
    addresses.push('127.0.0.1', '::1');
    for (const address of addresses) {
      expect(routeBytes.includes(Buffer.from(address)), `text form of ${address}`).to.equal(false);
      if (/^\d+\.\d+\.\d+\.\d+$/.test(address)) {
        const binary = Buffer.from(address.split('.').map(Number));
        expect(routeBytes.includes(binary), `binary form of ${address}`).to.equal(false);
      }
    }
  });

  it('refuses non-strings and text that is not strict base64 with InvalidBase64', () => {
    for (const value of [undefined, null, 42, 42n, {}, [], new Uint8Array(60), true]) {
      expectRefused(value, Result.InvalidBase64, /must be a string/);
    }
    const good = encodeRoute(sampleRoute());
    for (const text of ['', 'abc', '####', good.slice(0, -1), good + ' ', ' ' + good, good.replace(/\+/g, '-') + '-',
      good.replace(/[+/]/g, '_') + '_', 'YR==', 'YWJ=', good + '\n', 'é'.repeat(8)]) {
      expectRefused(text, Result.InvalidBase64, /base64/);
    }
  });

  it('refuses a route longer than 1024 characters with InvalidPayload, before decoding it', () => {
    expectRefused('A'.repeat(1028), Result.InvalidPayload, /more than 1024/);
    expectRefused('!'.repeat(5_000_000), Result.InvalidPayload, /more than 1024/);
  });

  it('refuses every kind of malformed route bytes with InvalidPayload', () => {
    const cases: [Uint8Array, RegExp][] = [
      [rawRoute({ version: 2 }), /version 2/],
      [rawRoute({ version: 0 }), /version 0/],
      [rawRoute({ sessionId: 0n }), /session id is 0/],
      [rawRoute({ count: 0, endpoints: [] }), /count 0/],
      [rawRoute({ count: 5, endpoints: Array.from({ length: 5 }, () => Uint8Array.of(0x61)) }), /count 5/],
      [rawRoute({ endpoints: [new Uint8Array(0)] }), /0 bytes/],
      [rawRoute({ endpoints: [new Uint8Array(101).fill(0x61)] }), /101 bytes/],
      [rawRoute({ endpoints: [Uint8Array.of(0x61, 0xff)] }), /UTF-8/],
      [rawRoute({ endpoints: [Uint8Array.of(0xc0, 0x80)] }), /UTF-8/], // overlong NUL
      [rawRoute({ endpoints: [Uint8Array.of(0xed, 0xa0, 0x80)] }), /UTF-8/], // lone surrogate
      [rawRoute({ trailing: Uint8Array.of(0) }), /1 trailing byte/],
      [rawRoute({ count: 2 }), /truncated/],
    ];
    for (const [bytes, pattern] of cases) expectRefused(toBase64(bytes), Result.InvalidPayload, pattern);
  });

  it('refuses every truncation of a valid route with InvalidPayload', () => {
    const bytes = rawRoute({ endpoints: [new TextEncoder().encode('udp://r:1'), new TextEncoder().encode('ws://r:1')] });
    expect(decodeRoute(toBase64(bytes)).ok).to.equal(true);
    for (let length = 1; length < bytes.length; length++) {
      expectRefused(toBase64(bytes.subarray(0, length)), Result.InvalidPayload, /truncated|count/);
    }
  });

  it('a forged route (key that does not derive the peer id) is refused with InvalidPayload', () => {
    const forged = encodeRoute(sampleRoute({ publicKey: mallory.publicKey }));
    const result = decodeRouteForPeer(alice.peerId, forged);
    expect(result.ok).to.equal(false);
    if (!result.ok) {
      expect(result.code).to.equal(Result.InvalidPayload);
      expect(result.error).to.match(/not 1|belongs to peer/);
    }
    const genuine = decodeRouteForPeer(alice.peerId, encodeRoute(sampleRoute()));
    expect(genuine.ok).to.equal(true);
    const decoded = decodeRoute(forged);
    if (decoded.ok) expect(checkRouteForPeer(alice.peerId, decoded.route).ok).to.equal(false);
    // Bad base64 keeps its own code through the combined check.
    const notBase64 = decodeRouteForPeer(alice.peerId, '***');
    expect(notBase64.ok === false && notBase64.code).to.equal(Result.InvalidBase64);
  });

  it('a route whose key is a low-order point is refused even when the peer id matches', () => {
    const lowOrder = new Uint8Array(32);
    const result = decodeRouteForPeer(peerIdFromPublicKey(lowOrder), encodeRoute(sampleRoute({ publicKey: lowOrder })));
    expect(result.ok).to.equal(false);
    if (!result.ok) {
      expect(result.code).to.equal(Result.InvalidPayload);
      expect(result.error).to.match(/not a usable X25519/);
    }
  });

  it('encodeRoute throws on values it must never publish', () => {
    expect(() => encodeRoute(sampleRoute({ relayId: new Uint8Array(7) }))).to.throw(RangeError, /relayId/);
    expect(() => encodeRoute(sampleRoute({ sessionId: 0n }))).to.throw(RangeError, /sessionId/);
    expect(() => encodeRoute(sampleRoute({ sessionId: 2n ** 64n }))).to.throw(RangeError, /sessionId/);
    expect(() => encodeRoute(sampleRoute({ publicKey: new Uint8Array(31) }))).to.throw(RangeError, /publicKey/);
    expect(() => encodeRoute(sampleRoute({ endpoints: [] }))).to.throw(RangeError, /endpoints/);
    expect(() => encodeRoute(sampleRoute({ endpoints: ['a', 'b', 'c', 'd', 'e'] }))).to.throw(RangeError, /endpoints/);
    expect(() => encodeRoute(sampleRoute({ endpoints: [''] }))).to.throw(RangeError, /endpoint/);
    expect(() => encodeRoute(sampleRoute({ endpoints: ['é'.repeat(51)] }))).to.throw(RangeError, /endpoint/);
  });

  it('round-trips any valid route (property)', () => {
    const endpoint = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 25 }).filter((s) => {
      const n = new TextEncoder().encode(s).length;
      return n >= 1 && n <= 100;
    });
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(endpoint, { minLength: 1, maxLength: 4 }),
        (relayId, sessionId, publicKey, endpoints) => {
          const info = { relayId, sessionId, publicKey, endpoints };
          const decoded = decodeRoute(encodeRoute(info));
          expect(decoded.ok).to.equal(true);
          if (decoded.ok) expect(decoded.route).to.deep.equal(info);
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it('never throws on random strings or random bytes, and refuses with one of the two codes (property)', () => {
    const check = (input: unknown) => {
      const decoded = decodeRoute(input);
      if (!decoded.ok) expect([Result.InvalidBase64, Result.InvalidPayload]).to.include(decoded.code);
      expect(() => decodeRouteForPeer(alice.peerId, input)).to.not.throw();
    };
    fc.assert(fc.property(fc.string({ maxLength: 1100 }), check), { seed: 12, numRuns: 300 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), check), { seed: 13, numRuns: 300 });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => {
        const decoded = decodeRoute(toBase64(bytes));
        if (!decoded.ok) expect(decoded.code, decoded.error).to.equal(bytes.length === 0 ? Result.InvalidBase64 : Result.InvalidPayload);
      }),
      { seed: 14, numRuns: 500 },
    );
    // Mutations of a valid route: any single byte changed still never throws.
    const valid = rawRoute();
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }), (index, mask) => {
        const bytes = valid.slice();
        bytes[index] ^= mask;
        check(toBase64(bytes));
      }),
      { seed: 15, numRuns: 300 },
    );
  });
});
