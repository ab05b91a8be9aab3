/**
 * Two NetworkManagers over the MemorySwitch in virtual time (issue 2's "done when" list, across
 * seeds): every frame moves the switch's clock, which is also the managers' clock, so lossy runs of
 * many seconds take a fraction of a second and repeat exactly from their seed.
 */
import { expect } from 'chai';
import { Identity, peerIdFromPublicKey } from '../../plugin/net/identity';
import { Result } from '../../plugin/net/result';
import { decodeRoute, encodeRoute } from '../../plugin/net/route';
import { MemorySwitch, type MemoryLinkProfile } from '../../plugin/net/transport/memory-switch';
import type { DatagramSocket } from '../../plugin/net/transport/datagram-socket';
import { connectPair, createTestPeer, disposeAll, isConnected, type TestPeer } from '../helpers/managers';
import { waitFor } from '../helpers/wait';
import { indexOf, numbered, pumpVirtual, registerVirtual, seededIdentity, virtualFrame, virtualPeer } from '../../fuzz/virtual-managers';

const LOSSY: MemoryLinkProfile = { lossRate: 0.25, duplicateRate: 0.1, reorderRate: 0.1, latencyMs: 10, jitterMs: 8 };
const CLEAN: MemoryLinkProfile = { latencyMs: 10 };
/** Seeds run by npm test; the fuzz runner runs many more (FUZZ_SOAK_SEEDS=n runs seeds 1..n). */
const SOAK_SEEDS = Array.from({ length: Number(process.env.FUZZ_SOAK_SEEDS ?? 5) }, (_, i) => i + 1);

/** An identity whose peer id is above 2^53 and not exactly representable as a double. */
function wideIdentity(): Identity {
  for (let i = 0; i < 1000; i++) {
    const identity = Identity.generate();
    if (identity.peerId > 2n ** 53n && BigInt(Number(identity.peerId)) !== identity.peerId) return identity;
  }
  throw new Error('no identity with a peer id above 2^53 in 1000 draws');
}

/**
 * Two managers (one on a UDP-like, one on a WebSocket-like socket) opened to each other and
 * connected. Identities come from the switch's seed unless given, so a run repeats exactly.
 */
function connectedPair(sw: MemorySwitch, seed: number, channels: { id: number; reliable: boolean }[], options: { a?: Identity; b?: Identity } = {}): { a: TestPeer; b: TestPeer } {
  const a = virtualPeer(sw, { identity: options.a ?? seededIdentity(`a ${seed}`) });
  const b = virtualPeer(sw, { identity: options.b ?? seededIdentity(`b ${seed}`), relayScheme: 'ws' });
  registerVirtual(sw, [a, b]);
  connectPair(a, b, channels);
  // Generous: at 25% loss each way a handshake can take several backed-off retries (2 s apart at most).
  pumpVirtual(sw, [a, b], 'both ends connected', () => isConnected(a, b.id) && isConnected(b, a.id), { maxFrames: 12_000 });
  return { a, b };
}

function sessionOf(route: string): bigint {
  const decoded = decodeRoute(route);
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.route.sessionId;
}

/** Messages received per channel, kept up to date by a subscription (cheap to poll every frame). */
function countPerChannel(peer: TestPeer): number[] {
  const counts = new Array<number>(128).fill(0);
  peer.net.message$.subscribe((m) => counts[m.channelId]++);
  return counts;
}

function indicesOn(peer: TestPeer, channelId: number): number[] {
  return peer.messages.filter((m) => m.channelId === channelId).map((m) => indexOf(m.data));
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Strictly increasing: never a duplicate, never older than one delivered before. */
function expectSequenced(values: number[], what: string): void {
  for (let i = 1; i < values.length; i++) expect(values[i], `${what}: #${i} after ${values[i - 1]}`).to.be.greaterThan(values[i - 1]);
}

/**
 * 10,000 reliable messages on each of 3 channels from a to b (and a reliable stream back, and an
 * unreliable channel alongside) through the given link. Returns the pair for further checks.
 */
function runReliableSoak(seed: number, perChannel = 10_000, link: MemoryLinkProfile = LOSSY): { sw: MemorySwitch; a: TestPeer; b: TestPeer; unreliableSent: number } {
  const sw = new MemorySwitch({ seed, link });
  const reliable = [0, 1, 2];
  const { a, b } = connectedPair(sw, seed, [...reliable.map((id) => ({ id, reliable: true })), { id: 3, reliable: false }]);
  const backwards = Math.floor(perChannel / 10);
  const onB = countPerChannel(b);
  const onA = countPerChannel(a);
  let sent = 0;
  let unreliableSent = 0;
  pumpVirtual(
    sw,
    [a, b],
    `${perChannel} reliable messages on each of 3 channels (seed ${seed})`,
    () => reliable.every((c) => onB[c] >= perChannel) && onA[0] >= backwards,
    {
      maxFrames: 50_000,
      each: () => {
        // A game's frame: a burst of sends on every channel, then the frame runs.
        for (let k = 0; k < 100 && sent < perChannel; k++, sent++) {
          for (const c of reliable) {
            const result = a.net.sendMessage(b.id, c, numbered(sent, sent % 997 === 0 ? 3000 : 0));
            if (result !== Result.Ok) throw new Error(`sendMessage on channel ${c} gave Result ${result}`);
          }
          if (sent < backwards && b.net.sendMessage(a.id, 0, numbered(sent)) !== Result.Ok) throw new Error('sendMessage back failed');
        }
        if (unreliableSent < perChannel) a.net.sendMessage(b.id, 3, numbered(unreliableSent++));
      },
    },
  );
  return { sw, a, b, unreliableSent };
}

describe('NetworkManager in virtual time over the MemorySwitch', function () {
  this.timeout(30_000);
  const peers: TestPeer[] = [];
  afterEach(async () => {
    await disposeAll(peers.splice(0));
  });
  const track = <T extends { a: TestPeer; b: TestPeer }>(pair: T): T => {
    peers.push(pair.a, pair.b);
    return pair;
  };

  for (const seed of SOAK_SEEDS) {
    it(`seed ${seed}: 10,000 reliable messages on each of 3 channels through 25% loss, 10% duplication, 10% reordering and jitter arrive exactly once, in order; unreliable stays sequenced`, () => {
      const { sw, a, b, unreliableSent } = track(runReliableSoak(seed));
      for (const c of [0, 1, 2]) expect(indicesOn(b, c), `channel ${c}`).to.deep.equal(range(10_000));
      expect(indicesOn(a, 0), 'the stream back').to.deep.equal(range(1000));
      for (const m of b.messages.filter((x) => x.channelId === 0 && indexOf(x.data) % 997 === 0)) expect(m.data.length).to.equal(3004);
      const unreliable = indicesOn(b, 3);
      expectSequenced(unreliable, 'unreliable');
      expect(unreliable.length).to.be.at.most(unreliableSent);
      expect(unreliable.length, 'some unreliable messages get through the loss').to.be.greaterThan(0);
      const link = sw.stats();
      expect(link.lost).to.be.greaterThan(0);
      expect(link.duplicated).to.be.greaterThan(0);
      expect(link.reordered).to.be.greaterThan(0);
    });
  }

  it('the manager keeps the socket\'s datagram instead of copying it: a byte changed before runCallbacks() fails authentication, and the resend gets through', () => {
    const sw = new MemorySwitch({ seed: 41 });
    const received: Uint8Array[] = [];
    const recording = (url: string): DatagramSocket => {
      const inner = sw.socketFactory(url);
      const outer: DatagramSocket = { onOpen: null, onMessage: null, onClose: null, send: (d) => inner.send(d), close: () => inner.close() };
      inner.onOpen = () => outer.onOpen?.();
      inner.onMessage = (d) => {
        received.push(d);
        outer.onMessage?.(d);
      };
      inner.onClose = (reason) => outer.onClose?.(reason);
      return outer;
    };
    const a = virtualPeer(sw, { identity: seededIdentity('own a') });
    const b = createTestPeer({ relay: sw.udpUrl, socketFactory: recording, clock: sw.clock, identity: seededIdentity('own b') });
    peers.push(a, b);
    registerVirtual(sw, [a, b]);
    connectPair(a, b, [{ id: 1, reliable: true }]);
    pumpVirtual(sw, [a, b], 'both ends connected', () => isConnected(a, b.id) && isConnected(b, a.id));
    for (let i = 0; i < 20; i++) virtualFrame(sw, [a, b]);
    expect(a.net.sendMessage(b.id, 1, Uint8Array.of(1, 2, 3))).to.equal(Result.Ok);
    a.net.flush();
    received.length = 0;
    sw.advance(20);
    const data = received.filter((d) => d[0] === 0x83 && d[9] === 0x03);
    expect(data.length).to.be.greaterThan(0);
    for (const d of data) d[d.length - 1] ^= 0xff;
    b.net.runCallbacks();
    expect(b.messages).to.have.length(0);
    expect(b.net.getDropCounts(a.id)['data-auth'] ?? 0).to.be.greaterThan(0);
    pumpVirtual(sw, [a, b], 'the resent message', () => b.messages.length === 1, { maxFrames: 2000 });
    expect(b.messages[0].data).to.deep.equal(Uint8Array.of(1, 2, 3));
  });

  it('unreliable channels on a clean link: every message arrives, once, in order (small and fragmented)', () => {
    const sw = new MemorySwitch({ seed: 9, link: CLEAN });
    const { a, b } = track(connectedPair(sw, 9, [{ id: 4, reliable: false }, { id: 5, reliable: false }]));
    const onB = countPerChannel(b);
    // A game's rate at 60 frames a second: 8 small updates a frame and a 4 KB one every 6th frame (~90 KB/s).
    const frames = 600;
    let frameIndex = 0;
    pumpVirtual(sw, [a, b], 'every unreliable message', () => onB[4] === frames * 8 && onB[5] === frames / 6, {
      stepMs: 16,
      maxFrames: frames + 100,
      each: () => {
        if (frameIndex >= frames) return;
        for (let k = 0; k < 8; k++) expect(a.net.sendMessage(b.id, 4, numbered(frameIndex * 8 + k, 100))).to.equal(Result.Ok);
        if (frameIndex % 6 === 0) expect(a.net.sendMessage(b.id, 5, numbered(frameIndex / 6, 4000))).to.equal(Result.Ok);
        frameIndex++;
      },
    });
    expect(indicesOn(b, 4)).to.deep.equal(range(frames * 8));
    expect(indicesOn(b, 5)).to.deep.equal(range(frames / 6));
    expect(a.net.getPeerStats(b.id)!.droppedUnreliable).to.equal(0);
    expect(b.net.getPeerStats(a.id)!.droppedUnreliable).to.equal(0);
  });

  it('1 MiB reliable (through 10% loss) and 60 KiB unreliable (clean) round-trip byte-exact; one byte more is InvalidPayload', () => {
    const sw = new MemorySwitch({ seed: 21, link: { latencyMs: 15, jitterMs: 5, lossRate: 0.1 } });
    const { a, b } = track(connectedPair(sw, 21, [{ id: 0, reliable: true }, { id: 1, reliable: false }]));
    const big = new Uint8Array(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919 + (i >>> 13)) & 0xff;
    expect(a.net.sendMessage(b.id, 0, new Uint8Array(1024 * 1024 + 1))).to.equal(Result.InvalidPayload);
    expect(a.net.sendMessage(b.id, 1, new Uint8Array(64 * 1024 + 1))).to.equal(Result.InvalidPayload);
    expect(a.net.getPeerStats(b.id)!.pendingReliableBytes).to.equal(0);
    expect(a.net.sendMessage(b.id, 0, big)).to.equal(Result.Ok);
    big[0] ^= 0xff; // sendMessage copied it: changing the buffer now changes nothing
    pumpVirtual(sw, [a, b], 'the 1 MiB message', () => b.messages.length === 1, { maxFrames: 20_000 });
    big[0] ^= 0xff;
    expect(b.messages[0].channelId).to.equal(0);
    expect(Buffer.from(b.messages[0].data).equals(Buffer.from(big))).to.equal(true);

    sw.setLink(CLEAN);
    const medium = big.subarray(0, 60 * 1024).slice().reverse();
    expect(b.net.sendMessage(a.id, 1, medium)).to.equal(Result.Ok);
    pumpVirtual(sw, [a, b], 'the 60 KiB unreliable message', () => a.messages.length === 1, { maxFrames: 2000 });
    expect(a.messages[0].channelId).to.equal(1);
    expect(Buffer.from(a.messages[0].data).equals(Buffer.from(medium))).to.equal(true);
  });

  it('a reliable message sent before the receiver opened the peer and the channel arrives once both are open', () => {
    const sw = new MemorySwitch({ seed: 31, link: { latencyMs: 5, lossRate: 0.1 } });
    const a = virtualPeer(sw, { identity: seededIdentity('a 31') });
    const b = virtualPeer(sw, { identity: seededIdentity('b 31') });
    peers.push(a, b);
    registerVirtual(sw, [a, b]);
    expect(a.net.openPeer(b.id, b.net.getRoute()!)).to.equal(Result.Ok);
    expect(a.net.openChannel(b.id, 7, true)).to.equal(Result.Ok);
    for (let i = 0; i < 5; i++) expect(a.net.sendMessage(b.id, 7, numbered(i))).to.equal(Result.Ok);
    // b has opened nothing: a keeps trying, b answers nothing and keeps no state.
    pumpVirtual(sw, [a, b], 'b to drop a\'s handshakes as a stranger\'s', () => (b.net.getDropCounts().unknownSession ?? 0) >= 3, { maxFrames: 2000 });
    expect(a.net.getPeerStats(b.id)!.state).to.equal('connecting');
    expect(b.messages).to.have.length(0);
    expect(b.states).to.have.length(0);
    expect(b.net.getPeerStats(a.id)).to.equal(undefined);

    expect(b.net.openPeer(a.id, a.net.getRoute()!)).to.equal(Result.Ok);
    pumpVirtual(sw, [a, b], 'a\'s messages to be acknowledged (held by b)', () => isConnected(b, a.id) && a.net.getPeerStats(b.id)!.pendingReliableBytes === 0, { maxFrames: 2000 });
    expect(b.messages).to.have.length(0);
    for (let i = 0; i < 50; i++) virtualFrame(sw, [a, b]);
    expect(b.messages).to.have.length(0);

    expect(b.net.openChannel(a.id, 7, true)).to.equal(Result.Ok);
    // Within a keepalive interval (1 s) at most; see the next test for "at the next runCallbacks".
    pumpVirtual(sw, [a, b], 'the held messages', () => b.messages.length === 5, { maxFrames: 300 });
    expect(b.messages.map((m) => [m.channelId, indexOf(m.data)])).to.deep.equal(range(5).map((i) => [7, i]));
  });

  it('peers are found by their whole 64-bit relay session id: a route naming the same low 32 bits with other high bits gets nothing', () => {
    const sw = new MemorySwitch({ seed: 33, link: { latencyMs: 5 } });
    const a = virtualPeer(sw, { identity: seededIdentity('a 33') });
    const b = virtualPeer(sw, { identity: seededIdentity('b 33') });
    peers.push(a, b);
    registerVirtual(sw, [a, b]);
    const real = decodeRoute(b.net.getRoute()!);
    if (!real.ok) throw new Error(real.error);
    const forged = encodeRoute({ ...real.route, sessionId: real.route.sessionId ^ (0x5a5a5a5an << 32n) });
    expect(a.net.openPeer(b.id, forged)).to.equal(Result.Ok);
    expect(b.net.openPeer(a.id, a.net.getRoute()!)).to.equal(Result.Ok);
    for (let i = 0; i < 400; i++) virtualFrame(sw, [a, b]);
    expect(isConnected(a, b.id), 'a took datagrams from the session with the other high bits').to.equal(false);
    expect(a.net.getDropCounts().unknownSession ?? 0).to.be.greaterThan(0);
    expect(a.net.updatePeer(b.id, b.net.getRoute()!)).to.equal(Result.Ok);
    pumpVirtual(sw, [a, b], 'both ends connected once the route is right', () => isConnected(a, b.id) && isConnected(b, a.id), { maxFrames: 4000 });
  });

  // Found here: held messages used to wait for the peer's next packet (a keepalive, up to 1 s later).
  it('held reliable messages are delivered at the first runCallbacks() after openChannel, without waiting for more traffic', () => {
    const sw = new MemorySwitch({ seed: 32, link: { latencyMs: 5 } });
    const a = virtualPeer(sw, { identity: seededIdentity('a 32') });
    const b = virtualPeer(sw, { identity: seededIdentity('b 32') });
    peers.push(a, b);
    registerVirtual(sw, [a, b]);
    a.net.openPeer(b.id, b.net.getRoute()!);
    a.net.openChannel(b.id, 7, true);
    for (let i = 0; i < 3; i++) a.net.sendMessage(b.id, 7, numbered(i));
    b.net.openPeer(a.id, a.net.getRoute()!);
    pumpVirtual(sw, [a, b], 'the messages to be held by b and acknowledged', () => isConnected(b, a.id) && a.net.getPeerStats(b.id)!.pendingReliableBytes === 0, { maxFrames: 2000 });
    // No datagram is delivered between here and runCallbacks(): only openChannel can release them.
    b.net.openChannel(a.id, 7, true);
    expect(b.messages).to.have.length(0);
    b.net.runCallbacks();
    expect(b.messages.map((m) => indexOf(m.data))).to.deep.equal([0, 1, 2]);
  });

  it('a handler that closes a peer gets none of that peer\'s later messages from the same runCallbacks(), and other peers\' messages still arrive', () => {
    const sw = new MemorySwitch({ seed: 33 });
    const a = virtualPeer(sw, { identity: seededIdentity('a 33') });
    const b = virtualPeer(sw, { identity: seededIdentity('b 33') });
    const c = virtualPeer(sw, { identity: seededIdentity('c 33') });
    peers.push(a, b, c);
    registerVirtual(sw, [a, b, c]);
    connectPair(a, b, [{ id: 1, reliable: true }]);
    connectPair(c, b, [{ id: 1, reliable: true }]);
    pumpVirtual(sw, [a, b, c], 'both pairs connected', () => isConnected(b, a.id) && isConnected(b, c.id), { maxFrames: 2000 });
    const seen: string[] = [];
    b.net.message$.subscribe((m) => {
      seen.push(`${m.peerId === a.id ? 'a' : 'c'}${indexOf(m.data)}`);
      if (m.peerId === a.id && indexOf(m.data) === 1) expect(b.net.closePeer(a.id)).to.equal(Result.Ok);
    });
    for (let i = 0; i < 5; i++) a.net.sendMessage(b.id, 1, numbered(i));
    for (let i = 0; i < 3; i++) c.net.sendMessage(b.id, 1, numbered(i));
    a.net.flush();
    c.net.flush();
    sw.advance(1);
    b.net.runCallbacks();
    expect(seen).to.deep.equal(['a0', 'a1', 'c0', 'c1', 'c2']);
    // Without a removal the same path delivers everything (the lookup is skipped, not the message).
    for (let i = 3; i < 6; i++) c.net.sendMessage(b.id, 1, numbered(i));
    c.net.flush();
    sw.advance(1);
    b.net.runCallbacks();
    expect(seen.slice(5)).to.deep.equal(['c3', 'c4', 'c5']);
  });

  // Found by the route fuzzing: a route may name any relay session (routes are public); the
  // manager's session → peer table used to keep one peer per session, so the newest claim took it
  // and cut the owner off, for good once the claimant was closed.
  it('a route naming another open peer\'s relay session (a hostile lobby member) cuts nobody off, also after it is closed', () => {
    const sw = new MemorySwitch({ seed: 33, link: { latencyMs: 5 } });
    const { a, b } = track(connectedPair(sw, 33, [{ id: 0, reliable: true }]));
    const hostile = seededIdentity('hostile 33');
    const victim = decodeRoute(b.net.getRoute());
    if (!victim.ok) throw new Error(victim.error);
    const forged = encodeRoute({ ...victim.route, publicKey: hostile.publicKey });
    expect(a.net.openPeer(hostile.peerId, forged)).to.equal(Result.Ok);
    for (let i = 0; i < 20; i++) b.net.sendMessage(a.id, 0, numbered(i));
    pumpVirtual(sw, [a, b], 'b\'s messages while the forged route is open', () => a.messages.length === 20, { maxFrames: 2000 });
    expect(a.net.closePeer(hostile.peerId)).to.equal(Result.Ok);
    for (let i = 20; i < 40; i++) b.net.sendMessage(a.id, 0, numbered(i));
    pumpVirtual(sw, [a, b], 'b\'s messages after the forged route is closed', () => a.messages.length === 40, { maxFrames: 2000 });
    expect(a.messages.map((m) => indexOf(m.data))).to.deep.equal(range(40));
    expect(a.net.getDropCounts().unknownSession ?? 0).to.equal(0);
  });

  it('updatePeer to a new route in the middle of a stream loses nothing, both ways', async () => {
    const sw = new MemorySwitch({ seed: 41, link: { latencyMs: 8, jitterMs: 4, lossRate: 0.05 } });
    const { a, b } = track(connectedPair(sw, 41, [{ id: 0, reliable: true }, { id: 1, reliable: true }]));
    const total = 3000;
    let sent = 0;
    const sendSome = () => {
      for (let k = 0; k < 20 && sent < total; k++, sent++) {
        expect(a.net.sendMessage(b.id, 0, numbered(sent))).to.equal(Result.Ok);
        expect(b.net.sendMessage(a.id, 1, numbered(sent))).to.equal(Result.Ok);
      }
    };
    pumpVirtual(sw, [a, b], 'the first third of the stream', () => indicesOn(b, 0).length >= total / 3, { maxFrames: 5000, each: sendSome });
    const oldRoute = b.net.getRoute()!;
    const oldSession = sessionOf(oldRoute);
    expect(sw.sessionIds()).to.include(oldSession);
    // b's link to the switch drops; its RelayClient registers a new session (after its real-time backoff).
    expect(sw.disconnect(oldSession)).to.equal(true);
    await waitFor('b to register again with a new route', () => b.net.getRoute() !== oldRoute, {
      step: () => {
        sendSome();
        virtualFrame(sw, [a, b]);
      },
    });
    const newRoute = b.net.getRoute()!;
    expect(b.routes).to.deep.equal([oldRoute, newRoute]);
    // Until a has the new route, everything it sends to the old session is lost at the switch.
    for (let i = 0; i < 20; i++) {
      sendSome();
      virtualFrame(sw, [a, b]);
    }
    expect(sw.stats().drops.unknownDestination).to.be.greaterThan(0);
    expect(a.net.updatePeer(b.id, newRoute)).to.equal(Result.Ok);
    pumpVirtual(sw, [a, b], 'the whole stream both ways', () => indicesOn(b, 0).length === total && indicesOn(a, 1).length === total, { maxFrames: 20_000, each: sendSome });
    expect(indicesOn(b, 0)).to.deep.equal(range(total));
    expect(indicesOn(a, 1)).to.deep.equal(range(total));
    expect(isConnected(a, b.id) && isConnected(b, a.id)).to.equal(true);
  });

  it('peer ids above 2^53 round-trip exactly through routes, messages, states and stats', () => {
    const sw = new MemorySwitch({ seed: 51, link: CLEAN });
    const idA = wideIdentity();
    const idB = wideIdentity();
    const { a, b } = track(connectedPair(sw, 51, [{ id: 0, reliable: true }], { a: idA, b: idB }));
    for (const [peer, identity] of [[a, idA], [b, idB]] as const) {
      expect(peer.id > 2n ** 53n, `peer id ${peer.id} is above 2^53`).to.equal(true);
      expect(peer.net.getPeerId()).to.equal(identity.peerId);
      const route = decodeRoute(peer.net.getRoute());
      if (!route.ok) throw new Error(route.error);
      expect(peerIdFromPublicKey(route.route.publicKey)).to.equal(identity.peerId);
    }
    a.net.sendMessage(b.id, 0, numbered(1));
    b.net.sendMessage(a.id, 0, numbered(2));
    pumpVirtual(sw, [a, b], 'one message each way', () => a.messages.length === 1 && b.messages.length === 1);
    expect(b.messages[0].peerId).to.equal(idA.peerId);
    expect(a.messages[0].peerId).to.equal(idB.peerId);
    expect(a.states.map((s) => s.peerId)).to.include(idB.peerId);
    // The double nearest the id names another peer: nothing is found under it.
    const rounded = BigInt(Number(idB.peerId));
    expect(rounded).to.not.equal(idB.peerId);
    expect(a.net.getPeerStats(rounded)).to.equal(undefined);
    expect(a.net.sendMessage(rounded, 0, numbered(3))).to.equal(Result.NotFound);
    expect(a.net.getPeerStats(idB.peerId)!.state).to.equal('connected');
    expect(a.net.openPeer(rounded, b.net.getRoute()!)).to.equal(Result.InvalidPayload);
  });

  it('PeerStats counters move as traffic does: sent, received, resent, RTT, bytes, pending, dropped', () => {
    const sw = new MemorySwitch({ seed: 61, link: { latencyMs: 20 } });
    const { a, b } = track(connectedPair(sw, 61, [{ id: 0, reliable: true }, { id: 1, reliable: false }]));
    const before = a.net.getPeerStats(b.id)!;
    expect(before.rttMs).to.be.greaterThan(0);
    for (let i = 0; i < 200; i++) a.net.sendMessage(b.id, 0, numbered(i, 100));
    expect(a.net.getPeerStats(b.id)!.pendingReliableBytes).to.equal(200 * 104);
    sw.setLink({ latencyMs: 20, lossRate: 0.3 });
    pumpVirtual(sw, [a, b], '200 messages through 30% loss', () => b.messages.length === 200, { maxFrames: 5000 });
    sw.setLink({ latencyMs: 20 });
    pumpVirtual(sw, [a, b], 'every message acknowledged', () => a.net.getPeerStats(b.id)!.pendingReliableBytes === 0, { maxFrames: 2000 });
    const after = a.net.getPeerStats(b.id)!;
    expect(after.sentPackets).to.be.greaterThan(before.sentPackets);
    expect(after.receivedPackets).to.be.greaterThan(before.receivedPackets);
    expect(after.resentPackets).to.be.greaterThan(before.resentPackets);
    expect(after.sentBytes).to.be.greaterThan(before.sentBytes + 200 * 104);
    expect(after.receivedBytes).to.be.greaterThan(before.receivedBytes);
    expect(after.rttMs, 'RTT near the 40 ms round trip').to.be.within(35, 120);
    expect(after.lossRate).to.be.greaterThan(0);
    const bStats = b.net.getPeerStats(a.id)!;
    expect(bStats.receivedPackets).to.be.greaterThan(0);
    expect(bStats.receivedBytes).to.be.greaterThan(200 * 104);
    // Unreliable traffic for a channel b has not opened is dropped and counted.
    expect(b.net.closeChannel(a.id, 1)).to.equal(Result.Ok);
    a.net.sendMessage(b.id, 1, numbered(0));
    pumpVirtual(sw, [a, b], 'b to count the unreliable drop', () => b.net.getPeerStats(a.id)!.droppedUnreliable === 1, { maxFrames: 200 });
  });
});
