import type { ByteWriter } from '../wire';
import { isAckEliciting, writeFrameAfter, type Frame } from './frames';
import type { OutboundChunk } from './outbound';

/** One packet being filled during a poll. */
export interface AssembledPacket {
  packetNumber: number;
  payload: Uint8Array;
  ackEliciting: boolean;
  chunks: OutboundChunk[];
  /** It carries a chunk sent before. */
  resend: boolean;
  ackLargest: number;
}

/**
 * Packs frames, in the order given, into packets of at most `maxBytes`: a frame that does not fit
 * in the open packet closes it and opens the next. Packet numbers are taken as packets open.
 * One assembler serves poll after poll (begin() resets it): nothing is allocated per poll but
 * the packets themselves.
 */
export class PacketAssembler {
  /** EMPTY (shared, never written) until the poll's first packet closes: an idle poll allocates nothing. */
  private packets: AssembledPacket[] = EMPTY;
  private current: AssembledPacket | null = null;
  /** The frame written last into the open packet, for MESSAGE_NEXT. */
  private previous: Frame | null = null;
  private ackElicitingCount = 0;
  private maxBytes = 0;
  private allocatePacketNumber: () => number | null = noPacketNumber;

  constructor(private readonly writer: ByteWriter) {}

  /** Starts a poll: packets of at most `maxBytes`, numbered by `allocatePacketNumber`. */
  begin(maxBytes: number, allocatePacketNumber: () => number | null): this {
    this.packets = EMPTY;
    this.current = null;
    this.previous = null;
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
    if (this.current !== null && this.writer.length + size > this.maxBytes) this.close();
    if (this.current === null) {
      const packetNumber = this.allocatePacketNumber();
      if (packetNumber === null) return null;
      this.writer.reset();
      this.previous = null;
      this.current = { packetNumber, payload: new Uint8Array(0), ackEliciting: false, chunks: [], resend: false, ackLargest: -1 };
    }
    writeFrameAfter(this.writer, frame, this.previous);
    this.previous = frame;
    if (!this.current.ackEliciting && isAckEliciting(frame)) {
      this.current.ackEliciting = true;
      this.ackElicitingCount++;
    }
    if (frame.type === 'ack') this.current.ackLargest = frame.ranges[0].largest;
    return this.current;
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
    this.current.payload = this.writer.toBytes();
    if (this.packets === EMPTY) this.packets = [];
    this.packets.push(this.current);
    this.current = null;
  }
}

/** Never pushed to (close() swaps in a fresh array first). */
const EMPTY: AssembledPacket[] = [];

function noPacketNumber(): number | null {
  return null;
}
