/**
 * Arguments no honest caller passes, but "no method throws for any argument" covers: revoked
 * proxies, objects whose getters and conversions throw, typed arrays that lie about their length
 * or whose species constructor throws, huge and sparse arrays, detached and shared buffers.
 * The same instances every call, so a test can tell them apart.
 */
let cached: unknown[] | null = null;

function thrower(): never {
  throw new Error('hostile value: do not touch');
}

export function hostileValues(): unknown[] {
  if (cached !== null) return cached;
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const revokedArray = Proxy.revocable(new Uint8Array(4), {});
  revokedArray.revoke();
  const trappingProxy = new Proxy({}, { get: thrower, has: thrower, getPrototypeOf: thrower, ownKeys: thrower, getOwnPropertyDescriptor: thrower });
  const throwingConversions = { valueOf: thrower, toString: thrower, [Symbol.toPrimitive]: thrower };
  const throwingGetters = Object.defineProperties({}, { length: { get: thrower }, byteLength: { get: thrower }, then: { get: thrower } });
  // A real Uint8Array that claims to be empty: the size checks must not trust an own `length`.
  const lyingLength = new Uint8Array(2 * 1024 * 1024);
  Object.defineProperty(lyingLength, 'length', { value: 0 });
  const throwingLength = new Uint8Array(8);
  Object.defineProperty(throwingLength, 'length', { get: thrower });
  const throwingSpecies = new Uint8Array(8);
  Object.defineProperty(throwingSpecies, 'constructor', { value: { [Symbol.species]: thrower } });
  const detached = new Uint8Array(16);
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  const shared = new Uint8Array(new SharedArrayBuffer(32));
  const sparse = new Array(1_000_000);
  sparse[999_999] = 1;
  cached = [
    revoked.proxy,
    revokedArray.proxy,
    trappingProxy,
    throwingConversions,
    throwingGetters,
    lyingLength,
    throwingLength,
    throwingSpecies,
    detached,
    shared,
    sparse,
    new Array(100_000).fill(255),
    new Uint8ClampedArray(4),
    new DataView(new ArrayBuffer(4)),
    new ArrayBuffer(8),
    Object.create(null),
    Symbol('hostile'),
    () => 0,
    new Uint8Array(1024 * 1024 + 1),
    new Uint8Array(64 * 1024 + 1),
  ];
  return cached;
}
