/**
 * Which relay of a manager's `relay` list to use (issue 15.2): the list in order, wrapping around,
 * skipping relays that refused the token for good, and counting whole turns of the list that
 * failed so each next turn retries more slowly. Pure bookkeeping: the manager owns the RelayClients.
 */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;

export class RelayRotation {
  private current = 0;
  private readonly refused = new Set<number>();
  /** Relays given up on since the last registration. */
  private failedThisTurn = 0;
  /** Whole turns in a row without a registration. */
  private failedTurns = 0;

  constructor(readonly urls: readonly string[]) {
    if (urls.length === 0) throw new RangeError('RelayRotation: at least one relay');
  }

  get index(): number {
    return this.current;
  }

  get url(): string {
    return this.urls[this.current];
  }

  /** Relays that have not refused us. */
  get usableCount(): number {
    return this.urls.length - this.refused.size;
  }

  /** Whether another relay than the current one is left to try. */
  get canMoveOn(): boolean {
    return this.next() !== null;
  }

  /** The current relay registered us: a new turn starts from it. */
  noteRegistered(): void {
    this.failedThisTurn = 0;
    this.failedTurns = 0;
  }

  /** The current relay refused the token for good: never tried again. */
  noteRefused(): void {
    this.refused.add(this.current);
  }

  /** The current relay went unreachable. True when that completes a whole turn of the list: every usable relay is down. */
  noteUnreachable(): boolean {
    if (++this.failedThisTurn < this.usableCount) return false;
    this.failedThisTurn = 0;
    this.failedTurns++;
    return true;
  }

  /** Moves to the next usable relay and returns its URL, or null when there is none besides the current one. */
  advance(): string | null {
    const next = this.next();
    if (next === null) return null;
    this.current = next;
    return this.url;
  }

  /** First retry wait of a new RelayClient: 100 ms, doubled per whole failed turn, at most 5 s. */
  retryDelayMs(): number {
    return Math.min(FIRST_RETRY_MS * 2 ** Math.min(this.failedTurns, 16), MAX_RETRY_MS);
  }

  private next(): number | null {
    const count = this.urls.length;
    for (let step = 1; step < count; step++) {
      const index = (this.current + step) % count;
      if (!this.refused.has(index)) return index;
    }
    return null;
  }
}
