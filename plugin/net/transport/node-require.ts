/**
 * Loads a Node-only module ('dgram', 'ws', the UDP socket module) in a way bundlers do not
 * follow: the module id reaches `require` through a variable, so a browser bundle (esbuild
 * `--platform=browser`) neither includes nor fails on it. Returns null where there is no
 * CommonJS `require` (browsers, ESM builds); a module that exists but fails to load throws.
 */
const hiddenRequire: ((id: string) => unknown) | null = typeof require === 'function' ? require : null;

export function loadNodeModule<T>(id: string): T | null {
  if (hiddenRequire === null || !isNode()) return null;
  return hiddenRequire(id) as T;
}

/** True when running on Node (where udp:// relays work). */
export function isNode(): boolean {
  const processLike = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof processLike?.versions?.node === 'string';
}
