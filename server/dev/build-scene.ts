/**
 * `npm run build:scene`: writes the sample page to dist/sample-scene/ (index.html, app.js) for
 * static hosting. The page reads /config.json ({ relay, lobbyUrl, lobby }) from the same origin.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { buildSceneBundle, REPOSITORY_ROOT } from './scene-bundle';

async function main(): Promise<void> {
  const outdir = path.join(REPOSITORY_ROOT, 'dist', 'sample-scene');
  const bundle = await buildSceneBundle();
  await mkdir(outdir, { recursive: true });
  await writeFile(path.join(outdir, 'index.html'), bundle.html);
  await writeFile(path.join(outdir, 'app.js'), bundle.js);
  process.stdout.write(`wrote ${path.relative(process.cwd(), outdir)}/index.html and app.js (${(bundle.js.length / 1024).toFixed(0)} KiB, ${bundle.inputs.length} sources); serve /config.json next to them\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`build:scene failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
