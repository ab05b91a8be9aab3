/**
 * Bundles the sample page (sample-scene/browser/main.ts) for browsers with esbuild. The bundle
 * must hold no Node module: plugin/net/transport/socket-factory.ts keeps the UDP link (and with
 * it 'dgram') out, and `checkBrowserBundle` refuses a bundle that pulled one in anyway.
 */
import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { REPOSITORY_ROOT } from './paths';

export { REPOSITORY_ROOT };

export interface SceneBundle {
  /** The page's script, served as /app.js. */
  js: Uint8Array;
  /** The page, served as /. */
  html: Uint8Array;
  /** Source files in the bundle, relative to the repository root. */
  inputs: string[];
}

export interface BuildSceneBundleOptions {
  /** Minify (default true: the page loads faster). */
  minify?: boolean;
  /** Add an inline source map (default false). */
  sourcemap?: boolean;
}

export const SCENE_ENTRY = path.join(REPOSITORY_ROOT, 'sample-scene', 'browser', 'main.ts');
export const SCENE_HTML = path.join(REPOSITORY_ROOT, 'sample-scene', 'browser', 'index.html');

/** Node modules (with and without `node:`) that must never be in the browser bundle. */
const NODE_ONLY = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`), 'ws']);

export async function buildSceneBundle(options: BuildSceneBundleOptions = {}): Promise<SceneBundle> {
  const result = await build({
    entryPoints: [SCENE_ENTRY],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: options.minify ?? true,
    sourcemap: options.sourcemap ? 'inline' : false,
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: REPOSITORY_ROOT,
    // The sample imports 'switchboard'; in the repository that is plugin/index.ts (package.json exports).
    conditions: ['switchboard-source'],
    outfile: 'app.js',
  });
  const output = result.outputFiles.find((f) => f.path.endsWith('.js'));
  if (!output) throw new Error('scene bundle: esbuild produced no JavaScript');
  const problem = checkBrowserBundle(result.metafile);
  if (problem) throw new Error(`scene bundle: ${problem}`);
  return {
    js: output.contents,
    html: new Uint8Array(await readFile(SCENE_HTML)),
    inputs: Object.keys(result.metafile.inputs).sort(),
  };
}

/** Null when the bundle has no Node-only import; else what pulled one in. */
export function checkBrowserBundle(metafile: Metafile): string | null {
  for (const [file, input] of Object.entries(metafile.inputs)) {
    if (/(^|\/)udp-socket\.ts$/.test(file)) return `${file} is in the bundle (the UDP link needs Node's 'dgram')`;
    for (const imported of input.imports) {
      // (esbuild lists type-only imports it elided as `external` too, so the name is what counts.)
      if (NODE_ONLY.has(imported.path)) return `${file} imports '${imported.path}', a Node module`;
    }
  }
  return null;
}
