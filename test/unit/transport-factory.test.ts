import { expect } from 'chai';
import { build } from 'esbuild';
import * as path from 'path';
import * as vm from 'vm';
import { parseRelayUrl } from '../../plugin/net/transport/datagram-socket';
import { createDatagramSocket } from '../../plugin/net/transport/socket-factory';
import { UdpDatagramSocket } from '../../plugin/net/transport/udp-socket';
import { WebSocketDatagramSocket } from '../../plugin/net/transport/websocket-socket';

const repositoryRoot = path.resolve(__dirname, '..', '..');

describe('transport: relay urls and the socket factory', () => {
  it('parses udp://, ws:// and wss:// relay urls', () => {
    expect(parseRelayUrl('udp://127.0.0.1:7777')).to.deep.equal({ scheme: 'udp', host: '127.0.0.1', port: 7777, url: 'udp://127.0.0.1:7777' });
    expect(parseRelayUrl('ws://127.0.0.1:7777')).to.include({ scheme: 'ws', host: '127.0.0.1', port: 7777 });
    expect(parseRelayUrl('wss://relay.example')).to.include({ scheme: 'wss', host: 'relay.example', port: 443 });
    expect(parseRelayUrl('udp://[::1]:9')).to.include({ host: '::1', port: 9 });
  });

  it('refuses other urls with errors that say what is wrong', () => {
    expect(() => parseRelayUrl('http://127.0.0.1:7777')).to.throw('udp://, ws:// and wss://');
    expect(() => parseRelayUrl('udp://127.0.0.1')).to.throw('needs a port');
    expect(() => parseRelayUrl('not a url')).to.throw('is not a URL');
    expect(() => parseRelayUrl('')).to.throw('non-empty');
    expect(() => parseRelayUrl('udp://127.0.0.1:7777/path')).to.throw('only udp://host:port');
    expect(() => parseRelayUrl('ws://user:pw@127.0.0.1:1')).to.throw('credentials');
    expect(() => parseRelayUrl(42 as unknown as string)).to.throw('non-empty string');
    expect(() => createDatagramSocket('tcp://127.0.0.1:1')).to.throw('scheme "tcp:"');
  });

  it('picks the UDP link for udp:// and the WebSocket link for ws:// on Node', async () => {
    const udp = createDatagramSocket('udp://127.0.0.1:9');
    expect(udp).to.be.instanceOf(UdpDatagramSocket);
    await udp.close();
    const ws = createDatagramSocket('ws://127.0.0.1:9');
    expect(ws).to.be.instanceOf(WebSocketDatagramSocket);
    await ws.close();
  });

  it('bundles for the browser without dgram, ws or the UDP link (esbuild, platform browser)', async () => {
    const result = await build({
      entryPoints: [path.join(repositoryRoot, 'plugin/net/transport/index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).to.deep.equal([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.endsWith('udp-socket.ts'))).to.equal(false);
    expect(inputs.some((input) => input.includes('node_modules/ws/'))).to.equal(false);
    const code = result.outputFiles[0].text;
    expect(code).to.not.match(/require\(["']dgram["']\)/);
    expect(code).to.not.match(/from ["'](dgram|ws|net)["']/);
  });

  it('gives a clear error for udp:// where there is no Node (the browser bundle in a bare context)', async () => {
    const result = await build({
      entryPoints: [path.join(repositoryRoot, 'plugin/net/transport/index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      globalName: 'transport',
      write: false,
      logLevel: 'silent',
    });
    const context = vm.createContext({ crypto: globalThis.crypto, TextEncoder, TextDecoder, URL, performance, setTimeout, clearTimeout });
    vm.runInContext(`${result.outputFiles[0].text};globalThis.transport = transport;`, context);
    const bundled = (context as { transport: { createDatagramSocket(url: string): unknown } }).transport;
    expect(() => bundled.createDatagramSocket('udp://127.0.0.1:1')).to.throw('udp:// needs Node; in a browser use ws:// or wss://');
  });
});
