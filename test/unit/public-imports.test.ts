import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The sample scene, its bots and the example game are built the way a game is: from the two
 * public entry points only. A deep import (`../../plugin/net/…`, `switchboard/dist/…`) would let
 * them use something a game cannot reach, so the public surface would stop proving itself.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const GAME_CODE_DIRS = ['sample-scene', path.join('examples', 'minimal-game', 'src'), path.join('examples', 'minimal-game', 'server.mjs')];
const PUBLIC_PACKAGES = new Set(['switchboard', 'switchboard-server']);
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)(['"])([^'"]+)\1/g;

function sourceFiles(entry: string, out: string[] = []): string[] {
  const full = path.join(ROOT, entry);
  if (!fs.existsSync(full)) return out;
  if (fs.statSync(full).isFile()) {
    if (/\.(ts|tsx|mts|cts|js|mjs|cjs)$/.test(full)) out.push(full);
    return out;
  }
  for (const child of fs.readdirSync(full)) {
    if (child === 'node_modules' || child === 'dist') continue;
    sourceFiles(path.join(entry, child), out);
  }
  return out;
}

/** Why `specifier`, imported from `file`, is not a public entry point — or null when it is fine. */
export function deepImportProblem(file: string, specifier: string): string | null {
  if (specifier.startsWith('.')) {
    const target = path.resolve(path.dirname(file), specifier);
    const relative = path.relative(ROOT, target).split(path.sep);
    if (relative[0] === 'plugin' || relative[0] === 'server') return `reaches into ${relative.join('/')} instead of importing the public package`;
    return null;
  }
  const [first, second] = specifier.split('/');
  const packageName = first?.startsWith('@') ? `${first}/${second ?? ''}` : first ?? '';
  if (PUBLIC_PACKAGES.has(packageName) && specifier !== packageName && specifier !== 'switchboard/plugin.json') {
    return `imports the subpath "${specifier}"; only "${packageName}" itself is public`;
  }
  return null;
}

describe('game code uses only the public entry points', () => {
  const files = GAME_CODE_DIRS.flatMap((dir) => sourceFiles(dir));

  it('finds the sample scene, bot and example sources to check', () => {
    const relative = files.map((file) => path.relative(ROOT, file));
    expect(relative.some((file) => file.startsWith(`sample-scene${path.sep}browser`))).to.equal(true);
    expect(relative.some((file) => file.startsWith(`sample-scene${path.sep}bot`))).to.equal(true);
    expect(relative.some((file) => file.startsWith('examples'))).to.equal(true);
  });

  it('no file imports plugin/, server/ or a package subpath', () => {
    const problems: string[] = [];
    for (const file of files) {
      const text = fs.readFileSync(file, 'utf8');
      for (const match of text.matchAll(SPECIFIER)) {
        const problem = deepImportProblem(file, match[2] ?? '');
        if (problem !== null) problems.push(`${path.relative(ROOT, file)}: ${problem}`);
      }
    }
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('the checker itself flags the deep imports it exists for', () => {
    const scene = path.join(ROOT, 'sample-scene', 'game', 'x.ts');
    expect(deepImportProblem(scene, '../../plugin/net/result')).to.match(/plugin\/net\/result/);
    expect(deepImportProblem(scene, '../../server/relay')).to.match(/server\/relay/);
    expect(deepImportProblem(scene, 'switchboard/dist/cjs/plugin/index.js')).to.match(/subpath/);
    expect(deepImportProblem(scene, 'switchboard')).to.equal(null);
    expect(deepImportProblem(scene, 'switchboard-server')).to.equal(null);
    expect(deepImportProblem(scene, './movement')).to.equal(null);
    expect(deepImportProblem(scene, '@babylonjs/core/scene.js')).to.equal(null);
  });
});
