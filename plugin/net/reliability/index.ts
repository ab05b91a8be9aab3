/** The per-peer reliability engine (PROTOCOL.md §6). Knows nothing of sockets or crypto. */
export { defaultReliabilityConfig, validateReliabilityConfig, type ReliabilityConfig } from './config';
export {
  ReliableConnection,
  defaultReliabilityTuning,
  type DeliveredMessage,
  type OutgoingPacket,
  type ReceiveOutcome,
  type ReliabilityStats,
  type ReliabilityTuning,
} from './connection';
export {
  FrameType,
  decodeFrames,
  encodeFrames,
  frameSize,
  type AckFrame,
  type AckRange,
  type CloseFrame,
  type FragmentFrame,
  type Frame,
  type MessageFrame,
  type PingFrame,
} from './frames';
