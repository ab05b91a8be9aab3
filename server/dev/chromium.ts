/**
 * Debian's Chromium through playwright-core, launched with the flags of shared/BROWSER-TESTING.md
 * that keep every packet on loopback (no DNS, mDNS, IPv6 probes or background services). A fresh
 * profile folder per launch, removed on close. Never downloads a browser.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
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

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export interface LaunchedChromium {
  readonly context: BrowserContext;
  /** Closes the browser and removes its profile folder. Idempotent. */
  close(): Promise<void>;
}

export async function launchChromium(options: { viewport?: { width: number; height: number } } = {}): Promise<LaunchedChromium> {
  if (!chromiumInstalled()) throw new Error(`${CHROMIUM_PATH} not found (apt-get install -y chromium)`);
  const profile = await mkdtemp(path.join(tmpdir(), 'switchboard-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: options.viewport ?? { width: 960, height: 600 },
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  let closing: Promise<void> | null = null;
  return {
    context,
    close() {
      closing ??= context.close().finally(() => rm(profile, { recursive: true, force: true }));
      return closing;
    },
  };
}
