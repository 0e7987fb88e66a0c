import type { FastifyInstance } from 'fastify';
import type { RuntimeView } from '../runtime.ts';

/** Liveness (the process answers) and readiness (store writable, components' status). */
export function registerHealthRoutes(app: FastifyInstance, runtime: RuntimeView): void {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness: the process answers' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['health'], summary: 'Readiness: store writable, devices and destinations running' } }, async (_req, reply) => {
    let storeOk = true;
    let storeError: string | undefined;
    try {
      await runtime.store.probeWritable();
    } catch (err) {
      storeOk = false;
      storeError = (err as Error).message;
    }
    const budget = runtime.store.budget.read();
    const devices = runtime.devices().map((d) => ({ id: d.id, type: d.type, state: d.status.state, detail: d.status.detail, lastError: d.status.lastError }));
    const destinations = runtime.destinations().map((d) => ({ id: d.id, type: d.type, state: d.status.state, lastError: d.stats.lastError }));
    const ready = storeOk && budget.level !== 'full' && [...devices, ...destinations].every((c) => c.state === 'running' || c.state === 'degraded');
    reply.code(ready ? 200 : 503);
    return { ready, store: { writable: storeOk, error: storeError, disk: budget }, devices, destinations };
  });
}
