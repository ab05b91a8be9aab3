/**
 * Frames: the plaintext of a DATA packet (PROTOCOL.md §6, with the byte tables). A packet is one
 * or more frames back to back; byte 0 of each is its type. Decoding never throws and never
 * allocates from an unchecked length. A MESSAGE that directly follows the previous message of its
 * channel in the same packet is written as MESSAGE_NEXT (type and length only): most messages of a
 * busy channel cost 2 bytes of framing instead of 4–6.
 */
import { decodeError, decodeOk, type Decoded } from '../result';
import { ByteReader, ByteWriter, varintSize } from '../wire';
import { MAX_ACK_RANGE_PAIRS } from './constants';

export const FrameType = {
  Ack: 0x01,
  Message: 0x02,
  Fragment: 0x03,
  Ping: 0x04,
  Close: 0x05,
  MessageNext: 0x06,
} as const;

/** Packet numbers smallest..largest, inclusive. */
export interface AckRange {
  smallest: number;
  largest: number;
}

export interface AckFrame {
  type: 'ack';
  /** Time from receiving the largest acknowledged packet to sending this frame, units of 100 µs. */
  ackDelay: number;
  /** Descending, disjoint, not adjacent; the first holds the largest acknowledged packet. */
  ranges: AckRange[];
}

export interface MessageFrame {
  type: 'message';
  channelId: number;
  reliable: boolean;
  sequence: number;
  data: Uint8Array;
}

export interface FragmentFrame {
  type: 'fragment';
  channelId: number;
  reliable: boolean;
  sequence: number;
  fragmentIndex: number;
  fragmentCount: number;
  data: Uint8Array;
}

export interface PingFrame {
  type: 'ping';
}

export interface CloseFrame {
  type: 'close';
  reason: number;
}

export type Frame = AckFrame | MessageFrame | FragmentFrame | PingFrame | CloseFrame;
export type DataFrame = MessageFrame | FragmentFrame;

/** Frames that oblige the receiver to acknowledge the packet. ACK and CLOSE do not. */
export function isAckEliciting(frame: Frame): boolean {
  return frame.type === 'message' || frame.type === 'fragment' || frame.type === 'ping';
}

function channelByte(channelId: number, reliable: boolean): number {
  if (!Number.isInteger(channelId) || channelId < 0 || channelId > 127) throw new RangeError(`channel out of range: ${channelId}`);
  return (reliable ? 0x80 : 0) | channelId;
}

/** Encoded size of an ACK frame with the first `rangeCount` ranges of `frame`. */
function ackSize(frame: AckFrame, rangeCount: number): number {
  const first = frame.ranges[0];
  let size = 1 + varintSize(first.largest) + varintSize(frame.ackDelay) + varintSize(rangeCount - 1) + varintSize(first.largest - first.smallest);
  for (let i = 1; i < rangeCount; i++) {
    const previous = frame.ranges[i - 1];
    const range = frame.ranges[i];
    size += varintSize(previous.smallest - range.largest - 2) + varintSize(range.largest - range.smallest);
  }
  return size;
}

/** Bytes `frame` takes on the wire. */
export function frameSize(frame: Frame): number {
  switch (frame.type) {
    case 'ack':
      return ackSize(frame, frame.ranges.length);
    case 'message':
      return messageFrameSize(frame.sequence, frame.data.length);
    case 'fragment':
      return fragmentFrameSize(frame.sequence, frame.fragmentIndex, frame.fragmentCount, frame.data.length);
    case 'ping':
      return 1;
    case 'close':
      return 2;
  }
}

/** Bytes of a MESSAGE frame (at most: as MESSAGE_NEXT it takes fewer). */
export function messageFrameSize(sequence: number, length: number): number {
  return 2 + varintSize(sequence) + varintSize(length) + length;
}

/** Bytes of a FRAGMENT frame. */
export function fragmentFrameSize(sequence: number, fragmentIndex: number, fragmentCount: number, length: number): number {
  return 2 + varintSize(sequence) + varintSize(fragmentIndex) + varintSize(fragmentCount) + varintSize(length) + length;
}

/**
 * The longest prefix of `frame.ranges` (at least one range, at most 1 + MAX_ACK_RANGE_PAIRS) whose
 * ACK frame fits in `budget` bytes, or null when not even one range fits. Older ranges go first.
 */
export function fitAckFrame(frame: AckFrame, budget: number): AckFrame | null {
  let count = Math.min(frame.ranges.length, MAX_ACK_RANGE_PAIRS + 1);
  while (count > 0 && ackSize(frame, count) > budget) count--;
  if (count === 0) return null;
  return count === frame.ranges.length ? frame : { type: 'ack', ackDelay: frame.ackDelay, ranges: frame.ranges.slice(0, count) };
}

/** Appends `frame` to `writer`. Values come from our own state; a bad one is a bug and throws. */
export function writeFrame(writer: ByteWriter, frame: Frame): void {
  switch (frame.type) {
    case 'ack': {
      const ranges = frame.ranges;
      if (ranges.length === 0 || ranges.length > MAX_ACK_RANGE_PAIRS + 1) throw new RangeError(`ack range count out of range: ${ranges.length}`);
      const first = ranges[0];
      writer.u8(FrameType.Ack).varint53(first.largest).varint(frame.ackDelay).varint(ranges.length - 1).varint53(first.largest - first.smallest);
      for (let i = 1; i < ranges.length; i++) {
        const gap = ranges[i - 1].smallest - ranges[i].largest - 2;
        if (gap < 0) throw new RangeError('ack ranges must be descending and not adjacent');
        writer.varint53(gap).varint53(ranges[i].largest - ranges[i].smallest);
      }
      return;
    }
    case 'message':
      writeMessage(writer, frame.channelId, frame.reliable, frame.sequence, frame.data, false);
      return;
    case 'fragment':
      if (frame.fragmentCount < 2 || frame.fragmentIndex >= frame.fragmentCount) throw new RangeError('fragment index/count out of range');
      writer
        .u8(FrameType.Fragment)
        .u8(channelByte(frame.channelId, frame.reliable))
        .varint(frame.sequence)
        .varint(frame.fragmentIndex)
        .varint(frame.fragmentCount)
        .varint(frame.data.length)
        .bytes(frame.data);
      return;
    case 'ping':
      writer.u8(FrameType.Ping);
      return;
    case 'close':
      writer.u8(FrameType.Close).u8(frame.reason);
      return;
  }
}

/**
 * Appends a MESSAGE frame, or with `next` a MESSAGE_NEXT (the caller has checked that it directly
 * follows the previous message of its channel in this packet, PROTOCOL.md §6.2). The poll's path
 * for whole messages: no frame object is built for them.
 */
export function writeMessage(writer: ByteWriter, channelId: number, reliable: boolean, sequence: number, data: Uint8Array, next: boolean): void {
  if (next) writer.u8(FrameType.MessageNext).varint(data.length).bytes(data);
  else writer.u8(FrameType.Message).u8(channelByte(channelId, reliable)).varint(sequence).varint(data.length).bytes(data);
}

/**
 * Whether a message may be written as MESSAGE_NEXT right after the MESSAGE (channel, reliability,
 * sequence) written just before it in the same packet (PROTOCOL.md §6.2). `previousChannel` -1:
 * the frame before was not a message, or there was none.
 */
export function continuesMessage(previousChannel: number, previousReliable: boolean, previousSequence: number, channelId: number, reliable: boolean, sequence: number): boolean {
  return previousChannel === channelId && previousReliable === reliable && ((previousSequence + 1) >>> 0) === sequence;
}

/**
 * Writes `frame` after `previous`, the frame written just before it in the same packet (null at
 * the start of a packet): as MESSAGE_NEXT where that is allowed, else as writeFrame does.
 */
export function writeFrameAfter(writer: ByteWriter, frame: Frame, previous: Frame | null): void {
  if (frame.type === 'message' && previous !== null && previous.type === 'message' && continuesMessage(previous.channelId, previous.reliable, previous.sequence, frame.channelId, frame.reliable, frame.sequence)) {
    writeMessage(writer, frame.channelId, frame.reliable, frame.sequence, frame.data, true);
    return;
  }
  writeFrame(writer, frame);
}

/** A packet payload holding `frames`, in order. */
export function encodeFrames(frames: readonly Frame[]): Uint8Array {
  const writer = new ByteWriter(64);
  let previous: Frame | null = null;
  for (const frame of frames) {
    writeFrameAfter(writer, frame, previous);
    previous = frame;
  }
  return writer.toBytes();
}

/**
 * Decodes a packet payload into frames. Data fields are views into `payload` (no copy).
 * Refuses: an empty payload, an unknown type, a truncated frame, an ACK with more than
 * MAX_ACK_RANGE_PAIRS pairs or ranges below packet 0, a FRAGMENT with count < 2 or index ≥ count.
 */
export function decodeFrames(payload: Uint8Array): Decoded<Frame[]> {
  if (!(payload instanceof Uint8Array)) return decodeError('payload: expected a Uint8Array');
  if (payload.length === 0) return decodeError('packet has no frames');
  const reader = new ByteReader(payload);
  const frames: Frame[] = [];
  let previous: Frame | null = null;
  while (reader.remaining > 0) {
    const at = reader.position;
    const type = reader.u8('frame type');
    let frame: Frame | string;
    switch (type) {
      case FrameType.MessageNext:
        frame = readMessageNext(reader, previous);
        break;
      case FrameType.Ack:
        frame = readAck(reader);
        break;
      case FrameType.Message:
        frame = readMessage(reader);
        break;
      case FrameType.Fragment:
        frame = readFragment(reader);
        break;
      case FrameType.Ping:
        frame = { type: 'ping' };
        break;
      case FrameType.Close:
        frame = { type: 'close', reason: reader.u8('close reason') };
        break;
      default:
        return decodeError(`frame at ${at}: unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
    }
    if (reader.failed) return decodeError(`frame at ${at}: ${reader.error}`);
    if (typeof frame === 'string') return decodeError(`frame at ${at}: ${frame}`);
    frames.push(frame);
    previous = frame;
  }
  return decodeOk(frames);
}

function readMessage(reader: ByteReader): MessageFrame {
  const channel = reader.u8('message channel');
  const sequence = reader.varint('message sequence');
  const length = reader.varint('message length');
  const data = reader.bytesView(length, 'message data');
  return { type: 'message', channelId: channel & 0x7f, reliable: (channel & 0x80) !== 0, sequence, data };
}

function readMessageNext(reader: ByteReader, previous: Frame | null): MessageFrame | string {
  if (previous === null || previous.type !== 'message') return 'MESSAGE_NEXT does not follow a MESSAGE';
  const length = reader.varint('message length');
  const data = reader.bytesView(length, 'message data');
  return { type: 'message', channelId: previous.channelId, reliable: previous.reliable, sequence: (previous.sequence + 1) >>> 0, data };
}

function readFragment(reader: ByteReader): FragmentFrame | string {
  const channel = reader.u8('fragment channel');
  const sequence = reader.varint('fragment sequence');
  const fragmentIndex = reader.varint('fragment index');
  const fragmentCount = reader.varint('fragment count');
  const length = reader.varint('fragment length');
  if (reader.failed) return reader.error ?? 'fragment';
  if (fragmentCount < 2) return `fragment count ${fragmentCount} below 2`;
  if (fragmentIndex >= fragmentCount) return `fragment index ${fragmentIndex} not below count ${fragmentCount}`;
  const data = reader.bytesView(length, 'fragment data');
  return { type: 'fragment', channelId: channel & 0x7f, reliable: (channel & 0x80) !== 0, sequence, fragmentIndex, fragmentCount, data };
}

function readAck(reader: ByteReader): AckFrame | string {
  const largest = reader.varint53('ack largest');
  const ackDelay = reader.varint('ack delay');
  const pairs = reader.varint('ack range count');
  if (reader.failed) return reader.error ?? 'ack';
  if (pairs > MAX_ACK_RANGE_PAIRS) return `ack range count ${pairs} above ${MAX_ACK_RANGE_PAIRS}`;
  const firstLength = reader.varint53('ack first range');
  if (reader.failed) return reader.error ?? 'ack';
  if (firstLength > largest) return `ack first range ${firstLength} goes below packet 0`;
  const ranges: AckRange[] = [{ smallest: largest - firstLength, largest }];
  for (let i = 0; i < pairs; i++) {
    const gap = reader.varint53('ack gap');
    const length = reader.varint53('ack range length');
    if (reader.failed) return reader.error ?? 'ack';
    const rangeLargest = ranges[ranges.length - 1].smallest - gap - 2;
    const rangeSmallest = rangeLargest - length;
    if (rangeSmallest < 0) return `ack range ${i + 1} goes below packet 0`;
    ranges.push({ smallest: rangeSmallest, largest: rangeLargest });
  }
  return { type: 'ack', ackDelay, ranges };
}
