// Packs the two packages of this repository into ./packages/ (npm pack runs their builds), so
// `npm install` here installs them exactly as a game installs them from a registry.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const destination = path.join(here, 'packages');
mkdirSync(destination, { recursive: true });
for (const packageDir of [path.join(here, '..', '..'), path.join(here, '..', '..', 'server')]) {
  execFileSync('npm', ['pack', '--pack-destination', destination], { cwd: packageDir, stdio: 'inherit' });
}
