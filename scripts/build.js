#!/usr/bin/env node
'use strict';
/**
 * Builds the two published packages (npm's `prepack` runs this; `npm run build` builds both):
 *
 *   client  → dist/esm (ES modules, one file per source module so bundlers tree-shake),
 *             dist/cjs (CommonJS), each with its .d.ts. tsc compiles both; ESM needs explicit
 *             `.js` specifiers, which this script adds to the emitted files (sources stay as they are).
 *   server  → server/dist: index.cjs / index.mjs (the library), cli.cjs (the `switchboard` command),
 *             types/ (.d.ts) and sample/ (the prebuilt sample page and bot for `switchboard dev`).
 *
 * Usage: node scripts/build.js [client|server]   (no argument: both)
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SERVER = path.join(ROOT, 'server');
const TSC = require.resolve('typescript/bin/tsc', { paths: [ROOT] });

function tsc(project) {
  execFileSync(process.execPath, [TSC, '-p', project], { cwd: ROOT, stdio: 'inherit' });
}

function walk(dir, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else out.push(full);
  }
  return out;
}

/** './net/types' → './net/types.js' or './lobby' → './lobby/index.js', judged by what tsc emitted. */
function esmSpecifier(fromFile, specifier) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return specifier;
  if (/\.(m?js|json\.js)$/.test(specifier)) return specifier;
  if (specifier.endsWith('.json')) return `${specifier}.js`;
  const base = path.resolve(path.dirname(fromFile), specifier);
  if (fs.existsSync(`${base}.js`) || fs.existsSync(`${base}.d.ts`)) return `${specifier}.js`;
  if (fs.existsSync(path.join(base, 'index.js')) || fs.existsSync(path.join(base, 'index.d.ts'))) return `${specifier}/index.js`;
  throw new Error(`build: cannot resolve "${specifier}" from ${path.relative(ROOT, fromFile)}`);
}

/** Rewrites `from '…'`, `import '…'` and `import('…')` specifiers of an emitted ESM file. */
function rewriteEsmFile(file) {
  const text = fs.readFileSync(file, 'utf8');
  const rewritten = text
    .replace(/(\bfrom\s*|\bimport\s*)(['"])(\.{1,2}\/[^'"]*)\2/g, (_, lead, quote, spec) => `${lead}${quote}${esmSpecifier(file, spec)}${quote}`)
    .replace(/(\bimport\(\s*)(['"])(\.{1,2}\/[^'"]*)\2/g, (_, lead, quote, spec) => `${lead}${quote}${esmSpecifier(file, spec)}${quote}`);
  if (rewritten !== text) fs.writeFileSync(file, rewritten);
}

const NODE_ESM_ENTRY = `// The Node ESM entry of switchboard (package.json exports: "node" + "import"). ES modules have no
// \`require\`, which the lazy Node loader (udp:// link, 'ws', node:crypto) uses, so it is handed
// one here, rooted at the CommonJS copy of that loader. Browsers and bundlers never load this file.
import { createRequire } from 'node:module';
import { provideNodeRequire } from './net/transport/node-require.js';
provideNodeRequire(createRequire(new URL('../../cjs/plugin/net/transport/node-require.js', import.meta.url)));
export * from './index.js';
`;

function buildClient() {
  fs.rmSync(path.join(ROOT, 'dist', 'esm'), { recursive: true, force: true });
  fs.rmSync(path.join(ROOT, 'dist', 'cjs'), { recursive: true, force: true });
  tsc('tsconfig.build.json');
  tsc('tsconfig.build.esm.json');
  const esm = path.join(ROOT, 'dist', 'esm');
  for (const file of walk(esm)) if (/\.(js|d\.ts)$/.test(file)) rewriteEsmFile(file);
  // plugin.json as an ES module: Node's ESM loader wants `with { type: 'json' }`, bundlers do not care.
  for (const json of walk(esm).filter((f) => f.endsWith('.json'))) {
    fs.writeFileSync(`${json}.js`, `export default ${fs.readFileSync(json, 'utf8').trim()};\n`);
    fs.writeFileSync(`${json}.d.ts`, 'declare const json: unknown;\nexport default json;\n');
    fs.rmSync(json);
  }
  fs.writeFileSync(path.join(esm, 'plugin', 'index.node.js'), NODE_ESM_ENTRY);
  fs.writeFileSync(path.join(esm, 'package.json'), `${JSON.stringify({ type: 'module', sideEffects: ['./plugin/index.node.js'] }, null, 2)}\n`);
  fs.writeFileSync(path.join(ROOT, 'dist', 'cjs', 'package.json'), `${JSON.stringify({ type: 'commonjs', sideEffects: false }, null, 2)}\n`);
  process.stdout.write('build: client → dist/esm, dist/cjs\n');
}

async function buildServer() {
  const esbuild = require('esbuild');
  const dist = path.join(SERVER, 'dist');
  fs.rmSync(dist, { recursive: true, force: true });
  const common = {
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    metafile: true,
  };
  // The library: one CommonJS bundle; the ESM entry re-exports it, so both share one instance.
  const library = await esbuild.build({ ...common, entryPoints: [path.join(SERVER, 'index.ts')], format: 'cjs', outfile: path.join(dist, 'index.cjs') });
  const exported = Object.values(library.metafile.outputs).flatMap((output) => output.exports);
  const names = [...new Set(exported)].filter((name) => name !== 'default').sort();
  // Export names from the metafile can be empty for CJS; fall back to loading the bundle.
  const libraryNames = names.length > 0 ? names : Object.keys(require(path.join(dist, 'index.cjs'))).sort();
  fs.writeFileSync(
    path.join(dist, 'index.mjs'),
    `// ES module entry of switchboard-server: the CommonJS bundle's exports, one shared instance.\nimport server from './index.cjs';\nexport const { ${libraryNames.join(', ')} } = server;\nexport default server;\n`,
  );
  await esbuild.build({ ...common, entryPoints: [path.join(SERVER, 'cli.ts')], format: 'cjs', outfile: path.join(dist, 'cli.cjs') });
  // `switchboard dev`: the sample page (browser bundle) and the headless bot, prebuilt.
  const sample = path.join(dist, 'sample');
  const page = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [path.join(ROOT, 'sample-scene', 'browser', 'main.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    conditions: ['switchboard-source'],
    outfile: path.join(sample, 'app.js'),
    logLevel: 'warning',
  });
  void page;
  fs.copyFileSync(path.join(ROOT, 'sample-scene', 'browser', 'index.html'), path.join(sample, 'index.html'));
  await esbuild.build({ ...common, entryPoints: [path.join(ROOT, 'sample-scene', 'bot', 'main.ts')], format: 'cjs', outfile: path.join(sample, 'bot.cjs') });
  tsc(path.join('server', 'tsconfig.build.json'));
  process.stdout.write('build: server → server/dist\n');
}

async function main() {
  const which = process.argv[2];
  if (which !== undefined && which !== 'client' && which !== 'server') throw new Error(`usage: node scripts/build.js [client|server], got "${which}"`);
  if (which === undefined || which === 'client') buildClient();
  if (which === undefined || which === 'server') await buildServer();
}

main().catch((error) => {
  process.stderr.write(`build failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
