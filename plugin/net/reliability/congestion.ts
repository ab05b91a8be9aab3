/**
 * BBR-style congestion control: a model of the path (bottleneck bandwidth, a windowed max of
 * delivery-rate samples; minimum RTT, a windowed min) sets the pacing rate and a window of about
 * two bandwidth-delay products. A random loss changes neither, so a lossy path keeps its rate.
 * Real congestion still backs off: a round trip that loses more than LOSS_THRESHOLD of its
 * packets, or whose shortest RTT grew past RTT_INFLATION × the minimum (a queue building), cuts
 * the bandwidth estimate to what that round delivered. Losses that turn out spurious (reordering)
 * leave the round's count; a model built only from app-limited rounds goes back to Startup.
 */
import { MAX_CONGESTION_WINDOW_BYTES } from './constants';
import { DeliveryRateEstimator, type DeliveryStamp } from './delivery-rate';

/** Startup gain 2/ln 2: doubles the sending rate each round trip. */
const STARTUP_GAIN = 2 / Math.LN2;
/** ProbeBW pacing gains, one phase per minimum RTT: probe up, drain what that queued, cruise. */
const PROBE_BW_GAINS = [1.25, 0.75, 1, 1, 1, 1, 1, 1] as const;
const CWND_GAIN = 2;
/** Rounds the bandwidth max filter spans. */
const BANDWIDTH_WINDOW_ROUNDS = 10;
/** Startup ends after this many rounds without 25% bandwidth growth. */
const FULL_PIPE_ROUNDS = 3;
const FULL_PIPE_GROWTH = 1.25;
/**
 * The minimum RTT is re-measured (ProbeRTT) when it is older than this (BBRv2's 5 s: a flow that
 * started behind another's queue learns the true minimum sooner, and they converge).
 */
const MIN_RTT_WINDOW_MS = 5000;
/** ProbeRTT keeps half a BDP in flight (BBRv2), enough to drain the queue while it costs little. */
const PROBE_RTT_BDP_SHARE = 0.5;
const PROBE_RTT_DURATION_MS = 200;
const MIN_WINDOW_PACKETS = 4;
/**
 * A round losing more than this share of its bytes (and at least LOSS_MIN_PACKETS packets) is
 * congestion. BBRv2 uses 2%; this layer must keep its rate through ~5–10% random loss (Wi-Fi,
 * mobile), and a full drop-tail queue loses far more than that in the round it overflows.
 */
const LOSS_THRESHOLD = 0.15;
const LOSS_MIN_PACKETS = 3;
/**
 * A round whose shortest RTT is this many minimum RTTs (plus slack for poll cadence) is queueing
 * past the window (which allows about 2 BDP in flight: RTT up to 2 × the minimum).
 */
const RTT_INFLATION = 2.5;
/** …or past 2 × the minimum while it delivers under SLOWER_RATE_SHARE of the estimate. */
const RTT_INFLATION_SLOWER = 2;
const SLOWER_RATE_SHARE = 0.8;
const RTT_INFLATION_SLACK_MS = 10;
/** RTT samples in a round that must all show the inflation before it is acted on mid-round. */
const QUEUEING_SAMPLES = 4;
/** A congestion cut keeps at least this share of the estimate (one noisy round cannot zero it)… */
const CONGESTION_FLOOR = 0.5;
/**
 * …unless the round lost more than this share of its bytes: random loss never does, a policer or
 * an overflowing queue does, and then what the round delivered is the rate. Halving from an
 * estimate a policer's burst inflated takes several rounds, each losing most of what it sends.
 */
const HEAVY_LOSS_SHARE = 0.5;
/** Ack aggregation allowance: max over two periods of this many rounds, at most this many ms of the rate. */
const AGGREGATION_PERIOD_ROUNDS = 5;
const MAX_AGGREGATION_MS = 25;

type State = 'startup' | 'drain' | 'probeBw' | 'probeRtt';

/** A tracked packet as the controller sees it. */
export interface CongestionPacket extends DeliveryStamp {
  packetNumber: number;
}

export class CongestionController {
  private readonly delivery = new DeliveryRateEstimator();
  private readonly minimumWindow: number;
  private readonly initialWindow: number;
  private window: number;
  private state: State = 'startup';
  private pacingGain = STARTUP_GAIN;
  private cwndGain = STARTUP_GAIN;

  // Rounds: a round ends when a packet sent after the previous round ended is acknowledged.
  private round = 0;
  private nextRoundDelivered = 0;
  private roundLostBytes = 0;
  private roundLostPackets = 0;
  private roundDeliveredStart = 0;
  private roundMinRtt = Infinity;
  private roundRttSamples = 0;
  private roundMaxRate = 0;

  /** Per-round maxima of the last BANDWIDTH_WINDOW_ROUNDS rounds (slot = round % size). */
  private readonly bandwidthSlots = new Float64Array(BANDWIDTH_WINDOW_ROUNDS);
  private readonly bandwidthRounds = new Float64Array(BANDWIDTH_WINDOW_ROUNDS).fill(-1);
  private maxBandwidth = 0;

  private minRtt = Infinity;
  private minRttStamp = 0;
  private probeRttDoneAt = -1;
  private probeRttRound = 0;

  private fullBandwidth = 0;
  private fullBandwidthRounds = 0;
  private filledPipe = false;
  /** Rounds in a row that ended app-limited: the model then knows the app's rate, not the path's. */
  private appLimitedRounds = 0;

  // Ack aggregation (BBR's extra_acked): a peer acks once per poll, so acks come in bursts the
  // window must cover beyond 2 BDP, or a short-RTT path stalls at the window between polls.
  private aggregationEpochStart = 0;
  private aggregationEpochAcked = 0;
  private extraAcked = [0, 0];
  private aggregationPeriodRound = 0;

  private cycleIndex = 0;
  private cycleStart = 0;
  private congestionEvents = 0;
  /** Round of the last congestion cut: the queue it drains still shows in the next round's RTTs. */
  private congestionRound = -Infinity;

  constructor(private readonly maxDatagramBytes: number) {
    this.initialWindow = Math.min(10 * maxDatagramBytes, Math.max(14_720, 2 * maxDatagramBytes));
    this.minimumWindow = MIN_WINDOW_PACKETS * maxDatagramBytes;
    this.window = this.initialWindow;
  }

  get windowBytes(): number {
    if (this.state === 'probeRtt') return Math.min(this.window, this.probeRttWindow());
    return this.window;
  }

  /** Bottleneck bandwidth estimate, bytes per ms (0 before the first sample). */
  get bandwidthBytesPerMs(): number {
    return this.maxBandwidth;
  }

  get minRttMs(): number {
    return this.minRtt;
  }

  get phase(): State {
    return this.state;
  }

  /** Rounds judged congested so far (loss past the threshold, or RTT inflation). */
  get congestionRounds(): number {
    return this.congestionEvents;
  }

  /** Bytes per ms; `smoothedRttMs` stands in for the model before the first bandwidth sample. */
  pacingRate(smoothedRttMs: number): number {
    // An app-limited sender's estimate is its own rate, not the path's: pace its bursts (a game
    // sends in frames, and unreliable data that cannot go in its frame is dropped) at the high gain.
    const gain = this.delivery.appLimited ? Math.max(this.pacingGain, STARTUP_GAIN) : this.pacingGain;
    if (this.maxBandwidth === 0) return (gain * this.window) / Math.max(smoothedRttMs, 1);
    return gain * this.maxBandwidth;
  }

  /** Stamps a packet about to go out, `bytesInFlight` being what is in flight before it. */
  onPacketSent(packet: CongestionPacket, bytesInFlight: number): void {
    this.delivery.stamp(packet, bytesInFlight);
  }

  /** The sender ran out of data before the window or the pacer stopped it. */
  onAppLimited(bytesInFlight: number): void {
    this.delivery.markAppLimited(bytesInFlight);
  }

  /**
   * One ACK frame: `acked` newly acknowledged (ascending), `rttSampleMs` the raw RTT of its
   * largest packet when that was newly acknowledged, `bytesInFlight` after removing them.
   */
  onAck(acked: readonly CongestionPacket[], rttSampleMs: number | null, bytesInFlight: number, now: number): void {
    if (acked.length === 0) return;
    let ackedBytes = 0;
    let roundEnded = false;
    for (const packet of acked) {
      this.delivery.onPacketAcked(packet, now);
      ackedBytes += packet.bytes;
      if (packet.delivered >= this.nextRoundDelivered) roundEnded = true;
    }
    if (rttSampleMs !== null && rttSampleMs >= 0) {
      this.roundMinRtt = Math.min(this.roundMinRtt, rttSampleMs);
      this.roundRttSamples++;
      if (rttSampleMs <= this.minRtt || now - this.minRttStamp > MIN_RTT_WINDOW_MS) {
        // An app-limited sender builds no queue to drain: its fresh sample is the minimum.
        const expired = now - this.minRttStamp > MIN_RTT_WINDOW_MS && this.minRtt !== Infinity;
        if (expired && this.state !== 'probeRtt' && !this.delivery.appLimited) this.enterProbeRtt(now);
        this.minRtt = rttSampleMs;
        this.minRttStamp = now;
      }
    }
    const sample = this.delivery.takeSample(this.minRtt === Infinity ? 0 : this.minRtt);
    if (sample !== null) {
      this.roundMaxRate = Math.max(this.roundMaxRate, sample.rate);
      if (!sample.appLimited || sample.rate >= this.maxBandwidth) this.recordBandwidth(sample.rate);
    }
    // A queue building shows in every RTT sample: judge it as soon as a few agree, not a round later.
    this.updateAggregation(ackedBytes, now);
    if (roundEnded || (this.roundRttSamples >= QUEUEING_SAMPLES && this.queueing())) this.endRound(sample?.appLimited ?? false, now);
    this.updateState(bytesInFlight, now);
    this.updateWindow(ackedBytes);
  }

  /** Packets were declared lost. */
  onPacketsLost(lost: readonly CongestionPacket[]): void {
    for (const packet of lost) {
      this.roundLostBytes += packet.bytes;
      this.roundLostPackets++;
    }
  }

  /** Packets declared lost were acknowledged after all: they do not count toward this round's loss. */
  onSpuriousLosses(late: readonly CongestionPacket[]): void {
    for (const packet of late) {
      this.roundLostBytes = Math.max(0, this.roundLostBytes - packet.bytes);
      this.roundLostPackets = Math.max(0, this.roundLostPackets - 1);
    }
  }

  /** Several probe timeouts in a row: nothing gets through. Start over from a small window. */
  onPersistentCongestion(now: number): void {
    this.bandwidthRounds.fill(-1);
    this.maxBandwidth = 0;
    this.window = this.minimumWindow;
    this.filledPipe = false;
    this.fullBandwidth = 0;
    this.fullBandwidthRounds = 0;
    this.setState('startup', now);
  }

  private updateAggregation(ackedBytes: number, now: number): void {
    if (this.maxBandwidth === 0) return;
    if (this.round - this.aggregationPeriodRound >= AGGREGATION_PERIOD_ROUNDS) {
      this.aggregationPeriodRound = this.round;
      this.extraAcked[1] = this.extraAcked[0];
      this.extraAcked[0] = 0;
    }
    const expected = this.maxBandwidth * (now - this.aggregationEpochStart);
    if (this.aggregationEpochAcked <= expected) {
      // Acks are keeping pace with the estimate: a new epoch starts here.
      this.aggregationEpochStart = now;
      this.aggregationEpochAcked = 0;
    }
    this.aggregationEpochAcked += ackedBytes;
    const extra = Math.min(this.aggregationEpochAcked - this.maxBandwidth * (now - this.aggregationEpochStart), this.maxBandwidth * MAX_AGGREGATION_MS);
    if (extra > this.extraAcked[0]) this.extraAcked[0] = extra;
  }

  private recordBandwidth(rate: number): void {
    const slot = this.round % BANDWIDTH_WINDOW_ROUNDS;
    if (this.bandwidthRounds[slot] !== this.round) {
      this.bandwidthRounds[slot] = this.round;
      this.bandwidthSlots[slot] = 0;
    }
    this.bandwidthSlots[slot] = Math.max(this.bandwidthSlots[slot], rate);
    this.maxBandwidth = this.windowedMaxBandwidth();
  }

  private windowedMaxBandwidth(): number {
    let max = 0;
    for (let i = 0; i < BANDWIDTH_WINDOW_ROUNDS; i++) {
      if (this.bandwidthRounds[i] > this.round - BANDWIDTH_WINDOW_ROUNDS) max = Math.max(max, this.bandwidthSlots[i]);
    }
    return max;
  }

  private endRound(appLimited: boolean, now: number): void {
    this.appLimitedRounds = appLimited ? this.appLimitedRounds + 1 : 0;
    if (this.filledPipe && this.state === 'probeBw' && this.appLimitedRounds >= BANDWIDTH_WINDOW_ROUNDS) {
      // A game sends in frames well below the path's rate, so every sample in the filter is its own
      // rate. When a backlog comes (a level download after minutes of 60 Hz traffic), probing up by
      // 25% a cycle from there would take seconds: search for the path's rate again as at the start.
      this.filledPipe = false;
      this.fullBandwidth = 0;
      this.fullBandwidthRounds = 0;
      this.setState('startup', now);
    }
    const deliveredInRound = this.delivery.delivered - this.roundDeliveredStart;
    const lossShare = this.roundLostBytes / Math.max(1, this.roundLostBytes + deliveredInRound);
    const lossy = this.roundLostPackets >= LOSS_MIN_PACKETS && lossShare > LOSS_THRESHOLD;
    if ((lossy || this.queueing()) && this.maxBandwidth > 0) this.onCongestion(now, lossShare);
    else if (!this.filledPipe && !appLimited) this.checkFullPipe(now);

    this.round++;
    this.nextRoundDelivered = this.delivery.delivered;
    this.roundDeliveredStart = this.delivery.delivered;
    this.roundLostBytes = 0;
    this.roundLostPackets = 0;
    this.roundMinRtt = Infinity;
    this.roundRttSamples = 0;
    this.roundMaxRate = 0;
    this.maxBandwidth = this.windowedMaxBandwidth();
  }

  /**
   * A queue is building past what the window allows, or the path delivers much less than the
   * estimate while every RTT sample of this round so far is inflated (the link got slower).
   */
  private queueing(): boolean {
    if (this.round < this.congestionRound + 2 || this.minRtt === Infinity || this.roundMinRtt === Infinity) return false;
    const inflation = (this.roundMinRtt - RTT_INFLATION_SLACK_MS) / this.minRtt;
    if (inflation > RTT_INFLATION) return true;
    return inflation > RTT_INFLATION_SLOWER && this.roundMaxRate < SLOWER_RATE_SHARE * this.maxBandwidth;
  }

  /** Real congestion: the estimate drops to what the round delivered, and probing starts over. */
  private onCongestion(now: number, lossShare: number): void {
    this.congestionEvents++;
    this.congestionRound = this.round;
    const heavy = lossShare > HEAVY_LOSS_SHARE && this.roundMaxRate > 0;
    const cut = heavy ? this.roundMaxRate : Math.max(this.roundMaxRate, CONGESTION_FLOOR * this.maxBandwidth);
    this.bandwidthRounds.fill(-1);
    this.bandwidthRounds[this.round % BANDWIDTH_WINDOW_ROUNDS] = this.round;
    this.bandwidthSlots[this.round % BANDWIDTH_WINDOW_ROUNDS] = Math.min(cut, this.maxBandwidth);
    this.maxBandwidth = this.windowedMaxBandwidth();
    this.window = Math.min(this.window, Math.max(this.minimumWindow, this.targetWindow(CWND_GAIN)));
    if (!this.filledPipe) {
      this.filledPipe = true;
      this.setState('drain', now);
    } else if (this.state === 'probeBw' && this.pacingGain > 1) {
      this.cycleIndex = 1;
      this.cycleStart = now;
      this.pacingGain = PROBE_BW_GAINS[1];
    }
  }

  private checkFullPipe(now: number): void {
    if (this.maxBandwidth >= this.fullBandwidth * FULL_PIPE_GROWTH) {
      this.fullBandwidth = this.maxBandwidth;
      this.fullBandwidthRounds = 0;
      return;
    }
    if (++this.fullBandwidthRounds >= FULL_PIPE_ROUNDS) {
      this.filledPipe = true;
      if (this.state === 'startup') this.setState('drain', now);
    }
  }

  private updateState(bytesInFlight: number, now: number): void {
    switch (this.state) {
      case 'drain':
        if (bytesInFlight <= this.bdp()) this.setState('probeBw', now);
        break;
      case 'probeBw':
        this.advanceCycle(bytesInFlight, now);
        break;
      case 'probeRtt':
        if (this.probeRttDoneAt < 0 && bytesInFlight <= this.probeRttWindow()) {
          this.probeRttDoneAt = now + PROBE_RTT_DURATION_MS;
          this.probeRttRound = this.round;
        } else if (this.probeRttDoneAt >= 0 && now >= this.probeRttDoneAt && this.round > this.probeRttRound) {
          this.minRttStamp = now;
          this.setState(this.filledPipe ? 'probeBw' : 'startup', now);
        }
        break;
      case 'startup':
        break;
    }
  }

  private advanceCycle(bytesInFlight: number, now: number): void {
    const elapsed = now - this.cycleStart > (this.minRtt === Infinity ? 0 : this.minRtt);
    const gain = this.pacingGain;
    let done = elapsed;
    // Probe up until the extra is in flight or losses say stop; drain until back at one BDP.
    if (gain > 1) done = elapsed && (bytesInFlight >= gain * this.bdp() || this.roundLostPackets > 0);
    else if (gain < 1) done = elapsed || bytesInFlight <= this.bdp();
    if (!done) return;
    this.cycleIndex = (this.cycleIndex + 1) % PROBE_BW_GAINS.length;
    this.cycleStart = now;
    this.pacingGain = PROBE_BW_GAINS[this.cycleIndex];
  }

  private enterProbeRtt(now: number): void {
    this.probeRttDoneAt = -1;
    this.setState('probeRtt', now);
  }

  private setState(state: State, now: number): void {
    this.state = state;
    switch (state) {
      case 'startup':
        this.pacingGain = STARTUP_GAIN;
        this.cwndGain = STARTUP_GAIN;
        break;
      case 'drain':
        this.pacingGain = 1 / STARTUP_GAIN;
        this.cwndGain = STARTUP_GAIN;
        break;
      case 'probeBw':
        // Start anywhere but the draining phase, so flows that start together do not probe together.
        this.cycleIndex = 2 + (Math.floor(now) % (PROBE_BW_GAINS.length - 2));
        this.cycleStart = now;
        this.pacingGain = PROBE_BW_GAINS[this.cycleIndex];
        this.cwndGain = CWND_GAIN;
        break;
      case 'probeRtt':
        this.pacingGain = 1;
        this.cwndGain = 1;
        break;
    }
  }

  private probeRttWindow(): number {
    return Math.max(this.minimumWindow, PROBE_RTT_BDP_SHARE * this.bdp());
  }

  private bdp(): number {
    if (this.maxBandwidth === 0 || this.minRtt === Infinity) return this.initialWindow;
    return this.maxBandwidth * this.minRtt;
  }

  private targetWindow(gain: number): number {
    if (this.maxBandwidth === 0 || this.minRtt === Infinity) return this.initialWindow;
    // More than gain × BDP by the ack aggregation seen lately, and a few packets.
    const aggregation = Math.max(this.extraAcked[0], this.extraAcked[1]);
    return gain * this.bdp() + aggregation + MIN_WINDOW_PACKETS * this.maxDatagramBytes;
  }

  private updateWindow(ackedBytes: number): void {
    const target = this.targetWindow(this.cwndGain);
    if (this.filledPipe) this.window = Math.min(this.window + ackedBytes, target);
    else if (this.window < target || this.delivery.delivered < this.initialWindow) this.window += ackedBytes;
    this.window = Math.min(MAX_CONGESTION_WINDOW_BYTES, Math.max(this.minimumWindow, this.window));
  }
}
