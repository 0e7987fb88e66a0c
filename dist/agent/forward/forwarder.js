import { backoffDelay, DEFAULT_BACKOFF } from "./backoff.js";
export const DEFAULT_BATCH_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_FORWARDER = { window: 8, ordered: true, attemptTimeoutMs: 60_000, backoff: DEFAULT_BACKOFF, stopGraceMs: 5_000 };
/**
 * Moves one destination's outbox items to it: claims due items (head of line per source when
 * ordered), delivers them through the Destination, and records the outcome durably. Retryable
 * failures back off exponentially with jitter and never give up; permanent refusals are parked
 * in dead letter so they never block the items behind them.
 */
export class OutboxForwarder {
    destination;
    outbox;
    clock;
    log;
    bus;
    options;
    stats = { delivered: 0, retried: 0, parked: 0, lastSuccessMs: null, lastError: null, inFlight: 0 };
    inFlight = new Set();
    /** Requests in flight (an item alone or a batch): what the window limits. */
    busy = 0;
    abort = new AbortController();
    running = false;
    cancelTimer = null;
    pumping = false;
    pumpAgain = false;
    idleWaiters = [];
    constructor(destination, outbox, clock, log, bus, options = DEFAULT_FORWARDER) {
        this.destination = destination;
        this.outbox = outbox;
        this.clock = clock;
        this.log = log;
        this.bus = bus;
        this.options = options;
    }
    get id() {
        return this.destination.id;
    }
    start() {
        this.running = true;
        this.wake();
    }
    /**
     * Stops claiming and lets in-flight deliveries finish for a short grace, then aborts them:
     * an aborted item is recorded as a retry with the same idempotency key, so systemd's stop
     * timeout is never spent waiting on a slow PACS.
     */
    async stop() {
        this.running = false;
        this.cancelTimer?.();
        if (this.inFlight.size > 0) {
            const idle = new Promise((resolve) => this.idleWaiters.push(resolve));
            let cancelGrace = () => { };
            const grace = new Promise((resolve) => {
                cancelGrace = this.clock.setTimer(resolve, this.options.stopGraceMs ?? DEFAULT_FORWARDER.stopGraceMs);
            });
            await Promise.race([idle, grace]);
            cancelGrace();
            this.abort.abort();
            await idle;
        }
        this.abort.abort();
    }
    /** New items or a console action: look at the outbox again now. */
    wake() {
        if (!this.running)
            return;
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
        }
        finally {
            this.pumping = false;
        }
    }
    get batchSize() {
        return this.destination.deliverBatch ? Math.max(1, this.options.batchSize ?? 1) : 1;
    }
    pump() {
        const free = Math.max(0, this.options.window - this.busy);
        const batchSize = this.batchSize;
        const { items, nextDueMs } = this.outbox.claim(this.destination.id, free * batchSize, this.inFlight, this.options.ordered, this.options.stableMs ?? 0);
        if (batchSize > 1)
            for (const batch of this.batches(items, free, batchSize))
                this.sendBatch(batch);
        else
            for (const item of items)
                this.send(item);
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
    batches(items, slots, batchSize) {
        const byKey = new Map();
        for (const item of items) {
            const group = byKey.get(item.orderKey);
            if (group)
                group.push(item);
            else
                byKey.set(item.orderKey, [item]);
        }
        const grouped = [...byKey.values()].flat();
        const target = Math.min(batchSize, Math.max(1, Math.ceil(grouped.length / Math.max(1, slots))));
        const maxBytes = this.options.batchMaxBytes ?? DEFAULT_BATCH_MAX_BYTES;
        const out = [];
        let current = [];
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
        if (current.length)
            out.push(current);
        // Items beyond the free slots stay pending and are claimed again when a request finishes.
        return out.slice(0, slots);
    }
    send(item) {
        this.sendBatch([item]);
    }
    sendBatch(items) {
        for (const item of items)
            this.inFlight.add(item.outboxId);
        this.busy++;
        this.stats.inFlight = this.inFlight.size;
        const attempt = items.length === 1 && this.batchSize === 1 ? this.attempt(items[0]).then((o) => [o]) : this.attemptBatch(items);
        attempt
            .then((outcomes) => Promise.all(items.map((item, i) => this.record(item, outcomes[i]))))
            .catch((err) => this.log.error({ err, outboxIds: items.map((i) => i.outboxId) }, 'recording a delivery outcome failed; the item stays pending'))
            .finally(() => {
            for (const item of items)
                this.inFlight.delete(item.outboxId);
            this.busy--;
            this.stats.inFlight = this.inFlight.size;
            if (this.inFlight.size === 0)
                this.idleWaiters.splice(0).forEach((w) => w());
            this.wake();
        });
    }
    attempt(item) {
        return this.guarded((signal) => this.destination.deliver(item, signal));
    }
    /** One request for the batch; whatever goes wrong with the request as a whole is a retry of every item. */
    async attemptBatch(items) {
        const result = await this.guarded((signal) => this.destination.deliverBatch(items, signal));
        if (!Array.isArray(result))
            return items.map(() => result);
        if (result.length !== items.length) {
            const reason = `destination answered ${result.length} outcomes for ${items.length} items`;
            return items.map(() => ({ result: 'retry', reason }));
        }
        return result;
    }
    /** Runs one request under the attempt time limit and the stop signal; a throw or an abort is a retry. */
    async guarded(run) {
        const timeout = AbortSignal.timeout(this.options.attemptTimeoutMs);
        const signal = AbortSignal.any([timeout, this.abort.signal]);
        try {
            return await Promise.race([
                run(signal),
                new Promise((resolve) => signal.addEventListener('abort', () => resolve({ result: 'retry', reason: this.running ? `no answer within ${this.options.attemptTimeoutMs} ms` : 'cut off by agent stop; outcome unknown' }), { once: true })),
            ]);
        }
        catch (err) {
            return { result: 'retry', reason: err instanceof Error ? err.message : String(err) };
        }
    }
    async record(item, outcome) {
        const dest = this.destination.id;
        if (outcome.result === 'ok') {
            await this.outbox.markDone(item.outboxId);
            this.stats.delivered++;
            this.stats.lastSuccessMs = this.clock.now();
            this.bus.emit('outbox.delivered', { destination: dest, outboxId: item.outboxId, journalId: item.journalId, source: item.source });
        }
        else if (outcome.result === 'permanent') {
            await this.outbox.park(item.outboxId, dest, outcome.reason);
            this.stats.parked++;
            this.stats.lastError = outcome.reason;
            this.log.warn({ outboxId: item.outboxId, key: item.idempotencyKey, reason: outcome.reason }, 'destination refused item; parked in dead letter');
            this.bus.emit('outbox.failed', { destination: dest, outboxId: item.outboxId, error: outcome.reason, permanent: true });
        }
        else {
            const delay = backoffDelay(item.attempts + 1, this.options.backoff);
            await this.outbox.markRetry(item.outboxId, this.clock.now() + delay, outcome.reason);
            this.stats.retried++;
            this.stats.lastError = outcome.reason;
            this.log.info({ outboxId: item.outboxId, attempts: item.attempts + 1, retryInMs: delay, reason: outcome.reason }, 'delivery failed; will retry');
            this.bus.emit('outbox.failed', { destination: dest, outboxId: item.outboxId, error: outcome.reason, permanent: false });
        }
    }
}
