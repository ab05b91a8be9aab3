/**
 * Takes docs/screenshot.png: the dev stack (every port 0) with one bot, two pages of the sample
 * in headless Chromium, page A walks and throws loot, and page A is captured once it shows the
 * other players and some loot. Run: node -r ts-node/register/transpile-only server/dev/screenshot.ts [out.png]
 */
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import type { SampleDebugHook } from '../../sample-scene/browser/debug-hook';
import { launchChromium } from './chromium';
import { startDevStack } from './dev-stack';
import { REPOSITORY_ROOT } from './paths';

declare const window: { __switchboard: SampleDebugHook };

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? path.join(REPOSITORY_ROOT, 'docs', 'screenshot.png'));
  const quiet = { info: () => undefined, warn: (m: string) => process.stderr.write(`${m}\n`) };
  const stack = await startDevStack({ httpPort: 0, relayPort: 0, lobbyPort: 0, bots: 1, lobby: 'screenshot', logger: quiet });
  const chrome = await launchChromium({ viewport: { width: 1280, height: 720 } });
  try {
    const open = async (small = false): Promise<Page> => {
      const page = await chrome.context.newPage();
      // The second page only plays along; drawing it small leaves the (software) renderer to page A.
      if (small) await page.setViewportSize({ width: 320, height: 200 });
      await page.goto(stack.url);
      await page.waitForFunction(() => window.__switchboard?.ready(), undefined, { timeout: 20_000, polling: 100 });
      return page;
    };
    const a = await open();
    const b = await open(true);
    await a.waitForFunction(() => window.__switchboard.peers().filter((p) => p.state === 'connected').length >= 2, undefined, { timeout: 30_000, polling: 100 });
    await b.bringToFront();
    await b.keyboard.down('KeyA');
    await b.waitForTimeout(900);
    await b.keyboard.up('KeyA');
    await b.keyboard.press('Space');
    await a.bringToFront();
    await a.keyboard.down('KeyS');
    await a.keyboard.down('KeyD');
    await a.waitForTimeout(700);
    await a.keyboard.up('KeyD');
    await a.keyboard.up('KeyS');
    await a.keyboard.press('Space');
    await a.waitForFunction(() => window.__switchboard.loot().length >= 2, undefined, { timeout: 30_000, polling: 100 });
    // Let the net graph gather a few seconds of samples.
    await a.waitForTimeout(3000);
    await a.screenshot({ path: out });
    process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
  } finally {
    await chrome.close();
    await stack.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`screenshot failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
