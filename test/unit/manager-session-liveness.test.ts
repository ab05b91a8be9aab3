/**
 * Liveness and the replay window (issue 16.3): a DATA packet that authenticates but is refused by
 * the reliability layer must not let a replaying relay keep a dead link alive.
 */
import { expect } from 'chai';
import { Result } from '../../plugin/net/result';
import { decodeRoute } from '../../plugin/net/route';
import { MemorySwitch } from '../../plugin/net/transport/memory-switch';
import { connectPair, disposeAll, isConnected, type TestPeer } from '../helpers/managers';
import { pumpVirtual, registerVirtual, seededIdentity, virtualFrame, virtualPeer } from '../../fuzz/virtual-managers';

function sessionOf(route: string | null): bigint {
  const decoded = decodeRoute(route ?? '');
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.route.sessionId;
}

describe('NetworkManager liveness only from packets it keeps', function () {
  this.timeout(30_000);
  const peers: TestPeer[] = [];
  afterEach(async () => {
    await disposeAll(peers.splice(0));
  });

  it('replaying an authenticated DATA packet the reliability layer refused (held bytes full) does not keep the link from timing out', () => {
    const sw = new MemorySwitch({ seed: 16, link: { latencyMs: 10 } });
    const a = virtualPeer(sw, { identity: seededIdentity('liveness a') });
    const b = virtualPeer(sw, { identity: seededIdentity('liveness b') });
    peers.push(a, b);
    registerVirtual(sw, [a, b]);
    connectPair(a, b, [{ id: 0, reliable: true }]);
    pumpVirtual(sw, [a, b], 'both ends connected', () => isConnected(a, b.id) && isConnected(b, a.id));
    const bSession = sessionOf(b.net.getRoute());

    // Channel 5 is open on a only: b holds what arrives on it, up to 1 MiB, then refuses for room.
    expect(a.net.openChannel(b.id, 5, true)).to.equal(Result.Ok);
    for (let i = 0; i < 20; i++) expect(a.net.sendMessage(b.id, 5, new Uint8Array(64 * 1024).fill(i))).to.equal(Result.Ok);
    const notAccepted = (): number => b.net.getDropCounts(a.id).notAccepted ?? 0;
    pumpVirtual(sw, [a, b], 'b refusing packets for room', () => notAccepted() > 0, { maxFrames: 20_000 });

    // Keep every DATA datagram to b while it goes on refusing for room (bounded): some of them
    // authenticated and were refused by the reliability layer only.
    const captured: Uint8Array[] = [];
    sw.tap = (event) => {
      if (captured.length < 400 && event.direction === 'out' && event.sessionId === bSession && event.bytes[0] === 0x83 && event.bytes[9] === 0x03) {
        captured.push(event.bytes);
      }
    };
    const before = notAccepted();
    pumpVirtual(sw, [a, b], 'more DATA packets to b refused for room', () => notAccepted() >= before + 3, { maxFrames: 5000 });
    sw.tap = null;
    expect(captured.length).to.be.greaterThan(0);

    // a goes silent (never runs again); a relay replays every captured packet every 500 ms.
    const timeoutMs = 10_000;
    const start = sw.now;
    let frames = 0;
    while (isConnected(b, a.id) && sw.now < start + 3 * timeoutMs) {
      if (frames % 100 === 0) for (const packet of captured) expect(sw.injectRaw(bSession, packet)).to.equal(true);
      virtualFrame(sw, [b]);
      frames++;
    }
    expect(isConnected(b, a.id), 'b still connected after three timeouts of replays').to.equal(false);
    expect(sw.now - start).to.be.at.most(timeoutMs + 1000);
    expect(b.net.getDropCounts(a.id)['data-replay'] ?? 0, 'the replays are refused as replays').to.be.greaterThan(10);
  });
});
