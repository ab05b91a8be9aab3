/** The benchmarks in the order `npm run bench` runs them (issue 8's priority order). */
import type { Suite } from '../lib/suite';
import { browserFrameCostSuite } from './browser-frame-cost';
import { bulkSuite } from './bulk';
import { bundleSizeSuite } from './bundle-size';
import { fleetForwardingSuite } from './fleet-forwarding';
import { frameCostSuite } from './frame-cost';
import { latencySuite } from './latency';
import { lossSuite } from './loss';
import { relayForwardingSuite } from './relay-forwarding';
import { webrtcFreshnessSuite } from './webrtc-freshness';
import { wireMemorySuite } from './wire-memory';

export const suites: Suite[] = [relayForwardingSuite, frameCostSuite, browserFrameCostSuite, wireMemorySuite, latencySuite, bulkSuite, lossSuite, webrtcFreshnessSuite, bundleSizeSuite, fleetForwardingSuite];
