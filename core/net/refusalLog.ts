import type { Logger } from 'pino';
import { systemClock, type Clock } from '../contract/clock.ts';

/** Refusals are logged once per key per window, then summed up once per window while they go on. */
export const REFUSAL_LOG_WINDOW_MS = 10 * 60_000;

/** Keys followed at once; past this, new keys are summed up under one (a scan from a whole subnet). */
const MAX_KEYS = 1000;
const OVERFLOW_KEY = '\0other';

/** The summary line of `count` refusals in the last `window` (e.g. "60 s"). */
export type RefusalSummary = (count: number, window: string) => string;

interface Seen {
  /** Start of the current window. */
  at: number;
  /** Refusals in this window not written yet. */
  since: number;
  fields: Record<string, unknown>;
  summary: RefusalSummary;
}

/** A listener's window: a refused peer's first connection at once, then a summary a minute at most. */
export const LISTENER_REFUSAL_WINDOW_MS = 60_000;

/** "1,234": counts in summaries read at a glance. */
export const formatCount = (n: number): string => n.toLocaleString('en-US');

/** "refused 1,234 connections from 10.0.0.9 in the last 60 s (not on the allow-list)". */
export const connectionsRefused =
  (remote: string, why: string): RefusalSummary =>
  (n, window) =>
    `refused ${formatCount(n)} connection${n === 1 ? '' : 's'} from ${remote} in the last ${window} (${why})`;

/**
 * Refusals logged per key (reason and address, say): the first at once, in full; while they go
 * on, one summary per window with the count ("refused 1,234 connections from 10.0.0.9 in the last
 * 60 s"); a key quiet for a whole window is forgotten, so its next refusal is written in full
 * again. A peer retrying every second, a scan or a flood of broken frames writes a line now and
 * then, not thousands, and no count is lost when the flood stops (a timer writes the summary).
 */
export class RefusalLog {
  private readonly seen = new Map<string, Seen>();
  private cancelTimer: (() => void) | null = null;

  constructor(
    private readonly log: Logger,
    private readonly windowMs = REFUSAL_LOG_WINDOW_MS,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Logs `message` now if `key` is new in this window, otherwise counts it for the window's summary. */
  warn(key: string, fields: Record<string, unknown>, message: string, summary?: RefusalSummary): void {
    if (!this.seen.has(key) && this.seen.size >= MAX_KEYS) key = OVERFLOW_KEY;
    const known = this.seen.get(key);
    if (known) {
      known.since++;
      return;
    }
    const overflow = key === OVERFLOW_KEY;
    const entry: Seen = {
      at: this.clock.now(),
      since: 0,
      fields: overflow ? {} : fields,
      summary: overflow
        ? (n, window) => `${formatCount(n)} more refusals from other sources in the last ${window} (more than ${MAX_KEYS} sources at once)`
        : (summary ?? ((n, window) => `${message}: ${formatCount(n)} more in the last ${window}`)),
    };
    this.seen.set(key, entry);
    this.log.warn(overflow ? { ...fields, sourcesOverLimit: true } : fields, message);
    this.arm();
  }

  /** Writes the summaries still pending and stops the timer (the listener closed). */
  close(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    for (const [key, s] of this.seen) {
      this.seen.delete(key);
      this.writeSummary(s, this.clock.now());
    }
  }

  private writeSummary(s: Seen, now: number): void {
    if (s.since === 0) return;
    const seconds = Math.max(1, Math.round((now - s.at) / 1000));
    this.log.warn({ ...s.fields, refusedSinceLastLine: s.since, windowSeconds: seconds }, s.summary(s.since, `${seconds} s`));
  }

  /** One timer for every key: the map is in window order, its first entry ends first. */
  private arm(): void {
    if (this.cancelTimer) return;
    const first = this.seen.values().next();
    if (first.done) return;
    this.cancelTimer = this.clock.setTimer(() => this.sweep(), Math.max(0, first.value.at + this.windowMs - this.clock.now()));
  }

  private sweep(): void {
    this.cancelTimer = null;
    const now = this.clock.now();
    for (const [key, s] of this.seen) {
      if (now - s.at < this.windowMs) break;
      this.seen.delete(key);
      if (s.since === 0) continue; // quiet for a window: its next refusal is written in full
      this.writeSummary(s, now);
      this.seen.set(key, { ...s, at: now, since: 0 }); // at the end: the map stays in window order
    }
    this.arm();
  }
}
