/**
 * The `relay` option as a list (issue 15.2): 1..8 distinct, valid relay URLs; anything else throws
 * a TypeError naming the bad entry. A valid list is accepted and read once (a later change to the
 * caller's array changes nothing).
 */
import { expect } from 'chai';
import { MAX_RELAY_URLS } from '../../plugin/net/manager-options';
import { NetworkManager, type NetworkManagerOptions } from '../../plugin/net/network-manager';
import { quietLogger } from '../helpers/managers';

function construct(options: unknown): () => NetworkManager {
  return () => {
    const net = new NetworkManager({ logger: quietLogger, ...(options as NetworkManagerOptions) });
    void net.dispose();
    return net;
  };
}

const urls = (n: number): string[] => Array.from({ length: n }, (_, i) => `ws://relay-${i}.invalid:7777`);

describe('NetworkManager options: relay lists', () => {
  it('an empty list, too many relays and a non-list name the problem', () => {
    expect(construct({ relay: [] })).to.throw(TypeError, /^NetworkManager: relay: expected 1\.\.8 relay URLs, got an empty list$/);
    expect(MAX_RELAY_URLS).to.equal(8);
    expect(construct({ relay: urls(9) })).to.throw(TypeError, /relay: expected at most 8 relay URLs, got 9/);
    expect(construct({ relay: 7777 })).to.throw(TypeError, /relay: expected 'udp:\/\/host:port', 'ws:\/\/host:port' or 'wss:\/\/…' \(or a list of 1\.\.8 of them\), got 7777/);
  });

  it('a bad entry is named by its index, with what was wrong with it', () => {
    expect(construct({ relay: ['ws://ok.invalid:1', 'http://nope.invalid:1'] })).to.throw(TypeError, /relay\[1\]: expected 'udp:\/\/host:port', 'ws:\/\/host:port' or 'wss:\/\/…', got "http:\/\/nope\.invalid:1"/);
    expect(construct({ relay: ['ws://ok.invalid:1', 'ws://ok.invalid:2', 'udp://127.0.0.1:70000'] })).to.throw(TypeError, /relay\[2\]: .*has port 70000, expected 1\.\.65535/);
    expect(construct({ relay: ['ws://ok.invalid:1', 42] })).to.throw(TypeError, /relay\[1\]: expected .*, got 42/);
    expect(construct({ relay: ['ws://ok.invalid:1', 'ws://ok.invalid:1'] })).to.throw(TypeError, /relay\[1\]: "ws:\/\/ok\.invalid:1" is already relay\[0\]/);
    const hostile = new Proxy(['ws://ok.invalid:1', 'ws://ok.invalid:2'], {
      get: (target, key) => {
        if (key === '1') throw new Error('no');
        return Reflect.get(target, key);
      },
    });
    expect(construct({ relay: hostile })).to.throw(TypeError, /relay\[1\]: reading it threw \(no\)/);
    expect(construct({ relay: ['udp://ok.invalid:1', 'ws://ok.invalid:2'], transport: 'webrtc' })).to.throw(TypeError, /transport: 'webrtc' needs a ws:\/\/ or wss:\/\/ relay, got "udp:\/\/ok\.invalid:1" as relay\[0\]/);
    expect(construct({ relay: 'ws://ok.invalid:1', timers: { setTimeout: 1 } })).to.throw(TypeError, /timers: expected an object with setTimeout\(callback, ms\) and clearTimeout\(handle\) functions/);
  });

  it('one to eight valid relays are accepted; the first is used first, and the list is copied', () => {
    for (const n of [1, 2, MAX_RELAY_URLS]) {
      const list = urls(n);
      const net = new NetworkManager({ relay: list, logger: quietLogger });
      list[0] = 'ws://changed.invalid:1';
      expect(net.getTransportInfo().relay).to.equal('ws://relay-0.invalid:7777');
      expect(net.getRelayState().relay).to.equal('ws://relay-0.invalid:7777');
      void net.dispose();
    }
    const single = new NetworkManager({ relay: 'ws://single.invalid:1', logger: quietLogger });
    expect(single.getTransportInfo().relay).to.equal('ws://single.invalid:1');
    void single.dispose();
  });
});
