import { protocolVector } from '../helpers/protocol-vectors';
import { expect } from 'chai';
import fc from 'fast-check';
import { fromHex, toHex } from '../../plugin/net/wire';
import {
  MAX_TOKEN_BYTES,
  MIN_UDP_REGISTER_BYTES,
  RefusalReason,
  decodeRelayDatagram,
  encodeData,
  encodeDelivery,
  encodeKeepalive,
  encodeKeepaliveAck,
  encodeLeave,
  encodeRefused,
  encodeRegister,
  encodeRegistered,
  isFinalRefusal,
  rewriteDataAsDelivery,
  sessionIdFromBytes,
  sessionIdHighAt,
  sessionIdLowAt,
  sessionIdToBytes,
  type RelayDatagram,
} from '../../plugin/net/wire/relay-codec';

const range = (n: number, start = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => start + i);
const nonce = range(8, 1);
const secret = range(16);
const relayId = range(8, 0xa0);
const session = 0x0123456789abcdefn;

function decoded(bytes: Uint8Array): RelayDatagram {
  const result = decodeRelayDatagram(bytes);
  if (!result.ok) throw new Error(`expected a datagram, got error: ${result.error}`);
  return result.value;
}

function refusedWith(bytes: Uint8Array, fragment: string): void {
  const result = decodeRelayDatagram(bytes);
  expect(result.ok, `decoding ${toHex(bytes).slice(0, 80)} should fail`).to.equal(false);
  if (!result.ok) expect(result.error).to.contain(fragment);
}

/** The vectors of PROTOCOL.md §7.1, with what each must decode to. */
const VECTORS: { name: string; hex: string; value: RelayDatagram }[] = [
  { name: 'REGISTER over WebSocket, no token', hex: protocolVector('relay-register-ws'), value: { kind: 'register', version: 1, nonce, token: '' } },
  {
    name: 'REGISTER with token "t0k"',
    hex: protocolVector('relay-register-token'),
    value: { kind: 'register', version: 1, nonce, token: 't0k' },
  },
  { name: 'KEEPALIVE', hex: protocolVector('relay-keepalive'), value: { kind: 'keepalive', sessionId: session, secret } },
  { name: 'DATA to a session', hex: protocolVector('relay-data'), value: { kind: 'data', destination: session, payload: Uint8Array.of(0x68, 0x69) } },
  { name: 'LEAVE', hex: protocolVector('relay-leave'), value: { kind: 'leave', sessionId: session, secret } },
  {
    name: 'REGISTERED',
    hex: protocolVector('relay-registered'),
    value: {
      kind: 'registered',
      nonce,
      relayId,
      sessionId: session,
      secret,
      keepaliveMs: 1000,
      endpoints: ['udp://127.0.0.1:7777', 'ws://127.0.0.1:7777'],
    },
  },
  { name: 'KEEPALIVE_ACK', hex: protocolVector('relay-keepalive-ack'), value: { kind: 'keepaliveAck', sessionId: session } },
  { name: 'DATA from a session', hex: protocolVector('relay-delivery'), value: { kind: 'delivery', source: session, payload: Uint8Array.of(0x68, 0x69) } },
  {
    name: 'REFUSED token missing',
    hex: protocolVector('relay-refused'),
    value: { kind: 'refused', reference: 0x0102030405060708n, reason: 1, detail: 'token missing' },
  },
];

function encode(value: RelayDatagram): Uint8Array {
  switch (value.kind) {
    case 'register':
      return encodeRegister({ nonce: value.nonce, token: value.token, version: value.version });
    case 'keepalive':
      return encodeKeepalive(value.sessionId, value.secret);
    case 'data':
      return encodeData(value.destination, value.payload);
    case 'leave':
      return encodeLeave(value.sessionId, value.secret);
    case 'registered':
      return encodeRegistered(value);
    case 'keepaliveAck':
      return encodeKeepaliveAck(value.sessionId);
    case 'delivery':
      return encodeDelivery(value.source, value.payload);
    case 'refused': {
      const bytes = encodeRefused(value.reference, value.reason, value.detail);
      if (bytes === null) throw new Error('unreachable');
      return bytes;
    }
  }
}

describe('relay codec (PROTOCOL.md §3)', () => {
  describe('vectors', () => {
    for (const vector of VECTORS) {
      it(`encodes and decodes ${vector.name}`, () => {
        const bytes = fromHex(vector.hex);
        expect(bytes).to.not.equal(null);
        expect(toHex(encode(vector.value))).to.equal(toHex(bytes!));
        expect(decoded(bytes!)).to.deep.equal(vector.value);
      });
    }
  });

  it('refuses every truncation of a fixed-end datagram, and a trailing byte', () => {
    for (const vector of VECTORS) {
      const bytes = fromHex(vector.hex)!;
      const variableEnd = vector.value.kind === 'data' || vector.value.kind === 'delivery';
      const shortest = variableEnd ? 10 : bytes.length;
      for (let length = 0; length < shortest; length++) {
        expect(decodeRelayDatagram(bytes.subarray(0, length)).ok, `${vector.name} cut to ${length}`).to.equal(false);
      }
      if (!variableEnd && vector.value.kind !== 'register') {
        const longer = new Uint8Array(bytes.length + 1);
        longer.set(bytes);
        refusedWith(longer, 'trailing');
      }
    }
  });

  it('pads REGISTER for UDP with zeros, and refuses non-zero padding', () => {
    const padded = encodeRegister({ nonce, token: 'abc', padToBytes: MIN_UDP_REGISTER_BYTES });
    expect(padded.length).to.equal(MIN_UDP_REGISTER_BYTES);
    expect(decoded(padded)).to.deep.equal({ kind: 'register', version: 1, nonce, token: 'abc' });
    padded[200] = 1;
    refusedWith(padded, 'padding');
  });

  it('reads only type, version and nonce of a REGISTER of another version', () => {
    const bytes = Uint8Array.of(0x01, 0x02, ...nonce, 0xff, 0xff, 0xff);
    expect(decoded(bytes)).to.deep.equal({ kind: 'register', version: 2, nonce, token: '' });
  });

  it('refuses bad REGISTER token lengths and bytes', () => {
    refusedWith(Uint8Array.of(0x01, 0x01, ...nonce, 0x81, 0x00), 'overlong');
    const over = new Uint8Array(2 + 8 + 2 + MAX_TOKEN_BYTES + 1);
    over.set([0x01, 0x01, ...nonce, 0x81, 0x08]);
    refusedWith(over, 'over 1024');
    refusedWith(Uint8Array.of(0x01, 0x01, ...nonce, 0x05, 0x61), 'token');
    refusedWith(Uint8Array.of(0x01, 0x01, ...nonce, 0x01, 0xff), 'UTF-8');
    expect(decoded(encodeRegister({ nonce, token: 'x'.repeat(MAX_TOKEN_BYTES) }))).to.include({ token: 'x'.repeat(MAX_TOKEN_BYTES) });
    expect(() => encodeRegister({ nonce, token: 'x'.repeat(MAX_TOKEN_BYTES + 1) })).to.throw(RangeError, 'token');
  });

  it('refuses bad REGISTERED fields', () => {
    const base = { nonce, relayId, sessionId: session, secret, keepaliveMs: 1000, endpoints: ['udp://a:1'] };
    const good = encodeRegistered(base);
    const endpointCountAt = 1 + 8 + 8 + 8 + 16 + 2;
    const noEndpoints = good.slice(0, endpointCountAt + 1);
    noEndpoints[endpointCountAt] = 0;
    refusedWith(noEndpoints, 'endpoint count 0');
    const five = good.slice();
    five[endpointCountAt] = 5;
    refusedWith(five, 'endpoint count 5');
    const zeroSession = good.slice();
    zeroSession.fill(0, 17, 25);
    refusedWith(zeroSession, 'session id 0');
    const zeroKeepalive = good.slice();
    zeroKeepalive.fill(0, 41, 43);
    refusedWith(zeroKeepalive, 'keepaliveMs 0');
    const emptyEndpoint = Uint8Array.of(...good.subarray(0, endpointCountAt), 1, 0);
    refusedWith(emptyEndpoint, 'empty');
    expect(() => encodeRegistered({ ...base, endpoints: [] })).to.throw(RangeError);
    expect(() => encodeRegistered({ ...base, sessionId: 0n })).to.throw(RangeError);
  });

  it('refuses unknown types, empty input, empty DATA payloads and REFUSED reason 0', () => {
    refusedWith(new Uint8Array(0), 'empty');
    refusedWith(Uint8Array.of(0x05), 'unknown type 0x05');
    refusedWith(Uint8Array.of(0x00), 'unknown type 0x00');
    refusedWith(Uint8Array.of(0x03, 1, 2, 3, 4, 5, 6, 7, 8), 'empty payload');
    refusedWith(Uint8Array.of(0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 'reason 0');
    expect(() => encodeData(1n, new Uint8Array(0))).to.throw(RangeError);
  });

  it('cuts a REFUSED detail so the answer is never longer than what it answers', () => {
    expect(encodeRefused(0n, RefusalReason.UnknownSession, 'whatever', 10)).to.equal(null);
    expect(encodeRefused(0n, RefusalReason.UnknownSession, 'whatever', 11)!.length).to.equal(11);
    const cut = encodeRefused(0n, RefusalReason.Malformed, 'ab€', 11 + 3)!;
    // '€' is 3 bytes: it does not fit in the 1 byte left after "ab", so it goes whole.
    expect(decoded(cut)).to.deep.equal({ kind: 'refused', reference: 0n, reason: 8, detail: 'ab' });
    expect(encodeRefused(0n, 8, 'x'.repeat(400))!.length).to.equal(11 + 255);
  });

  it('knows which refusals are final', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].filter(isFinalRefusal)).to.deep.equal([1, 2, 3, 7]);
  });

  it('reads session ids without BigInt and rewrites DATA into relay DATA in place', () => {
    const data = encodeData(0xfedcba9876543210n, Uint8Array.of(9, 9, 9));
    expect(sessionIdHighAt(data)).to.equal(0xfedcba98);
    expect(sessionIdLowAt(data)).to.equal(0x76543210);
    rewriteDataAsDelivery(data, Number(session >> 32n), Number(session & 0xffffffffn));
    expect(toHex(data)).to.equal(toHex(encodeDelivery(session, Uint8Array.of(9, 9, 9))));
    expect(sessionIdFromBytes(sessionIdToBytes(0xffffffffffffffffn))).to.equal(0xffffffffffffffffn);
  });

  it('round-trips arbitrary values (property)', () => {
    const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
    const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
    const arbitrary: fc.Arbitrary<RelayDatagram> = fc.oneof(
      fc.record({ kind: fc.constant('register' as const), version: fc.constant(1), nonce: bytes(8), token: fc.string({ maxLength: 200 }) }),
      fc.record({ kind: fc.constant('keepalive' as const), sessionId: u64, secret: bytes(16) }),
      fc.record({ kind: fc.constant('leave' as const), sessionId: u64, secret: bytes(16) }),
      fc.record({ kind: fc.constant('data' as const), destination: u64, payload: fc.uint8Array({ minLength: 1, maxLength: 1491 }) }),
      fc.record({ kind: fc.constant('delivery' as const), source: u64, payload: fc.uint8Array({ minLength: 1, maxLength: 1491 }) }),
      fc.record({
        kind: fc.constant('registered' as const),
        nonce: bytes(8),
        relayId: bytes(8),
        sessionId: fc.bigInt({ min: 1n, max: 0xffffffffffffffffn }),
        secret: bytes(16),
        keepaliveMs: fc.integer({ min: 1, max: 0xffff }),
        endpoints: fc.array(fc.string({ minLength: 1, maxLength: 60 }), { minLength: 1, maxLength: 4 }),
      }),
      fc.record({ kind: fc.constant('keepaliveAck' as const), sessionId: u64 }),
      fc.record({ kind: fc.constant('refused' as const), reference: u64, reason: fc.integer({ min: 1, max: 255 }), detail: fc.string({ maxLength: 80 }) }),
    );
    fc.assert(
      fc.property(arbitrary, (value) => {
        expect(decoded(encode(value))).to.deep.equal(value);
      }),
      { seed: 1337, numRuns: 1000 },
    );
  });

  it('never throws on random bytes, and a success re-encodes to the same bytes (fuzz)', () => {
    const typed = fc
      .tuple(fc.constantFrom(0x01, 0x02, 0x03, 0x04, 0x81, 0x82, 0x83, 0x84, 0x00, 0x7f, 0xff), fc.uint8Array({ maxLength: 400 }))
      .map(([type, rest]) => Uint8Array.of(type, ...rest));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 1600 }), typed), (bytes) => {
        const result = decodeRelayDatagram(bytes);
        if (result.ok && result.value.kind !== 'register') expect(toHex(encode(result.value))).to.equal(toHex(bytes));
      }),
      { seed: 4242, numRuns: 5000 },
    );
  });
});
