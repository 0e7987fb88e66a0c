import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../../core/contract/http.ts';
import type { ModuleApi, ModuleContext, RouteGuard } from '../../core/contract/module.ts';
import { HisOrderError, HisOrderIntake, hisCancelOf, type HisOrder } from '../his/index.ts';
import { ORDER_CACHE_SERVICE, type LabOrder, type OrderCache } from './orderCache.ts';

/** A HIS/LIS order as the order cache keeps it: keyed by what the analyzer or modality will see. */
export function labOrderFromHis(o: HisOrder): LabOrder {
  const order: LabOrder = {
    specimenId: o.accessionNumber ?? o.orderId,
    orderId: o.orderId,
    tests: o.items.map((i) => i.code),
    items: o.items,
  };
  if (o.accessionNumber) order.accessionNumber = o.accessionNumber;
  if (o.patient.hisPatientId ?? o.patient.cccd) order.patientId = o.patient.hisPatientId ?? o.patient.cccd;
  if (o.patient.fullName) order.patientName = o.patient.fullName;
  if (o.patient.dateOfBirth) order.patientBirthDate = o.patient.dateOfBirth;
  if (o.patient.sex) order.patientSex = o.patient.sex === 'male' ? 'M' : o.patient.sex === 'female' ? 'F' : 'U';
  if (o.priority) order.priority = o.priority === 'urgent' ? 'S' : 'R';
  if (o.orderedAt) order.orderedAt = o.orderedAt;
  if (o.scheduled) order.scheduled = o.scheduled;
  if (o.referringPhysician) order.referringPhysician = o.referringPhysician;
  return order;
}

/**
 * Applies one validated batch: new orders replace; cancels go through the cache's one cancel rule
 * (`OrderCache.cancelOrder`, the same as an HL7 ORC-1 CA).
 */
export function applyHisOrders(cache: OrderCache, orders: HisOrder[]): void {
  for (const o of orders) {
    if (o.action === 'new') cache.upsert(labOrderFromHis(o));
    else cache.cancelOrder(hisCancelOf(o));
  }
}

/**
 * POST /api/orders: the HIS or LIS pushes orders (JSON, `HisOrder` shape) into the box's order
 * cache, so analyzers' host queries and the modality worklist are answered when the uplink is
 * down. The batch is journaled (audit) and applied before the 200; one invalid order refuses the
 * whole batch with a 400 naming it.
 */
export function registerOrdersRoutes(
  app: FastifyInstance,
  ctx: Pick<ModuleContext, 'journalFor'>,
  api: Pick<ModuleApi, 'services'> & { requireAdmin: RouteGuard },
): void {
  const { requireAdmin } = api;
  const intake = new HisOrderIntake();
  const journal = ctx.journalFor('orders', []);
  intake.receiveOrders(async (orders) => {
    const cache = api.services.get(ORDER_CACHE_SERVICE);
    if (!cache) throw new Error('no order cache in this agent');
    const body = JSON.stringify(orders);
    // Applied in the batch's own commit and only for a new batch: a late resend of an older batch
    // must not overwrite what a newer one said.
    await journal.append({
      stream: 'lab.order',
      kind: 'http',
      idempotencyKey: 'orders:' + createHash('sha256').update(body).digest('hex').slice(0, 32),
      raw: Buffer.from(body),
      personal: true,
      routes: [],
      withEntry: () => applyHisOrders(cache, orders),
    });
  });
  app.post(
    '/api/orders',
    {
      preHandler: requireAdmin,
      config: { audit: 'orders.push' },
      schema: {
        tags: ['lab'],
        summary: 'Push orders (one, a list, or { orders: [...] }) into the order cache for host queries and worklists',
        body: { anyOf: [{ type: 'object' }, { type: 'array' }] },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      try {
        const orders = await intake.accept(req.body);
        req.auditDetail = { accepted: orders.length };
        return { accepted: orders.length };
      } catch (err) {
        if (err instanceof HisOrderError) return reply.code(400).send({ error: err.message });
        req.log.error({ reason: (err as Error).message }, 'orders not stored');
        return reply.code(503).send({ error: `orders not stored, send again later: ${(err as Error).message}` });
      }
    },
  );
  // What the order cache holds (names: behind login), so IT staff can see why a modality's
  // worklist or an analyzer's host query does or does not find a patient.
  app.get<{ Querystring: { q?: string; limit?: number } }>(
    '/api/orders',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['lab'],
        summary: 'Orders in the cache, newest first; q: start of a specimen id, accession number or patient id',
        querystring: {
          type: 'object',
          properties: { q: { type: 'string', maxLength: 64 }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
          additionalProperties: false,
        },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const cache = api.services.get(ORDER_CACHE_SERVICE);
      if (!cache) return reply.code(503).send({ error: 'no order cache in this agent' });
      return cache.browse(req.query.q?.trim() || undefined, req.query.limit ?? 100);
    },
  );
}
