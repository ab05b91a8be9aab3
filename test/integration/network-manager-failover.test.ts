/**
 * Failover between two real relays (issue 15.2): managers A and B list [r1, r2], both relays run
 * in their own processes; r1 is SIGKILLed mid-stream, both managers register with r2, the routes
 * are re-exchanged with updatePeer on each routeUpdate$ (the lobby's job, done by hand), and
 * numbered reliable streams both ways arrive exactly once, in order.
 */
import { expect } from 'chai';
import type { RelayStatus } from '../../plugin/net/types';
import { connectPair, createTestPeer, disposeAll, frame, isConnected, pumpUntil, type TestPeer } from '../helpers/managers';
import { killHard, spawnRelay, type ChildRelay } from '../helpers/child-fixtures';
import { indexOf, numbered } from '../../fuzz/virtual-managers';
import { waitFor } from '../helpers/wait';

describe('NetworkManager failover between two real relays', function () {
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
    it(`${transports.join(' ↔ ')}: r1 SIGKILLed mid-stream, both move to r2, routes re-exchanged with updatePeer, 3,000 each way arrive once and in order`, async () => {
      const [r1, r2] = await Promise.all([spawnRelay(), spawnRelay()]);
      relays.push(r1, r2);
      const list = (t: string): string[] => [`${t}://127.0.0.1:${r1.port}`, `${t}://127.0.0.1:${r2.port}`];
      const a = createTestPeer({ relay: list(transports[0]) });
      const b = createTestPeer({ relay: list(transports[1]) });
      peers.push(a, b);
      const statuses: RelayStatus[][] = [[], []];
      a.net.relayState$.subscribe((s) => statuses[0].push(s));
      b.net.relayState$.subscribe((s) => statuses[1].push(s));
      await pumpUntil([a, b], 'routes from r1', () => a.routes.length === 1 && b.routes.length === 1);
      expect(a.net.getTransportInfo().relay).to.equal(list(transports[0])[0]);
      connectPair(a, b, [{ id: 0, reliable: true }]);
      await pumpUntil([a, b], 'connection', () => isConnected(a, b.id) && isConnected(b, a.id));

      // Whoever gets a new route hands it to the other, once per routeUpdate$.
      a.net.routeUpdate$.subscribe((route) => void b.net.updatePeer(a.id, route));
      b.net.routeUpdate$.subscribe((route) => void a.net.updatePeer(b.id, route));

      const total = 3000;
      const sent = [0, 0];
      const sendSome = (): void => {
        for (let k = 0; k < 30 && sent[0] < total; k++, sent[0]++) expect(a.net.sendMessage(b.id, 0, numbered(sent[0], 28))).to.equal(0);
        for (let k = 0; k < 30 && sent[1] < total; k++, sent[1]++) expect(b.net.sendMessage(a.id, 0, numbered(sent[1], 28))).to.equal(0);
      };
      const step = (): void => {
        sendSome();
        frame([a, b]);
      };
      await waitFor('about 1,000 delivered each way before the kill', () => b.messages.length >= 1000 && a.messages.length >= 1000, { timeoutMs: 30_000, step });
      expect(b.messages.length, 'still streaming when r1 dies').to.be.lessThan(total);

      const killedAt = Date.now();
      await killHard(r1);
      await waitFor('both on r2 and every message both ways', () => b.messages.length >= total && a.messages.length >= total, { timeoutMs: 60_000, step });
      const failoverMs = Date.now() - killedAt;
      // A few more frames: a duplicate would show up now if one were coming.
      for (let i = 0; i < 20; i++) frame([a, b]);

      const range = Array.from({ length: total }, (_, i) => i);
      expect(b.messages.map((m) => indexOf(m.data)), 'a → b').to.deep.equal(range);
      expect(a.messages.map((m) => indexOf(m.data)), 'b → a').to.deep.equal(range);
      [a, b].forEach((p, i) => {
        const r2Url = list(transports[i])[1];
        expect(p.routes, 'a new route from r2').to.have.length(2);
        expect(p.net.getTransportInfo().relay).to.equal(r2Url);
        expect(p.net.getRelayState()).to.deep.equal({ state: 'registered', relay: r2Url, reason: null });
        expect(statuses[i].some((s) => s.state === 'unreachable' && s.relay === list(transports[i])[0]), 'r1 reported unreachable').to.equal(true);
      });
      // Printed for the record: from the kill to the last message, wall clock.
      process.stdout.write(`      failover ${transports.join('/')}: ${failoverMs} ms from SIGKILL to all ${total} each way\n`);
    });
  }
});
