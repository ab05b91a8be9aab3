import { expect } from 'chai';
import { Result } from '../../plugin/net/result';
import { createRelayToken, startRelay, type RelayServer } from '../../server';
import { createTestPeer, disposeAll, frame, pumpUntil, quietLogger, type TestPeer } from '../helpers/managers';
import { testRelaySecret } from '../helpers/secrets';

describe('NetworkManager with a relay that needs a token', function () {
  const secret = testRelaySecret('network-manager-tokens');
  let relay: RelayServer;
  let open: RelayServer;
  let peers: TestPeer[] = [];

  beforeEach(async () => {
    relay = await startRelay({ host: '127.0.0.1', port: 0, secret, logger: quietLogger });
    open = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger });
  });

  afterEach(async () => {
    await disposeAll(peers);
    peers = [];
    await relay.close();
    await open.close();
  });

  function recordingLogger() {
    const lines: string[] = [];
    return { lines, info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
  }

  const badTokens: [string, () => string | undefined][] = [
    ['no token', () => undefined],
    ['an expired token', () => createRelayToken(secret, { ttlSeconds: 60 }, Math.floor(Date.now() / 1000) - 120)],
    ['a forged token', () => createRelayToken(testRelaySecret('not the secret'), { ttlSeconds: 60 })],
  ];

  for (const [what, token] of badTokens) {
    it(`with ${what}: stays disconnected, no route, flush says NotAuthenticated, the reason is logged once`, async () => {
      const logger = recordingLogger();
      const routeSource = createTestPeer({ relay: open.udpUrl });
      const a = createTestPeer({ relay: relay.udpUrl, token: token(), logger });
      peers.push(routeSource, a);
      await pumpUntil([routeSource], 'a route to open', () => routeSource.net.getRoute() !== null);
      expect(a.net.openPeer(routeSource.id, routeSource.net.getRoute()!)).to.equal(Result.Ok);
      await pumpUntil([a], 'the refusal', () => a.net.flush() === Result.NotAuthenticated);
      for (let i = 0; i < 20; i++) frame([a]);
      expect(a.net.getRoute()).to.equal(null);
      expect(a.routes).to.deep.equal([]);
      expect(a.net.getPeerStats(routeSource.id)?.state).to.equal('disconnected');
      // 'connecting' first only when the refusal came after openPeer.
      expect(a.states.map((s) => s.state).filter((s) => s !== 'connecting')).to.deep.equal(['disconnected']);
      const refusals = logger.lines.filter((l) => /refused/i.test(l));
      expect(refusals, logger.lines.join('\n')).to.have.length(1);
      expect(relay.stats().sessions).to.equal(0);
    });
  }

  it('with a valid token: registers and gets a route', async () => {
    const a = createTestPeer({ relay: relay.wsUrl, token: createRelayToken(secret, { ttlSeconds: 60, subject: 'player-1' }) });
    peers.push(a);
    await pumpUntil([a], 'a route', () => a.net.getRoute() !== null);
    expect(a.net.flush()).to.equal(Result.Ok);
  });

  it('with a token function: an expired token is not final, the next attempt asks again and registers', async () => {
    let calls = 0;
    const token = () =>
      ++calls === 1 ? createRelayToken(secret, { ttlSeconds: 60 }, Math.floor(Date.now() / 1000) - 120) : createRelayToken(secret, { ttlSeconds: 60 });
    const a = createTestPeer({ relay: relay.udpUrl, token });
    peers.push(a);
    await pumpUntil([a], 'a route after the expired token', () => a.net.getRoute() !== null);
    expect(calls).to.be.at.least(2);
    expect(a.net.getRelayState().state).to.equal('registered');
  });

  it('with a token function that throws or returns junk: retried with backoff, then registers', async () => {
    let calls = 0;
    const token = async (): Promise<string | undefined> => {
      calls++;
      if (calls === 1) throw new Error('lobby not ready');
      if (calls === 2) return 42 as unknown as string;
      return createRelayToken(secret, { ttlSeconds: 60 });
    };
    const a = createTestPeer({ relay: relay.wsUrl, token });
    peers.push(a);
    await pumpUntil([a], 'a route after two bad answers', () => a.net.getRoute() !== null);
    expect(calls).to.equal(3);
  });
});
