/** At most `linesPerSecond` log lines; what was held back is summed up in the next line that passes. */
import type { Logger } from '../../plugin/net/types';
import { TokenBucket } from './rate-limit';

export class LogLimiter {
  private readonly bucket: TokenBucket;
  private suppressed = 0;

  constructor(private readonly logger: Logger, linesPerSecond: number, private readonly now: () => number) {
    this.bucket = new TokenBucket(linesPerSecond, Math.max(1, linesPerSecond), now());
  }

  info(message: string): void {
    this.write('info', message);
  }

  warn(message: string): void {
    this.write('warn', message);
  }

  private write(level: 'info' | 'warn', message: string): void {
    if (!this.bucket.take(this.now())) {
      this.suppressed++;
      return;
    }
    const note = this.suppressed > 0 ? ` (${this.suppressed} earlier line(s) suppressed)` : '';
    this.suppressed = 0;
    this.logger[level](message + note);
  }
}
