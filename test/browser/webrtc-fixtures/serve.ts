/**
 * Builds the test page (page.ts, esbuild platform=browser) and serves it from 127.0.0.1 on a free
 * port: GET / is the HTML, GET /page.js the bundle. Used by the WebRTC browser tests and the
 * freshness benchmark.
 */
import { build } from 'esbuild';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface PageServer {
  /** http://127.0.0.1:port/ */
  url: string;
  /** The bundle, for checks on what it contains. */
  bundle: string;
  close(): Promise<void>;
}

export async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(__dirname, 'page.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'chrome110',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

const HTML = '<!doctype html><html><head><meta charset="utf-8"><title>switchboard webrtc test</title></head><body><script src="/page.js"></script></body></html>';

export async function servePage(): Promise<PageServer> {
  const bundle = await bundlePage();
  const server = http.createServer((request, response) => {
    if (request.url === '/' || request.url?.startsWith('/?')) {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(HTML);
    } else if (request.url === '/page.js') {
      response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      response.end(bundle);
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}/`,
    bundle,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}
