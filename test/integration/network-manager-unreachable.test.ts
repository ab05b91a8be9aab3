/**
 * A relay that is not there (nothing listening, a host that does not resolve) is not silent:
 * a log line names the relay and the cause, relayState$ says 'unreachable', open peers go
 * 'disconnected' with a reason, and the retries back off (doubling, capped) instead of spinning.
 * Real sockets on 127.0.0.1; the "does not resolve" host uses the reserved .invalid TLD.
 */
import { expect } from 'chai';
import { Result } from '../../plugin/net/result';
import type { RelayClient } from '../../plugin/net/transport/relay-client';
import type { NetworkManager } from '../../plugin/net/network-manager';
import type { RelayStatus } from '../../plugin/net/types';
import { startRelay, type RelayServer } from '../../server';
import { createTestPeer, disposeAll, frame, pumpUntil, quietLogger, type TestPeer } from '../helpers/managers';

function recordingLogger() {
  const lines: string[] = [];
  return { lines, info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
}

function relayClientOf(net: NetworkManager): RelayClient {
  return (net as unknown as { relay: RelayClient }).relay;
}

describe('NetworkManager with an unreachable relay', function () {
  this.timeout(20_000);
  let routeRelay: RelayServer;
  let routeSource: TestPeer;
  let peers: TestPeer[] = [];

  before(async () => {
    routeRelay = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger });
    routeSource = createTestPeer({ relay: routeRelay.udpUrl });
    await pumpUntil([routeSource], 'a route to open', () => routeSource.net.getRoute() !== null);
  });

  after(async () => {
    await routeSource.net.dispose();
    await routeRelay.close();
  });

  afterEach(async () => {
    await disposeAll(peers);
    peers = [];
  });

  const cases: { relay: string; cause: RegExp }[] = [
    { relay: 'ws://127.0.0.1:1', cause: /ECONNREFUSED/ },
    { relay: 'udp://127.0.0.1:1', cause: /ECONNREFUSED/ },
    { relay: 'ws://switchboard-test.invalid:7777', cause: /ENOTFOUND|EAI_AGAIN/ },
    { relay: 'udp://switchboard-test.invalid:7777', cause: /ENOTFOUND|EAI_AGAIN/ },
  ];

  for (const { relay, cause } of cases) {
    it(`${relay}: logs the relay and the cause once, relayState$ goes unreachable, the peer disconnects with a reason, retries back off`, async () => {
      const logger = recordingLogger();
      const a = createTestPeer({ relay, logger });
      peers.push(a);
      const statuses: RelayStatus[] = [];
      a.net.relayState$.subscribe((s) => statuses.push(s));
      expect(a.net.openPeer(routeSource.id, routeSource.net.getRoute()!)).to.equal(Result.Ok);
      await pumpUntil([a], 'relayState unreachable', () => statuses.some((s) => s.state === 'unreachable'));

      expect(statuses[0]).to.deep.equal({ state: 'connecting', relay, reason: null });
      const unreachable = statuses.find((s) => s.state === 'unreachable')!;
      expect(unreachable.relay).to.equal(relay);
      expect(unreachable.reason).to.match(cause);
      expect(a.net.getRelayState().state).to.equal('unreachable');

      const line = logger.lines.filter((l) => l.includes('unreachable'));
      expect(line).to.have.length(1);
      expect(line[0]).to.contain(relay).and.to.match(cause);

      const last = a.states[a.states.length - 1];
      expect(last.state).to.equal('disconnected');
      expect(last.reason).to.contain(relay).and.to.match(cause);
      expect(a.net.getRoute()).to.equal(null);

      // Keeps retrying, each wait twice the one before up to the cap: never a spin.
      const client = relayClientOf(a.net);
      await pumpUntil([a], 'two more failed attempts', () => client.stats().failedAttempts >= 5);
      const delays = client.stats().retryDelaysMs;
      expect(delays.length).to.be.at.least(4);
      for (let i = 1; i < delays.length; i++) {
        expect(delays[i]).to.be.at.least(Math.min(delays[i - 1] * 2, 5000) - 1e-9);
        expect(delays[i]).to.be.at.most(5000);
      }
      expect(delays[0]).to.be.greaterThan(0);
      for (let i = 0; i < 10; i++) frame([a]);
      expect(logger.lines.filter((l) => l.includes('unreachable'))).to.have.length(1);
    });
  }

  it('registers when the relay comes up on that port: relayState$ registered, the peer connects', async () => {
    const probe = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger });
    const port = probe.port;
    await probe.close();
    const logger = recordingLogger();
    const url = `ws://127.0.0.1:${port}`;
    const a = createTestPeer({ relay: url, logger });
    peers.push(a);
    const statuses: RelayStatus[] = [];
    a.net.relayState$.subscribe((s) => statuses.push(s));
    expect(a.net.openPeer(routeSource.id, routeSource.net.getRoute()!)).to.equal(Result.Ok);
    await pumpUntil([a], 'relayState unreachable', () => a.net.getRelayState().state === 'unreachable');
    const relay = await startRelay({ host: '127.0.0.1', port, logger: quietLogger });
    try {
      await pumpUntil([a], 'a route from the relay that came up', () => a.net.getRoute() !== null, 15_000);
      expect(statuses.map((s) => s.state)).to.deep.equal(['connecting', 'unreachable', 'registered']);
      expect(logger.lines.some((l) => l.includes(url) && /registered again/.test(l))).to.equal(true);
      expect(a.states.map((s) => s.state)).to.deep.equal(['connecting', 'disconnected', 'connecting']);
    } finally {
      await a.net.dispose();
      peers = [];
      await relay.close();
    }
  });
});
