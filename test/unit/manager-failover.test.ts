/**
 * Relay lists in virtual time: two MemorySwitches stand for two relays of one fleet, two managers
 * list both. Relay one goes silent (a SIGKILLed UDP relay: no close, no answers); both managers
 * move to relay two, the routes are re-exchanged with updatePeer (bindRouteSync's job, done by
 * hand), and numbered reliable streams in both directions arrive exactly once, in order.
 * Everything runs on relay two's virtual clock and timers; relay one is advanced in lockstep.
 */
import { expect } from 'chai';
import { bindRouteSync } from '../../plugin/lobby/route-sync';
import { MemoryLobbyHub } from '../../plugin/lobby/memory-lobby';
import { Result } from '../../plugin/net/result';
import type { DatagramSocket } from '../../plugin/net/transport/datagram-socket';
import { MemorySwitch } from '../../plugin/net/transport/memory-switch';
import type { RelayStatus } from '../../plugin/net/types';
import { RefusalReason, decodeRelayDatagram, encodeRefused, sessionIdFromBytes } from '../../plugin/net/wire/relay-codec';
import { connectPair, createTestPeer, disposeAll, frame, isConnected, quietLogger, type TestPeer } from '../helpers/managers';
import { indexOf, numbered, seededIdentity } from '../../fuzz/virtual-managers';

const R1 = 'udp://relay-one.invalid:7777';
const R2 = 'udp://relay-two.invalid:7777';

/** Two switches behind two URLs; `silence(1)` makes relay one drop everything, both ways. */
class TwoRelays {
  readonly one = new MemorySwitch({ seed: 61, keepaliveMs: 500, link: { latencyMs: 5 } });
  readonly two = new MemorySwitch({ seed: 62, keepaliveMs: 500, link: { latencyMs: 5 } });
  private silent = false;

  /** A manager listing [R1, R2] on these relays, in their virtual time; kept in `into` for disposal. */
  peer(label: string, into: TestPeer[]): TestPeer {
    const p = createTestPeer({ relay: [R1, R2], socketFactory: this.socketFactory, clock: this.two.clock, timers: this.two.timers, identity: seededIdentity(label) });
    into.push(p);
    return p;
  }

  readonly socketFactory = (url: string): DatagramSocket => {
    if (url === R2) return this.two.createSocket(this.two.udpUrl);
    if (url !== R1) throw new Error(`no relay at ${url}`);
    const inner = this.one.createSocket(this.one.udpUrl);
    const outer: DatagramSocket = {
      onOpen: null,
      onMessage: null,
      onClose: null,
      send: (d) => {
        if (!this.silent) inner.send(d);
      },
      close: () => inner.close(),
    };
    inner.onOpen = () => outer.onOpen?.();
    inner.onMessage = (d) => {
      if (!this.silent) outer.onMessage?.(d);
    };
    inner.onClose = (reason) => outer.onClose?.(reason);
    return outer;
  };

  silenceOne(): void {
    this.silent = true;
  }

  frame(peers: TestPeer[], stepMs = 5): void {
    this.one.advance(stepMs);
    this.two.advance(stepMs);
    frame(peers);
  }

  pump(peers: TestPeer[], what: string, condition: () => boolean, maxFrames: number, each?: () => void): void {
    for (let i = 0; i < maxFrames; i++) {
      if (condition()) return;
      each?.();
      this.frame(peers);
    }
    if (!condition()) throw new Error(`still waiting for ${what} after ${maxFrames} virtual frames (virtual time ${this.two.now} ms)`);
  }
}

describe('NetworkManager with a relay list, in virtual time', function () {
  this.timeout(30_000);
  const peers: TestPeer[] = [];
  afterEach(async () => {
    await disposeAll(peers.splice(0));
  });

  it('relay one goes silent mid-stream: both managers move to relay two, re-exchange routes, and 2,000 reliable messages each way arrive once, in order, with no peer ever disconnected', () => {
    const relays = new TwoRelays();
    const make = (label: string): TestPeer => relays.peer(label, peers);
    const a = make('failover a');
    const b = make('failover b');
    const statuses: Record<string, RelayStatus[]> = { a: [], b: [] };
    a.net.relayState$.subscribe((s) => statuses.a.push(s));
    b.net.relayState$.subscribe((s) => statuses.b.push(s));

    relays.pump([a, b], 'routes from relay one', () => a.routes.length === 1 && b.routes.length === 1, 200);
    expect(a.net.getTransportInfo().relay).to.equal(R1);
    expect(relays.one.stats().sessions).to.equal(2);
    connectPair(a, b, [{ id: 0, reliable: true }]);
    relays.pump([a, b], 'both ends connected', () => isConnected(a, b.id) && isConnected(b, a.id), 2000);

    const total = 2000;
    const sent = { a: 0, b: 0 };
    const sendSome = (): void => {
      for (let k = 0; k < 10 && sent.a < total; k++, sent.a++) expect(a.net.sendMessage(b.id, 0, numbered(sent.a, 40))).to.equal(Result.Ok);
      for (let k = 0; k < 10 && sent.b < total; k++, sent.b++) expect(b.net.sendMessage(a.id, 0, numbered(sent.b, 40))).to.equal(Result.Ok);
    };
    // The lobby's job: whoever gets a new route hands it to the other.
    const seen = { a: 1, b: 1 };
    const exchangeRoutes = (): void => {
      if (a.routes.length > seen.a) {
        seen.a = a.routes.length;
        expect(b.net.updatePeer(a.id, a.routes[seen.a - 1])).to.equal(Result.Ok);
      }
      if (b.routes.length > seen.b) {
        seen.b = b.routes.length;
        expect(a.net.updatePeer(b.id, b.routes[seen.b - 1])).to.equal(Result.Ok);
      }
    };
    const step = (): void => {
      sendSome();
      exchangeRoutes();
    };
    relays.pump([a, b], 'about 600 delivered each way before relay one dies', () => b.messages.length >= 600 && a.messages.length >= 600, 5000, step);
    expect(b.messages.length, 'the stream is still running when relay one dies').to.be.lessThan(total);

    relays.silenceOne();
    relays.pump([a, b], 'every message, both ways, through relay two', () => b.messages.length >= total && a.messages.length >= total, 20_000, step);
    // More frames: a duplicate would show up now if one were coming.
    for (let i = 0; i < 200; i++) relays.frame([a, b]);

    const range = Array.from({ length: total }, (_, i) => i);
    expect(b.messages.map((m) => indexOf(m.data)), 'a → b').to.deep.equal(range);
    expect(a.messages.map((m) => indexOf(m.data)), 'b → a').to.deep.equal(range);
    for (const [name, p] of [['a', a], ['b', b]] as const) {
      expect(p.routes, `${name}'s routes`).to.have.length(2);
      expect(p.net.getRoute()).to.equal(p.routes[1]);
      expect(p.net.getTransportInfo().relay, `${name} uses relay two`).to.equal(R2);
      expect(p.net.getRelayState()).to.deep.equal({ state: 'registered', relay: R2, reason: null });
      const trail = statuses[name].map((s) => `${s.state} ${s.relay === R1 ? 'r1' : 'r2'}`);
      expect(trail, `${name}'s relayState$`).to.deep.equal(['connecting r1', 'registered r1', 'connecting r1', 'unreachable r1', 'connecting r2', 'registered r2']);
      expect(statuses[name][4].reason).to.contain(`relay ${R1} unreachable`);
      expect(p.states.map((s) => s.state), `${name}'s peer states`).to.deep.equal(['connecting', 'connected']);
    }
    // The given-up client closed every socket it had opened to relay one.
    expect(relays.one.stats().sockets, 'sockets left open on relay one').to.equal(0);
    expect(relays.two.stats().sessions).to.equal(2);
  });

  it('with bindRouteSync over a lobby: relay one goes silent, the sync republishes the new routes, the other side updatePeers and 1,000 reliable messages each way arrive once, in order', async () => {
    const relays = new TwoRelays();
    const hub = new MemoryLobbyHub();
    const make = (label: string): TestPeer => relays.peer(label, peers);
    const a = make('sync a');
    const b = make('sync b');
    const syncs = [bindRouteSync(a.net, hub.join('a'), { channels: [{ id: 0, reliable: true }], logger: quietLogger }), bindRouteSync(b.net, hub.join('b'), { channels: [{ id: 0, reliable: true }], logger: quietLogger })];
    // A frame, then the lobby's events (microtasks) get their turn, as in a game's loop.
    const pump = async (what: string, condition: () => boolean, maxFrames: number, each?: () => void): Promise<void> => {
      for (let i = 0; i < maxFrames && !condition(); i++) {
        each?.();
        relays.frame([a, b]);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (!condition()) throw new Error(`still waiting for ${what} after ${maxFrames} virtual frames (virtual time ${relays.two.now} ms)`);
    };
    try {
      await pump('both ends connected through the lobby', () => isConnected(a, b.id) && isConnected(b, a.id), 2000);
      const total = 1000;
      const sent = [0, 0];
      const sendSome = (): void => {
        for (let k = 0; k < 10 && sent[0] < total; k++, sent[0]++) expect(a.net.sendMessage(b.id, 0, numbered(sent[0], 40))).to.equal(Result.Ok);
        for (let k = 0; k < 10 && sent[1] < total; k++, sent[1]++) expect(b.net.sendMessage(a.id, 0, numbered(sent[1], 40))).to.equal(Result.Ok);
      };
      await pump('about 300 each way before relay one dies', () => a.messages.length >= 300 && b.messages.length >= 300, 2000, sendSome);
      relays.silenceOne();
      await pump('every message, both ways, through relay two', () => a.messages.length >= total && b.messages.length >= total, 20_000, sendSome);
      for (let i = 0; i < 200; i++) relays.frame([a, b]);
      const range = Array.from({ length: total }, (_, i) => i);
      expect(b.messages.map((m) => indexOf(m.data)), 'a → b').to.deep.equal(range);
      expect(a.messages.map((m) => indexOf(m.data)), 'b → a').to.deep.equal(range);
      for (const [p, sync] of [[a, syncs[0]], [b, syncs[1]]] as const) {
        expect(p.net.getTransportInfo().relay).to.equal(R2);
        expect(sync.stats().published, 'the route from relay one, then the one from relay two').to.equal(2);
        expect(sync.stats().updated, 'the other side\'s new route applied with updatePeer').to.equal(1);
      }
    } finally {
      for (const sync of syncs) sync.unsubscribe();
    }
  });

  it('a whole list down: peers go disconnected naming every relay, retries slow down turn by turn, and the first relay to answer takes them back', () => {
    const relays = new TwoRelays();
    relays.silenceOne();
    let twoDown = true;
    const factory = (url: string): DatagramSocket => {
      const socket = relays.socketFactory(url);
      if (url !== R2) return socket;
      // Relay two refuses connections (a WebSocket relay that is down): the link closes at once.
      const outer: DatagramSocket = { onOpen: null, onMessage: null, onClose: null, send: (d) => socket.send(d), close: () => socket.close() };
      socket.onOpen = () => {
        if (twoDown) {
          void socket.close();
          outer.onClose?.('connect ECONNREFUSED');
        } else {
          outer.onOpen?.();
        }
      };
      socket.onMessage = (d) => outer.onMessage?.(d);
      socket.onClose = (reason) => outer.onClose?.(reason);
      return outer;
    };
    const source = createTestPeer({ relay: R2, socketFactory: relays.two.socketFactory.bind(relays.two), clock: relays.two.clock, timers: relays.two.timers, logger: quietLogger });
    const a = createTestPeer({ relay: [R1, R2], socketFactory: factory, clock: relays.two.clock, timers: relays.two.timers, identity: seededIdentity('down a') });
    peers.push(source, a);
    const statuses: RelayStatus[] = [];
    a.net.relayState$.subscribe((s) => statuses.push(s));
    relays.pump([source, a], 'a route from the source', () => source.net.getRoute() !== null, 200);
    expect(a.net.openPeer(source.id, source.net.getRoute()!)).to.equal(Result.Ok);

    relays.pump([source, a], 'three turns of the list', () => statuses.filter((s) => s.state === 'unreachable').length >= 6, 20_000);
    const disconnected = a.states.find((s) => s.state === 'disconnected');
    expect(disconnected?.reason).to.match(/all 2 relays unreachable/);
    expect(a.states.filter((s) => s.state === 'disconnected'), 'disconnected once, not per relay').to.have.length(1);
    const client = (): { stats(): { retryDelaysMs: number[] } } => (a.net as unknown as { relay: { stats(): { retryDelaysMs: number[] } } }).relay;
    relays.pump([source, a], 'a retry wait of the fourth turn', () => client().stats().retryDelaysMs.length > 0, 100);
    // Three whole turns failed: the fourth turn's first wait is 100 ms doubled three times.
    expect(client().stats().retryDelaysMs[0], 'the fourth turn starts slower').to.equal(800);

    twoDown = false;
    relays.pump([source, a], 'a registered with relay two', () => a.net.getRelayState().state === 'registered', 20_000);
    expect(a.net.getRelayState().relay).to.equal(R2);
    expect(a.states[a.states.length - 1].state).to.equal('connecting');
  });

  it('a relay that refuses the token for good is skipped (logged); refused is reported only once every relay refused', () => {
    const sw = new MemorySwitch({ seed: 71, link: { latencyMs: 5 } });
    const GOOD = 'udp://good.invalid:1';
    /** A relay at `url` that answers every REGISTER with REFUSED 2 (token invalid), unless it is GOOD. */
    const factory = (url: string): DatagramSocket => {
      const socket = sw.createSocket(sw.udpUrl);
      const outer: DatagramSocket = { onOpen: null, onMessage: null, onClose: null, send: (d) => socket.send(d), close: () => socket.close() };
      socket.onOpen = () => outer.onOpen?.();
      socket.onMessage = (d) => outer.onMessage?.(d);
      socket.onClose = (reason) => outer.onClose?.(reason);
      outer.send = (d) => {
        const decoded = decodeRelayDatagram(d);
        if (url !== GOOD && decoded.ok && decoded.value.kind === 'register') {
          const refused = encodeRefused(sessionIdFromBytes(decoded.value.nonce), RefusalReason.TokenInvalid, `refused by ${url}`)!;
          sw.timers.setTimeout(() => outer.onMessage?.(refused), 5);
          return;
        }
        socket.send(d);
      };
      return outer;
    };
    const run = (list: string[]): { p: TestPeer; statuses: RelayStatus[]; lines: string[] } => {
      const lines: string[] = [];
      const p = createTestPeer({ relay: list, socketFactory: factory, clock: sw.clock, timers: sw.timers, logger: { info: (m) => lines.push(m), warn: (m) => lines.push(m) } });
      peers.push(p);
      const statuses: RelayStatus[] = [];
      p.net.relayState$.subscribe((s) => statuses.push(s));
      return { p, statuses, lines };
    };

    const skipping = run(['udp://bad.invalid:1', GOOD]);
    for (let i = 0; i < 100 && skipping.p.net.getRelayState().state !== 'registered'; i++) {
      sw.advance(5);
      frame([skipping.p]);
    }
    expect(skipping.p.net.getRelayState()).to.deep.equal({ state: 'registered', relay: GOOD, reason: null });
    expect(skipping.statuses.map((s) => s.state)).to.not.include('refused');
    expect(skipping.lines.some((l) => l.includes('udp://bad.invalid:1 refused the token for good') && l.includes('trying the next relay'))).to.equal(true);
    expect(skipping.p.net.flush()).to.equal(Result.Ok);

    const refusedByAll = run(['udp://bad-one.invalid:1', 'udp://bad-two.invalid:1']);
    for (let i = 0; i < 100 && refusedByAll.p.net.getRelayState().state !== 'refused'; i++) {
      sw.advance(5);
      frame([refusedByAll.p]);
    }
    expect(refusedByAll.p.net.getRelayState().state).to.equal('refused');
    expect(refusedByAll.p.net.getRelayState().relay).to.equal('udp://bad-two.invalid:1');
    expect(refusedByAll.statuses.filter((s) => s.state === 'refused'), 'refused once, for the last relay').to.have.length(1);
    expect(refusedByAll.p.net.flush()).to.equal(Result.NotAuthenticated);
  });
});
