import { expect } from 'chai';
import { build } from 'esbuild';
import * as path from 'node:path';
import { RTCPeerConnection as PolyfillPeerConnection } from 'node-datachannel/polyfill';
import { resolveManagerOptions } from '../../plugin/net/manager-options';
import { RelayClient } from '../../plugin/net/transport/relay-client';
import { createDatagramSocket } from '../../plugin/net/transport/socket-factory';
import { WebRtcDatagramSocket, rtcPeerConnectionConstructor } from '../../plugin/net/transport/webrtc-socket';
import { WebSocketDatagramSocket } from '../../plugin/net/transport/websocket-socket';

const quiet = { info: (): void => undefined, warn: (): void => undefined };
const globals = globalThis as { RTCPeerConnection?: unknown };

/** Runs `body` with the polyfill as the runtime's RTCPeerConnection, as a browser has one. */
async function withRtcPeerConnection(body: () => Promise<void>): Promise<void> {
  globals.RTCPeerConnection = PolyfillPeerConnection;
  try {
    await body();
  } finally {
    delete globals.RTCPeerConnection;
  }
}

describe('choice of link (transport option)', () => {
  it('Node without RTCPeerConnection: ws:// gets the plain WebSocket link whatever auto says', async () => {
    expect(rtcPeerConnectionConstructor()).to.equal(null);
    const auto = createDatagramSocket('ws://127.0.0.1:9', { transport: 'auto' });
    expect(auto).to.be.instanceOf(WebSocketDatagramSocket);
    await auto.close();
    expect(() => createDatagramSocket('udp://127.0.0.1:9', { transport: 'webrtc' })).to.throw('needs a ws:// or wss:// relay url');
    expect(() => createDatagramSocket('ws://127.0.0.1:9', { transport: 'webrtc' })).to.throw('needs RTCPeerConnection');
  });

  it('a runtime with RTCPeerConnection: auto and webrtc get the WebRTC link, websocket the plain one, udp:// stays UDP', async () => {
    await withRtcPeerConnection(async () => {
      const auto = createDatagramSocket('ws://127.0.0.1:9', { transport: 'auto', logger: quiet });
      const webrtc = createDatagramSocket('ws://127.0.0.1:9', { transport: 'webrtc', logger: quiet });
      const websocket = createDatagramSocket('ws://127.0.0.1:9', { transport: 'websocket' });
      const udp = createDatagramSocket('udp://127.0.0.1:9', { transport: 'auto' });
      try {
        expect(auto).to.be.instanceOf(WebRtcDatagramSocket);
        expect(webrtc).to.be.instanceOf(WebRtcDatagramSocket);
        expect(auto.linkKind).to.equal('websocket');
        expect(websocket).to.be.instanceOf(WebSocketDatagramSocket);
        expect(udp.constructor.name).to.equal('UdpDatagramSocket');
      } finally {
        await Promise.all([auto, webrtc, websocket, udp].map((socket) => socket.close()));
      }
    });
  });

  it('RelayClient reports its link and refuses impossible choices with errors naming them', async () => {
    const client = new RelayClient({ url: 'udp://127.0.0.1:9', logger: quiet });
    expect(client.linkKind).to.equal(null);
    expect(client.transportPreference).to.equal('auto');
    client.start();
    expect(client.linkKind).to.equal('udp');
    await client.dispose();
    expect(client.linkKind).to.equal(null);
    const ws = new RelayClient({ url: 'ws://127.0.0.1:9', transport: 'websocket', logger: quiet });
    ws.start();
    expect(ws.linkKind).to.equal('websocket');
    await ws.dispose();
    expect(() => new RelayClient({ url: 'ws://127.0.0.1:9', transport: 'fast' as never })).to.throw("transport must be 'auto', 'webrtc' or 'websocket'");
    expect(() => new RelayClient({ url: 'udp://127.0.0.1:9', transport: 'webrtc' })).to.throw('needs a ws:// or wss:// relay url');
    expect(() => new RelayClient({ url: 'ws://127.0.0.1:9', transport: 'webrtc' })).to.throw('needs RTCPeerConnection');
    expect(() => new RelayClient({ url: 'ws://127.0.0.1:9', rtcConnectTimeoutMs: -1 })).to.throw('rtcConnectTimeoutMs');
  });

  it('NetworkManager options: transport is validated', () => {
    expect(resolveManagerOptions({ relay: 'ws://127.0.0.1:1', transport: 'auto' }).ok).to.equal(true);
    expect(resolveManagerOptions({ relay: 'udp://127.0.0.1:1', transport: 'websocket' }).ok).to.equal(true);
    const bad = resolveManagerOptions({ relay: 'ws://127.0.0.1:1', transport: 7 });
    expect(!bad.ok && bad.error).to.equal("transport: expected 'auto', 'webrtc' or 'websocket', got 7");
    const udp = resolveManagerOptions({ relay: 'udp://127.0.0.1:1', transport: 'webrtc' });
    expect(!udp.ok && udp.error).to.contain("'webrtc' needs a ws:// or wss:// relay");
  });

  it('a browser bundle of the transport has the WebRTC link but no Node module and no node-datachannel', async () => {
    const result = await build({
      entryPoints: [path.resolve(__dirname, '..', '..', 'plugin', 'net', 'transport', 'index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.endsWith('webrtc-socket.ts'))).to.equal(true);
    expect(inputs.filter((input) => /node-datachannel|udp-socket|node_modules\/ws\//.test(input))).to.deep.equal([]);
  });
});
