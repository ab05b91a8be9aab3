import { PAGE_CONFIG_PATH, type PageConfig } from '../../sample-scene/game/page-config';
import type { SceneBundle } from './scene-bundle';

/** What the dev servers serve: the sample page, its script and its config.json. */
export function samplePageFiles(bundle: SceneBundle, config: PageConfig): Map<string, { contentType: string; body: Uint8Array }> {
  return new Map([
    ['/', { contentType: 'text/html; charset=utf-8', body: bundle.html }],
    ['/index.html', { contentType: 'text/html; charset=utf-8', body: bundle.html }],
    ['/app.js', { contentType: 'text/javascript; charset=utf-8', body: bundle.js }],
    [PAGE_CONFIG_PATH, { contentType: 'application/json', body: new TextEncoder().encode(JSON.stringify(config)) }],
  ]);
}
