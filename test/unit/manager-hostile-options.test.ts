/**
 * Issue 13 items 2 and 9: every misspelled, out-of-range or hostile option throws a TypeError
 * naming the field at the constructor; what passes it cannot make a frame, dispose() or a socket
 * callback throw later; a Uint8Array subclass with a throwing `length` gets a Result, not a throw.
 */
import { expect } from 'chai';
import { Identity } from '../../plugin/net/identity';
import { NetworkManager, type NetworkManagerOptions } from '../../plugin/net/network-manager';
import { Result } from '../../plugin/net/result';
import { MemorySwitch } from '../../plugin/net/transport/memory-switch';
import { connectPair, disposeAll, isConnected, quietLogger, type TestPeer } from '../helpers/managers';
import { indexOf, numbered, pumpVirtual, registerVirtual, virtualPeer } from '../../fuzz/virtual-managers';

const relay = 'udp://127.0.0.1:1';

function construct(options: unknown): () => NetworkManager {
  return () => {
    const net = new NetworkManager(options as NetworkManagerOptions);
    void net.dispose();
    return net;
  };
}

describe('NetworkManager options: each bad one names itself', () => {
  it('an unknown key throws a TypeError naming it, with the option it resembles', () => {
    expect(construct({ relayy: relay })).to.throw(TypeError, /relayy: not an option \(did you mean `relay`\?\)/);
    expect(construct({ relay, timeoutMS: 5000 })).to.throw(TypeError, /timeoutMS: not an option \(did you mean `timeoutMs`\?\)/);
    expect(construct({ relay, mtu: 1200 })).to.throw(TypeError, /mtu: not an option/);
    expect(construct({ relay, linkConditioner: { loss: 0.1 } })).to.throw(TypeError, /linkConditioner\.loss: not an option/);
    expect(construct({ relay, linkConditioner: { lossrate: 0.1 } })).to.throw(TypeError, /did you mean `linkConditioner\.lossRate`/);
  });

  it('a relay port out of range names the port', () => {
    expect(construct({ relay: 'ws://host:70000' })).to.throw(TypeError, /relay: .*has port 70000, expected 1\.\.65535/);
    expect(construct({ relay: 'udp://127.0.0.1:0' })).to.throw(TypeError, /relay: .*has port 0, expected 1\.\.65535/);
    expect(construct({ relay: 'wss://[::1]:99999/x' })).to.throw(TypeError, /has port 99999/);
  });

  it('every out-of-range or mistyped option names itself', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ mtuBytes: 70000 }, /mtuBytes: expected an integer/],
      [{ timeoutMs: -1 }, /timeoutMs: expected an integer/],
      [{ maxPeers: 1.5 }, /maxPeers: expected an integer/],
      [{ token: 5 }, /token: expected a string/],
      [{ transport: 'carrier-pigeon' }, /transport: expected/],
      [{ identity: {} }, /identity: expected an Identity/],
      [{ identity: { publicKey: new Uint8Array(32), peerId: 5n } }, /identity: expected an Identity/],
      [{ clock: {} }, /clock\.now: expected a function/],
      [{ clock: 5 }, /clock: expected an object/],
      [{ clock: { now: () => NaN } }, /clock\.now: expected a finite number/],
      [{ clock: { now: () => { throw new Error('broken clock'); } } }, /clock\.now: calling it threw \(broken clock\)/],
      [{ logger: { info: () => undefined } }, /logger: expected an object with info/],
      [{ socketFactory: 'udp' }, /socketFactory: expected a function/],
      [{ linkConditioner: { lossRate: 2 } }, /linkConditioner\.lossRate/],
    ];
    for (const [extra, message] of cases) expect(construct({ relay, logger: quietLogger, ...extra }), JSON.stringify(Object.keys(extra))).to.throw(TypeError, message);
  });

  it('options whose getters throw give a TypeError naming the field, not a plain Error', () => {
    const throwing = (field: string) => Object.defineProperty({ relay }, field, { enumerable: true, get: () => { throw new Error('getter says no'); } });
    for (const field of ['token', 'identity', 'clock', 'logger', 'mtuBytes', 'linkConditioner']) {
      expect(construct(throwing(field)), field).to.throw(TypeError, new RegExp(`${field}: reading it threw \\(getter says no\\)`));
    }
    const conditioner = Object.defineProperty({}, 'seed', { enumerable: true, get: () => { throw new Error('no seed'); } });
    expect(construct({ relay, linkConditioner: conditioner })).to.throw(TypeError, /linkConditioner\.seed: reading it threw/);
    const keysThrow = new Proxy({ relay }, { ownKeys: () => { throw new Error('no keys'); } });
    expect(construct(keysThrow)).to.throw(TypeError, /options: listing its keys threw/);
    const relayGetter = Object.defineProperty({}, 'relay', { enumerable: true, get: () => { throw new Error('no relay'); } });
    expect(construct(relayGetter)).to.throw(TypeError, /relay: reading it threw/);
  });

  it('options are read once: a getter that changes its answer later does not reach the manager', async () => {
    let reads = 0;
    const options = { relay, logger: quietLogger, get mtuBytes() { reads++; return reads === 1 ? 1200 : 1; } };
    const net = new NetworkManager(options);
    expect(reads).to.equal(1);
    await net.dispose();
  });

  it('a real Identity is still accepted', async () => {
    const identity = Identity.generate();
    const net = new NetworkManager({ relay, logger: quietLogger, identity });
    expect(net.getPeerId()).to.equal(identity.peerId);
    await net.dispose();
  });
});

describe('NetworkManager with hostile input after construction', () => {
  let sw: MemorySwitch;
  let peers: TestPeer[] = [];

  beforeEach(() => {
    sw = new MemorySwitch({ seed: 13 });
  });

  afterEach(async () => {
    await disposeAll(peers);
    peers = [];
  });

  it('sendMessage with a Uint8Array subclass whose length getter throws returns InvalidPayload; what was queued is delivered', () => {
    const a = virtualPeer(sw);
    const b = virtualPeer(sw);
    peers.push(a, b);
    registerVirtual(sw, peers);
    connectPair(a, b, [{ id: 0, reliable: true }, { id: 1, reliable: false }]);
    pumpVirtual(sw, peers, 'connected', () => isConnected(a, b.id) && isConnected(b, a.id));
    class LyingLength extends Uint8Array {
      override get length(): number {
        throw new Error('length says no');
      }
    }
    class LyingSpecies extends Uint8Array {
      static get [Symbol.species](): Uint8ArrayConstructor {
        throw new Error('species says no');
      }
    }
    expect(a.net.sendMessage(b.id, 0, numbered(0))).to.equal(Result.Ok);
    for (const channel of [0, 1]) {
      expect(a.net.sendMessage(b.id, channel, new LyingLength(8))).to.be.oneOf([Result.Ok, Result.InvalidPayload]);
      expect(a.net.sendMessage(b.id, channel, new LyingSpecies(8))).to.be.oneOf([Result.Ok, Result.InvalidPayload]);
    }
    expect(a.net.sendMessage(b.id, 0, numbered(1))).to.equal(Result.Ok);
    pumpVirtual(sw, peers, 'the reliable messages', () => b.messages.filter((m) => m.channelId === 0 && m.data.length === 4).length === 2);
    expect(b.messages.filter((m) => m.channelId === 0 && m.data.length === 4).map((m) => indexOf(m.data))).to.deep.equal([0, 1]);
    // Whatever was accepted arrived as plain bytes of the real length.
    for (const m of b.messages) expect(m.data.constructor).to.equal(Uint8Array);
  });

  it('a clock that starts throwing does not make runCallbacks/flush throw, nor dispose() reject; time resumes when it recovers', async () => {
    let broken = false;
    const clock = { now: () => { if (broken) throw new Error('clock broke'); return sw.clock.now(); } };
    const a = virtualPeer(sw);
    const b: TestPeer = (() => {
      const net = new NetworkManager({ relay: sw.udpUrl, socketFactory: sw.socketFactory, clock, logger: quietLogger });
      const peer: TestPeer = { net, id: net.getPeerId(), messages: [], states: [], routes: [] };
      net.message$.subscribe((m) => peer.messages.push(m));
      return peer;
    })();
    peers.push(a, b);
    registerVirtual(sw, peers);
    connectPair(a, b, [{ id: 0, reliable: true }]);
    pumpVirtual(sw, peers, 'connected', () => isConnected(a, b.id) && isConnected(b, a.id));
    broken = true;
    expect(a.net.sendMessage(b.id, 0, numbered(7))).to.equal(Result.Ok);
    expect(b.net.sendMessage(a.id, 0, numbered(8))).to.equal(Result.Ok);
    for (let i = 0; i < 50; i++) {
      sw.advance(5);
      expect(a.net.runCallbacks()).to.equal(Result.Ok);
      expect(b.net.runCallbacks()).to.equal(Result.Ok);
      expect(a.net.flush()).to.equal(Result.Ok);
      expect(b.net.flush()).to.equal(Result.Ok);
    }
    broken = false;
    pumpVirtual(sw, peers, 'both messages', () => b.messages.length === 1 && a.messages.length === 1);
    broken = true;
    await b.net.dispose();
    expect(b.net.runCallbacks()).to.equal(Result.NotRunning);
  });

  it('a logger that throws cannot turn a warning into a crash', async () => {
    const logger = { info: () => { throw new Error('log full'); }, warn: () => { throw new Error('log full'); } };
    const net = new NetworkManager({ relay: 'ws://127.0.0.1:1', logger });
    const states: string[] = [];
    net.relayState$.subscribe((s) => states.push(s.state));
    const deadline = Date.now() + 10_000;
    while (!states.includes('unreachable') && Date.now() < deadline) {
      expect(net.runCallbacks()).to.equal(Result.Ok);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(states).to.include('unreachable');
    await net.dispose();
  });
});
