import { expect } from 'chai';
import { createDatagramSocket } from '../../plugin/net/transport';
import type { DatagramSocket } from '../../plugin/net/transport';
import { Result } from '../../plugin/net/result';
import { decodeRoute } from '../../plugin/net/route';
import { connectPair, isConnected, pumpUntil, useRelay } from '../helpers/managers';

function decodeSession(route: string): string {
  const decoded = decodeRoute(route);
  if (!decoded.ok) throw new Error('test route does not decode');
  return decoded.route.sessionId.toString(16);
}

/** The real socket, with every datagram in and out recorded: what the relay got and gave. */
function capturingFactory(capture: Uint8Array[], tamper?: (incoming: Uint8Array, deliver: (d: Uint8Array) => void) => void) {
  return (url: string): DatagramSocket => {
    const inner = createDatagramSocket(url);
    const outer: DatagramSocket = {
      send: (datagram) => {
        capture.push(datagram.slice());
        inner.send(datagram);
      },
      onOpen: null,
      onMessage: null,
      onClose: null,
      close: () => inner.close(),
    };
    inner.onOpen = () => outer.onOpen?.();
    inner.onClose = (reason) => outer.onClose?.(reason);
    inner.onMessage = (datagram) => {
      capture.push(datagram.slice());
      const deliver = (d: Uint8Array) => outer.onMessage?.(d);
      if (tamper) tamper(datagram.slice(), deliver);
      else deliver(datagram);
    };
    return outer;
  };
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const RELAY_DATA_TO_CLIENT = 0x83;
const PEER_DATA = 0x03;

describe('NetworkManager security end to end', function () {
  this.timeout(30_000);
  const fixture = useRelay();

  it('everything the relay forwards holds none of the plaintext', async () => {
    const captured: Uint8Array[] = [];
    const a = fixture.peer({ relay: fixture.relay.udpUrl, socketFactory: capturingFactory(captured) });
    const b = fixture.peer({ relay: fixture.relay.wsUrl, socketFactory: capturingFactory(captured) });
    await pumpUntil([a, b], 'routes', () => a.net.getRoute() !== null && b.net.getRoute() !== null);
    connectPair(a, b, [{ id: 0, reliable: true }, { id: 1, reliable: false }]);
    const secrets = Array.from({ length: 40 }, (_, i) => new TextEncoder().encode(`secret loot #${i} ${'x'.repeat(i * 7)} sword of plaintext`));
    secrets.forEach((s, i) => a.net.sendMessage(b.id, i % 2, s));
    secrets.forEach((s) => b.net.sendMessage(a.id, 0, s));
    await pumpUntil([a, b], 'every reliable message', () => a.messages.length === 40 && b.messages.filter((m) => m.channelId === 0).length === 20);
    expect(captured.length).to.be.greaterThan(10);
    const needle = new TextEncoder().encode('sword of plaintext');
    const loot = new TextEncoder().encode('secret loot');
    for (const datagram of captured) {
      expect(contains(datagram, needle), 'plaintext on the wire').to.equal(false);
      expect(contains(datagram, loot), 'plaintext on the wire').to.equal(false);
    }
  });

  it('tampered and replayed packets are dropped and counted; every message is delivered exactly once', async () => {
    let flip = 0;
    const held: Uint8Array[] = [];
    // Every DATA packet b receives also comes as a copy with one byte flipped, and again later verbatim.
    const tamper = (incoming: Uint8Array, deliver: (d: Uint8Array) => void) => {
      deliver(incoming);
      if (incoming[0] !== RELAY_DATA_TO_CLIENT || incoming[9] !== PEER_DATA) return;
      const flipped = incoming.slice();
      const at = 9 + 1 + (flip++ % (flipped.length - 10));
      flipped[at] ^= 0x40;
      deliver(flipped);
      deliver(incoming);
      held.push(incoming);
      if (held.length > 3) deliver(held.shift()!);
    };
    const a = fixture.peer({ relay: fixture.relay.udpUrl });
    const b = fixture.peer({ relay: fixture.relay.udpUrl, socketFactory: capturingFactory([], tamper) });
    await pumpUntil([a, b], 'routes', () => a.net.getRoute() !== null && b.net.getRoute() !== null);
    connectPair(a, b, [{ id: 0, reliable: true }, { id: 1, reliable: false }]);
    await pumpUntil([a, b], 'connection', () => isConnected(a, b.id) && isConnected(b, a.id));
    for (let i = 0; i < 200; i++) a.net.sendMessage(b.id, i % 2, new TextEncoder().encode(`m${i}`));
    await pumpUntil([a, b], 'the 100 reliable messages', () => b.messages.filter((m) => m.channelId === 0).length === 100);
    const reliable = b.messages.filter((m) => m.channelId === 0).map((m) => new TextDecoder().decode(m.data));
    expect(reliable).to.deep.equal(Array.from({ length: 100 }, (_, i) => `m${i * 2}`));
    const unreliable = b.messages.filter((m) => m.channelId === 1).map((m) => Number(new TextDecoder().decode(m.data).slice(1)));
    expect(new Set(unreliable).size).to.equal(unreliable.length);
    const drops = b.net.getDropCounts(a.id);
    const tampered = Object.entries(drops).filter(([k]) => /auth/.test(k)).reduce((n, [, v]) => n + v, 0);
    const replayed = Object.entries(drops).filter(([k]) => /replay/.test(k)).reduce((n, [, v]) => n + v, 0);
    expect(tampered, JSON.stringify(drops)).to.be.greaterThan(0);
    expect(replayed, JSON.stringify(drops)).to.be.greaterThan(0);
  });

  it('a forged route for a known peer id is refused', async () => {
    const a = fixture.peer({ relay: fixture.relay.udpUrl });
    const victim = fixture.peer({ relay: fixture.relay.udpUrl });
    const attacker = fixture.peer({ relay: fixture.relay.udpUrl });
    await pumpUntil([a, victim, attacker], 'routes', () => [a, victim, attacker].every((p) => p.net.getRoute() !== null));
    // The attacker publishes its own route under the victim's peer id.
    expect(a.net.openPeer(victim.id, attacker.net.getRoute()!)).to.equal(5 /* InvalidPayload */);
    expect(a.net.openPeer(victim.id, victim.net.getRoute()!)).to.equal(0);
    // Open now: a route with another key is a Conflict (issue 16.5), and the peer keeps its route.
    expect(a.net.updatePeer(victim.id, attacker.net.getRoute()!)).to.equal(Result.Conflict);
    expect(a.net.describePeer(victim.id)).to.contain(`relaySession=${decodeSession(victim.net.getRoute()!)}`);
    expect(a.net.updatePeer(victim.id, victim.net.getRoute()!)).to.equal(Result.Ok);
  });
});
