/**
 * Opens a URL in Debian's Chromium (the flags of server/dev/chromium.ts, which keep its traffic on
 * loopback) in a browser context created over raw CDP (Target.createBrowserContext and
 * Target.createTarget), which Playwright does not instrument: with Playwright's own pages the
 * DevTools Network domain reports every WebSocket message and inflates what the page measures.
 * The page drives itself; nothing evaluates in it.
 */
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumInstalled } from '../../server/dev/chromium';

export interface IsolatedPage {
  /** Closes the browser. Idempotent. */
  close(): Promise<void>;
}

export function browserMissing(): string | null {
  return chromiumInstalled() ? null : `${CHROMIUM_PATH} is not installed (apt-get install -y chromium)`;
}

export async function openIsolatedPage(url: string): Promise<IsolatedPage> {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`isolated page: only http://127.0.0.1 URLs, got ${url}`);
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS] });
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => (closing ??= browser.close().catch(() => undefined));
  try {
    const cdp = await browser.newBrowserCDPSession();
    const { browserContextId } = await cdp.send('Target.createBrowserContext', {});
    await cdp.send('Target.createTarget', { url, browserContextId });
  } catch (error) {
    await close();
    throw error;
  }
  return { close };
}
