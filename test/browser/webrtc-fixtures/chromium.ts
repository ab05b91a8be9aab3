/**
 * Debian's Chromium through playwright-core, launched exactly as shared/BROWSER-TESTING.md says:
 * the one launcher in server/dev/chromium.ts, under the names the WebRTC tests and
 * bench/webrtc-freshness.ts use.
 */
export { CHROMIUM_PATH, CHROMIUM_ARGS, chromiumInstalled, launchChromium, type LaunchedChromium as Chromium } from '../../../server/dev/chromium';
