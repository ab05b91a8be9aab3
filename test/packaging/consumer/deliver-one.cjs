'use strict';
// Shared by relay-esm.mjs and relay-cjs.cjs; the packages are passed in so each script proves its
// own module format. Frames are pumped until the event arrives, bounded by a deadline.
const quiet = { info() {}, warn() {} };

async function deliverOne({ startRelay, NetworkManager, Result }, text) {
  const relay = await startRelay({ host: '127.0.0.1', port: 0, logger: quiet });
  const a = new NetworkManager({ relay: relay.udpUrl, logger: quiet });
  const b = new NetworkManager({ relay: relay.udpUrl, logger: quiet });
  const received = [];
  b.message$.subscribe((message) => received.push(message));
  const deadline = Date.now() + 15_000;
  const until = async (what, done) => {
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      for (const m of [a, b]) m.runCallbacks();
      for (const m of [a, b]) m.flush();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const ok = (what, result) => {
    if (result !== Result.Ok) throw new Error(`${what} gave Result ${result}`);
  };
  try {
    await until('both routes', () => a.getRoute() !== null && b.getRoute() !== null);
    ok('a.openPeer', a.openPeer(b.getPeerId(), b.getRoute()));
    ok('b.openPeer', b.openPeer(a.getPeerId(), a.getRoute()));
    ok('a.openChannel', a.openChannel(b.getPeerId(), 0, true));
    ok('b.openChannel', b.openChannel(a.getPeerId(), 0, true));
    ok('sendMessage', a.sendMessage(b.getPeerId(), 0, new TextEncoder().encode(text)));
    await until('the reliable message', () => received.length > 0);
    const got = new TextDecoder().decode(received[0].data);
    if (got !== text || received[0].peerId !== a.getPeerId()) throw new Error(`wrong message: ${JSON.stringify(got)}`);
    console.log(`delivered: ${got}`);
  } finally {
    await Promise.all([a.dispose(), b.dispose()]);
    await relay.close();
  }
}

module.exports = { deliverOne };
