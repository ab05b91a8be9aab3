import type { ByteWriter } from '../wire';
import { continuesMessage, isAckEliciting, writeFrame, writeMessage, type Frame } from './frames';
import type { OutboundChunk } from './outbound';

/** Reliable chunks of a packet that carries none (shared, frozen: chunks are added with addChunk()). */
const NO_CHUNKS: OutboundChunk[] = Object.freeze([]) as unknown as OutboundChunk[];
const NO_BYTES = new Uint8Array(0);

/** One packet being filled during a poll. */
export class AssembledPacket {
  /** The packet's own datagram buffer: headroom, then the payload, then tailroom (see begin()). */
  datagram: Uint8Array = NO_BYTES;
  /** Where the frames start in `datagram` (the headroom), and their length. */
  payloadOffset = 0;
  payloadBytes = 0;
  ackEliciting = false;
  /** Reliable chunks it carries, in order (no array until the first). */
  chunks: OutboundChunk[] = NO_CHUNKS;
  /** It carries a chunk sent before. */
  resend = false;
  ackLargest = -1;

  constructor(readonly packetNumber: number) {}

  /** The frames: a view of `datagram`, made when asked for (sealing in place needs only payloadBytes). */
  get payload(): Uint8Array {
    if (this.payloadOffset === 0 && this.payloadBytes === this.datagram.length) return this.datagram;
    return this.datagram.subarray(this.payloadOffset, this.payloadOffset + this.payloadBytes);
  }

  addChunk(chunk: OutboundChunk): void {
    if (this.chunks === NO_CHUNKS) this.chunks = [chunk];
    else this.chunks.push(chunk);
  }
}

/**
 * Packs frames, in the order given, into packets of at most `maxBytes`: a frame that does not fit
 * in the open packet closes it and opens the next. Packet numbers are taken as packets open.
 * One assembler serves poll after poll (begin() resets it): frames are written into one reusable
 * buffer, and a closing packet is copied once into its own datagram buffer, with room before it
 * (`headroom`: the headers the layers below write in place) and after it (`tailroom`: the AEAD
 * tag), so nothing below copies it again. Datagram buffers are cut from shared slabs (see
 * datagramBuffer). Nothing else is allocated per poll but the packets' bookkeeping; a whole
 * message's chunk is written straight from its fields (addChunk), with no frame object.
 */
export class PacketAssembler {
  /** EMPTY (shared, never written) until the poll's first packet closes: an idle poll allocates nothing. */
  private packets: AssembledPacket[] = EMPTY;
  private current: AssembledPacket | null = null;
  /** The MESSAGE written last into the open packet, for MESSAGE_NEXT: its channel (-1: none, or another frame came after it), reliability and sequence. */
  private previousChannel = -1;
  private previousReliable = false;
  private previousSequence = 0;
  private ackElicitingCount = 0;
  private maxBytes = 0;
  private headroom = 0;
  private tailroom = 0;
  private allocatePacketNumber: () => number | null = noPacketNumber;

  constructor(private readonly writer: ByteWriter) {}

  /** Starts a poll: packets of at most `maxBytes`, numbered by `allocatePacketNumber`, in datagrams with that head- and tailroom. */
  begin(maxBytes: number, allocatePacketNumber: () => number | null, headroom = 0, tailroom = 0): this {
    this.headroom = headroom;
    this.tailroom = tailroom;
    this.packets = EMPTY;
    this.current = null;
    this.previousChannel = -1;
    this.ackElicitingCount = 0;
    this.maxBytes = maxBytes;
    this.allocatePacketNumber = allocatePacketNumber;
    return this;
  }

  /** Ack-eliciting packets opened so far. */
  get ackElicitingPackets(): number {
    return this.ackElicitingCount;
  }

  /** Appends `frame` (at most `size` bytes, ≤ maxBytes); returns its packet, or null when no packet number is left. */
  add(frame: Frame, size: number): AssembledPacket | null {
    const packet = this.open(size);
    if (packet === null) return null;
    if (frame.type === 'message') {
      this.writeMessage(frame.channelId, frame.reliable, frame.sequence, frame.data);
    } else {
      writeFrame(this.writer, frame);
      this.previousChannel = -1;
    }
    if (!packet.ackEliciting && isAckEliciting(frame)) this.markAckEliciting(packet);
    if (frame.type === 'ack') packet.ackLargest = frame.ranges[0].largest;
    return packet;
  }

  /** Appends `chunk`'s frame (chunk.frameBytes at most, ≤ maxBytes), as add() would; a whole message is written from its fields. */
  addChunk(chunk: OutboundChunk): AssembledPacket | null {
    const message = chunk.message;
    if (message.chunks.length !== 1) return this.add(chunk.frame(), chunk.frameBytes);
    const packet = this.open(chunk.frameBytes);
    if (packet === null) return null;
    this.writeMessage(message.channelId, message.reliable, message.sequence, message.data);
    if (!packet.ackEliciting) this.markAckEliciting(packet);
    return packet;
  }

  /** The open packet with room for `size` more bytes: the current one, or a new one after closing it. */
  private open(size: number): AssembledPacket | null {
    if (this.current !== null && this.writer.length + size > this.maxBytes) this.close();
    if (this.current !== null) return this.current;
    const packetNumber = this.allocatePacketNumber();
    if (packetNumber === null) return null;
    this.writer.reset();
    this.previousChannel = -1;
    this.current = new AssembledPacket(packetNumber);
    return this.current;
  }

  /** A MESSAGE, or MESSAGE_NEXT when it directly follows the previous message of its channel in this packet (PROTOCOL.md §6.2). */
  private writeMessage(channelId: number, reliable: boolean, sequence: number, data: Uint8Array): void {
    const next = continuesMessage(this.previousChannel, this.previousReliable, this.previousSequence, channelId, reliable, sequence);
    writeMessage(this.writer, channelId, reliable, sequence, data, next);
    this.previousChannel = channelId;
    this.previousReliable = reliable;
    this.previousSequence = sequence;
  }

  private markAckEliciting(packet: AssembledPacket): void {
    packet.ackEliciting = true;
    this.ackElicitingCount++;
  }

  /** The packets, closed. */
  finish(): readonly AssembledPacket[] {
    this.close();
    const packets = this.packets;
    this.packets = EMPTY;
    this.allocatePacketNumber = noPacketNumber;
    return packets;
  }

  private close(): void {
    if (this.current === null) return;
    const length = this.writer.length;
    const datagram = datagramBuffer(this.headroom + length + this.tailroom);
    datagram.set(this.writer.view(), this.headroom);
    this.current.datagram = datagram;
    this.current.payloadOffset = this.headroom;
    this.current.payloadBytes = length;
    // Most polls make one packet: an array of exactly one, not one grown for many.
    if (this.packets === EMPTY) this.packets = [this.current];
    else this.packets.push(this.current);
    this.current = null;
  }
}

/**
 * Datagram buffers are cut from shared slabs of this size: one allocation (an ArrayBuffer outside
 * the JS heap, zeroed) per slab instead of one per packet, which cost more than the copy into it.
 * A range is handed out once and never reused, so a datagram a socket still holds is never
 * overwritten; a slab is freed with the last datagram cut from it.
 */
const SLAB_BYTES = 16 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

function datagramBuffer(bytes: number): Uint8Array {
  if (bytes > SLAB_BYTES / 4) return new Uint8Array(bytes);
  if (slabUsed + bytes > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const datagram = slab.subarray(slabUsed, slabUsed + bytes);
  slabUsed += bytes;
  return datagram;
}

/** Never pushed to (close() swaps in a fresh array first); frozen, as poll() hands it out for "no packets". */
const EMPTY: AssembledPacket[] = Object.freeze([]) as unknown as AssembledPacket[];

function noPacketNumber(): number | null {
  return null;
}
