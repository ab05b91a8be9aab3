/**
 * Loads a Node-only module ('dgram', 'ws', the UDP socket module) in a way bundlers do not
 * follow: the module id reaches `require` through a variable, so a browser bundle (esbuild
 * `--platform=browser`) neither includes nor fails on it. Returns null where there is no
 * CommonJS `require` (browsers, ESM builds); a module that exists but fails to load throws.
 */
let hiddenRequire: ((id: string) => unknown) | null = typeof require === 'function' ? require : null;

/**
 * ES modules have no `require`: the package's Node ESM entry (dist/esm/plugin/index.node.js) hands
 * in one made by `createRequire`, so udp://, 'ws' and node:crypto work there too.
 */
export function provideNodeRequire(nodeRequire: (id: string) => unknown): void {
  hiddenRequire = nodeRequire;
}

export function loadNodeModule<T>(id: string): T | null {
  if (hiddenRequire === null || !isNode()) return null;
  return hiddenRequire(id) as T;
}

/** True when running on Node (where udp:// relays work). */
export function isNode(): boolean {
  const processLike = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof processLike?.versions?.node === 'string';
}
