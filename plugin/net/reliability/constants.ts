/**
 * Protocol constants of the reliability layer (PROTOCOL.md §6).
 * Both ends must agree on them; they are not configuration.
 */

/** Channels per peer: the channel byte keeps 7 bits for the id. */
export const CHANNEL_COUNT = 128;

/** Largest number of (gap, length) pairs after the first range of an ACK frame. */
export const MAX_ACK_RANGE_PAIRS = 32;

/** An ACK frame's delay field counts units of this many milliseconds (100 µs). */
export const ACK_DELAY_UNIT_MS = 0.1;

/**
 * A reliable channel's sender never has a message in flight this many sequences or more past its
 * oldest unacknowledged one; a receiver refuses a packet with a reliable sequence that far ahead
 * of the next one it expects. Keeps serial-number comparison unambiguous and bounds the
 * out-of-order buffer by count.
 */
export const RELIABLE_WINDOW_MESSAGES = 1024;

/**
 * Every fragment but the last of a message carries the same number of bytes, at least this many,
 * so a receiver can bound a fragment count by the largest message before it stores anything.
 */
export const MIN_FRAGMENT_BYTES = 128;

/** Header bytes reserved for a MESSAGE frame: type, channel, sequence (≤ 5), length (≤ 5). */
export const MESSAGE_HEADER_RESERVE = 12;

/** Header bytes reserved for a FRAGMENT frame: type, channel, sequence, index, count, length. */
export const FRAGMENT_HEADER_RESERVE = 20;

/**
 * Bytes charged per stored message on top of its data, on both ends, so many tiny messages cannot
 * hide their bookkeeping from the memory bounds.
 */
export const MESSAGE_CHARGE_OVERHEAD = 64;

/** Incomplete unreliable messages kept per channel; a newer one evicts the oldest. */
export const UNRELIABLE_PARTIALS_PER_CHANNEL = 4;

/** Loss detection: a packet is lost once one this many numbers later was acknowledged (RFC 9002). */
export const PACKET_THRESHOLD = 3;
/** The packet threshold grows to the reordering seen in spurious losses, up to this. */
export const MAX_PACKET_THRESHOLD = 64;
/** A spurious loss by time adds this many RTTs to the time threshold, up to MAX_TIME_THRESHOLD_EXTRA. */
export const TIME_THRESHOLD_STEP = 1 / 8;
export const MAX_TIME_THRESHOLD_EXTRA = 1;

/** Loss detection: a packet is lost once sent this many smoothed RTTs before a later acknowledged one. */
export const TIME_THRESHOLD = 9 / 8;

/** Retransmission timeout clamp (RFC 6298 style; lower than TCP's 1 s because games poll often). */
export const MIN_RTO_MS = 100;
export const MAX_RTO_MS = 3000;

/** Assumed largest ack delay of the peer (it acks at its next flush, about one frame). */
export const MAX_ACK_DELAY_MS = 25;

/** Largest peer ack delay the probe timeout allows for (a peer flushing slower than this is late). */
export const MAX_PEER_ACK_DELAY_MS = 500;

/** Consecutive probe timeouts after which the congestion window collapses to its minimum. */
export const PERSISTENT_CONGESTION_PROBES = 3;

/** Packets the sender tracks in flight at most; past it nothing new is sent until acks arrive. */
export const MAX_TRACKED_PACKETS = 8192;

/** Largest congestion window, bytes. */
export const MAX_CONGESTION_WINDOW_BYTES = 16 * 1024 * 1024;


/** The pacer's bucket holds this many full packets at least (the initial burst). */
export const PACING_BURST_PACKETS = 10;

/** …or this many milliseconds of the pacing rate, whichever is more (polls come once a frame). */
export const PACING_BURST_MS = 25;

/**
 * Largest packet number: 2^53 − 1, the largest integer a JavaScript number holds exactly. The DATA
 * header carries the low 32 bits (PROTOCOL.md §5.3); at 10^6 packets a second this lasts 285 years.
 */
export const MAX_PACKET_NUMBER = Number.MAX_SAFE_INTEGER;
