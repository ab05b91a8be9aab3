/**
 * The short run of the manager fuzz campaign (fuzz/manager-campaign.ts; `npm run fuzz` runs the
 * long one): 20,000 random and mutated datagrams to a running NetworkManager through the
 * MemorySwitch — from the session of a peer it opened, sealed by a hostile peer it opened, from
 * strangers, and at the relay level — while legitimate streams flow; then 10,000 mutated routes
 * to openPeer/updatePeer (byte mutants and routes recombined from real fields), with b's stream
 * probed every 250 routes.
 */
import { expect } from 'chai';
import { runManagerCampaign } from '../../fuzz/manager-campaign';

describe('fuzzing a running NetworkManager (short run)', function () {
  this.timeout(60_000);

  for (const seed of [1, 2]) {
    it(`seed ${seed}: 10,000 junk datagrams and 5,000 mutated routes: no throw, no junk delivered, legit streams whole, bounded, counted`, async () => {
      const report = await runManagerCampaign({ seed, datagrams: 10_000, routes: 5_000 });
      expect(report.failures).to.deep.equal([]);
      expect(report.datagrams).to.equal(10_000);
      for (const source of ['fromOpenedPeerSession', 'sealedByHostilePeer', 'rawFromHostileSession', 'fromStrangers', 'relayLevelToSocket']) {
        expect(report.sent[source], source).to.be.greaterThan(0);
      }
      const count = (pattern: RegExp) => Object.entries(report.rejections).filter(([k]) => pattern.test(k)).reduce((n, [, v]) => n + v, 0);
      // The rejections show up in the counters, at every layer the junk reached.
      expect(count(/^manager:unknownSession$/), 'strangers').to.be.greaterThan(1000);
      expect(count(/^peerB:data-(auth|replay|malformed|no-key)$/), 'AEAD and replay window').to.be.greaterThan(1000);
      expect(count(/^peerB:(handshake:)?(init|resp|hello)-/), 'handshake').to.be.greaterThan(0);
      expect(count(/^hostile:notAccepted$/), 'reliability layer (sealed junk)').to.be.greaterThan(100);
      expect(report.legit.reliableEachWay).to.be.greaterThan(0);
      // Routes: every refusal is one of the API's codes; no Ok for a key that does not derive the id (checked inside).
      const codes = new Set(Object.keys(report.routeResults).map((k) => k.split(':')[1]));
      for (const code of codes) expect(['Ok', 'InvalidBase64', 'InvalidPayload', 'Conflict', 'NotFound', 'InvalidCommand']).to.include(code);
      expect(Object.values(report.routeResults).reduce((n, v) => n + v, 0)).to.equal(5_000);
    });
  }
});
