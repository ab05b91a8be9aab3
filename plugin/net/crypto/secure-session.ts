/**
 * The end-to-end secure session with one remote peer: runs the handshake (PROTOCOL.md §5.6) with
 * retries, rekeys, and seals/opens DATA packets (§5.3) with a replay window per receive key.
 *
 * It owns no timer and no socket: the caller polls `pollHandshake(now)`, feeds handshake packets to
 * `handleHandshake` and DATA packets to `open`. Nothing that arrives from the network makes it throw.
 */
import type { Identity } from '../identity';
import { PUBLIC_KEY_BYTES } from '../identity';
import type { Clock } from '../types';
import {
  initialState,
  readInit,
  readResp,
  writeInit,
  writeResp,
  type InitiatorHandshake,
  type SessionKeys,
  type SymmetricState,
} from './handshake';
import {
  DATA_HEADER_BYTES,
  DATA_OVERHEAD_BYTES,
  INIT_BYTES,
  MAX_PACKET_NUMBER,
  peerPacketType,
  PeerPacketType,
  RESP_BYTES,
  type PeerRole,
} from './packets';
import { eraseBytes, eraseSecretKey, ephemeralKeyPair, NONCE_BYTES, openPacket, sealPacket, secureRandom, type RandomSource } from './primitives';
import { ReplayWindow } from './replay-window';

export interface EstablishedInfo {
  remoteIncarnation: bigint;
  /** The peer runs a different incarnation than the one known before: it restarted. */
  remoteRestarted: boolean;
}

export type HandshakeOutcome =
  | { kind: 'reply'; packet: Uint8Array; established: EstablishedInfo }
  | { kind: 'established'; established: EstablishedInfo }
  | { kind: 'hello' }
  | { kind: 'dropped'; reason: string };

export type OpenResult =
  | { ok: true; packetNumber: number; plaintext: Uint8Array; commit(): void }
  | { ok: false; reason: 'malformed' | 'no-key' | 'auth' | 'replay' };

export interface SecureSessionOptions {
  identity: Identity;
  remotePublicKey: Uint8Array;
  role: PeerRole;
  /** This side's incarnation: a new value every time the connection to this peer starts over. */
  incarnation: bigint;
  /** Time for retries, rekeys and key expiry (milliseconds). */
  clock: Clock;
  rekeyAfterPackets?: number;
  rekeyAfterMs?: number;
  handshakeRetryMinMs?: number;
  handshakeRetryMaxMs?: number;
  /** How long a replaced receive key stays usable once the new one is confirmed (default 2000 ms). */
  previousKeyGraceMs?: number;
  /** How long a replaced receive key stays usable at most (default 60000 ms). */
  previousKeyMaxMs?: number;
  /**
   * Initiator: a new handshake once a packet sealed this long ago has had nothing authenticated
   * come back since (default 5000 ms; peers answer every ack-eliciting packet and send keepalives).
   */
  rehandshakeAfterSilenceMs?: number;
  /** Random bytes for ephemeral keys; injected only by tests and test vectors. */
  random?: RandomSource;
  /**
   * Wall-clock milliseconds for the INIT timestamp. It must keep growing across restarts of this
   * process (the responder refuses an INIT not newer than the last), so it is Date.now(), not `clock`.
   */
  wallClock?: Clock;
}

export interface SecureSessionStats {
  handshakesSent: number;
  handshakesCompleted: number;
  hellosSent: number;
  /** Refused packets by reason, e.g. `init-replay`, `resp-auth`, `data-auth`, `data-replay`. */
  dropped: Record<string, number>;
  /** The key phase this side writes into DATA packets. */
  keyPhase: number;
}

const DEFAULTS = {
  rekeyAfterPackets: 2 ** 30,
  rekeyAfterMs: 10 * 60_000,
  handshakeRetryMinMs: 250,
  handshakeRetryMaxMs: 2000,
  previousKeyGraceMs: 2000,
  previousKeyMaxMs: 60_000,
  rehandshakeAfterSilenceMs: 5000,
};
/**
 * How far ahead of the responder's wall clock an INIT timestamp may be (PROTOCOL.md §5.6 rule 2).
 * Without a bound one INIT stamped 2^64−1 (from anyone holding the responder's secret, or an
 * initiator whose clock jumped) would make every later genuine INIT an `init-replay`; with it such
 * a lockout lasts this long at most. Five minutes, as Kerberos allows.
 */
export const MAX_INIT_CLOCK_SKEW_MS = 5 * 60_000;
/** Handshake messages cost several X25519 operations before they authenticate: a bounded budget. */
const HANDSHAKE_BUDGET_BURST = 4;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;

interface ReceiveKey {
  readonly key: Uint8Array;
  readonly window: ReplayWindow;
  /** The key phase the peer writes with this key: learned from the first packet that opens, -1 before. */
  remotePhase: number;
}

interface KeySet {
  readonly sendKey: Uint8Array;
  readonly receive: ReceiveKey;
  readonly installedAt: number;
  /** Phase written into sealed packets; assigned when the keys start being used for sending. */
  sendPhase: number;
  /** Packets sealed plus packets opened: drives the rekey. */
  packets: number;
  /** A packet from the peer opened under these keys: the peer holds them too. */
  confirmed: boolean;
  /** Highest packet number sealed; a nonce must never repeat under one key. */
  lastSealed: number;
}

/**
 * A DATA packet open() authenticated. commit() marks its number in the replay window of the key
 * that opened it and counts the link as answered; a class, so a packet allocates no closure.
 */
class OpenedDataPacket {
  readonly ok = true as const;
  constructor(
    readonly packetNumber: number,
    readonly plaintext: Uint8Array,
    private readonly window: ReplayWindow,
    private readonly answered: () => void,
  ) {}

  commit(): void {
    this.window.mark(this.packetNumber);
    this.answered();
  }
}

export class SecureSession {
  readonly role: PeerRole;

  private readonly identity: Identity;
  private readonly remotePublicKey: Uint8Array;
  private readonly incarnation: bigint;
  private readonly clock: Clock;
  private readonly wallClock: Clock;
  private readonly random: RandomSource;
  private readonly settings: typeof DEFAULTS;

  private current: KeySet | null = null;
  /** Responder only: keys of a newer handshake, received under but not yet sent with (key confirmation). */
  private pending: KeySet | null = null;
  /** A replaced receive key, kept briefly for packets in flight. */
  private previous: { receive: ReceiveKey; expiresAt: number } | null = null;
  private lastPhase = -1;

  private outstanding: InitiatorHandshake | null = null;
  private nextHandshakeAt = Number.NEGATIVE_INFINITY;
  private retryDelayMs: number;
  private lastInitSentAt: number | null = null;
  private helloRequested = false;
  private lastTimestampSent = -1n;
  private largestTimestampSeen = -1n;
  private remoteIncarnationValue: bigint | null = null;
  /** Initiator: when the first packet sealed since the last one that opened was sealed (null: none). */
  private unansweredSince: number | null = null;
  /** What committing an opened packet does to this session: made once, not per packet. */
  private readonly markAnswered = (): void => {
    this.unansweredSince = null;
  };
  /** The largest packet number opened under any key: the reference the next header's low 32 bits are expanded against. */
  private largestOpened = -1;

  private disposed = false;
  private handshakeTokens = HANDSHAKE_BUDGET_BURST;
  private handshakeTokensAt: number | null = null;

  private baseState: SymmetricState | null = null;
  private staticShared: Uint8Array | null = null;
  private staticSharedUnusable = false;

  private readonly sendNonce = new Uint8Array(NONCE_BYTES);
  private readonly receiveNonce = new Uint8Array(NONCE_BYTES);
  private readonly counters = { handshakesSent: 0, handshakesCompleted: 0, hellosSent: 0 };
  private readonly dropped: Record<string, number> = {};

  constructor(options: SecureSessionOptions) {
    if (options.role !== 'initiator' && options.role !== 'responder') {
      throw new RangeError(`SecureSession: role must be 'initiator' or 'responder', got ${String(options.role)}`);
    }
    if (!(options.remotePublicKey instanceof Uint8Array) || options.remotePublicKey.length !== PUBLIC_KEY_BYTES) {
      throw new RangeError(`SecureSession: remotePublicKey must be ${PUBLIC_KEY_BYTES} bytes`);
    }
    if (typeof options.incarnation !== 'bigint' || options.incarnation < 0n || options.incarnation > MAX_U64) {
      throw new RangeError(`SecureSession: incarnation must be a uint64, got ${String(options.incarnation)}`);
    }
    this.settings = {
      rekeyAfterPackets: positive(options.rekeyAfterPackets, DEFAULTS.rekeyAfterPackets, 'rekeyAfterPackets'),
      rekeyAfterMs: positive(options.rekeyAfterMs, DEFAULTS.rekeyAfterMs, 'rekeyAfterMs'),
      handshakeRetryMinMs: positive(options.handshakeRetryMinMs, DEFAULTS.handshakeRetryMinMs, 'handshakeRetryMinMs'),
      handshakeRetryMaxMs: positive(options.handshakeRetryMaxMs, DEFAULTS.handshakeRetryMaxMs, 'handshakeRetryMaxMs'),
      previousKeyGraceMs: positive(options.previousKeyGraceMs, DEFAULTS.previousKeyGraceMs, 'previousKeyGraceMs'),
      previousKeyMaxMs: positive(options.previousKeyMaxMs, DEFAULTS.previousKeyMaxMs, 'previousKeyMaxMs'),
      rehandshakeAfterSilenceMs: positive(options.rehandshakeAfterSilenceMs, DEFAULTS.rehandshakeAfterSilenceMs, 'rehandshakeAfterSilenceMs'),
    };
    if (this.settings.handshakeRetryMaxMs < this.settings.handshakeRetryMinMs) {
      throw new RangeError('SecureSession: handshakeRetryMaxMs must not be below handshakeRetryMinMs');
    }
    this.role = options.role;
    this.identity = options.identity;
    this.remotePublicKey = new Uint8Array(options.remotePublicKey);
    this.incarnation = options.incarnation;
    this.clock = options.clock;
    this.wallClock = options.wallClock ?? { now: () => Date.now() };
    this.random = options.random ?? secureRandom;
    this.retryDelayMs = this.settings.handshakeRetryMinMs;
  }

  /** Packets can be sealed. */
  get isEstablished(): boolean {
    return this.current !== null;
  }

  /** The peer's incarnation from the last completed handshake, null before the first. */
  get remoteIncarnation(): bigint | null {
    return this.remoteIncarnationValue;
  }

  /**
   * The handshake packet to send now, if any. Initiator: INIT while not established, when a rekey
   * is due or after a HELLO, retried with exponential backoff. Responder: HELLO while not established.
   */
  pollHandshake(now: number): Uint8Array | null {
    if (this.disposed) return null;
    this.expirePrevious(now);
    if (this.role === 'responder') {
      // Keys nothing has opened under yet may come from a replayed INIT (after a restart the
      // timestamp floor is gone): keep asking for a handshake until a DATA packet confirms them.
      if ((this.current !== null && this.current.confirmed) || now < this.nextHandshakeAt) return null;
      this.scheduleRetry(now);
      this.counters.hellosSent++;
      return Uint8Array.of(PeerPacketType.Hello);
    }
    if (!this.wantsHandshake(now)) return null;
    if (now < this.nextHandshakeAt) return null;
    return this.sendInit(now);
  }

  /** Handles an INIT, RESP or HELLO packet. Never throws. */
  handleHandshake(packet: Uint8Array, now: number): HandshakeOutcome {
    if (this.disposed) return this.drop('disposed');
    try {
      switch (peerPacketType(packet)) {
        case PeerPacketType.HandshakeInit:
          return this.onInit(packet, now);
        case PeerPacketType.HandshakeResp:
          return this.onResp(packet, now);
        case PeerPacketType.Hello:
          return this.onHello(packet, now);
        default:
          return this.drop('not-handshake');
      }
    } catch {
      // Only a bug can get here; a packet must never take the caller down.
      return this.drop('internal-error');
    }
  }

  /**
   * Seals `plaintext` into a complete DATA packet numbered `packetNumber`. Packet numbers must grow
   * (they are the nonce); calling this before `isEstablished` or with a number that does not grow is
   * a programming error and throws.
   */
  seal(packetNumber: number, plaintext: Uint8Array): Uint8Array {
    const packet = new Uint8Array(DATA_OVERHEAD_BYTES + plaintext.length);
    packet.set(plaintext, DATA_HEADER_BYTES);
    this.sealInPlace(packetNumber, packet, 0, plaintext.length);
    return packet;
  }

  /**
   * The same DATA packet as seal(), made in place: `buffer` holds the plaintext at
   * `offset + 6`, `plaintextLength` bytes long, with 16 free bytes after it. The header goes to
   * `offset`, the ciphertext over the plaintext and the tag after it, so the packet is
   * buffer[offset, offset + plaintextLength + 22) and nothing is copied or allocated here.
   * `now`, the clock's time, saves a clock read when the caller has it.
   */
  sealInPlace(packetNumber: number, buffer: Uint8Array, offset: number, plaintextLength: number, now?: number): void {
    const keys = this.current;
    if (keys === null) {
      throw new Error(this.disposed ? 'SecureSession.seal: the session was disposed' : 'SecureSession.seal: not established yet (check isEstablished)');
    }
    if (!Number.isInteger(packetNumber) || packetNumber < 0 || packetNumber > MAX_PACKET_NUMBER) {
      throw new RangeError(`SecureSession.seal: packet number must be an integer in 0..2^53-1, got ${packetNumber}`);
    }
    if (packetNumber <= keys.lastSealed) {
      throw new RangeError(`SecureSession.seal: packet number ${packetNumber} not above ${keys.lastSealed}: the nonce would repeat`);
    }
    const body = offset + DATA_HEADER_BYTES;
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(plaintextLength) || plaintextLength < 0 || body + plaintextLength + DATA_OVERHEAD_BYTES - DATA_HEADER_BYTES > buffer.length) {
      throw new RangeError(`SecureSession.sealInPlace: ${plaintextLength} bytes at ${offset} with header and tag do not fit in ${buffer.length}`);
    }
    buffer[offset] = PeerPacketType.Data;
    buffer[offset + 1] = keys.sendPhase;
    writeU32(buffer, offset + 2, packetNumber >>> 0);
    writeNonce(this.sendNonce, packetNumber);
    const plaintext = buffer.subarray(body, body + plaintextLength);
    const output = buffer.subarray(body, body + plaintextLength + DATA_OVERHEAD_BYTES - DATA_HEADER_BYTES);
    sealPacket(keys.sendKey, this.sendNonce, buffer.subarray(offset, body), plaintext, output);
    keys.lastSealed = packetNumber;
    keys.packets++;
    if (this.unansweredSince === null) this.unansweredSince = now ?? this.clock.now();
  }

  /**
   * Opens a DATA packet. On success the caller calls `commit()` once it accepted the packet; only
   * then is the packet number marked in the replay window. `now` is the clock's time (a caller
   * handling a frame's datagrams reads it once for all of them).
   */
  open(packet: Uint8Array, now: number = this.clock.now()): OpenResult {
    if (!(packet instanceof Uint8Array) || packet.length < DATA_OVERHEAD_BYTES || packet[0] !== PeerPacketType.Data) {
      return this.refuseData('malformed');
    }
    this.expirePrevious(now);
    if (this.current === null && this.pending === null && this.previous === null) return this.refuseData('no-key');

    const phase = packet[1];
    const packetNumber = expandPacketNumber(readU32(packet, 2), this.largestOpened + 1);
    const header = packet.subarray(0, DATA_HEADER_BYTES);
    const sealed = packet.subarray(DATA_HEADER_BYTES);
    writeNonce(this.receiveNonce, packetNumber);

    // Keys that learned this phase first, then keys that have not learned theirs yet (newest first).
    // A key that learned another phase is skipped, so a packet costs at most three tag checks.
    const pending = this.pending?.receive;
    const current = this.current?.receive;
    const previous = this.previous?.receive;
    let sawCandidate = false;
    let sawReplay = false;
    for (let pass = 0; pass < 2; pass++) {
      const wanted = pass === 0 ? phase : -1;
      for (let i = 0; i < 3; i++) {
        const slot = i === 0 ? pending : i === 1 ? current : previous;
        if (slot === undefined || slot.remotePhase !== wanted) continue;
        sawCandidate = true;
        if (!slot.window.check(packetNumber)) {
          sawReplay = true;
          continue;
        }
        const plaintext = openPacket(slot.key, this.receiveNonce, header, sealed);
        if (plaintext === null) continue;
        slot.remotePhase = phase;
        // Authenticated under the whole number (it is the nonce), so a wrong expansion never gets here.
        if (packetNumber > this.largestOpened) this.largestOpened = packetNumber;
        this.onOpened(slot, now);
        // Liveness (the re-handshake silence clock) only from committed packets: a replay of an
        // authenticated packet the caller refused must not keep a dead link looking answered.
        return new OpenedDataPacket(packetNumber, plaintext, slot.window, this.markAnswered);
      }
    }
    if (!sawCandidate) return this.refuseData('no-key');
    return this.refuseData(sawReplay ? 'replay' : 'auth');
  }

  /**
   * Zeroes every key this session holds (send and receive keys, the old and pending ones, the
   * cached static DH result, an unanswered handshake's ephemeral key) and makes it inert: seal()
   * throws, open() refuses with 'no-key', no handshake is sent or accepted. Best-effort erasure:
   * copies made by the JavaScript engine or by OpenSSL are out of reach (SECURITY.md).
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.current !== null) eraseKeySet(this.current);
    if (this.pending !== null) eraseKeySet(this.pending);
    if (this.previous !== null) eraseBytes(this.previous.receive.key);
    if (this.outstanding !== null) eraseHandshake(this.outstanding);
    eraseBytes(this.staticShared);
    this.current = null;
    this.pending = null;
    this.previous = null;
    this.outstanding = null;
    this.staticShared = null;
    this.staticSharedUnusable = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  stats(): SecureSessionStats {
    return {
      ...this.counters,
      dropped: { ...this.dropped },
      keyPhase: this.current?.sendPhase ?? 0,
    };
  }

  // ---- initiator ----

  private wantsHandshake(now: number): boolean {
    const keys = this.current;
    // A handshake once started is retried until it completes.
    if (keys === null || this.helloRequested || this.outstanding !== null) return true;
    // Our packets go unanswered: the responder may hold other keys (a replayed INIT after its
    // restart, say). Ask again rather than wait for the rekey (WireGuard does the same, after 15 s).
    if (this.unansweredSince !== null && now - this.unansweredSince >= this.settings.rehandshakeAfterSilenceMs) return true;
    // Rekey only once the peer proved it holds the current keys, so at most one key change is open.
    if (!keys.confirmed) return false;
    return now - keys.installedAt >= this.settings.rekeyAfterMs || keys.packets >= this.settings.rekeyAfterPackets;
  }

  private sendInit(now: number): Uint8Array | null {
    const staticShared = this.getStaticShared();
    if (staticShared === null) {
      this.scheduleRetry(now);
      this.count('bad-remote-key');
      return null;
    }
    const wall = this.wallNow();
    const timestamp = wall > this.lastTimestampSent ? wall : this.lastTimestampSent + 1n;
    const ephemeral = ephemeralKeyPair(this.random);
    const init = writeInit({
      base: this.getBaseState(),
      staticShared,
      responderStatic: this.remotePublicKey,
      ephemeral,
      incarnation: this.incarnation,
      timestamp,
    });
    if (init === null) {
      eraseSecretKey(ephemeral.secretKey);
      this.scheduleRetry(now);
      this.count('bad-remote-key');
      return null;
    }
    if (this.outstanding === null) this.retryDelayMs = this.settings.handshakeRetryMinMs;
    else eraseHandshake(this.outstanding);
    // Only the latest INIT's RESP is accepted: the responder keeps only the latest INIT's keys too.
    this.outstanding = init.handshake;
    this.lastTimestampSent = timestamp;
    this.lastInitSentAt = now;
    this.helloRequested = false;
    this.scheduleRetry(now);
    this.counters.handshakesSent++;
    return init.packet;
  }

  private onResp(packet: Uint8Array, now: number): HandshakeOutcome {
    if (this.role !== 'initiator') return this.drop('resp-unexpected');
    if (packet.length !== RESP_BYTES) return this.drop('resp-malformed');
    const handshake = this.outstanding;
    if (handshake === null) return this.drop('resp-unexpected');
    if (!this.takeHandshakeToken(now)) return this.drop('rate-limited');
    const result = readResp({ handshake, initiator: this.identity, packet });
    if (!result.ok) return this.drop(`resp-${result.reason}`);

    eraseHandshake(handshake);
    this.outstanding = null;
    this.retryDelayMs = this.settings.handshakeRetryMinMs;
    this.nextHandshakeAt = Number.NEGATIVE_INFINITY;
    const established = this.learnIncarnation(result.incarnation);
    // The initiator sends with new keys at once; the old receive key stays for the responder's
    // packets until it switches (it does when our first packet under the new keys reaches it).
    const keys = this.newKeySet(result.keys, now);
    if (established.remoteRestarted) {
      // Packets of the responder's old incarnation belong to a conversation that is over: refuse them.
      this.setPrevious(null);
    } else if (this.current !== null) {
      this.setPrevious({ receive: this.current.receive, expiresAt: now + this.settings.previousKeyMaxMs });
    }
    this.installForSending(keys);
    this.unansweredSince = null;
    this.counters.handshakesCompleted++;
    return { kind: 'established', established };
  }

  private onHello(packet: Uint8Array, now: number): HandshakeOutcome {
    if (this.role !== 'initiator') return this.drop('hello-unexpected');
    if (packet.length !== 1) return this.drop('hello-malformed');
    // A HELLO sent before our INIT arrived can trail the RESP; a restarted responder repeats its HELLO.
    if (this.current !== null && now - this.current.installedAt < this.settings.handshakeRetryMaxMs) {
      return this.drop('hello-ignored');
    }
    this.helloRequested = true;
    this.retryDelayMs = this.settings.handshakeRetryMinMs;
    // At once, but never more than one INIT per handshakeRetryMinMs however many HELLOs come.
    const earliest = this.lastInitSentAt === null ? now : this.lastInitSentAt + this.settings.handshakeRetryMinMs;
    this.nextHandshakeAt = Math.min(this.nextHandshakeAt, earliest);
    return { kind: 'hello' };
  }

  // ---- responder ----

  private onInit(packet: Uint8Array, now: number): HandshakeOutcome {
    if (this.role !== 'responder') return this.drop('init-unexpected');
    if (packet.length !== INIT_BYTES) return this.drop('init-malformed');
    if (!this.takeHandshakeToken(now)) return this.drop('rate-limited');
    const staticShared = this.getStaticShared();
    if (staticShared === null) return this.drop('bad-remote-key');
    const read = readInit({ base: this.getBaseState(), staticShared, responder: this.identity, packet });
    if (!read.ok) return this.drop(`init-${read.reason}`);
    const { accepted } = read;
    if (accepted.timestamp <= this.largestTimestampSeen) return this.drop('init-replay');
    if (accepted.timestamp > this.wallNow() + BigInt(MAX_INIT_CLOCK_SKEW_MS)) return this.drop('init-future');

    const ephemeral = ephemeralKeyPair(this.random);
    const resp = writeResp({ accepted, initiatorStatic: this.remotePublicKey, ephemeral, incarnation: this.incarnation });
    eraseSecretKey(ephemeral.secretKey);
    eraseBytes(accepted.state.ck);
    if (resp === null) return this.drop('init-bad-key');

    this.largestTimestampSeen = accepted.timestamp;
    const established = this.learnIncarnation(accepted.incarnation);
    const keys = this.newKeySet(resp.keys, now);
    if (this.current !== null && this.current.confirmed && !established.remoteRestarted) {
      // Rekey: keep sending under the working keys until the initiator proves it has the new ones.
      if (this.pending !== null) eraseKeySet(this.pending);
      this.pending = keys;
    } else {
      // Nothing confirmed to protect, or the initiator restarted and can no longer read the old keys
      // (its caller starts packet numbers over, which must never happen under an old key): switch now.
      // After a restart the old keys are dropped outright, so no packet of the old incarnation opens.
      this.setPrevious(
        this.current !== null && !established.remoteRestarted
          ? { receive: this.current.receive, expiresAt: now + this.settings.previousKeyGraceMs }
          : null,
      );
      if (this.pending !== null) eraseKeySet(this.pending);
      this.pending = null;
      this.installForSending(keys);
      // HELLO again only if no DATA confirms these keys by the time the initiator stops ignoring it.
      this.retryDelayMs = this.settings.handshakeRetryMaxMs;
      this.nextHandshakeAt = now + this.settings.handshakeRetryMaxMs;
    }
    this.counters.handshakesSent++;
    this.counters.handshakesCompleted++;
    return { kind: 'reply', packet: resp.packet, established };
  }

  // ---- shared ----

  private onOpened(slot: ReceiveKey, now: number): void {
    const pending = this.pending;
    if (pending !== null && slot === pending.receive) {
      // Key confirmation: the initiator sends under the new keys, so the responder switches too.
      if (this.current !== null) this.setPrevious({ receive: this.current.receive, expiresAt: now + this.settings.previousKeyGraceMs });
      this.pending = null;
      pending.confirmed = true;
      pending.packets++;
      this.installForSending(pending);
      return;
    }
    const current = this.current;
    if (current !== null && slot === current.receive) {
      current.confirmed = true;
      current.packets++;
      // The peer sends under the current keys now: the old key only serves stragglers.
      if (this.previous !== null) {
        this.previous.expiresAt = Math.min(this.previous.expiresAt, now + this.settings.previousKeyGraceMs);
      }
    }
  }

  private installForSending(keys: KeySet): void {
    const replaced = this.current;
    if (replaced !== null && replaced !== keys) {
      // The old send key is never used again; its receive key lives on only as `previous`.
      eraseBytes(replaced.sendKey);
      if (this.previous?.receive !== replaced.receive) eraseBytes(replaced.receive.key);
    }
    this.lastPhase = (this.lastPhase + 1) & 0xff;
    keys.sendPhase = this.lastPhase;
    this.current = keys;
  }

  /** Replaces the kept old receive key, zeroing the one that goes (unless it is kept on). */
  private setPrevious(next: { receive: ReceiveKey; expiresAt: number } | null): void {
    const old = this.previous;
    if (old !== null && old.receive !== next?.receive) eraseBytes(old.receive.key);
    this.previous = next;
  }

  private newKeySet(keys: SessionKeys, now: number): KeySet {
    return {
      sendKey: keys.sendKey,
      receive: { key: keys.receiveKey, window: new ReplayWindow(), remotePhase: -1 },
      installedAt: now,
      sendPhase: 0,
      packets: 0,
      confirmed: false,
      lastSealed: -1,
    };
  }

  private learnIncarnation(incarnation: bigint): EstablishedInfo {
    const known = this.remoteIncarnationValue;
    this.remoteIncarnationValue = incarnation;
    return { remoteIncarnation: incarnation, remoteRestarted: known !== null && known !== incarnation };
  }

  private expirePrevious(now: number): void {
    if (this.previous !== null && now >= this.previous.expiresAt) this.setPrevious(null);
  }

  private scheduleRetry(now: number): void {
    this.nextHandshakeAt = now + this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.settings.handshakeRetryMaxMs);
  }

  /** Token bucket: a burst of a few handshake messages, then one per half the minimum retry interval. */
  private takeHandshakeToken(now: number): boolean {
    const refillMs = Math.max(1, this.settings.handshakeRetryMinMs / 2);
    if (this.handshakeTokensAt !== null && now > this.handshakeTokensAt) {
      this.handshakeTokens = Math.min(HANDSHAKE_BUDGET_BURST, this.handshakeTokens + (now - this.handshakeTokensAt) / refillMs);
    }
    if (this.handshakeTokensAt === null || now > this.handshakeTokensAt) this.handshakeTokensAt = now;
    if (this.handshakeTokens < 1) return false;
    this.handshakeTokens -= 1;
    return true;
  }

  private wallNow(): bigint {
    return BigInt(Math.max(0, Math.floor(this.wallClock.now())));
  }

  private getBaseState(): SymmetricState {
    if (this.baseState === null) {
      const local = this.identity.publicKey;
      this.baseState =
        this.role === 'initiator' ? initialState(local, this.remotePublicKey) : initialState(this.remotePublicKey, local);
    }
    return this.baseState;
  }

  /** DH(s_local, s_remote) is the same for every handshake with this peer: computed once. */
  private getStaticShared(): Uint8Array | null {
    if (this.staticShared === null && !this.staticSharedUnusable) {
      try {
        this.staticShared = this.identity.sharedSecret(this.remotePublicKey);
      } catch {
        this.staticSharedUnusable = true;
      }
    }
    return this.staticShared;
  }

  private drop(reason: string): HandshakeOutcome {
    this.count(reason);
    return { kind: 'dropped', reason };
  }

  private refuseData(reason: 'malformed' | 'no-key' | 'auth' | 'replay'): OpenResult {
    this.count(`data-${reason}`);
    return { ok: false, reason };
  }

  private count(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }
}

function eraseKeySet(keys: KeySet): void {
  eraseBytes(keys.sendKey, keys.receive.key);
}

function eraseHandshake(handshake: InitiatorHandshake): void {
  eraseSecretKey(handshake.ephemeral.secretKey);
  eraseBytes(handshake.state.ck);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`SecureSession: ${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}

/** Noise's ChaChaPoly nonce: 4 zero bytes, then the whole packet number as a little-endian u64. */
function writeNonce(nonce: Uint8Array, packetNumber: number): void {
  const low = packetNumber >>> 0;
  const high = Math.floor(packetNumber / 2 ** 32);
  nonce[4] = low & 0xff;
  nonce[5] = (low >>> 8) & 0xff;
  nonce[6] = (low >>> 16) & 0xff;
  nonce[7] = low >>> 24;
  nonce[8] = high & 0xff;
  nonce[9] = (high >>> 8) & 0xff;
  nonce[10] = (high >>> 16) & 0xff;
  nonce[11] = high >>> 24;
}

/**
 * The packet number whose low 32 bits are `low` closest to `expected` (QUIC's decoding, RFC 9000
 * A.3, with a 32-bit window): packets reordered by less than 2^31 numbers decode exactly.
 */
export function expandPacketNumber(low: number, expected: number): number {
  const window = 2 ** 32;
  const half = window / 2;
  const candidate = expected - (expected % window) + low;
  if (candidate <= expected - half && candidate + window <= Number.MAX_SAFE_INTEGER) return candidate + window;
  if (candidate > expected + half && candidate >= window) return candidate - window;
  return candidate;
}

function readU32(source: Uint8Array, offset: number): number {
  return ((source[offset] << 24) >>> 0) + ((source[offset + 1] << 16) | (source[offset + 2] << 8) | source[offset + 3]);
}
