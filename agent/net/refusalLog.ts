import type { Logger } from 'pino';

/** Refusals are logged once per key per window, with the count since the last line. */
export const REFUSAL_LOG_WINDOW_MS = 10 * 60_000;

/**
 * A warning logged once per key (reason and address, say) per 10 minutes, with the number of
 * times it happened since the last line: a peer retrying every second, a scan, or a flood of
 * broken frames writes a line now and then, not thousands (a listener's refusals, an
 * association's, a framing problem's).
 */
export class RefusalLog {
  private readonly seen = new Map<string, { at: number; since: number }>();

  constructor(
    private readonly log: Logger,
    private readonly windowMs = REFUSAL_LOG_WINDOW_MS,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string, now = Date.now()): void {
    const seen = this.seen.get(key);
    if (seen && now - seen.at < this.windowMs) {
      seen.since++;
      return;
    }
    if (this.seen.size > 1000) this.seen.clear();
    this.seen.set(key, { at: now, since: 0 });
    this.log.warn({ ...fields, ...(seen?.since ? { refusedSinceLastLine: seen.since } : {}) }, message);
  }
}
