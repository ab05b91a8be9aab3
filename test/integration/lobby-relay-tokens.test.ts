/**
 * Short-lived relay tokens (issue 13.11) with the real lobby server and a real relay on 127.0.0.1:
 * lifetimes default to minutes, ColyseusLobby renews its token at half-life, and a manager whose
 * token option is a function registers again with a fresh one after a relay restart, long after
 * its first token expired.
 */
import { expect } from 'chai';
import { ColyseusLobby } from '../../plugin/lobby/colyseus-lobby';
import { runCli, type CliIo } from '../../server/cli';
import { startLobbyServer, type LobbyServer } from '../../server/lobby';
import { startRelay, verifyRelayToken, type RelayServer } from '../../server';
import { createTestPeer, pumpUntil, quietLogger, type TestPeer } from '../helpers/managers';
import { testRelaySecret } from '../helpers/secrets';
import { waitFor } from '../helpers/wait';

const secret = testRelaySecret('lobby-relay-tokens');
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

describe('short-lived relay tokens', function () {
  this.timeout(30_000);

  describe('default lifetimes', () => {
    let server: LobbyServer | undefined;
    before(async () => {
      server = await startLobbyServer({ port: 0, logger: quietLogger, relaySecret: secret });
    });
    after(async () => {
      await server?.close();
    });

    it('the lobby mints tokens for 600 s, not hours', async () => {
      const before = nowSeconds();
      const lobby = await ColyseusLobby.join(server!.url, 'ttl-default', { logger: quietLogger });
      const after = nowSeconds();
      try {
        expect(verifyRelayToken(secret, lobby.relayToken, before + 599)).to.equal('ok');
        expect(verifyRelayToken(secret, lobby.relayToken, after + 600)).to.equal('expired');
      } finally {
        await lobby.leave();
      }
    });

    it('`switchboard token` mints for 600 s unless --ttl says otherwise', async () => {
      const lines: string[] = [];
      const io: CliIo = { out: (l) => lines.push(l), err: (l) => lines.push(l), env: { SWITCHBOARD_RELAY_SECRET: secret }, untilStopSignal: () => new Promise(() => undefined) };
      const before = nowSeconds();
      expect(await runCli(['token'], io)).to.equal(0);
      const after = nowSeconds();
      expect(verifyRelayToken(secret, lines[0], before + 599)).to.equal('ok');
      expect(verifyRelayToken(secret, lines[0], after + 600)).to.equal('expired');
    });
  });

  describe('renewal and re-registration', () => {
    let server: LobbyServer | undefined;
    let relay: RelayServer | undefined;
    let peers: TestPeer[] = [];
    let lobbies: ColyseusLobby[] = [];
    before(async () => {
      server = await startLobbyServer({ port: 0, logger: quietLogger, relaySecret: secret, relayTokenTtlSeconds: 2 });
    });
    after(async () => {
      await server?.close();
    });
    afterEach(async () => {
      await Promise.all(peers.map((p) => p.net.dispose()));
      peers = [];
      await Promise.all(lobbies.map((l) => l.leave()));
      lobbies = [];
      await relay?.close();
      relay = undefined;
    });

    for (const kind of ['sync', 'async'] as const) {
      it(`a ${kind} token function: the lobby renews before expiry, and after a relay restart the manager registers again with a fresh token`, async () => {
        relay = await startRelay({ host: '127.0.0.1', port: 0, secret, logger: quietLogger });
        const port = relay.port;
        const lobby = await ColyseusLobby.join(server!.url, `renew-${kind}`, { logger: quietLogger });
        lobbies.push(lobby);
        const asked: (string | undefined)[] = [];
        const token =
          kind === 'sync'
            ? () => (asked.push(lobby.relayToken), lobby.relayToken)
            : async () => {
                await Promise.resolve();
                asked.push(lobby.relayToken);
                return lobby.relayToken;
              };
        const peer = createTestPeer({ relay: relay.wsUrl, token });
        peers.push(peer);
        await pumpUntil([peer], 'the first registration', () => peer.routes.length === 1);
        const first = asked[asked.length - 1]!;
        expect(verifyRelayToken(secret, first, nowSeconds())).to.equal('ok');

        // The lobby renews at half-life; the first token then runs out.
        await waitFor('the lobby to renew its relay token', () => lobby.relayToken !== first);
        await pumpUntil([peer], 'the first token to expire', () => verifyRelayToken(secret, first, nowSeconds()) === 'expired');
        expect(verifyRelayToken(secret, lobby.relayToken, nowSeconds())).to.equal('ok');

        await relay.close();
        relay = await startRelay({ host: '127.0.0.1', port, secret, logger: quietLogger });
        await pumpUntil([peer], 'a registration with the restarted relay', () => peer.routes.length === 2);
        expect(peer.net.getRelayState().state).to.equal('registered');
        expect(asked.length).to.be.at.least(2);
        expect(asked[asked.length - 1]).to.not.equal(first);
        expect(relay.stats().sessions).to.equal(1);
      });
    }
  });
});
