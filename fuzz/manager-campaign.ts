/**
 * Fuzzing a RUNNING NetworkManager through the MemorySwitch, in virtual time, while a legitimate
 * peer keeps a reliable and an unreliable stream flowing both ways.
 *
 * The target (A) has opened a legitimate peer (B) and a hostile one (M, see MaliciousPeer). Junk
 * reaches A five ways: mutants of B's real packets stamped with B's session (past the stranger
 * filter, into the AEAD and the handshake code), mutants sealed with M's valid keys (into the
 * reliability layer), raw mutants from M's session, mutants from sessions A never opened
 * (strangers), and relay-level junk handed straight to A's socket (its RelayClient's decoder).
 *
 * Checks: nothing throws; no junk is delivered (every message from B is B's, in order, exactly
 * once); the legitimate streams complete; A keeps no state for strangers; its per-peer reassembly
 * and held bytes, its inbox and the switch's queue stay within their bounds; the counters show the
 * rejections. Failures are collected, not thrown, so the long runner can summarize them.
 */
import { decodeRoute, encodeRoute, type RouteInfo } from '../plugin/net/route';
import type { NetworkManager } from '../plugin/net/network-manager';
import { MemorySwitch } from '../plugin/net/transport/memory-switch';
import { RefusalReason, decodeRelayDatagram } from '../plugin/net/wire/relay-codec';
import { encodeFrames, type Frame } from '../plugin/net/reliability';
import { Result } from '../plugin/net/result';
import { peerIdFromPublicKey, Identity } from '../plugin/net/identity';
import type { PeerId } from '../plugin/net/types';
import { connectPair, disposeAll, isConnected } from '../test/helpers/managers';
import { MaliciousPeer } from './malicious-peer';
import { Mutator, Tally } from './mutators';
import { indexOf, numbered, pumpVirtual, registerVirtual, seededIdentity, virtualFrame, virtualPeer, type TestPeer } from './virtual-managers';
import { protocolVectors } from '../test/helpers/protocol-vectors';
import { fromHex } from '../plugin/net/wire';

export interface ManagerCampaignOptions {
  seed: number;
  /** Junk datagrams to deliver to the target. */
  datagrams: number;
  /** Mutated routes to try on openPeer/updatePeer. */
  routes: number;
  /**
   * Also build routes from the fields of different valid routes (one peer's key with another's
   * relay session…), which byte mutations almost never hit (default true).
   */
  routeRecombination?: boolean;
  /** Junk datagrams per virtual frame (default 50). */
  perFrame?: number;
  /** Progress lines (the long runner prints them). */
  progress?: (line: string) => void;
}

export interface ManagerCampaignReport {
  /** The target's handshake role towards the legitimate peer. */
  targetRole: 'initiator' | 'responder';
  datagrams: number;
  routes: number;
  frames: number;
  virtualMs: number;
  /** Junk sent, by source and by mutation. */
  sent: Record<string, number>;
  mutations: Record<string, number>;
  /** What the target counted as refused, by reason (manager-wide and per peer). */
  rejections: Record<string, number>;
  /** openPeer/updatePeer results for mutated routes. */
  routeResults: Record<string, number>;
  legit: { reliableEachWay: number; unreliableDelivered: number };
  hostilePeerReopened: number;
  /** Handshakes a made with b during the campaign: injected HELLOs (unauthenticated by design) can start new ones. */
  handshakesWithB: { sent: number; completed: number };
  maxReassemblyBytes: number;
  maxHeldBytes: number;
  failures: string[];
}

/** White-box look at one peer's reliability stats (bounds checks only; not part of the API). */
interface ManagerInternals {
  peers: Map<PeerId, { connection: { stats(): { reassemblyBytes: number; heldBytes: number } }; session: { stats(): { handshakesSent: number; handshakesCompleted: number } } }>;
  inbox: unknown[];
}

function internals(net: NetworkManager): ManagerInternals {
  return net as unknown as ManagerInternals;
}

function sessionOf(route: string): bigint {
  const decoded = decodeRoute(route);
  if (!decoded.ok) throw new Error(`bad route: ${decoded.error}`);
  return decoded.route.sessionId;
}

const PEER_TYPES = [0x01, 0x02, 0x03, 0x04, 0x00, 0x05, 0xff];
const RELAY_TYPES = [0x81, 0x82, 0x83, 0x84, 0x01, 0x02, 0x03, 0x04, 0x00, 0x90, 0xff];
const FRAME_TYPES = [0x01, 0x02, 0x03, 0x04, 0x00, 0x06, 0x80];
const MAX_CORPUS = 256;

export async function runManagerCampaign(options: ManagerCampaignOptions): Promise<ManagerCampaignReport> {
  const perFrame = options.perFrame ?? 50;
  const failures: string[] = [];
  const fail = (what: string) => {
    if (failures.length < 50) failures.push(what);
  };
  const sent = new Tally();
  const mutations = new Tally();
  const routeResults = new Tally();
  const mutator = new Mutator(options.seed, PEER_TYPES);
  const sw = new MemorySwitch({ seed: options.seed, link: { latencyMs: 2, jitterMs: 2 } });

  // Seeded identities: the roles (who initiates the handshake), and so the run, follow the seed.
  const a = virtualPeer(sw, { identity: seededIdentity(`campaign a ${options.seed}`) });
  const b = virtualPeer(sw, { identity: seededIdentity(`campaign b ${options.seed}`), relayScheme: 'ws' });
  const peers: TestPeer[] = [a, b];
  const hostile = new MaliciousPeer(sw);
  let framesRun = 0;
  try {
    registerVirtual(sw, peers);
    pumpVirtual(sw, peers, 'the hostile peer to register', () => hostile.route !== null, { maxFrames: 100 });
    connectPair(a, b, [{ id: 0, reliable: true }, { id: 1, reliable: false }]);
    const sessionA = sessionOf(a.net.getRoute()!);
    const sessionB = sessionOf(b.net.getRoute()!);
    const openHostile = () => {
      a.net.openPeer(hostile.id, hostile.route!);
      a.net.openChannel(hostile.id, 0, true);
      a.net.openChannel(hostile.id, 1, false);
      a.net.openChannel(hostile.id, 2, true);
    };
    openHostile();
    hostile.attack(a.net.getIdentity().publicKey, a.id, sessionA);

    // Real packets B sends A (handshake and DATA), captured at the switch as the mutation corpus.
    const fromB: Uint8Array[] = [];
    let captured = 0;
    sw.tap = (event) => {
      if (event.direction !== 'in' || event.sessionId !== sessionB || event.bytes[0] !== 0x03 || event.bytes.length <= 9) return;
      const payload = event.bytes.subarray(9);
      captured++;
      if (fromB.length < MAX_CORPUS) fromB.push(payload.slice());
      else if (mutator.int(captured) < MAX_CORPUS) fromB[mutator.int(MAX_CORPUS)] = payload.slice();
    };
    pumpVirtual(sw, [a, b], 'a, b and the hostile peer connected', () => isConnected(a, b.id) && isConnected(b, a.id) && hostile.established, {
      maxFrames: 2000,
      each: () => hostile.poll(),
    });

    // What the hostile peer seals: valid-looking frames (in-window messages, fragments, acks, pings) to mutate.
    let hostileSequence = 0;
    const frameCorpus = (): Uint8Array[] => {
      const s = hostileSequence++;
      const frames: Frame[][] = [
        [{ type: 'message', channelId: 0, reliable: true, sequence: s, data: numbered(s) }],
        [{ type: 'message', channelId: 1, reliable: false, sequence: s, data: new Uint8Array(20) }],
        [{ type: 'fragment', channelId: 2, reliable: true, sequence: s % 1024, fragmentIndex: s % 8, fragmentCount: 8, data: new Uint8Array(128).fill(s & 0xff) }],
        [{ type: 'fragment', channelId: 1, reliable: false, sequence: s, fragmentIndex: 0, fragmentCount: 500, data: new Uint8Array(900) }],
        [{ type: 'ack', ackDelay: 5, ranges: [{ smallest: 0, largest: 0 }] }, { type: 'ping' }],
        [{ type: 'message', channelId: 5, reliable: true, sequence: s % 1024, data: new Uint8Array(700) }],
        // Pieces of big messages that never complete: they press on the reassembly bound.
        [{ type: 'fragment', channelId: 0, reliable: true, sequence: 1 + (s % 1000), fragmentIndex: s % 900, fragmentCount: 900, data: new Uint8Array(1100).fill(1) }],
        [{ type: 'fragment', channelId: 1, reliable: false, sequence: s, fragmentIndex: 1, fragmentCount: 50, data: new Uint8Array(1100) }],
      ];
      return frames.map((f) => encodeFrames(f));
    };
    const relayCorpus = [...protocolVectors()].filter(([name]) => name.startsWith('relay-')).map(([, hex]) => fromHex(hex.replace(/ /g, '')) as Uint8Array);
    const relayMutator = new Mutator(options.seed + 1, RELAY_TYPES);
    const frameMutator = new Mutator(options.seed + 2, FRAME_TYPES);

    // The legitimate streams: reliable both ways on channel 0, unreliable b → a on channel 1.
    const legitTotal = Math.max(200, Math.ceil(options.datagrams / perFrame) * 2);
    let legitSent = 0;
    let unreliableSent = 0;
    const fromBOnA: number[] = [];
    const unreliableOnA: number[] = [];
    a.net.message$.subscribe((m) => {
      if (m.peerId !== b.id) return;
      if (m.channelId === 0) fromBOnA.push(indexOf(m.data));
      else if (m.channelId === 1) unreliableOnA.push(indexOf(m.data));
      else fail(`a got a message from b on channel ${m.channelId}, which b never used`);
    });
    const fromAOnB: number[] = [];
    b.net.message$.subscribe((m) => {
      if (m.peerId !== a.id || m.channelId !== 0) fail(`b got a message it was not sent (peer ${m.peerId}, channel ${m.channelId})`);
      else fromAOnB.push(indexOf(m.data));
    });
    let hostileReopened = 0;
    let maxReassembly = 0;
    let maxHeld = 0;
    let skippedResets = 0;

    const injectOne = () => {
      const roll = mutator.random();
      if (roll < 0.4 && fromB.length > 0) {
        const mutant = mutator.mutate(fromB);
        if (mutant.bytes.length === 0) return;
        mutations.add(mutant.kind);
        sent.add('fromOpenedPeerSession');
        sw.injectDelivery(sessionA, sessionB, mutant.bytes);
      } else if (roll < 0.6) {
        const mutant = frameMutator.mutate(frameCorpus());
        mutations.add(`frames:${mutant.kind}`);
        if (hostile.sendSealed(mutant.bytes)) sent.add('sealedByHostilePeer');
      } else if (roll < 0.7) {
        const mutant = mutator.mutate(fromB);
        if (mutant.bytes.length === 0) return;
        sent.add('rawFromHostileSession');
        hostile.sendRaw(mutant.bytes);
      } else if (roll < 0.9) {
        const mutant = mutator.mutate(fromB);
        if (mutant.bytes.length === 0) return;
        sent.add('fromStrangers');
        const stranger = (BigInt(mutator.int(2 ** 32)) << 32n) | BigInt(mutator.int(2 ** 32));
        sw.injectDelivery(sessionA, stranger === 0n ? 1n : stranger, mutant.bytes);
      } else {
        const mutant = relayMutator.mutate(relayCorpus);
        // A REFUSED 6 is the relay legitimately saying "register again": it would move A to a new
        // session, which is not junk. Those are left out (and counted).
        const decoded = decodeRelayDatagram(mutant.bytes);
        if (decoded.ok && decoded.value.kind === 'refused' && decoded.value.reason === RefusalReason.UnknownSession) {
          skippedResets++;
          return;
        }
        mutations.add(`relay:${mutant.kind}`);
        sent.add('relayLevelToSocket');
        sw.injectRaw(sessionA, mutant.bytes);
      }
    };

    const handshakesBefore = internals(a.net).peers.get(b.id)!.session.stats();
    let injected = 0;
    const started = Date.now();
    let nextProgress = started + 5000;
    while (injected < options.datagrams || fromBOnA.length < legitTotal || fromAOnB.length < legitTotal) {
      if (framesRun > Math.ceil(options.datagrams / perFrame) + 20_000) {
        fail(`legit streams stalled: a got ${fromBOnA.length}/${legitTotal} from b, b got ${fromAOnB.length}/${legitTotal} from a`);
        break;
      }
      for (let k = 0; k < 2 && legitSent < legitTotal; k++, legitSent++) {
        if (a.net.sendMessage(b.id, 0, numbered(legitSent)) !== Result.Ok) fail(`a could not queue legit message ${legitSent}`);
        if (b.net.sendMessage(a.id, 0, numbered(legitSent)) !== Result.Ok) fail(`b could not queue legit message ${legitSent}`);
      }
      b.net.sendMessage(a.id, 1, numbered(unreliableSent++));
      for (let k = 0; k < perFrame && injected < options.datagrams; k++, injected++) injectOne();
      hostile.poll();
      try {
        virtualFrame(sw, peers, 5);
      } catch (error) {
        fail(`a frame threw: ${(error as Error).stack ?? String(error)}`);
        break;
      }
      framesRun++;
      if (a.net.getPeerStats(hostile.id) === undefined) {
        // A CLOSE frame from the hostile peer closed it; open it again and keep going.
        hostileReopened++;
        openHostile();
        hostile.attack(a.net.getIdentity().publicKey, a.id, sessionA);
      }
      const stats = internals(a.net).peers.get(hostile.id)?.connection.stats();
      if (stats) {
        maxReassembly = Math.max(maxReassembly, stats.reassemblyBytes);
        maxHeld = Math.max(maxHeld, stats.heldBytes);
      }
      if (internals(a.net).peers.size > 2) fail(`a keeps ${internals(a.net).peers.size} peers; it opened 2`);
      if (options.progress && Date.now() > nextProgress) {
        nextProgress = Date.now() + 5000;
        options.progress(`manager: ${injected}/${options.datagrams} datagrams, ${framesRun} frames, legit ${fromBOnA.length}/${legitTotal}`);
      }
      if (framesRun % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }

    // One burst past the inbox bound (16,384 datagrams between two runCallbacks): the rest is
    // dropped and counted, and the legitimate streams recover from what they lost with it.
    const burst = 16_384 + 1_000;
    for (let k = 0; k < burst; k++) sw.injectDelivery(sessionA, 0x5eed_0000_0000n + BigInt(k), Uint8Array.of(0x03, 0, 0, 0, 0, k & 0xff));
    sent.add('inboxBurstFromStrangers', burst);
    virtualFrame(sw, peers, 5);
    if ((a.net.getDropCounts().inboxFull ?? 0) < burst - 16_384) fail(`inbox burst: only ${a.net.getDropCounts().inboxFull ?? 0} counted as inboxFull`);
    if (internals(a.net).inbox.length !== 0) fail(`a's inbox still holds ${internals(a.net).inbox.length} datagrams after runCallbacks`);
    pumpVirtual(sw, peers, 'the legitimate streams after the inbox burst', () => fromBOnA.length >= legitTotal && fromAOnB.length >= legitTotal, { maxFrames: 4000 });

    // Invariants of what was delivered.
    checkStream(fromBOnA, legitTotal, 'a from b (reliable)', fail);
    checkStream(fromAOnB, legitTotal, 'b from a (reliable)', fail);
    for (let i = 1; i < unreliableOnA.length; i++) {
      if (unreliableOnA[i] <= unreliableOnA[i - 1]) {
        fail(`unreliable from b out of sequence: ${unreliableOnA[i]} after ${unreliableOnA[i - 1]}`);
        break;
      }
    }
    if (unreliableOnA.length === 0) fail('no unreliable message from b got through');
    const limits = { reassembly: 2 * 1024 * 1024 + 128 * 1024, held: 1024 * 1024 };
    if (maxReassembly > limits.reassembly) fail(`hostile peer made a hold ${maxReassembly} reassembly bytes (bound ${limits.reassembly})`);
    if (maxHeld > limits.held) fail(`hostile peer made a hold ${maxHeld} held bytes (bound ${limits.held})`);
    if (sw.stats().drops.queueFull > 0) fail(`the switch queue overflowed ${sw.stats().drops.queueFull} times`);
    if (!isConnected(a, b.id)) fail('a lost its connection to b');

    // Mutated routes to openPeer / updatePeer. Every so often b's stream must still reach a: a route
    // that is refused or undone must leave the legitimate peer working.
    const probe = (): boolean => {
      const target = legitSent + 1;
      a.net.sendMessage(b.id, 0, numbered(legitSent));
      b.net.sendMessage(a.id, 0, numbered(legitSent));
      legitSent++;
      try {
        pumpVirtual(sw, peers, 'a probe from b', () => fromBOnA.length >= target && fromAOnB.length >= target, { maxFrames: 1000 });
        return true;
      } catch {
        return false;
      }
    };
    await fuzzRoutes(a.net, b, hostile, options, routeResults, fail, probe);
    const afterStorm = legitSent + 50;
    for (; legitSent < afterStorm; legitSent++) {
      a.net.sendMessage(b.id, 0, numbered(legitSent));
      b.net.sendMessage(a.id, 0, numbered(legitSent));
    }
    try {
      pumpVirtual(sw, peers, 'the legitimate streams after the route storm', () => fromBOnA.length === afterStorm && fromAOnB.length === afterStorm, { maxFrames: 4000 });
    } catch (error) {
      fail(`${(error as Error).message}: a got ${fromBOnA.length}/${afterStorm} from b, b got ${fromAOnB.length}/${afterStorm} from a; a's drops ${JSON.stringify(a.net.getDropCounts())}`);
    }
    checkStream(fromBOnA, afterStorm, 'a from b after the route storm', fail);
    checkStream(fromAOnB, afterStorm, 'b from a after the route storm', fail);

    const handshakesAfter = internals(a.net).peers.get(b.id)?.session.stats() ?? handshakesBefore;
    const rejections = new Tally();
    rejections.merge(a.net.getDropCounts(), 'manager:');
    rejections.merge(a.net.getDropCounts(b.id), 'peerB:');
    rejections.merge(a.net.getDropCounts(hostile.id), 'hostile:');
    rejections.add('relayResetsLeftOut', skippedResets);
    return {
      targetRole: a.id < b.id ? 'initiator' : 'responder',
      datagrams: injected,
      routes: options.routes,
      frames: framesRun,
      virtualMs: sw.now,
      sent: sent.counts,
      mutations: mutations.counts,
      rejections: rejections.counts,
      routeResults: routeResults.counts,
      legit: { reliableEachWay: Math.min(fromBOnA.length, fromAOnB.length), unreliableDelivered: unreliableOnA.length },
      hostilePeerReopened: hostileReopened,
      handshakesWithB: { sent: handshakesAfter.handshakesSent - handshakesBefore.handshakesSent, completed: handshakesAfter.handshakesCompleted - handshakesBefore.handshakesCompleted },
      maxReassemblyBytes: maxReassembly,
      maxHeldBytes: maxHeld,
      failures,
    };
  } finally {
    sw.tap = null;
    await disposeAll(peers);
    await hostile.socket.close();
    sw.dispose();
  }
}

/** Which real route each field of `text` came from, e.g. "key of hostile, session of b". */
function describeRoute(text: string, fields: RouteInfo[], names: string[]): string {
  const decoded = decodeRoute(text);
  if (!decoded.ok) return 'an undecodable route';
  const owner = (match: (f: RouteInfo) => boolean) => names[fields.findIndex(match)] ?? 'a mutant';
  const key = owner((f) => f.publicKey.every((v, i) => v === decoded.route.publicKey[i]));
  const session = owner((f) => f.sessionId === decoded.route.sessionId);
  return `key of ${key}, session of ${session}`;
}

function checkStream(values: number[], total: number, what: string, fail: (what: string) => void): void {
  if (values.length !== total) fail(`${what}: ${values.length} messages, expected ${total}`);
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== i) {
      fail(`${what}: message #${i} is ${values[i]} (lost, duplicated, reordered or forged)`);
      return;
    }
  }
}

/**
 * Mutated routes to openPeer and updatePeer: never a throw, never Ok for a route whose key does not
 * derive the id. Ok ones are undone at once (closePeer, or updatePeer back to the real route).
 */
async function fuzzRoutes(
  net: NetworkManager,
  b: TestPeer,
  hostile: MaliciousPeer,
  options: ManagerCampaignOptions,
  results: Tally,
  fail: (what: string) => void,
  probe: () => boolean,
): Promise<void> {
  const others = [Identity.generate(), Identity.generate()];
  const otherRoutes = others.map((identity, i) =>
    encodeRoute({ relayId: new Uint8Array(8).fill(i), sessionId: BigInt(1000 + i), publicKey: identity.publicKey, endpoints: ['udp://memory-switch.invalid:1'] }),
  );
  const realB = b.net.getRoute()!;
  const texts = [realB, hostile.route!, ...otherRoutes];
  const corpus = texts.map((t) => Uint8Array.from(atob(t), (c) => c.charCodeAt(0)));
  const fields = texts.map((t) => {
    const decoded = decodeRoute(t);
    if (!decoded.ok) throw new Error(decoded.error);
    return decoded.route;
  });
  const ids = [b.id, others[0].peerId, others[1].peerId, hostile.id, net.getPeerId(), 1n, 2n ** 64n - 1n];
  const mutator = new Mutator(options.seed + 3, [0x01, 0x00, 0x02, 0xff]);
  const lastOks: string[] = [];
  let cutOff = 0;
  /** One openPeer/updatePeer with `text`; an Ok one is checked and undone at once. */
  const tryRoute = (id: PeerId, text: string, useUpdate: boolean): void => {
    const call = useUpdate ? 'updatePeer' : 'openPeer';
    let result: Result;
    try {
      result = useUpdate ? net.updatePeer(id, text) : net.openPeer(id, text);
    } catch (error) {
      fail(`${call} threw on a mutated route: ${(error as Error).message}`);
      return;
    }
    results.add(`${call}:${Result[result] ?? result}`);
    if (result !== Result.Ok) return;
    lastOks.push(`${call}(${id === b.id ? 'b' : id === hostile.id ? 'hostile' : 'another peer'}, ${describeRoute(text, fields, ['b', 'hostile', 'other 1', 'other 2'])})`);
    if (lastOks.length > 4) lastOks.shift();
    const decoded = decodeRoute(text);
    if (!decoded.ok || peerIdFromPublicKey(decoded.route.publicKey) !== id) fail(`${call} accepted a route whose key does not derive ${id}: ${text}`);
    // Undo, so the next mutant meets the same state.
    if (useUpdate && id === b.id) net.updatePeer(b.id, realB);
    else if (useUpdate && id === hostile.id) net.updatePeer(hostile.id, hostile.route!);
    else if (!useUpdate) net.closePeer(id);
  };
  for (let i = 0; i < options.routes; i++) {
    const mutant = mutator.mutate(corpus).bytes;
    // Most go in as base64 of mutated bytes; some as mutated text (padding, alphabet, whitespace).
    let text: string;
    const roll = mutator.random();
    if ((options.routeRecombination ?? true) && roll < 0.2) {
      // Valid fields of different routes put together: a real key with someone else's session.
      text = encodeRoute({
        relayId: mutator.pick(fields).relayId,
        sessionId: mutator.pick(fields).sessionId,
        publicKey: mutator.pick(fields).publicKey,
        endpoints: mutator.pick(fields).endpoints,
      });
    } else if (roll < 0.85) {
      text = btoa(String.fromCharCode(...mutant));
    } else {
      const t = mutator.pick(texts);
      const at = mutator.int(t.length + 1);
      text = t.slice(0, at) + mutator.pick(['', '=', '-', '_', ' ', 'A', '\n', '==', 'é']) + t.slice(at + (mutator.random() < 0.5 ? 1 : 0));
    }
    const id = mutator.pick(ids);
    const useUpdate = mutator.random() < 0.5;
    tryRoute(id, text, useUpdate);
    // Every so often, after the undo: b's stream must still reach a.
    if (i % 250 === 249 && !probe()) {
      // The first few in full; the rest only counted (one line at the end).
      if (++cutOff <= 3) fail(`after mutated route #${i}, b's messages no longer reach a (the last accepted routes, each undone at once: ${lastOks.join('; ')})`);
      // Binding b's real route again lets the storm go on.
      net.updatePeer(b.id, realB);
    }
    if (i % 2000 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  if (cutOff > 3) fail(`b was cut off from a ${cutOff} times in all during the route storm (probed every 250 routes)`);
}
