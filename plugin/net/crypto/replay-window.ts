/**
 * Sliding replay window over packet numbers (RFC 6479 style, one bit per number): numbers more than
 * `REPLAY_WINDOW_SIZE - 1` below the highest accepted one are refused, and so is any number already
 * marked. `check` never changes state; `mark` is called only once a packet was authenticated and
 * accepted, so a forged packet can never move the window.
 */
export const REPLAY_WINDOW_SIZE = 2048;
// One spare word: the ring is cleared a word at a time as the window slides, and the spare word
// keeps every number within REPLAY_WINDOW_SIZE of the highest one remembered.
const WORDS = REPLAY_WINDOW_SIZE / 32 + 1;

export class ReplayWindow {
  private readonly bits = new Uint32Array(WORDS);
  /** Highest marked packet number, -1 before the first. */
  private highest = -1;

  /** True when `packetNumber` may still be accepted. */
  check(packetNumber: number): boolean {
    if (packetNumber > this.highest) return true;
    if (this.highest - packetNumber >= REPLAY_WINDOW_SIZE) return false;
    return (this.bits[Math.floor(packetNumber / 32) % WORDS] & (1 << (packetNumber % 32))) === 0;
  }

  /** Records `packetNumber` as received. Idempotent; a number outside the window is ignored. */
  mark(packetNumber: number): void {
    if (packetNumber > this.highest) {
      this.advanceTo(packetNumber);
    } else if (this.highest - packetNumber >= REPLAY_WINDOW_SIZE) {
      return;
    }
    this.bits[Math.floor(packetNumber / 32) % WORDS] |= 1 << (packetNumber % 32);
  }

  get highestMarked(): number {
    return this.highest;
  }

  /** Clears the bits of the numbers the window slides over, a word at a time. */
  private advanceTo(packetNumber: number): void {
    // Packet numbers go up to 2^53: word and bit by division, not 32-bit shifts.
    const oldWord = this.highest < 0 ? -1 : Math.floor(this.highest / 32);
    const newWord = Math.floor(packetNumber / 32);
    if (newWord - oldWord >= WORDS) {
      this.bits.fill(0);
    } else {
      for (let word = oldWord + 1; word <= newWord; word++) this.bits[word % WORDS] = 0;
    }
    this.highest = packetNumber;
  }
}
