/**
 * Serves the browser frame-cost page (hub-page.ts) from 127.0.0.1 on a free port, cross-origin
 * isolated (COOP same-origin + COEP require-corp, so performance.now() steps 5 µs, not 100 µs),
 * and answers the page's same-origin requests: its workload, the peers' routes, the phase
 * changes, its report. Also the floor's sinks, which discard what they get: a WebSocket at /sink
 * and a data channel answered with node-datachannel bound to 127.0.0.1 (POST /rtc-sink).
 */
import { build } from 'esbuild';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { WebSocketServer } from 'ws';
import { loadNodeDataChannel, sanitizeOffer } from '../../server/relay/webrtc';
import type { PageConfig, PageReport, PeerRoute } from './hub-page';

export interface HubInfo {
  peerId: string;
  route: string;
  link: string | null;
}

export interface PageHostHandlers {
  /** The hub registered: connect the peers to it and give back their routes. */
  onHub(hub: HubInfo): Promise<PeerRoute[]>;
  /** Every peer is connected on the hub's side: start the peers' traffic. */
  onConnected(): Promise<void>;
  /** The hub's window is over: stop the peers' traffic. */
  onMeasured(): Promise<void>;
}

export interface PageHost {
  /** http://127.0.0.1:port/ */
  url: string;
  /** Resolves with the page's report; rejects with what the page said went wrong, or at `timeoutMs`. */
  report(timeoutMs: number): Promise<PageReport>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
const ISOLATED = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
  // Lets the page sample itself (JS Self-Profiling API) when the run profiles.
  'document-policy': 'js-profiling',
};
const HTML = '<!doctype html><html><head><meta charset="utf-8"><title>switchboard frame cost</title></head><body><script src="/page.js"></script></body></html>';

export async function bundleHubPage(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(__dirname, 'hub-page.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'chrome110',
    // Not minified: the page's own profile names functions.
    minify: false,
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

function readJson(request: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) request.destroy(new Error('body too large'));
    });
    request.on('end', () => {
      try {
        resolve(body.length > 0 ? JSON.parse(body) : {});
      } catch (error) {
        reject(error);
      }
    });
    request.on('error', reject);
  });
}

export async function startPageHost(config: Omit<PageConfig, 'sinkUrl'>, handlers: PageHostHandlers): Promise<PageHost> {
  const bundle = await bundleHubPage();
  const rtc = loadNodeDataChannel();
  const peerConnections: { close(): void }[] = [];
  const channels: { close(): void }[] = [];
  let settle: { resolve: (r: PageReport) => void; reject: (e: Error) => void } | null = null;
  let outcome: { report: PageReport } | { error: string } | null = null;
  const finish = (value: { report: PageReport } | { error: string }): void => {
    outcome ??= value;
    if (settle === null) return;
    if ('report' in outcome) settle.resolve(outcome.report);
    else settle.reject(new Error(`browser page: ${outcome.error}`));
  };

  const answerRtc = async (offerSdp: string): Promise<string> => {
    if (rtc.module === null) throw new Error(`node-datachannel unavailable: ${rtc.error}`);
    const offer = sanitizeOffer(offerSdp);
    if (!offer.ok) throw new Error(offer.error);
    const pc = new rtc.module.PeerConnection('bench-sink', { iceServers: [], bindAddress: '127.0.0.1', enableIceTcp: false });
    peerConnections.push(pc);
    pc.onDataChannel((channel) => {
      // Held until close: a collected channel with live callbacks crashes libdatachannel.
      channels.push(channel);
      channel.onMessage(() => undefined);
    });
    const answered = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('sink: ICE gathering timed out')), 10_000);
      pc.onGatheringStateChange((state) => {
        if (state !== 'complete') return;
        clearTimeout(timer);
        const description = pc.localDescription();
        if (description === null) reject(new Error('sink: no local description'));
        else resolve(description.sdp);
      });
    });
    pc.setRemoteDescription(offer.sdp, 'offer');
    return answered;
  };

  const server = http.createServer((request, response) => {
    const reply = (status: number, type: string, body: string): void => {
      response.writeHead(status, { 'content-type': type, ...ISOLATED });
      response.end(body);
    };
    const json = (value: unknown): void => reply(200, 'application/json', JSON.stringify(value ?? {}));
    const fail = (error: unknown): void => reply(500, 'text/plain', (error as Error).message);
    const url = request.url ?? '/';
    if (request.method === 'GET' && (url === '/' || url.startsWith('/?'))) return reply(200, 'text/html; charset=utf-8', HTML);
    if (request.method === 'GET' && url === '/page.js') return reply(200, 'text/javascript; charset=utf-8', bundle);
    if (request.method === 'GET' && url === '/config') return json({ ...config, sinkUrl: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/sink` });
    if (request.method !== 'POST') return reply(404, 'text/plain', 'not found');
    readJson(request).then(async (body) => {
      switch (url) {
        case '/hub':
          return json(await handlers.onHub(body as HubInfo));
        case '/connected':
          await handlers.onConnected();
          return json({});
        case '/measured':
          await handlers.onMeasured();
          return json({});
        case '/rtc-sink':
          return json({ sdp: await answerRtc((body as { sdp: string }).sdp) });
        case '/report':
          finish({ report: body as PageReport });
          return json({});
        case '/failed':
          finish({ error: (body as { error: string }).error });
          return json({});
        default:
          return reply(404, 'text/plain', 'not found');
      }
    }).catch(fail);
  });
  const sink = new WebSocketServer({ server, path: '/sink', maxPayload: 64 * 1024 });
  sink.on('connection', (socket) => socket.on('message', () => undefined));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}/`,
    report: (timeoutMs) =>
      new Promise<PageReport>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`browser page: no report within ${timeoutMs} ms`)), timeoutMs);
        settle = {
          resolve: (r) => (clearTimeout(timer), resolve(r)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        };
        if (outcome !== null) finish(outcome);
      }),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const pc of [...channels, ...peerConnections]) {
          try {
            pc.close();
          } catch {
            // Already closed.
          }
        }
        // libdatachannel's threads keep a process alive until cleanup().
        if (peerConnections.length > 0) rtc.module?.cleanup();
        for (const client of sink.clients) client.terminate();
        sink.close();
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}
