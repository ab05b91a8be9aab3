/**
 * Issue 13.7: idle WebSockets must not lock honest clients out. Unregistered connections have
 * their own bound (per address and in all), the oldest of them gives way to a new one, and an
 * unregistered connection is closed after a short registration deadline — so a NetworkManager
 * holding a valid token registers while one address floods the relay with idle WebSockets.
 */
import { expect } from 'chai';
import { createRelayToken, startRelay, type RelayServer } from '../../server';
import { RELAY_DEFAULTS } from '../../server/relay/options';
import { createTestPeer, disposeAll, pumpUntil, type TestPeer } from '../helpers/managers';
import { waitFor } from '../helpers/wait';
import { WsFlood, quietLogger } from './relay-test-helpers';
import { testRelaySecret } from '../helpers/secrets';

describe('relay under a flood of idle WebSockets from one address (real relay on 127.0.0.1)', function () {
  this.timeout(60_000);
  let relay: RelayServer | null = null;
  let flood: WsFlood | null = null;
  let peers: TestPeer[] = [];

  afterEach(async () => {
    await disposeAll(peers);
    peers = [];
    await flood?.stop();
    flood = null;
    await relay?.close();
    relay = null;
  });

  /** Runs `flood` and an honest manager; returns the most unregistered connections the relay held at once. */
  async function honestRegistersDuring(options: { maxSessions?: number; secret?: string; concurrent: number; maxAttempts: number }): Promise<number> {
    relay = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger, maxSessions: options.maxSessions, secret: options.secret });
    const r = relay;
    let mostPending = 0;
    const sample = (): void => {
      mostPending = Math.max(mostPending, r.stats().wsPendingConnections);
    };
    flood = new WsFlood(r.wsUrl, options.concurrent, options.maxAttempts).start();
    const f = flood;
    // The flood is at full strength once every one of its first connections has opened or been turned away.
    await waitFor('the flood to reach full strength', () => f.attempts >= options.concurrent && f.opened + f.closed >= options.concurrent, { timeoutMs: 20_000, step: sample });
    const token = options.secret !== undefined ? createRelayToken(options.secret, { ttlSeconds: 60, subject: 'honest' }) : undefined;
    const honest = createTestPeer({ relay: r.wsUrl, token });
    peers.push(honest);
    await pumpUntil([honest], 'the honest manager to get a route during the flood', () => {
      sample();
      return honest.net.getRoute() !== null;
    }, 8_000);
    // Still during the flood: it has not run out of attempts, or still holds what it opened.
    expect(f.exhausted && f.openNow === 0, 'the flood was over before the honest manager registered').to.equal(false);
    expect(r.stats().sessions).to.equal(1);
    return mostPending;
  }

  it('with maxSessions 100: 300 idle WebSockets at once do not take the honest manager\'s place', async () => {
    const mostPending = await honestRegistersDuring({ maxSessions: 100, concurrent: 300, maxAttempts: 3_000 });
    expect(mostPending).to.be.at.most(RELAY_DEFAULTS.maxPendingConnectionsPerIp);
    expect(relay!.stats().wsConnectionsEvicted).to.be.greaterThan(0);
  });

  it('with a secret and default limits: 2,000 idle WebSockets at once, 12,000 in all, and a token holder still registers', async () => {
    const mostPending = await honestRegistersDuring({ secret: testRelaySecret('flood'), concurrent: 2_000, maxAttempts: 12_000 });
    expect(mostPending).to.be.at.most(RELAY_DEFAULTS.maxPendingConnectionsPerIp);
    expect(relay!.stats().wsConnectionsEvicted).to.be.greaterThan(0);
  });

  it('closes a WebSocket that registers nothing within registerTimeoutMs (code 4001), and it never counts as a session', async () => {
    relay = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger, maxSessions: 1, registerTimeoutMs: 200 });
    const r = relay;
    flood = new WsFlood(r.wsUrl, 3, 3).start();
    const f = flood;
    await waitFor('three idle WebSockets to be closed for not registering', () => f.closed === 3, { timeoutMs: 5_000 });
    expect(f.closeCodes.get(4001)).to.equal(3);
    expect(r.stats().sessions).to.equal(0);
    expect(r.stats().wsRegisterTimeouts).to.equal(3);
  });
});
