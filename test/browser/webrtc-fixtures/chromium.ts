/**
 * Debian's Chromium through playwright-core, launched exactly as shared/BROWSER-TESTING.md says
 * (those flags keep every packet on loopback: no DNS, no mDNS candidates, no IPv6 gathering).
 * Used by the WebRTC browser tests and bench/webrtc-freshness.ts.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  '--force-fieldtrials=WebRTC-IPv6Default/Disabled/',
];

export interface Chromium {
  context: BrowserContext;
  /** Closes the browser and removes its profile folder; idempotent. */
  close(): Promise<void>;
}

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export async function launchChromium(): Promise<Chromium> {
  const profile = mkdtempSync(path.join(tmpdir(), 'switchboard-webrtc-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | null = null;
  return {
    context,
    close: () =>
      (closing ??= context
        .close()
        .catch(() => undefined)
        .then(() => rmSync(profile, { recursive: true, force: true }))),
  };
}
