import { expect } from 'chai';
import { connectPair, createTestPeer, disposeAll, frame, isConnected, pumpUntil, type TestPeer } from '../helpers/managers';
import { killHard, spawnRelay, type ChildRelay } from '../helpers/child-fixtures';
import { indexOf, numbered } from '../../fuzz/virtual-managers';
import { waitFor } from '../helpers/wait';

describe('NetworkManager through a relay restart', function () {
  this.timeout(90_000);
  let relays: ChildRelay[] = [];
  let peers: TestPeer[] = [];

  afterEach(async () => {
    await disposeAll(peers);
    peers = [];
    await Promise.all(relays.map(killHard));
    relays = [];
  });

  for (const transports of [['udp', 'udp'], ['udp', 'ws']] as const) {
    it(`${transports.join(' ↔ ')}: SIGKILL mid-stream, restart on the same port, routes exchanged with updatePeer, all 5,000 arrive once and in order`, async () => {
      const first = await spawnRelay(0);
      relays.push(first);
      const url = (t: string) => `${t}://127.0.0.1:${first.port}`;
      const a = createTestPeer({ relay: url(transports[0]) });
      const b = createTestPeer({ relay: url(transports[1]) });
      peers.push(a, b);
      await pumpUntil([a, b], 'routes from the first relay', () => a.routes.length === 1 && b.routes.length === 1);
      connectPair(a, b, [{ id: 0, reliable: true }]);
      await pumpUntil([a, b], 'connection', () => isConnected(a, b.id) && isConnected(b, a.id));

      // The lobby's job, done by hand: whoever gets a new route hands it to the other.
      const exchangeRoutes = () => {
        if (a.routes.length > 1) b.net.updatePeer(a.id, a.routes[a.routes.length - 1]);
        if (b.routes.length > 1) a.net.updatePeer(b.id, b.routes[b.routes.length - 1]);
      };

      const total = 5000;
      let sent = 0;
      const sendSome = () => {
        for (let k = 0; k < 50 && sent < total; k++, sent++) expect(a.net.sendMessage(b.id, 0, numbered(sent, 28))).to.equal(0);
      };
      await waitFor('about 2,000 delivered before the kill', () => b.messages.length >= 2000, {
        timeoutMs: 30_000,
        step: () => { sendSome(); frame([a, b]); },
      });

      await killHard(first);
      const second = await spawnRelay(first.port);
      relays.push(second);
      expect(second.port).to.equal(first.port);

      await waitFor('new routes from the restarted relay and every message', () => b.messages.length >= total, {
        timeoutMs: 60_000,
        step: () => { sendSome(); frame([a, b]); exchangeRoutes(); },
      });
      // A few more frames: a duplicate would show up now if one were coming.
      for (let i = 0; i < 20; i++) frame([a, b]);

      expect(a.routes.length).to.be.at.least(2);
      expect(b.routes.length).to.be.at.least(2);
      expect(a.routes[a.routes.length - 1]).to.not.equal(a.routes[0]);
      expect(b.messages.map((m) => indexOf(m.data))).to.deep.equal(Array.from({ length: total }, (_, i) => i));
    });
  }
});
