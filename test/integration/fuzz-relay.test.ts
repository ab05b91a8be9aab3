/**
 * The real relay (127.0.0.1, port 0) under hostile input: the short run of the relay fuzz
 * campaign (fuzz/relay-campaign.ts; `npm run fuzz` runs the long one), and a flood over the
 * per-session limits that is cut and counted while other sessions keep flowing.
 */
import { expect } from 'chai';
import { startRelay, type RelayServer } from '../../server';
import { encodeData } from '../../plugin/net/wire/relay-codec';
import { runRelayCampaign } from '../../fuzz/relay-campaign';
import { connectPair, createTestPeer, disposeAll, isConnected, pumpUntil, type TestPeer } from '../helpers/managers';
import { waitFor } from '../helpers/wait';
import { RawUdpClient, RawWsClient, quietLogger, registerRaw } from './relay-test-helpers';
import { indexOf, numbered } from '../../fuzz/virtual-managers';

describe('relay under hostile input (real relay on 127.0.0.1)', function () {
  this.timeout(60_000);

  it('20,000 random and mutated datagrams from 4 UDP sockets and a WebSocket: no crash, legit streams whole, no amplification, bounded, counted', async () => {
    const report = await runRelayCampaign({ seed: 11, datagrams: 20_000 });
    expect(report.failures).to.deep.equal([]);
    expect(report.sent.udp + report.sent.ws + report.sent.wsText).to.be.at.least(19_000);
    // The relay read (nearly) all of it: a few UDP datagrams may be lost in the loopback kernel buffers.
    expect(report.lostOnLoopback).to.be.below(2_000);
    for (const reason of ['malformed', 'oversize', 'tooShortRegister', 'unknownDestination', 'spoofed']) {
      expect(report.drops[reason] ?? 0, `drops.${reason} in ${JSON.stringify(report.drops)}`).to.be.greaterThan(0);
    }
    expect(report.udpFuzzBytesReceived).to.be.at.most(report.udpFuzzBytesSent);
    expect(report.maxSessions).to.be.below(500);
    expect(report.legit.reliableEachWay).to.be.greaterThan(100);
    expect(report.wsReconnects).to.be.greaterThan(0); // messages past 64 KiB closed the connection
  });

  describe('a flood over the per-session limits', () => {
    let relay: RelayServer | null = null;
    const closers: (() => Promise<void>)[] = [];
    let peers: TestPeer[] = [];
    afterEach(async () => {
      await disposeAll(peers);
      peers = [];
      for (const close of closers.splice(0).reverse()) await close();
      await relay?.close();
      relay = null;
    });

    it('is cut and counted at the relay while other sessions keep flowing, over UDP and WebSocket', async () => {
      // Low enough that the flood is cut however slowly this machine runs the loop below.
      const perSecond = 500;
      relay = await startRelay({ host: '127.0.0.1', port: 0, logger: quietLogger, sessionDatagramsPerSecond: perSecond });
      const r = relay;
      // The legitimate pair: reliable streams both ways, well under the limit.
      const a = createTestPeer({ relay: r.udpUrl });
      const b = createTestPeer({ relay: r.wsUrl });
      peers = [a, b];
      await pumpUntil(peers, 'routes', () => a.net.getRoute() !== null && b.net.getRoute() !== null);
      connectPair(a, b, [{ id: 0, reliable: true }]);
      await pumpUntil(peers, 'connection', () => isConnected(a, b.id) && isConnected(b, a.id));

      const udpFlooder = await RawUdpClient.open(r.port);
      const wsFlooder = await RawWsClient.open(r.wsUrl);
      const victim = await RawUdpClient.open(r.port);
      closers.push(() => udpFlooder.close(), () => wsFlooder.close(), () => victim.close());
      await registerRaw(udpFlooder);
      await registerRaw(wsFlooder);
      const victimSession = (await registerRaw(victim)).sessionId;

      const flood = 12_000; // datagrams, half from each flooder
      const started = Date.now();
      const before = r.stats();
      let legitSent = 0;
      const onA: number[] = [];
      const onB: number[] = [];
      a.net.message$.subscribe((m) => onA.push(indexOf(m.data)));
      b.net.message$.subscribe((m) => onB.push(indexOf(m.data)));
      for (let i = 0; i < flood; i += 400) {
        for (let k = 0; k < 200; k++) {
          udpFlooder.send(encodeData(victimSession, numbered(i + k, 40)));
          wsFlooder.send(encodeData(victimSession, numbered(i + k, 40)));
        }
        // Batches: the relay reads one before the next goes, so the kernel drops (almost) nothing.
        const target = r.stats().datagramsIn - before.datagramsIn;
        await waitFor('the relay to read the flood batch', () => r.stats().datagramsIn - before.datagramsIn >= Math.min(target + 400, i + 400) - 50, { timeoutMs: 5000, intervalMs: 1 });
        a.net.sendMessage(b.id, 0, numbered(legitSent));
        b.net.sendMessage(a.id, 0, numbered(legitSent));
        legitSent++;
        for (const p of peers) p.net.runCallbacks();
        for (const p of peers) p.net.flush();
      }
      await pumpUntil(peers, 'the legitimate streams during the flood', () => onA.length === legitSent && onB.length === legitSent, 20_000);
      const elapsedSeconds = (Date.now() - started) / 1000;
      const after = r.stats();
      const rateLimited = after.drops.rateLimited - before.drops.rateLimited;
      // Each flooder may pass its one-second burst plus the refill over the elapsed time; the rest is cut.
      const allowedPerFlooder = perSecond * (1 + elapsedSeconds);
      let last = -1;
      await waitFor('the victim to stop receiving', () => {
        const settled = victim.received.length === last;
        last = victim.received.length;
        return settled;
      }, { timeoutMs: 5000, intervalMs: 100 });
      const delivered = victim.received.length - 1; // its REGISTERED first
      // Each flooder may pass its one-second burst plus the refill over the elapsed time; the rest is cut and counted.
      expect(delivered).to.be.at.least(perSecond);
      expect(delivered).to.be.at.most(2 * allowedPerFlooder);
      // Bounded by the elapsed time, not by an assumption about it: what the limiter may let through
      // grows with the time taken; everything past that is cut and counted (the kernel may lose a few
      // hundred datagrams on the way to the relay or the victim).
      expect(rateLimited, JSON.stringify(after.drops)).to.be.greaterThan(0);
      expect(rateLimited, JSON.stringify(after.drops)).to.be.at.least(flood - 2 * allowedPerFlooder - 500);
      expect(rateLimited + delivered).to.be.at.most(flood);
      expect(onA).to.deep.equal(Array.from({ length: legitSent }, (_, i) => i));
      expect(onB).to.deep.equal(Array.from({ length: legitSent }, (_, i) => i));
      expect(a.net.getPeerStats(b.id)!.state).to.equal('connected');
    });
  });
});
