import type { Logger } from 'pino';
import type { EventBus } from '../contract/events.ts';
import type { Clock } from '../contract/clock.ts';
import type { Outbox } from '../store/outbox.ts';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import type { DeliveryOutcome, Destination, OutboxItem } from '../contract/destination.ts';

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
  /** The "stable" hold: an order key's items wait until it received nothing for this long (0: none). */
  stableMs?: number;
  /**
   * Items per request for a destination with deliverBatch (1: one deliver() per item). The
   * window then counts requests, so up to window × batchSize items are in flight.
   */
  batchSize?: number;
  /** A batch stops growing before its files pass this many bytes (a single larger item goes alone). */
  batchMaxBytes?: number;
}

export const DEFAULT_BATCH_MAX_BYTES = 64 * 1024 * 1024;

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
  /** Requests in flight (an item alone or a batch): what the window limits. */
  private busy = 0;
  private readonly abort = new AbortController();
  private running = false;
  private cancelTimer: (() => void) | null = null;
  private pumping = false;
  private pumpAgain = false;
  private idleWaiters: Array<() => void> = [];
  /** Since when deliveries fail, and how many attempts did: the outage's one warning and its end. */
  private failing: { since: number; attempts: number } | null = null;

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

  private get batchSize(): number {
    return this.destination.deliverBatch ? Math.max(1, this.options.batchSize ?? 1) : 1;
  }

  private pump(): void {
    const free = Math.max(0, this.options.window - this.busy);
    const batchSize = this.batchSize;
    const { items, nextDueMs } = this.outbox.claim(this.destination.id, free * batchSize, this.inFlight, this.options.ordered, this.options.stableMs ?? 0);
    if (batchSize > 1) for (const batch of this.batches(items, free, batchSize)) this.sendBatch(batch);
    else for (const item of items) this.send(item);
    // Due items that could not be claimed (window full, head in flight) are picked up when a
    // delivery finishes; only a future due time needs a timer.
    this.cancelTimer?.();
    this.cancelTimer = nextDueMs === null ? null : this.clock.setTimer(() => this.wake(), Math.max(0, nextDueMs - this.clock.now()));
  }

  /**
   * Cuts claimed items (already grouped by order key, i.e. by study) into at most `slots`
   * batches: consecutive items, so a batch mixes studies only where one ends. A small claim is
   * spread over the free slots (parallel requests beat one long one on a high-latency link).
   */
  private batches(items: OutboxItem[], slots: number, batchSize: number): OutboxItem[][] {
    const byKey = new Map<string, OutboxItem[]>();
    for (const item of items) {
      const group = byKey.get(item.orderKey);
      if (group) group.push(item);
      else byKey.set(item.orderKey, [item]);
    }
    const grouped = [...byKey.values()].flat();
    const target = Math.min(batchSize, Math.max(1, Math.ceil(grouped.length / Math.max(1, slots))));
    const maxBytes = this.options.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES;
    const out: OutboxItem[][] = [];
    let current: OutboxItem[] = [];
    let bytes = 0;
    for (const item of grouped) {
      const size = item.blob?.size ?? item.raw?.length ?? 0;
      if (current.length > 0 && (current.length >= target || bytes + size > maxBytes)) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(item);
      bytes += size;
    }
    if (current.length) out.push(current);
    // Items beyond the free slots stay pending and are claimed again when a request finishes.
    return out.slice(0, slots);
  }

  private send(item: OutboxItem): void {
    this.sendBatch([item]);
  }

  private sendBatch(items: OutboxItem[]): void {
    for (const item of items) this.inFlight.add(item.outboxId);
    this.busy++;
    this.stats.inFlight = this.inFlight.size;
    const attempt = items.length === 1 && this.batchSize === 1 ? this.attempt(items[0]!).then((o) => [o]) : this.attemptBatch(items);
    attempt
      .then((outcomes) => Promise.all(items.map((item, i) => this.record(item, outcomes[i]!))))
      .catch((err) => this.log.error({ err, outboxIds: items.map((i) => i.outboxId) }, 'recording a delivery outcome failed; the item stays pending'))
      .finally(() => {
        for (const item of items) this.inFlight.delete(item.outboxId);
        this.busy--;
        this.stats.inFlight = this.inFlight.size;
        if (this.inFlight.size === 0) this.idleWaiters.splice(0).forEach((w) => w());
        this.wake();
      });
  }

  private attempt(item: OutboxItem): Promise<DeliveryOutcome> {
    return this.guarded((signal) => this.destination.deliver(item, signal));
  }

  /** One request for the batch; whatever goes wrong with the request as a whole is a retry of every item. */
  private async attemptBatch(items: OutboxItem[]): Promise<DeliveryOutcome[]> {
    const result = await this.guarded<DeliveryOutcome[]>((signal) => this.destination.deliverBatch!(items, signal));
    if (!Array.isArray(result)) return items.map(() => result);
    if (result.length !== items.length) {
      const reason = `destination answered ${result.length} outcomes for ${items.length} items`;
      return items.map((): DeliveryOutcome => ({ result: 'retry', reason }));
    }
    return result;
  }

  /** Runs one request under the attempt time limit and the stop signal; a throw or an abort is a retry. */
  private async guarded<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T | DeliveryOutcome> {
    const timeout = AbortSignal.timeout(this.options.attemptTimeoutMs);
    const signal = AbortSignal.any([timeout, this.abort.signal]);
    try {
      return await Promise.race([
        run(signal),
        new Promise<DeliveryOutcome>((resolve) =>
          signal.addEventListener(
            'abort',
            () =>
              resolve({
                result: 'retry',
                reason: this.running ? `no answer within ${this.options.attemptTimeoutMs} ms` : 'cut off by agent stop; outcome unknown',
              }),
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
      if (this.failing) {
        this.log.info(
          { failedAttempts: this.failing.attempts, since: new Date(this.failing.since).toISOString() },
          `delivering again after ${this.failing.attempts} failed attempt(s) over ${Math.round((this.clock.now() - this.failing.since) / 1000)} s`,
        );
        this.failing = null;
      }
      this.stats.delivered++;
      this.stats.lastSuccessMs = this.clock.now();
      this.bus.emit('outbox.delivered', { destination: dest, outboxId: item.outboxId, journalId: item.journalId, source: item.source });
    } else if (outcome.result === 'permanent') {
      await this.outbox.park(item.outboxId, dest, outcome.reason);
      this.stats.parked++;
      this.stats.lastError = outcome.reason;
      this.log.warn({ outboxId: item.outboxId, key: item.idempotencyKey, reason: outcome.reason }, 'destination refused item; parked in dead letter');
      this.bus.emit('outbox.failed', { destination: dest, outboxId: item.outboxId, error: outcome.reason, permanent: true });
    } else {
      const delay = backoffDelay(item.attempts + 1, this.options.backoff);
      await this.outbox.markRetry(item.outboxId, this.clock.now() + delay, outcome.reason);
      this.stats.retried++;
      this.stats.lastError = outcome.reason;
      // An outage is one warning, not a line per item and attempt (a day offline would be thousands).
      const fields = { outboxId: item.outboxId, attempts: item.attempts + 1, retryInMs: delay, reason: outcome.reason };
      if (this.failing) {
        this.failing.attempts++;
        this.log.debug(fields, 'delivery failed; will retry');
      } else {
        this.failing = { since: this.clock.now(), attempts: 1 };
        this.log.warn(fields, 'delivery failed; items wait on disk and are retried with backoff (further failures at debug until one succeeds)');
      }
      this.bus.emit('outbox.failed', { destination: dest, outboxId: item.outboxId, error: outcome.reason, permanent: false });
    }
  }
}
