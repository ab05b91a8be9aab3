/**
 * The sample page's browser bundle (esbuild, platform browser): it builds, holds the WebSocket
 * link and no Node module — neither 'dgram' nor the UDP link nor the Node side of 'ws'.
 */
import { expect } from 'chai';
import type { Metafile } from 'esbuild';
import { buildSceneBundle, checkBrowserBundle, type SceneBundle } from '../../server/dev/scene-bundle';

describe('sample page bundle', function () {
  this.timeout(60_000);
  let bundle: SceneBundle;

  before(async () => {
    bundle = await buildSceneBundle();
  });

  it('bundles the page with the WebSocket link and without dgram, the UDP link or the Node side of ws', () => {
    const text = new TextDecoder().decode(bundle.js);
    expect(text).to.not.match(/dgram/);
    expect(text).to.not.match(/require\(["']ws["']\)/);
    expect(bundle.inputs).to.include('sample-scene/browser/main.ts');
    expect(bundle.inputs).to.include('plugin/net/transport/websocket-socket.ts');
    // colyseus.js names 'ws'; the bundler then takes the package's 8-line browser stub, never its Node code.
    expect(bundle.inputs.filter((f) => /udp-socket|node_modules\/ws\/(?!browser\.js$)/.test(f))).to.deep.equal([]);
    expect(new TextDecoder().decode(bundle.html)).to.contain('src="/app.js"');
  });

  it('checkBrowserBundle names a file that pulls in a Node module', () => {
    const metafile = (imports: { path: string; kind: 'import-statement' }[]): Metafile => ({
      inputs: { 'plugin/x.ts': { bytes: 1, imports } },
      outputs: {},
    });
    expect(checkBrowserBundle(metafile([{ path: 'plugin/y.ts', kind: 'import-statement' }]))).to.equal(null);
    expect(checkBrowserBundle(metafile([{ path: 'dgram', kind: 'import-statement' }]))).to.contain("plugin/x.ts imports 'dgram'");
    expect(checkBrowserBundle(metafile([{ path: 'node:net', kind: 'import-statement' }]))).to.contain('node:net');
  });
});
