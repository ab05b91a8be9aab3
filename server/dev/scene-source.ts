/**
 * The sample page for the dev stack. The published switchboard-server ships it prebuilt in
 * dist/sample/ (next to the compiled command); in the repository it is built from the sources
 * with esbuild, which the built command therefore never loads.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { SceneBundle } from './scene-bundle';

export type { SceneBundle };

/** dist/sample/ of the built package (absent in the repository, where this file is server/dev/). */
export const PREBUILT_SAMPLE_DIR = path.join(__dirname, 'sample');

export async function loadSceneBundle(): Promise<SceneBundle> {
  const prebuiltJs = path.join(PREBUILT_SAMPLE_DIR, 'app.js');
  if (existsSync(prebuiltJs)) {
    const [js, html] = await Promise.all([readFile(prebuiltJs), readFile(path.join(PREBUILT_SAMPLE_DIR, 'index.html'))]);
    return { js: new Uint8Array(js), html: new Uint8Array(html), inputs: [] };
  }
  // A module id in a variable: the bundled command does not follow it (it never needs esbuild).
  const fromSources = './scene-bundle';
  const { buildSceneBundle } = require(fromSources) as typeof import('./scene-bundle');
  return buildSceneBundle();
}
