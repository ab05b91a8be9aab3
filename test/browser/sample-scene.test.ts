/**
 * The sample page in Debian's Chromium (playwright-core, flags of shared/BROWSER-TESTING.md) on
 * the dev stack started in-process with every port 0: two pages see each other's avatar, a key
 * held in page A moves A's avatar in page B, and loot dropped in A appears in B while both send
 * through the link conditioner at 20 % loss; a closed, crashed or silent player is never drawn as
 * a ghost avatar for the players who come after it; a long event log leaves the help line on the
 * screen, loot thrown on one spot shows as a pile '×N', and the labels of two avatars standing on
 * one spot stack without overlapping. Screenshots of every page go to test-output/browser/.
 *
 * Without /usr/bin/chromium the tests are skipped with a notice, except under CI=true, where a
 * missing browser fails the run (.ci/run installs it).
 */
import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import type { SampleDebugHook } from '../../sample-scene/browser/debug-hook';
import { CHROMIUM_PATH, chromiumInstalled, launchChromium, type LaunchedChromium } from '../../server/dev/chromium';
import { startDevStack, type DevStack } from '../../server/dev/dev-stack';
import { ColyseusLobby } from '../../plugin/lobby/colyseus-lobby';
import { bindRouteSync } from '../../plugin/lobby/route-sync';
import { createTestPeer, frame } from '../helpers/managers';

const OUTPUT = path.resolve(__dirname, '..', '..', 'test-output', 'browser');
const SKIP_NOTICE = `SKIPPED browser tests: ${CHROMIUM_PATH} not found (apt-get install -y chromium)`;
const quiet = { info: () => undefined, warn: () => undefined };

type Hook = SampleDebugHook;
declare const window: { __switchboard: Hook; dispatchEvent(event: Event): boolean };

/** Polls `predicate` in the page (with `arg`) until it returns true; fails naming `what`. */
async function pageWait<A>(page: Page, what: string, predicate: (arg: A) => boolean, arg: A, timeoutMs = 20_000): Promise<void> {
  try {
    await page.waitForFunction(predicate as (arg: unknown) => boolean, arg as unknown, { timeout: timeoutMs, polling: 50 });
  } catch (error) {
    const status = await page.evaluate(() => (typeof window.__switchboard === 'object' ? window.__switchboard.status() : 'no debug hook')).catch(() => 'page gone');
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (page status: ${status}): ${(error as Error).message.split('\n')[0]}`);
  }
}

async function openPlayer(chrome: LaunchedChromium, stack: DevStack, query: string, errors: string[]): Promise<{ page: Page; peerId: string }> {
  const page = await chrome.context.newPage();
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${stack.url}?${query}`);
  await pageWait(page, 'the page to join the lobby', () => window.__switchboard?.status() !== 'joining', undefined);
  const status = await page.evaluate(() => window.__switchboard.status());
  expect(status, 'page status').to.equal('ready');
  return { page, peerId: (await page.evaluate(() => window.__switchboard.peerId()))! };
}

/** Both pages have the other's avatar and a connected peer. */
async function waitForEachOther(a: { page: Page; peerId: string }, b: { page: Page; peerId: string }): Promise<void> {
  for (const [self, other] of [[a, b], [b, a]] as const) {
    await pageWait(
      self.page,
      `page ${self.peerId} to show ${other.peerId}'s avatar, connected`,
      (id: string) => window.__switchboard.positions().some((p) => p.peerId === id) && window.__switchboard.peers().some((p) => p.peerId === id && p.state === 'connected'),
      other.peerId,
    );
  }
}

/** Node-side polling of an async condition, bounded; fails naming `what`. */
async function eventually(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** The on-screen box of every element matching `selector` (with its text), as laid out now. */
const boxesOf = (page: Page, selector: string) =>
  page.evaluate((sel: string) => {
    return Array.from(document.querySelectorAll(sel)).map((e) => {
      const r = e.getBoundingClientRect();
      return { text: e.textContent ?? '', left: r.left, top: r.top, right: r.right, bottom: r.bottom, visible: (e as HTMLElement).checkVisibility() };
    });
  }, selector);

const intersects = (a: Box, b: Box) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

const positionOf = (page: Page, peerId: string) =>
  page.evaluate((id: string) => window.__switchboard.positions().find((p) => p.peerId === id) ?? null, peerId);

describe('sample page in Chromium (two players)', function () {
  this.timeout(60_000);
  let stack: DevStack | undefined;
  let chrome: LaunchedChromium | undefined;
  const pageErrors: string[] = [];

  before(async function () {
    if (!chromiumInstalled()) {
      if (process.env.CI === 'true') throw new Error(`${CHROMIUM_PATH} not found under CI=true: .ci/run must install it (apt-get install -y chromium)`);
      console.log(`      ${SKIP_NOTICE}`);
      this.skip();
    }
    mkdirSync(OUTPUT, { recursive: true });
    stack = await startDevStack({ httpPort: 0, relayPort: 0, lobbyPort: 0, logger: quiet });
    chrome = await launchChromium({ viewport: { width: 960, height: 600 } });
  });

  after(async () => {
    await chrome?.close();
    await stack?.close();
  });

  afterEach(async () => {
    for (const page of chrome?.context.pages() ?? []) await page.close();
    expect(pageErrors, 'uncaught errors in the pages').to.deep.equal([]);
  });

  it("each page shows the other's avatar, and a key held in page A moves A's avatar in page B", async () => {
    const a = await openPlayer(chrome!, stack!, 'lobby=browser-move', pageErrors);
    const b = await openPlayer(chrome!, stack!, 'lobby=browser-move', pageErrors);
    await waitForEachOther(a, b);
    const start = (await positionOf(a.page, a.peerId))!;

    await a.page.bringToFront();
    await a.page.keyboard.down('KeyD');
    await pageWait(a.page, 'A to walk 3 units right', (x0: number) => window.__switchboard.positions()[0]!.x > x0 + 3, start.x);
    await a.page.keyboard.up('KeyD');
    // A stops at once on key up; B's replica then converges on where A stands.
    await eventually("B's view of A to arrive where A stopped", async () => {
      const [self, seen] = await Promise.all([positionOf(a.page, a.peerId), positionOf(b.page, a.peerId)]);
      return self !== null && seen !== null && Math.abs(seen.x - self.x) < 0.01 && Math.abs(seen.z - self.z) < 0.01;
    });
    const end = (await positionOf(a.page, a.peerId))!;
    expect(end.x - start.x, 'A walked right').to.be.greaterThan(3);
    await a.page.screenshot({ path: path.join(OUTPUT, 'move-page-a.png') });
    await b.page.screenshot({ path: path.join(OUTPUT, 'move-page-b.png') });
  });

  /** Records, in the page, every avatar it ever draws (sampled every 20 ms, also in the background). */
  async function recordDrawn(page: Page): Promise<() => Promise<string[]>> {
    await page.evaluate(() => {
      const seen = new Set<string>();
      (window as unknown as { __drawnEver: Set<string> }).__drawnEver = seen;
      setInterval(() => {
        for (const p of window.__switchboard.positions()) seen.add(p.peerId);
      }, 20);
    });
    return async () => (await page.evaluate(() => [...(window as unknown as { __drawnEver: Set<string> }).__drawnEver])).sort();
  }

  it('a page that was closed leaves the lobby at once and never shows up as a ghost avatar for the next players', async () => {
    const gone = await openPlayer(chrome!, stack!, 'lobby=browser-ghost', pageErrors);
    const goneMember = (await gone.page.evaluate(() => window.__switchboard.memberId()))!;
    await gone.page.close();
    const b = await openPlayer(chrome!, stack!, 'lobby=browser-ghost', pageErrors);
    const drawnEver = await recordDrawn(b.page);
    // Without a consented leave the lobby would keep the closed page's seat for reconnectSeconds (20 s).
    await pageWait(b.page, 'the closed page to be gone from the lobby', (id: string) => !window.__switchboard.lobbyMembers().includes(id), goneMember, 5_000);
    const c = await openPlayer(chrome!, stack!, 'lobby=browser-ghost', pageErrors);
    await waitForEachOther(b, c);
    expect(await drawnEver(), 'avatars B ever drew').to.deep.equal([b.peerId, c.peerId].sort());
    expect((await b.page.evaluate(() => window.__switchboard.positions())).map((p) => p.peerId)).to.deep.equal([b.peerId, c.peerId]);
  });

  it('a page whose renderer crashed (no pagehide, the browser closes its socket going-away) leaves the lobby at once, never drawn', async () => {
    const gone = await openPlayer(chrome!, stack!, 'lobby=browser-crash', pageErrors);
    const goneMember = (await gone.page.evaluate(() => window.__switchboard.memberId()))!;
    const cdp = await chrome!.context.newCDPSession(gone.page);
    const crashed = new Promise<void>((resolve) => gone.page.once('crash', () => resolve()));
    void cdp.send('Page.crash').catch(() => undefined); // the call itself dies with the renderer
    await crashed;
    await gone.page.close();
    const b = await openPlayer(chrome!, stack!, 'lobby=browser-crash', pageErrors);
    const drawnEver = await recordDrawn(b.page);
    // A reconnect window would keep the crashed page's seat (and B's peer for it) for 20 s.
    await pageWait(b.page, 'the crashed page to be gone from the lobby', (id: string) => !window.__switchboard.lobbyMembers().includes(id), goneMember, 5_000);
    const c = await openPlayer(chrome!, stack!, 'lobby=browser-crash', pageErrors);
    await b.page.bringToFront();
    await waitForEachOther(b, c);
    expect(await drawnEver(), 'avatars B ever drew').to.deep.equal([b.peerId, c.peerId].sort());
  });

  it('a lobby member whose game never sends a transform (connected, no avatar yet) is not drawn at all', async () => {
    // A Node member with a manager and route sync but no scene: B connects to it and hears nothing on the transform channel.
    const lobby = await ColyseusLobby.join(stack!.lobby.url, 'browser-silent', { logger: quiet });
    const silent = createTestPeer({ relay: stack!.relay.udpUrl, token: lobby.relayToken });
    const sync = bindRouteSync(silent.net, lobby, { channels: [{ id: 0, reliable: true }, { id: 1, reliable: false }], logger: quiet });
    const pump = setInterval(() => frame([silent]), 16);
    try {
      const b = await openPlayer(chrome!, stack!, 'lobby=browser-silent', pageErrors);
      const drawnEver = await recordDrawn(b.page);
      await pageWait(b.page, 'B to connect to the silent member', (id: string) => window.__switchboard.peers().some((p) => p.peerId === id && p.state === 'connected'), silent.id.toString());
      const c = await openPlayer(chrome!, stack!, 'lobby=browser-silent', pageErrors);
      await b.page.bringToFront();
      await waitForEachOther(b, c);
      expect(await drawnEver(), 'avatars B ever drew').to.deep.equal([b.peerId, c.peerId].sort());
      await b.page.screenshot({ path: path.join(OUTPUT, 'ghost-page-b.png') });
    } finally {
      clearInterval(pump);
      sync.unsubscribe();
      await lobby.leave();
      await silent.net.dispose();
    }
  });

  it('after many log events the help line is still on screen, the log stays bounded, and loot thrown on one spot shows as one pile ×16', async () => {
    const a = await openPlayer(chrome!, stack!, 'lobby=browser-log', pageErrors);
    await a.page.bringToFront();
    // 16 drops fill our loot limit (all on one spot: we do not move); every further space press
    // logs "can't drop …". Presses are bounded; we stop once the whole log is such lines.
    const refusals = () => a.page.evaluate(() => Array.from(document.querySelectorAll('#feed > div')).filter((d) => d.textContent!.startsWith("can't drop")).length);
    const feedLines = () => a.page.evaluate(() => document.querySelectorAll('#feed > div').length);
    let presses = 0;
    while (presses < 80 && !(presses >= 20 && (await refusals()) >= 6 && (await refusals()) === (await feedLines()))) {
      await a.page.keyboard.press('Space');
      presses++;
    }
    await pageWait(a.page, 'our 16 loot to lie on the ground', () => window.__switchboard.loot().length === 16, undefined);
    await pageWait(a.page, 'the log to be full of refused drops', () => Array.from(document.querySelectorAll('#feed > div')).every((d) => d.textContent!.startsWith("can't drop")), undefined);
    expect(await feedLines(), 'log lines kept on the page').to.be.within(1, 6);

    const viewport = a.page.viewportSize()!;
    const [help] = await boxesOf(a.page, '#help');
    expect(help, 'the help line').to.not.equal(undefined);
    expect(help!.text).to.contain('WASD');
    expect(help!.visible, 'help line visible').to.equal(true);
    expect(help!.top, 'help line top').to.be.at.least(0);
    expect(help!.left, 'help line left').to.be.at.least(0);
    expect(help!.bottom, 'help line bottom').to.be.at.most(viewport.height);
    expect(help!.right, 'help line right').to.be.at.most(viewport.width);
    const [feed] = await boxesOf(a.page, '#feed');
    expect(feed!.bottom, 'the log ends above the help line').to.be.at.most(help!.top);
    expect(feed!.top, 'the log starts on the screen').to.be.at.least(0);

    const piles = await a.page.evaluate(() => window.__switchboard.lootPiles());
    expect(piles.map((p) => p.count), 'piles').to.deep.equal([16]);
    await pageWait(a.page, "the pile's label '×16'", () => Array.from(document.querySelectorAll('.loot-pile-label')).some((e) => e.textContent === '×16'), undefined);
    await a.page.screenshot({ path: path.join(OUTPUT, 'log-and-pile.png') });
  });

  it('the labels of two avatars standing on one spot stack instead of overlapping', async () => {
    const a = await openPlayer(chrome!, stack!, 'lobby=browser-labels', pageErrors);
    const b = await openPlayer(chrome!, stack!, 'lobby=browser-labels', pageErrors);
    await waitForEachOther(a, b);
    const target = (await positionOf(b.page, b.peerId))!;
    await a.page.bringToFront();
    // Walks A onto B's spot with the page's own key handling: keys held and released frame by
    // frame in the page, so the stop does not depend on the round trip to the test (bounded: 15 s).
    const reached = await a.page.evaluate(async (to: { x: number; z: number }) => {
      const held = new Set<string>();
      const hold = (code: string, on: boolean) => {
        if (on === held.has(code)) return;
        if (on) held.add(code);
        else held.delete(code);
        window.dispatchEvent(new KeyboardEvent(on ? 'keydown' : 'keyup', { code }));
      };
      const deadline = performance.now() + 15_000;
      while (performance.now() < deadline) {
        const me = window.__switchboard.positions()[0]!;
        const dx = to.x - me.x;
        const dz = to.z - me.z;
        hold('KeyD', dx > 0.2);
        hold('KeyA', dx < -0.2);
        hold('KeyW', dz > 0.2);
        hold('KeyS', dz < -0.2);
        if (held.size === 0) return true;
        await new Promise((resolve) => requestAnimationFrame(resolve));
      }
      for (const code of [...held]) hold(code, false);
      return false;
    }, target);
    expect(reached, 'A reached B within 15 s').to.equal(true);
    await b.page.bringToFront();
    await eventually("B's view of A to stand on B's spot", async () => {
      const seen = await positionOf(b.page, a.peerId);
      return seen !== null && Math.hypot(seen.x - target.x, seen.z - target.z) < 0.5;
    });
    for (const page of [b.page, a.page]) {
      await page.bringToFront();
      await pageWait(page, 'one label lifted above the other', () => document.querySelectorAll('.avatar-label.lifted').length === 1, undefined);
      const labels = await boxesOf(page, '.avatar-label');
      expect(labels, 'avatar labels').to.have.length(2);
      expect(intersects(labels[0]!, labels[1]!), `labels ${JSON.stringify(labels)} overlap`).to.equal(false);
      for (const label of labels) expect(label.visible && label.top >= 0, `label ${label.text} on screen`).to.equal(true);
    }
    await b.page.screenshot({ path: path.join(OUTPUT, 'labels-page-b.png') });
  });

  it('loot dropped in page A appears in page B with the link conditioner at 20 % loss', async () => {
    const a = await openPlayer(chrome!, stack!, 'lobby=browser-loot&loss=0.2&seed=11', pageErrors);
    const b = await openPlayer(chrome!, stack!, 'lobby=browser-loot&loss=0.2&seed=12', pageErrors);
    await waitForEachOther(a, b);
    await a.page.bringToFront();
    await a.page.keyboard.press('Space');
    await pageWait(a.page, 'the loot to lie in A', () => window.__switchboard.loot().length === 1, undefined);
    const [dropped] = await a.page.evaluate(() => window.__switchboard.loot());
    expect(dropped!.dropper).to.equal(a.peerId);
    await pageWait(
      b.page,
      `loot ${dropped!.key} to appear in B at the same spot`,
      (item: { key: string; x: number; z: number }) => window.__switchboard.loot().some((l) => l.key === item.key && l.x === item.x && l.z === item.z),
      { key: dropped!.key, x: dropped!.x, z: dropped!.z },
    );
    await a.page.screenshot({ path: path.join(OUTPUT, 'loot-page-a.png') });
    await b.page.screenshot({ path: path.join(OUTPUT, 'loot-page-b.png') });
  });
});
