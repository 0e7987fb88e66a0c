import client from 'prom-client';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { RuntimeView } from '../runtime.ts';

/** Prometheus metrics; gauges are read from the store and components at scrape time. */
export class AgentMetrics {
  readonly registry = new client.Registry();
  readonly appends = new client.Counter({
    name: 'edge_journal_appends_total',
    help: 'Journal appends by stream and outcome',
    labelNames: ['stream', 'outcome'],
    registers: [this.registry],
  });
  readonly commitSeconds = new client.Histogram({
    name: 'edge_journal_commit_seconds',
    help: 'Duration of one durable commit (fsync included)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly commitBatch = new client.Histogram({
    name: 'edge_journal_commit_batch_size',
    help: 'Writes carried by one commit (group commit)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 500],
    registers: [this.registry],
  });

  constructor(runtime: () => RuntimeView | null) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'edge_' });
    const registry = this.registry;
    new client.Gauge({
      name: 'edge_outbox_depth',
      help: 'Items waiting per destination',
      labelNames: ['destination', 'state'],
      registers: [registry],
      collect() {
        const rt = runtime();
        if (!rt) return;
        for (const s of rt.store.outbox.status(Object.keys(rt.config.destinations))) {
          this.set({ destination: s.destination, state: 'pending' }, s.pending);
          this.set({ destination: s.destination, state: 'parked' }, s.parked);
        }
      },
    });
    new client.Gauge({
      name: 'edge_outbox_oldest_pending_seconds',
      help: 'Age of the oldest undelivered item per destination',
      labelNames: ['destination'],
      registers: [registry],
      collect() {
        const rt = runtime();
        if (!rt) return;
        for (const s of rt.store.outbox.status(Object.keys(rt.config.destinations))) this.set({ destination: s.destination }, (s.oldestPendingMs ?? 0) / 1000);
      },
    });
    new client.Gauge({
      name: 'edge_component_up',
      help: '1 when a device driver or destination is running',
      labelNames: ['kind', 'id', 'state'],
      registers: [registry],
      collect() {
        const rt = runtime();
        if (!rt) return;
        this.reset();
        for (const d of rt.devices()) this.set({ kind: 'device', id: d.id, state: d.status.state }, d.status.state === 'running' ? 1 : 0);
        for (const d of rt.destinations()) this.set({ kind: 'destination', id: d.id, state: d.status.state }, d.status.state === 'running' ? 1 : 0);
      },
    });
    this.registerStoreAlarmGauges(runtime);
    new client.Gauge({
      name: 'edge_store_disk_used_percent',
      help: 'Share of the store disk budget in use',
      registers: [registry],
      collect() {
        const rt = runtime();
        if (rt) this.set(rt.store.budget.current.usedPercent);
      },
    });
  }

  /** Raw capture quota and personal data waiting too long (the store's alarms, as gauges). */
  private registerStoreAlarmGauges(runtime: () => RuntimeView | null): void {
    const registry = this.registry;
    new client.Gauge({
      name: 'edge_capture_bytes',
      help: 'Raw capture bytes held (used) and allowed (quota, store.captureMB); stopped is 1 while captures are stopped',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        const usage = runtime()?.store.captures.usage();
        if (!usage) return;
        this.set({ kind: 'used' }, usage.usedBytes);
        this.set({ kind: 'quota' }, usage.quotaBytes);
        this.set({ kind: 'stopped' }, usage.stopped ? 1 : 0);
      },
    });
    new client.Gauge({
      name: 'edge_personal_data_oldest_days',
      help: 'Age of the oldest personal data still pending or parked, per source, once past the alarm age (retention.personalMaxDays × personalAlarmPercent)',
      labelNames: ['source', 'state', 'level'],
      registers: [registry],
      collect() {
        const rt = runtime();
        if (!rt) return;
        this.reset();
        for (const r of rt.store.lastPersonalDataAge) this.set({ source: r.source, state: r.state, level: r.level }, r.ageDays);
      },
    });
  }

  observeCommit(durationMs: number, writes: number): void {
    this.commitSeconds.observe(durationMs / 1000);
    this.commitBatch.observe(writes);
  }

  /** `http.metrics`: off (no route), login (`requireAdmin`: an admin session or HTTP Basic), open. */
  register(app: FastifyInstance, exposure: 'off' | 'login' | 'open', requireAdmin: preHandlerAsyncHookHandler): void {
    if (exposure === 'off') return;
    const guard = exposure === 'login' ? { preHandler: requireAdmin } : {};
    app.get('/metrics', { ...guard, schema: { tags: ['health'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
      reply.header('content-type', this.registry.contentType);
      return this.registry.metrics();
    });
  }
}
