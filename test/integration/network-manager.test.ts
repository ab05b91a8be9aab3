import { expect } from 'chai';
import { Identity } from '../../plugin/net/identity';
import { Result } from '../../plugin/net/result';
import { encodeRoute, decodeRoute } from '../../plugin/net/route';
import { bytesOf, connectPair, frame, isConnected, pumpUntil, textOf, useRelay, waitForRoutes, type TestPeer } from '../helpers/managers';
import { NetworkManager } from '../../plugin/net/network-manager';
import { waitFor } from '../helpers/wait';

describe('NetworkManager over a real relay', function () {
  const fixture = useRelay();

  function peer(url: string, extra: Partial<ConstructorParameters<typeof NetworkManager>[0]> = {}): TestPeer {
    return fixture.peer({ relay: url, ...extra });
  }

  async function connectedPair(urlA: string, urlB: string, channels = [{ id: 0, reliable: true }, { id: 1, reliable: false }]) {
    const a = peer(urlA);
    const b = peer(urlB);
    await waitForRoutes([a, b]);
    connectPair(a, b, channels);
    await pumpUntil([a, b], 'both ends connected', () => isConnected(a, b.id) && isConnected(b, a.id));
    return { a, b };
  }

  it('gives a peer id at once and a route after registration, announced on routeUpdate$', async () => {
    const a = peer(fixture.relay.udpUrl);
    expect(typeof a.net.getPeerId()).to.equal('bigint');
    expect(a.net.getPeerId()).to.not.equal(0n);
    await waitForRoutes([a]);
    expect(a.routes).to.deep.equal([a.net.getRoute()]);
    const decoded = decodeRoute(a.net.getRoute());
    expect(decoded.ok).to.equal(true);
  });

  it('UDP ↔ UDP: reliable and unreliable messages arrive', async () => {
    const { a, b } = await connectedPair(fixture.relay.udpUrl, fixture.relay.udpUrl);
    expect(a.net.sendMessage(b.id, 0, bytesOf('loot'))).to.equal(Result.Ok);
    expect(a.net.sendMessage(b.id, 1, bytesOf('position'))).to.equal(Result.Ok);
    expect(b.net.sendMessage(a.id, 0, bytesOf('ack loot'))).to.equal(Result.Ok);
    await pumpUntil([a, b], 'three messages', () => b.messages.length === 2 && a.messages.length === 1);
    expect(b.messages.map((m) => [m.channelId, textOf(m.data), m.peerId])).to.have.deep.members([
      [0, 'loot', a.id],
      [1, 'position', a.id],
    ]);
    expect(textOf(a.messages[0].data)).to.equal('ack loot');
  });

  it('UDP ↔ WebSocket: a UDP manager and a WebSocket manager talk through one relay', async () => {
    const { a, b } = await connectedPair(fixture.relay.udpUrl, fixture.relay.wsUrl);
    for (let i = 0; i < 50; i++) a.net.sendMessage(b.id, 0, bytesOf(`u2w ${i}`));
    for (let i = 0; i < 50; i++) b.net.sendMessage(a.id, 0, bytesOf(`w2u ${i}`));
    b.net.sendMessage(a.id, 1, bytesOf('unreliable from ws'));
    await pumpUntil([a, b], '50 reliable each way', () => a.messages.filter((m) => m.channelId === 0).length === 50 && b.messages.length === 50);
    expect(b.messages.map((m) => textOf(m.data))).to.deep.equal(Array.from({ length: 50 }, (_, i) => `u2w ${i}`));
    expect(a.messages.filter((m) => m.channelId === 0).map((m) => textOf(m.data))).to.deep.equal(Array.from({ length: 50 }, (_, i) => `w2u ${i}`));
  });

  it('emits message$, routeUpdate$ and peerState$ only inside runCallbacks()', async () => {
    const a = peer(fixture.relay.udpUrl);
    const b = peer(fixture.relay.udpUrl);
    let inside = false;
    let outside = 0;
    for (const p of [a, b]) {
      p.net.message$.subscribe(() => { if (!inside) outside++; });
      p.net.peerState$.subscribe(() => { if (!inside) outside++; });
      p.net.routeUpdate$.subscribe(() => { if (!inside) outside++; });
    }
    const step = () => {
      inside = true;
      a.net.runCallbacks();
      b.net.runCallbacks();
      inside = false;
      a.net.flush();
      b.net.flush();
    };
    await waitFor('routes', () => a.net.getRoute() !== null && b.net.getRoute() !== null, { step });
    connectPair(a, b, [{ id: 0, reliable: true }]);
    for (let i = 0; i < 20; i++) a.net.sendMessage(b.id, 0, bytesOf(`m${i}`));
    await waitFor('20 messages', () => b.messages.length === 20, { step });
    expect(outside).to.equal(0);
  });

  it('sends nothing from sendMessage: only flush() puts datagrams on the wire', async () => {
    const { a, b } = await connectedPair(fixture.relay.udpUrl, fixture.relay.udpUrl);
    const before = fixture.relay.stats().datagramsIn;
    for (let i = 0; i < 10; i++) a.net.sendMessage(b.id, 0, bytesOf(`x${i}`));
    a.net.runCallbacks();
    expect(fixture.relay.stats().datagramsIn).to.equal(before);
    await pumpUntil([a, b], 'the 10 messages', () => b.messages.length === 10);
  });

  it('follows the Result table of API.md', async () => {
    const a = peer(fixture.relay.udpUrl);
    const b = peer(fixture.relay.udpUrl);
    await waitForRoutes([a, b]);
    const routeB = b.net.getRoute()!;
    const routeA = a.net.getRoute()!;
    const net = a.net;
    expect(net.openPeer(b.id, 'not base64!')).to.equal(Result.InvalidBase64);
    expect(net.openPeer(b.id, 'AAAA')).to.equal(Result.InvalidPayload);
    expect(net.openPeer(b.id + 1n, routeB)).to.equal(Result.InvalidPayload); // key does not derive the id
    expect(net.openPeer(a.id, routeA)).to.equal(Result.InvalidCommand);
    expect(net.updatePeer(b.id, routeB)).to.equal(Result.NotFound);
    expect(net.closePeer(b.id)).to.equal(Result.NotFound);
    expect(net.openChannel(b.id, 0, true)).to.equal(Result.NotFound);
    expect(net.closeChannel(b.id, 0)).to.equal(Result.NotFound);
    expect(net.sendMessage(b.id, 0, new Uint8Array(1))).to.equal(Result.NotFound);
    expect(net.openPeer(b.id, routeB)).to.equal(Result.Ok);
    expect(net.openPeer(b.id, routeB)).to.equal(Result.Conflict);
    expect(net.updatePeer(b.id, 'AAAA')).to.equal(Result.InvalidPayload);
    expect(net.updatePeer(b.id, '@@@@')).to.equal(Result.InvalidBase64);
    for (const bad of [-1, 128, 1.5, NaN, '0' as unknown as number]) {
      expect(net.openChannel(b.id, bad, true), `channel ${String(bad)}`).to.equal(Result.InvalidChannel);
      expect(net.closeChannel(b.id, bad)).to.equal(Result.InvalidChannel);
      expect(net.sendMessage(b.id, bad, new Uint8Array(1))).to.equal(Result.InvalidChannel);
    }
    expect(net.closeChannel(b.id, 3)).to.equal(Result.NotFound);
    expect(net.sendMessage(b.id, 3, new Uint8Array(1))).to.equal(Result.NotFound);
    expect(net.openChannel(b.id, 3, true)).to.equal(Result.Ok);
    expect(net.openChannel(b.id, 3, true)).to.equal(Result.Ok);
    expect(net.openChannel(b.id, 3, false)).to.equal(Result.Conflict);
    expect(net.openChannel(b.id, 4, false)).to.equal(Result.Ok);
    expect(net.sendMessage(b.id, 3, 'text' as unknown as Uint8Array)).to.equal(Result.InvalidPayload);
    expect(net.sendMessage(b.id, 3, new Uint8Array(1024 * 1024 + 1))).to.equal(Result.InvalidPayload);
    expect(net.sendMessage(b.id, 4, new Uint8Array(64 * 1024 + 1))).to.equal(Result.InvalidPayload);
    expect(net.sendMessage(b.id, 3, new Uint8Array(1024 * 1024))).to.equal(Result.Ok);
    expect(net.sendMessage(b.id, 4, new Uint8Array(64 * 1024))).to.equal(Result.Ok);
    expect(net.openPeer('7' as unknown as bigint, routeB)).to.not.equal(Result.Ok);
    expect(net.closeChannel(b.id, 3)).to.equal(Result.Ok);
    expect(net.closePeer(b.id)).to.equal(Result.Ok);
    await net.dispose();
    for (const r of [
      net.runCallbacks(), net.flush(), net.openPeer(b.id, routeB), net.updatePeer(b.id, routeB), net.closePeer(b.id),
      net.openChannel(b.id, 0, true), net.closeChannel(b.id, 0), net.sendMessage(b.id, 0, new Uint8Array(1)),
    ]) expect(r).to.equal(Result.NotRunning);
  });

  it('refuses bad options with an error naming the field', () => {
    expect(() => new NetworkManager({ relay: 'http://x' })).to.throw(TypeError, /relay: expected/);
    expect(() => new NetworkManager({ relay: fixture.relay.udpUrl, mtuBytes: 10 })).to.throw(TypeError, /mtuBytes: expected an integer 256\.\.1472, got 10/);
    expect(() => new NetworkManager({ relay: fixture.relay.udpUrl, linkConditioner: { lossRate: 2 } })).to.throw(TypeError, /linkConditioner\.lossRate/);
  });

  it('holds reliable messages until the receiver opens the channel, and drops and counts unreliable ones', async () => {
    const a = peer(fixture.relay.udpUrl);
    const b = peer(fixture.relay.udpUrl);
    await waitForRoutes([a, b]);
    a.net.openPeer(b.id, b.net.getRoute()!);
    a.net.openChannel(b.id, 0, true);
    a.net.openChannel(b.id, 1, false);
    for (let i = 0; i < 5; i++) a.net.sendMessage(b.id, 0, bytesOf(`early ${i}`));
    b.net.openPeer(a.id, a.net.getRoute()!); // peer open, channels not yet
    await pumpUntil([a, b], 'connection', () => isConnected(a, b.id) && isConnected(b, a.id));
    a.net.sendMessage(b.id, 1, bytesOf('unreliable, channel closed on b'));
    await pumpUntil([a, b], 'b to hold the 5 and drop the unreliable one', () => (b.net.getPeerStats(a.id)?.droppedUnreliable ?? 0) >= 1 && (a.net.getPeerStats(b.id)?.pendingReliableBytes ?? 1) === 0);
    expect(b.messages).to.have.length(0);
    b.net.openChannel(a.id, 0, true);
    await pumpUntil([a, b], 'the held messages', () => b.messages.length === 5);
    expect(b.messages.map((m) => textOf(m.data))).to.deep.equal(['early 0', 'early 1', 'early 2', 'early 3', 'early 4']);
  });

  it('a stranger who knows a route gets no reply and makes no state', async () => {
    const a = peer(fixture.relay.udpUrl);
    const stranger = peer(fixture.relay.udpUrl);
    await waitForRoutes([a, stranger]);
    stranger.net.openPeer(a.id, a.net.getRoute()!);
    stranger.net.openChannel(a.id, 0, true);
    stranger.net.sendMessage(a.id, 0, bytesOf('let me in'));
    const relayOutBefore = fixture.relay.stats();
    await pumpUntil([a, stranger], 'a to drop the stranger\'s handshakes', () => (a.net.getDropCounts().unknownSession ?? 0) >= 3);
    expect(a.messages).to.have.length(0);
    expect(a.states).to.have.length(0);
    expect(a.net.getPeerStats(stranger.id)).to.equal(undefined);
    expect(stranger.net.getPeerStats(a.id)?.state).to.equal('connecting');
    // a sent nothing back: every datagram the relay delivered went to a, none to the stranger.
    const strangerStats = stranger.net.getPeerStats(a.id)!;
    expect(strangerStats.receivedBytes).to.equal(0);
    expect(fixture.relay.stats().datagramsIn).to.be.greaterThan(relayOutBefore.datagramsIn);
  });

  it('closePeer tells the other end, whose state goes closed; the closer may open again', async () => {
    const { a, b } = await connectedPair(fixture.relay.udpUrl, fixture.relay.udpUrl);
    expect(a.net.closePeer(b.id)).to.equal(Result.Ok);
    await pumpUntil([a, b], 'b to see a close', () => b.states.some((s) => s.peerId === a.id && s.state === 'closed'));
    expect(b.net.getPeerStats(a.id)).to.equal(undefined);
    expect(a.states.some((s) => s.peerId === b.id && s.state === 'closed')).to.equal(true);
    connectPair(a, b, [{ id: 0, reliable: true }]);
    a.net.sendMessage(b.id, 0, bytesOf('again'));
    await pumpUntil([a, b], 'the message after reopening', () => b.messages.some((m) => textOf(m.data) === 'again'));
  });

  it('says InsufficientBuffer past the pending limit and queues nothing more', async () => {
    const a = peer(fixture.relay.udpUrl, { maxPendingReliableBytes: 64 * 1024, maxReliableMessageBytes: 32 * 1024 });
    const b = peer(fixture.relay.udpUrl);
    await waitForRoutes([a, b]);
    a.net.openPeer(b.id, b.net.getRoute()!); // b never opens a: nothing is acknowledged
    a.net.openChannel(b.id, 0, true);
    let accepted = 0;
    let result = Result.Ok;
    for (let i = 0; i < 1000 && result === Result.Ok; i++) {
      result = a.net.sendMessage(b.id, 0, new Uint8Array(1000));
      if (result === Result.Ok) accepted++;
    }
    expect(result).to.equal(Result.InsufficientBuffer);
    expect(accepted).to.equal(65);
    expect(a.net.getPeerStats(b.id)!.pendingReliableBytes).to.equal(accepted * 1000);
    frame([a, b]);
    expect(a.net.sendMessage(b.id, 0, new Uint8Array(1000))).to.equal(Result.InsufficientBuffer);
  });

  it('dispose() completes the observables and leaves the relay', async () => {
    const a = peer(fixture.relay.udpUrl);
    await waitForRoutes([a]);
    let completed = 0;
    a.net.message$.subscribe({ complete: () => completed++ });
    a.net.routeUpdate$.subscribe({ complete: () => completed++ });
    a.net.peerState$.subscribe({ complete: () => completed++ });
    await a.net.dispose();
    await a.net.dispose();
    expect(completed).to.equal(3);
    await waitFor('the relay to drop the session', () => fixture.relay.stats().sessions === 0);
  });

  it('a route never holds the client address, only relay endpoints, session and key', async () => {
    const a = peer(fixture.relay.udpUrl);
    await waitForRoutes([a]);
    const decoded = decodeRoute(a.net.getRoute());
    if (!decoded.ok) throw new Error(decoded.error);
    const again = encodeRoute(decoded.route);
    expect(again).to.equal(a.net.getRoute());
    expect(decoded.route.endpoints.every((e) => e === fixture.relay.udpUrl || e === fixture.relay.wsUrl)).to.equal(true);
    expect(Identity.generate().peerId).to.not.equal(a.id);
  });
});
