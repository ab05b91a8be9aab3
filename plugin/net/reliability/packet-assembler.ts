import type { ByteWriter } from '../wire';
import { isAckEliciting, writeFrameAfter, type Frame } from './frames';
import type { OutboundChunk } from './outbound';

/** One packet being filled during a poll. */
export interface AssembledPacket {
  packetNumber: number;
  /** The packet's own datagram buffer: headroom, then the payload, then tailroom (see begin()). */
  datagram: Uint8Array;
  /** The frames: a view of `datagram` after the headroom. */
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
 * One assembler serves poll after poll (begin() resets it): frames are written into one reusable
 * buffer, and a closing packet is copied once into its own datagram buffer, with room before it
 * (`headroom`: the headers the layers below write in place) and after it (`tailroom`: the AEAD
 * tag), so nothing below copies it again. Nothing else is allocated per poll but the packets'
 * bookkeeping.
 */
export class PacketAssembler {
  /** EMPTY (shared, never written) until the poll's first packet closes: an idle poll allocates nothing. */
  private packets: AssembledPacket[] = EMPTY;
  private current: AssembledPacket | null = null;
  /** The frame written last into the open packet, for MESSAGE_NEXT. */
  private previous: Frame | null = null;
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
      this.current = { packetNumber, datagram: NO_BYTES, payload: NO_BYTES, ackEliciting: false, chunks: [], resend: false, ackLargest: -1 };
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
    const length = this.writer.length;
    const datagram = new Uint8Array(this.headroom + length + this.tailroom);
    datagram.set(this.writer.view(), this.headroom);
    this.current.datagram = datagram;
    this.current.payload = this.headroom === 0 && this.tailroom === 0 ? datagram : datagram.subarray(this.headroom, this.headroom + length);
    if (this.packets === EMPTY) this.packets = [];
    this.packets.push(this.current);
    this.current = null;
  }
}

const NO_BYTES = new Uint8Array(0);

/** Never pushed to (close() swaps in a fresh array first). */
const EMPTY: AssembledPacket[] = [];

function noPacketNumber(): number | null {
  return null;
}
