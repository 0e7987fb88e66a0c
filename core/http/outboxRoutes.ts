import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import type { RuntimeView } from '../runtime.ts';
import { errorResponses } from './schemas.ts';

/** Outbox status per destination and the console's actions: retry now, park, requeue. */
export function registerOutboxRoutes(app: FastifyInstance, runtime: RuntimeView, requireAdmin: preHandlerHookHandler): void {
  const known = (id: string) => id in runtime.config.destinations;

  app.get(
    '/api/outbox',
    { preHandler: requireAdmin, schema: { tags: ['outbox'], summary: 'Status per destination: depth, oldest age, last error, counters' } },
    async () => {
      const statuses = runtime.store.outbox.status(Object.keys(runtime.config.destinations));
      const views = new Map(runtime.destinations().map((d) => [d.id, d]));
      return {
        destinations: statuses.map((s) => {
          const view = views.get(s.destination);
          return {
            ...s,
            type: view?.type ?? 'unknown',
            state: view?.status.state ?? 'unconfigured',
            inFlight: view?.stats.inFlight ?? 0,
            lastSuccessAt: view?.stats.lastSuccessMs ? new Date(view.stats.lastSuccessMs).toISOString() : null,
          };
        }),
      };
    },
  );

  app.get(
    '/api/outbox/:destination/items',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['outbox'],
        summary: 'Items of one destination',
        querystring: { type: 'object', properties: { state: { enum: ['pending', 'done', 'parked'] }, limit: { type: 'integer', minimum: 1, maximum: 1000 } } },
      },
    },
    async (req) => {
      const { destination } = req.params as { destination: string };
      const q = req.query as { state?: string; limit?: number };
      return { items: runtime.store.outbox.list({ destination, state: q.state, limit: q.limit }) };
    },
  );

  app.post(
    '/api/outbox/:destination/retry',
    {
      preHandler: requireAdmin,
      config: { audit: 'outbox.retry' },
      schema: {
        tags: ['outbox'],
        summary: 'Try now instead of waiting for the backoff (one item with ?item=ID, or all)',
        querystring: { type: 'object', properties: { item: { type: 'integer' } } },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const { destination } = req.params as { destination: string };
      if (!known(destination)) return reply.code(404).send({ error: `no destination "${destination}" in the configuration` });
      const changed = await runtime.store.outbox.retryNow(destination, (req.query as { item?: number }).item);
      req.auditDetail = { retried: changed };
      runtime.wakeDestination(destination);
      return { retried: changed };
    },
  );

  app.post(
    '/api/outbox/items/:id/park',
    {
      preHandler: requireAdmin,
      config: { audit: 'outbox.park' },
      schema: {
        tags: ['outbox'],
        summary: 'Park a pending item in dead letter by hand',
        body: { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 3 } } },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const ok = await runtime.store.outbox.parkByHand((req.params as { id: number }).id, (req.body as { reason: string }).reason);
      if (!ok) return reply.code(409).send({ error: 'that item is not pending (already delivered or parked?)' });
      return { parked: true };
    },
  );

  app.post(
    '/api/outbox/items/:id/requeue',
    {
      preHandler: requireAdmin,
      config: { audit: 'outbox.requeue' },
      schema: { tags: ['outbox'], summary: 'Move a parked item back to pending', response: errorResponses },
    },
    async (req, reply) => {
      const ok = await runtime.store.outbox.requeue(Number((req.params as { id: string }).id));
      if (!ok) return reply.code(409).send({ error: 'that item is not parked' });
      for (const d of Object.keys(runtime.config.destinations)) runtime.wakeDestination(d);
      return { requeued: true };
    },
  );
}
