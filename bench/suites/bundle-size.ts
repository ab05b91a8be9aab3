/**
 * 8. Bundle size: what a browser game pays, in gzip bytes, for three ways of using the published
 * client. Builds the package (scripts/build.js client) and bundles it as a game would, through
 * its package.json exports (esbuild, platform browser, minified), not from the sources:
 *   1. NetworkManager alone (target ≤ 60 KiB gzip: no Babylon, no colyseus.js);
 *   2. plus the Colyseus lobby and route sync;
 *   3. plus the Babylon plugin (installSwitchboard, NetworkedTransform), Babylon left external.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';
import { gzipSync } from 'zlib';
import type { BenchResult, TargetCheck } from '../lib/report';
import type { Suite } from '../lib/suite';

const REPOSITORY_ROOT = path.resolve(__dirname, '..', '..');
const TARGET_KIB = 60;

const ENTRIES: { name: string; code: string; external: string[] }[] = [
  {
    name: 'NetworkManager only',
    code: `import { NetworkManager, Result } from 'switchboard';
const net = new NetworkManager({ relay: 'wss://relay.example.test' });
console.log(net.flush() === Result.Ok);`,
    external: [],
  },
  {
    name: '+ Colyseus lobby and route sync',
    code: `import { NetworkManager, ColyseusLobby, bindRouteSync } from 'switchboard';
const lobby = await ColyseusLobby.join('wss://lobby.example.test', 'game');
const net = new NetworkManager({ relay: 'wss://relay.example.test', token: lobby.relayToken });
bindRouteSync(net, lobby, { channels: [{ id: 0, reliable: true }] });`,
    external: [],
  },
  {
    name: '+ Babylon plugin (Babylon external)',
    code: `import { ColyseusLobby, bindRouteSync, installSwitchboard, NetworkedTransform } from 'switchboard';
export async function join(scene, node) {
  const lobby = await ColyseusLobby.join('wss://lobby.example.test', 'game');
  const net = installSwitchboard(scene, { config: { relay: 'wss://relay.example.test', token: lobby.relayToken ?? null } });
  bindRouteSync(net.manager, lobby, { channels: [...net.config.channels] });
  node.addBehavior(new NetworkedTransform({ entityId: 1, owner: net.manager.getPeerId() }));
}`,
    external: ['@babylonjs/core', '@babylonjs/core/*'],
  },
];

export const bundleSizeSuite: Suite = {
  name: 'bundle-size',
  title: 'gzip size of browser bundles of the published client (NetworkManager; + lobby; + Babylon plugin)',
  async run(context): Promise<BenchResult> {
    const esbuild = await import('esbuild');
    context.log('[bench] bundle-size: building the client package (scripts/build.js client)');
    execFileSync(process.execPath, [path.join(REPOSITORY_ROOT, 'scripts', 'build.js'), 'client'], { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    const rows: (string | number)[][] = [];
    const data: Record<string, unknown> = {};
    let first = Number.NaN;
    for (const entry of ENTRIES) {
      const result = await esbuild.build({
        stdin: { contents: entry.code, resolveDir: REPOSITORY_ROOT, loader: 'js', sourcefile: 'game.js' },
        bundle: true,
        platform: 'browser',
        format: 'esm',
        target: 'es2022',
        minify: true,
        write: false,
        metafile: true,
        external: entry.external,
        logLevel: 'silent',
        outfile: 'game.out.js',
      });
      const js = result.outputFiles[0]?.contents ?? new Uint8Array();
      const gzip = gzipSync(js, { level: 9 }).length;
      const used = Object.values(result.metafile.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0).map(([file]) => file));
      const babylon = used.some((f) => f.includes('@babylonjs'));
      const colyseus = used.some((f) => f.includes('colyseus.js'));
      if (Number.isNaN(first)) first = gzip / 1024;
      rows.push([entry.name, js.length / 1024, gzip / 1024, babylon ? 'yes' : 'no', colyseus ? 'yes' : 'no']);
      data[entry.name] = { minifiedBytes: js.length, gzipBytes: gzip, babylon, colyseus, modules: used.length };
    }
    const targets: TargetCheck[] = [{ what: 'browser bundle with NetworkManager alone (gzip)', target: `≤ ${TARGET_KIB} KiB`, value: first, met: first <= TARGET_KIB }];
    return {
      name: 'bundle-size',
      summary: 'What a browser game bundles from the published switchboard package (its ESM build, through package.json exports), minified and gzipped.',
      tables: [{ title: 'Browser bundles (esbuild --bundle --minify --platform=browser; gzip -9)', columns: ['game imports', 'minified KiB', 'gzip KiB', 'Babylon in it', 'colyseus.js in it'], rows }],
      targets,
      notes: ['rxjs and @noble/* are in every bundle (the manager needs them); the third bundle leaves @babylonjs/core to the game, which has it anyway.'],
      data,
    };
  },
};
