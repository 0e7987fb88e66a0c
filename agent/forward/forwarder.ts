import type { Logger } from 'pino';
import type { EventBus } from '../bus.ts';
import type { Clock } from '../clock.ts';
import type { Outbox } from '../store/outbox.ts';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import type { DeliveryOutcome, Destination, OutboxItem } from './destination.ts';

export interface ForwarderOptions {
  /** Items in flight at once for this destination. */
  window: number;
  /** true: one item at a time per source, in order (lab, HIS). false: any order (DICOM instances). */
  ordered: boolean;
  /** Per-attempt time limit; past it the outcome is unknown and the item is retried. */
  attemptTimeoutMs: number;
  backoff: BackoffPolicy;
  /** On stop, in-flight deliveries get this long to finish before they are cut off (and retried after restart). */
  stopGraceMs?: number;
}

export const DEFAULT_FORWARDER: ForwarderOptions = { window: 8, ordered: true, attemptTimeoutMs: 60_000, backoff: DEFAULT_BACKOFF, stopGraceMs: 5_000 };

export interface ForwarderStats {
  delivered: number;
  retried: number;
  parked: number;
  lastSuccessMs: number | null;
  lastError: string | null;
  inFlight: number;
}

/**
 * Moves one destination's outbox items to it: claims due items (head of line per source when
 * ordered), delivers them through the Destination, and records the outcome durably. Retryable
 * failures back off exponentially with jitter and never give up; permanent refusals are parked
 * in dead letter so they never block the items behind them.
 */
export class OutboxForwarder {
  readonly stats: ForwarderStats = { delivered: 0, retried: 0, parked: 0, lastSuccessMs: null, lastError: null, inFlight: 0 };
  private readonly inFlight = new Set<number>();
  private readonly abort = new AbortController();
  private running = false;
  private cancelTimer: (() => void) | null = null;
  private pumping = false;
  private pumpAgain = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly destination: Destination,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly bus: EventBus,
    private readonly options: ForwarderOptions = DEFAULT_FORWARDER,
  ) {}

  get id(): string {
    return this.destination.id;
  }

  start(): void {
    this.running = true;
    this.wake();
  }

  /**
   * Stops claiming and lets in-flight deliveries finish for a short grace, then aborts them:
   * an aborted item is recorded as a retry with the same idempotency key, so systemd's stop
   * timeout is never spent waiting on a slow PACS.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.cancelTimer?.();
    if (this.inFlight.size > 0) {
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      let cancelGrace = (): void => {};
      const grace = new Promise<void>((resolve) => {
        cancelGrace = this.clock.setTimer(resolve, this.options.stopGraceMs ?? DEFAULT_FORWARDER.stopGraceMs!);
      });
      await Promise.race([idle, grace]);
      cancelGrace();
      this.abort.abort();
      await idle;
    }
    this.abort.abort();
  }

  /** New items or a console action: look at the outbox again now. */
  wake(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.pump();
      } while (this.pumpAgain && this.running);
    } finally {
      this.pumping = false;
    }
  }

  private pump(): void {
    const free = this.options.window - this.inFlight.size;
    const { items, nextDueMs } = this.outbox.claim(this.destination.id, free, this.inFlight, this.options.ordered);
    for (const item of items) this.send(item);
    // Due items that could not be claimed (window full, head in flight) are picked up when a
    // delivery finishes; only a future due time needs a timer.
    this.cancelTimer?.();
    this.cancelTimer = nextDueMs === null ? null : this.clock.setTimer(() => this.wake(), Math.max(0, nextDueMs - this.clock.now()));
  }

  private send(item: OutboxItem): void {
    this.inFlight.add(item.outboxId);
    this.stats.inFlight = this.inFlight.size;
    this.attempt(item)
      .then((outcome) => this.record(item, outcome))
      .catch((err) => this.log.error({ err, outboxId: item.outboxId }, 'recording a delivery outcome failed; the item stays pending'))
      .finally(() => {
        this.inFlight.delete(item.outboxId);
        this.stats.inFlight = this.inFlight.size;
        if (this.inFlight.size === 0) this.idleWaiters.splice(0).forEach((w) => w());
        this.wake();
      });
  }

  private async attempt(item: OutboxItem): Promise<DeliveryOutcome> {
    const timeout = AbortSignal.timeout(this.options.attemptTimeoutMs);
    const signal = AbortSignal.any([timeout, this.abort.signal]);
    try {
      return await Promise.race([
        this.destination.deliver(item, signal),
        new Promise<DeliveryOutcome>((resolve) =>
          signal.addEventListener(
            'abort',
            () => resolve({ result: 'retry', reason: this.running ? `no answer within ${this.options.attemptTimeoutMs} ms` : 'cut off by agent stop; outcome unknown' }),
            { once: true },
          ),
        ),
      ]);
    } catch (err) {
      return { result: 'retry', reason: err instanceof Error ? err.message : String(err) };
    }
  }

  private async record(item: OutboxItem, outcome: DeliveryOutcome): Promise<void> {
    const dest = this.destination.id;
    if (outcome.result === 'ok') {
      await this.outbox.markDone(item.outboxId);
      this.stats.delivered++;
      this.stats.lastSuccessMs = this.clock.now();
      this.bus.emit('outbox.delivered', { destination: dest, outboxId: item.outboxId, journalId: item.journalId, source: item.source });
    } else if (outcome.result === 'permanent') {
      await this.outbox.park(item.outboxId, dest, outcome.reason);
      this.stats.parked++;
      this.stats.lastError = outcome.reason;
      this.log.warn({ destination: dest, outboxId: item.outboxId, key: item.idempotencyKey, reason: outcome.reason }, 'destination refused item; parked in dead letter');
      this.bus.emit('outbox.failed', { destination: dest, outboxId: item.outboxId, error: outcome.reason, permanent: true });
    } else {
      const delay = backoffDelay(item.attempts + 1, this.options.backoff);
      await this.outbox.markRetry(item.outboxId, this.clock.now() + delay, outcome.reason);
      this.stats.retried++;
      this.stats.lastError = outcome.reason;
      this.log.info({ destination: dest, outboxId: item.outboxId, attempts: item.attempts + 1, retryInMs: delay, reason: outcome.reason }, 'delivery failed; will retry');
      this.bus.emit('outbox.failed', { destination: dest, outboxId: item.outboxId, error: outcome.reason, permanent: false });
    }
  }
}
