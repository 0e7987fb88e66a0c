import type { Logger } from 'pino';
import { systemClock, type Clock } from '../contract/clock.ts';

export interface BackoffPolicy {
  /** First retry delay (ms). */
  initialMs: number;
  /** Upper bound (ms); clinical items keep retrying at this pace forever. */
  maxMs: number;
  /** 0..1: share of the delay that is randomised, so 200 boxes do not retry in step. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 5_000, maxMs: 600_000, jitter: 0.5 };

/** Delay before attempt number `attempts + 1`: initial × 2^(attempts − 1), capped, with jitter. */
export function backoffDelay(attempts: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempts - 1));
  const spread = exp * policy.jitter;
  return Math.round(exp - spread + random() * spread);
}

/** Pacing and logging of a long-lived link's reconnects (the province broker, the MQTT uplink). */
export interface ReconnectPolicy extends BackoffPolicy {
  /** A connection that stayed up this long starts the next outage at initialMs again (a flapping link keeps backing off). */
  stableMs: number;
  /** While the link stays down, one summary line at most this often instead of a line per attempt. */
  summaryEveryMs: number;
}

/** 2 s doubling to 5 min, so a day without the province is a few hundred attempts and ~150 lines, not 43,000. */
export const DEFAULT_RECONNECT: ReconnectPolicy = { initialMs: 2_000, maxMs: 300_000, jitter: 0.5, stableMs: 30_000, summaryEveryMs: 10 * 60_000 };

/** "850 ms", "40 s", "12 min", "3 h 5 min": a duration as an operator reads it in a log line. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1_000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const rest = minutes % 60;
  return `${Math.floor(minutes / 60)} h${rest ? ` ${rest} min` : ''}`;
}

/** What the link is doing, for status lines and the outbox's "last error". */
export interface LinkState {
  state: 'connecting' | 'connected' | 'unreachable';
  /** Start of the current outage (its first failure), epoch ms. */
  downSince: number | null;
  /** Attempts that failed in the current outage. */
  attempts: number;
  lastError: string | null;
  /** When the next attempt is due, epoch ms. */
  nextAttemptAt: number | null;
}

/** The events Reconnector.watch() listens to (an mqtt.js client has them). */
export interface ReconnectingClient {
  on(event: 'connect', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

export interface ReconnectorOptions {
  /** Names the link in log lines: "uplink", "province broker". */
  what: string;
  log: Logger;
  /** Starts the next connection attempt (its outcome comes back through connected() / closed()). */
  attempt(): void;
  /** Added to every line (the URL). */
  fields?: Record<string, unknown>;
  policy?: ReconnectPolicy;
  clock?: Clock;
  random?: () => number;
}

/**
 * Reconnects a link with exponential, jittered backoff, and logs an outage in a few lines: its
 * first failure (warn, with the reason), a summary at most every `summaryEveryMs` while it lasts,
 * and one line when the link is back. The client itself must not reconnect (mqtt.js:
 * `reconnectPeriod: 0`): its own fixed period is what wrote a line every 2 s.
 */
export class Reconnector {
  private readonly policy: ReconnectPolicy;
  private readonly clock: Clock;
  private cancelTimer: (() => void) | null = null;
  private stopped = false;
  /** Consecutive failures: the backoff exponent (kept across a connection that did not stay up). */
  private failures = 0;
  private upSince: number | null = null;
  private everConnected = false;
  private lastSummaryAt = 0;
  private current: LinkState = { state: 'connecting', downSince: null, attempts: 0, lastError: null, nextAttemptAt: null };

  constructor(private readonly options: ReconnectorOptions) {
    this.policy = options.policy ?? DEFAULT_RECONNECT;
    this.clock = options.clock ?? systemClock;
  }

  get state(): LinkState {
    return { ...this.current };
  }

  /** "unreachable for 12 min, 9 attempts, last error ECONNREFUSED, next try in 4 min" (or "connected"). */
  describe(): string {
    const s = this.current;
    if (s.state === 'connected') return 'connected';
    if (s.downSince === null) return 'connecting';
    const now = this.clock.now();
    const next = s.nextAttemptAt === null ? 'trying now' : `next try in ${formatDuration(Math.max(0, s.nextAttemptAt - now))}`;
    return `unreachable for ${formatDuration(now - s.downSince)}, ${s.attempts} attempt${s.attempts === 1 ? '' : 's'}, last error ${s.lastError ?? 'none'}, ${next}`;
  }

  /** Wires a client's connect, error and close events to connected(), error() and closed(). */
  watch(client: ReconnectingClient): void {
    client.on('connect', () => this.connected());
    client.on('error', (err) => this.error(err));
    client.on('close', () => this.closed());
  }

  connected(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const { downSince, attempts, lastError } = this.current;
    const o = this.options;
    if (downSince !== null)
      o.log.info({ ...o.fields, downMs: now - downSince, attempts, lastError }, `${o.what} connected again after ${formatDuration(now - downSince)}`);
    else if (!this.everConnected) o.log.info({ ...o.fields }, `${o.what} connected`);
    this.everConnected = true;
    this.upSince = now;
    this.current = { state: 'connected', downSince: null, attempts: 0, lastError: null, nextAttemptAt: null };
  }

  /** The reason of the failure the next closed() reports (a client emits error, then close). */
  error(err: Error | string): void {
    this.current.lastError = typeof err === 'string' ? err : err.message;
  }

  /** An attempt failed or the connection dropped: schedules the next attempt, logs only what is new. */
  closed(): void {
    if (this.stopped || this.cancelTimer) return;
    const now = this.clock.now();
    const o = this.options;
    const wasUp = this.upSince !== null;
    if (this.upSince !== null && now - this.upSince >= this.policy.stableMs) this.failures = 0;
    this.upSince = null;
    const delay = backoffDelay(++this.failures, this.policy, o.random);
    const s = this.current;
    s.lastError ??= 'connection closed';
    s.nextAttemptAt = now + delay;
    s.attempts++;
    if (s.downSince === null) {
      s.downSince = now;
      s.state = 'unreachable';
      this.lastSummaryAt = now;
      o.log.warn(
        { ...o.fields, err: s.lastError, retryInMs: delay },
        `${o.what} ${wasUp ? 'connection lost' : 'unreachable'}: ${s.lastError}; retrying with backoff up to every ${formatDuration(this.policy.maxMs)}, a summary every ${formatDuration(this.policy.summaryEveryMs)} until it is back`,
      );
    } else if (now - this.lastSummaryAt >= this.policy.summaryEveryMs) {
      this.lastSummaryAt = now;
      o.log.warn(
        { ...o.fields, downMs: now - s.downSince, attempts: s.attempts, lastError: s.lastError, retryInMs: delay },
        `${o.what} still ${this.describe()}`,
      );
    }
    this.cancelTimer = this.clock.setTimer(() => {
      this.cancelTimer = null;
      this.current.nextAttemptAt = null;
      if (!this.stopped) o.attempt();
    }, delay);
  }

  /** No attempt after this (cancels the pending one). */
  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.current.nextAttemptAt = null;
  }
}
