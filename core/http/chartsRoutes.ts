import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { isoWithOffset } from '../contract/clock.ts';
import type { RuntimeView } from '../runtime.ts';
import { bucketsEnding, outboxDepth, receivedPerSource, type Buckets, type Series } from './chartSeries.ts';
import { errorResponses } from './schemas.ts';

const window = {
  type: 'object',
  additionalProperties: false,
  properties: {
    hours: { type: 'integer', minimum: 1, maximum: 168, default: 24 },
    bucketMinutes: { type: 'integer', enum: [10, 15, 30, 60], default: 60 },
  },
} as const;

/** The console's charts over the last day(s): messages per device, outbox depth per destination. */
export function registerChartsRoutes(app: FastifyInstance, runtime: RuntimeView, requireAdmin: preHandlerHookHandler): void {
  const answer = (b: Buckets, series: Series[]) => ({
    timezone: runtime.config.box.timezone,
    from: isoWithOffset(b.fromMs, runtime.config.box.timezone),
    fromMs: b.fromMs,
    toMs: b.toMs,
    bucketMinutes: b.bucketMs / 60_000,
    series,
  });
  const buckets = (q: { hours?: number; bucketMinutes?: number }) =>
    bucketsEnding(Date.now(), q.hours ?? 24, q.bucketMinutes ?? 60, runtime.config.box.timezone);

  app.get(
    '/api/charts/received',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['charts'],
        summary: 'Messages received per device and time bucket (results and frames of a message not counted again)',
        querystring: window,
        response: errorResponses,
      },
    },
    async (req) => {
      const b = buckets(req.query as { hours?: number; bucketMinutes?: number });
      return answer(b, receivedPerSource(runtime.store.db, b, Object.keys(runtime.config.devices)));
    },
  );

  app.get(
    '/api/charts/outbox',
    {
      preHandler: requireAdmin,
      schema: { tags: ['charts'], summary: 'Items waiting per destination at the end of each time bucket', querystring: window, response: errorResponses },
    },
    async (req) => {
      const b = buckets(req.query as { hours?: number; bucketMinutes?: number });
      return answer(b, outboxDepth(runtime.store.db, b, Object.keys(runtime.config.destinations)));
    },
  );
}
