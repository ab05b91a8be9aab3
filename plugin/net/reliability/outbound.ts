/**
 * What a connection has to send: reliable messages per channel (cut into chunks, each chunk one
 * MESSAGE or FRAGMENT frame, tracked until acknowledged), unreliable messages of the current
 * poll, and the chunks waiting to be resent. Knows nothing of packets or time.
 */
import { Result } from '../result';
import { fragmentPayloadBytes, type ReliabilityConfig } from './config';
import {
  CHANNEL_COUNT,
  MESSAGE_CHARGE_OVERHEAD,
  MESSAGE_HEADER_RESERVE,
  RELIABLE_WINDOW_MESSAGES,
} from './constants';
import { reassemblyCharge } from './assembly';
import { Deque } from './deque';
import { fragmentFrameSize, messageFrameSize, type DataFrame } from './frames';
import { sequenceAdd, sequenceDistance } from './sequence';
import { ReliableStaging, UnreliableStaging, type StagedCopy, type StagingSlab } from './send-staging';

/** One frame's worth of a message. */
export class OutboundChunk {
  acked = false;
  /** Number of the newest packet that carried this chunk; -1 before the first send. */
  lastSentPacket = -1;
  queuedForResend = false;
  /** Bytes its frame takes (set by its message, which knows whether it is fragmented). */
  frameBytes = 0;

  constructor(
    readonly message: OutboundMessage,
    readonly index: number,
    private readonly offset: number,
    readonly length: number,
  ) {}

  frame(): DataFrame {
    const m = this.message;
    // A whole message is the common case: its own buffer, no view to allocate.
    const data = this.length === m.data.length ? m.data : m.data.subarray(this.offset, this.offset + this.length);
    if (m.chunks.length === 1) return { type: 'message', channelId: m.channelId, reliable: m.reliable, sequence: m.sequence, data };
    return {
      type: 'fragment',
      channelId: m.channelId,
      reliable: m.reliable,
      sequence: m.sequence,
      fragmentIndex: this.index,
      fragmentCount: m.chunks.length,
      data,
    };
  }
}

export class OutboundMessage {
  /** Its chunks: exactly as many slots as chunks (a whole message's one chunk takes no grown array). */
  readonly chunks: OutboundChunk[];
  ackedChunks = 0;
  /** Its first chunk went out, so the receiver may be storing it. */
  started = false;
  /** The staging slab its data was cut from (reliable messages of 65–1024 bytes), released when it retires. */
  slab: StagingSlab | null = null;

  constructor(
    readonly channelId: number,
    readonly reliable: boolean,
    readonly sequence: number,
    readonly data: Uint8Array,
    maxPacketBytes: number,
    maxMessageBytes: number,
  ) {
    let fragmentSize = 0;
    if (data.length <= maxPacketBytes - MESSAGE_HEADER_RESERVE) {
      this.chunks = [new OutboundChunk(this, 0, 0, data.length)];
    } else {
      fragmentSize = fragmentPayloadBytes(maxPacketBytes);
      const chunks: OutboundChunk[] = [];
      for (let offset = 0, index = 0; offset < data.length; offset += fragmentSize, index++) {
        chunks.push(new OutboundChunk(this, index, offset, Math.min(fragmentSize, data.length - offset)));
      }
      this.chunks = chunks;
    }
    const count = this.chunks.length;
    this.charge = reassemblyCharge(count, fragmentSize, data.length, maxMessageBytes);
    for (const chunk of this.chunks) {
      chunk.frameBytes = count === 1 ? messageFrameSize(sequence, chunk.length) : fragmentFrameSize(sequence, chunk.index, count, chunk.length);
    }
  }

  /** Bytes the receiver may hold for it, as it charges them (PROTOCOL.md §6.7). */
  readonly charge: number;

  get fullyAcked(): boolean {
    return this.ackedChunks === this.chunks.length;
  }
}

class ReliableSendChannel {
  /** Accepted messages not yet retired (every message before them acknowledged too), oldest first. */
  readonly window = new Deque<OutboundMessage>();
  /** Index in `window` of the first message with a chunk never sent, and that chunk's index. */
  cursor = 0;
  chunkCursor = 0;
  /** Charges of this channel's started, unretired messages. */
  charge = 0;

  constructor(
    readonly channelId: number,
    public nextSequence: number,
  ) {}

  get hasUnsent(): boolean {
    return this.cursor < this.window.length;
  }
}

export class Outbound {
  pendingReliableBytes = 0;
  // A Map, not a 128-slot array: an idle peer uses one or two channels, and memory per peer counts.
  private readonly reliable = new Map<number, ReliableSendChannel>();
  /** Channels with a chunk never sent, ascending channel id: polls look at these, not at all 128. */
  private readonly ready: ReliableSendChannel[] = [];
  /** Next sequence per unreliable channel that has sent; others start at initialSequence. Lazy: a peer uses a few of the 128 channels. */
  private readonly unreliableSequences = new Map<number, number>();
  private unreliable: OutboundMessage[] = [];
  private unreliableBytes = 0;
  private readonly unreliableStaging = new UnreliableStaging();
  private readonly reliableStaging = new ReliableStaging();
  private readonly resends = new Deque<OutboundChunk>();
  private nextChannelTurn = 0;
  /** Charges of all started, unretired reliable messages: what the receiver may be storing. */
  private receiverCharge = 0;
  /** What the receiver may store of ours (its bound minus room kept for one unreliable message). */
  private readonly receiverBudget: number;
  private readonly channelShare: number;

  constructor(
    private readonly config: ReliabilityConfig,
    private readonly maxQueuedUnreliableBytes: number,
    private readonly initialSequence: number,
  ) {
    this.receiverBudget = reliableReceiveBudget(config);
    this.channelShare = Math.floor(this.receiverBudget / 4);
  }

  /** Copies `data` into a queued message (InvalidPayload when it is not a usable Uint8Array). */
  enqueue(channelId: number, reliable: boolean, data: Uint8Array): Result {
    if (!Number.isInteger(channelId) || channelId < 0 || channelId >= CHANNEL_COUNT) return Result.InvalidChannel;
    // The limits first, on the real length: a sender offering messages until one is refused must
    // not pay a copy of every refused one (a bulk sender's loop did, once a frame).
    const length = intrinsicLength(data);
    if (length < 0) return Result.InvalidPayload;
    if (reliable) {
      if (length > this.config.maxReliableMessageBytes) return Result.InvalidPayload;
      if (this.pendingReliableBytes + length > this.config.maxPendingReliableBytes) return Result.InsufficientBuffer;
    } else {
      if (length > this.config.maxUnreliableMessageBytes) return Result.InvalidPayload;
      if (this.unreliableBytes + length > this.maxQueuedUnreliableBytes) return Result.InsufficientBuffer;
    }
    if (reliable) {
      const staged = this.reliableCopy(data, length);
      if (staged === null || staged.bytes.length !== length) return Result.InvalidPayload;
      const bytes = staged.bytes;
      const channel = this.reliableChannel(channelId);
      const message = new OutboundMessage(channelId, true, channel.nextSequence, bytes, this.config.maxPacketBytes, this.config.maxReliableMessageBytes);
      message.slab = staged.slab;
      channel.nextSequence = sequenceAdd(channel.nextSequence, 1);
      if (!channel.hasUnsent) this.markReady(channel);
      channel.window.push(message);
      this.pendingReliableBytes += bytes.length;
      return Result.Ok;
    }
    const bytes = this.stagedCopy(data, length);
    if (bytes === null || bytes.length !== length) return Result.InvalidPayload;
    const sequence = this.unreliableSequences.get(channelId) ?? this.initialSequence;
    this.unreliableSequences.set(channelId, sequenceAdd(sequence, 1));
    this.unreliable.push(new OutboundMessage(channelId, false, sequence, bytes, this.config.maxPacketBytes, this.config.maxUnreliableMessageBytes));
    this.unreliableBytes += bytes.length;
    return Result.Ok;
  }

  /** The unreliable messages queued since the last poll; they are sent now or never. */
  takeUnreliable(): OutboundMessage[] {
    this.unreliableStaging.takeQueue();
    const taken = this.unreliable;
    this.unreliable = [];
    this.unreliableBytes = 0;
    return taken;
  }

  /** A poll that had no unreliable message to take: lets the staging buffers of a peer that stopped sending go. */
  pollWithoutUnreliable(): void {
    this.unreliableStaging.takeQueue();
  }

  /** An unreliable message's copy, in memory reused after the poll that takes it (see UnreliableStaging); null when `data` is unusable. */
  private stagedCopy(data: Uint8Array, length: number): Uint8Array | null {
    try {
      return this.unreliableStaging.copy(data, length);
    } catch {
      return null;
    }
  }

  /** A reliable message's copy, perhaps cut from a staging slab; null when `data` is unusable. */
  private reliableCopy(data: Uint8Array, length: number): StagedCopy | null {
    try {
      return this.reliableStaging.copy(data, length);
    } catch {
      return null;
    }
  }

  get hasUnreliable(): boolean {
    return this.unreliable.length > 0;
  }

  /** The oldest chunk waiting to be resent, or null. */
  peekResend(): OutboundChunk | null {
    while (this.resends.length > 0) {
      const chunk = this.resends.at(0);
      if (chunk.queuedForResend && !chunk.acked) return chunk;
      this.resends.shift();
    }
    return null;
  }

  /**
   * The next never-sent chunk, taking channels in turn (one chunk per channel per turn) so one busy
   * channel cannot starve the others. A new message starts only inside the sequence window and the
   * receiver's memory budget. Nothing changes until onChunkSent.
   */
  peekNewChunk(): OutboundChunk | null {
    const ready = this.ready;
    if (ready.length === 0) return null;
    // The first ready channel at or after the turn, then around.
    let start = 0;
    while (start < ready.length && ready[start].channelId < this.nextChannelTurn) start++;
    for (let step = 0; step < ready.length; step++) {
      const chunk = this.sendableChunk(ready[(start + step) % ready.length]);
      if (chunk !== null) return chunk;
    }
    return null;
  }

  /** `chunk` (from peekResend or peekNewChunk) went out in packet `packetNumber`. Returns true for a resend. */
  onChunkSent(chunk: OutboundChunk, packetNumber: number): boolean {
    const resend = chunk.lastSentPacket >= 0;
    chunk.lastSentPacket = packetNumber;
    if (resend) {
      chunk.queuedForResend = false;
      if (this.resends.length > 0 && this.resends.at(0) === chunk) this.resends.shift();
      return true;
    }
    const message = chunk.message;
    const channel = this.reliable.get(message.channelId);
    if (channel === undefined) return false;
    if (!message.started) {
      message.started = true;
      channel.charge += message.charge;
      this.receiverCharge += message.charge;
    }
    channel.chunkCursor++;
    if (channel.chunkCursor >= message.chunks.length) {
      channel.cursor++;
      channel.chunkCursor = 0;
      if (!channel.hasUnsent) this.ready.splice(this.ready.indexOf(channel), 1);
    }
    // The next turn goes to the following channel.
    this.nextChannelTurn = (message.channelId + 1) % CHANNEL_COUNT;
    return false;
  }

  onChunkAcked(chunk: OutboundChunk): void {
    if (chunk.acked) return;
    chunk.acked = true;
    chunk.queuedForResend = false;
    const message = chunk.message;
    message.ackedChunks++;
    if (!message.fullyAcked) return;
    this.pendingReliableBytes -= message.data.length;
    const channel = this.reliable.get(message.channelId);
    if (channel === undefined) return;
    // Retire from the front: the receiver has delivered every message up to the first unacknowledged one.
    while (channel.window.length > 0 && channel.window.at(0).fullyAcked) {
      const retired = channel.window.shift() as OutboundMessage;
      if (retired.slab !== null) {
        this.reliableStaging.release(retired.slab);
        retired.slab = null;
      }
      channel.charge -= retired.charge;
      this.receiverCharge -= retired.charge;
      channel.cursor--;
    }
  }

  /**
   * The packet `packetNumber` that carried `chunk` was lost (or is being probed): queue the chunk
   * to be resent unless it was acknowledged, is queued already, or went out again since.
   */
  requeue(chunk: OutboundChunk, packetNumber: number): boolean {
    if (chunk.acked || chunk.queuedForResend || chunk.lastSentPacket !== packetNumber) return false;
    chunk.queuedForResend = true;
    this.resends.push(chunk);
    return true;
  }

  private sendableChunk(channel: ReliableSendChannel): OutboundChunk | null {
    const message = channel.window.at(channel.cursor);
    if (message.started) return message.chunks[channel.chunkCursor];
    const windowStart = channel.window.at(0).sequence;
    if (sequenceDistance(windowStart, message.sequence) >= RELIABLE_WINDOW_MESSAGES) return null;
    if (this.receiverCharge + message.charge > this.receiverBudget) return null;
    if (channel.charge > 0 && channel.charge + message.charge > this.channelShare) return null;
    return message.chunks[0];
  }

  private markReady(channel: ReliableSendChannel): void {
    let at = this.ready.length;
    while (at > 0 && this.ready[at - 1].channelId > channel.channelId) at--;
    this.ready.splice(at, 0, channel);
  }

  private reliableChannel(channelId: number): ReliableSendChannel {
    let channel = this.reliable.get(channelId);
    if (channel === undefined) {
      channel = new ReliableSendChannel(channelId, this.initialSequence);
      this.reliable.set(channelId, channel);
    }
    return channel;
  }
}

/**
 * Reliable bytes (with per-message overhead) a receiver stores out of order at most: its
 * reassembly bound minus room for one unreliable message. The sender keeps what it has started
 * and not retired within the same figure, so an honest sender never overflows the receiver.
 */
export function reliableReceiveBudget(config: ReliabilityConfig): number {
  return config.maxReassemblyBytes - config.maxUnreliableMessageBytes - MESSAGE_CHARGE_OVERHEAD;
}

const typedArrayLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, 'length')?.get;

/** The real length of a usable Uint8Array (the intrinsic getter, whatever the object claims), or -1. */
function intrinsicLength(data: unknown): number {
  try {
    if (!(data instanceof Uint8Array) || typedArrayLength === undefined) return -1;
    return typedArrayLength.call(data) as number;
  } catch {
    return -1;
  }
}
