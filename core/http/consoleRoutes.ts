import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { isoWithOffset, zoneOffsetMinutes } from '../contract/clock.ts';
import type { AgentConfig } from '../config/types.ts';
import { routesTaking } from '../contract/destination.ts';
import { destinationStreams } from '../registry.ts';
import type { RuntimeView } from '../runtime.ts';
import { errorResponses } from './schemas.ts';

/** The journal streams a configured destination takes (undefined: the default set), as the controller routes them. */

/** The route lists that feed the journal, by source (devices, the queue, the kiosk's feedback). */
function routesOf(config: AgentConfig, source: string): string[] {
  if (config.devices[source]) return config.devices[source]!.routes;
  if (source === 'queue') return config.queue?.routes ?? [];
  if (source === 'kiosk') return config.kiosk?.feedbackRoutes ?? [];
  return [];
}

/**
 * Where an entry can sensibly be sent again: the destinations it was already routed to (its
 * outbox rows) and those its source routes that take its stream today (a route added since).
 * A PACS is never offered for an ASTM frame.
 */
export function resendTargets(runtime: RuntimeView, journalId: number): Array<{ destination: string; state: string | null }> | null {
  const entry = runtime.store.journalStore.get(journalId);
  if (!entry) return null;
  const rows = runtime.store.outbox.list({ journalId });
  const config = runtime.config;
  const routed = routesTaking(routesOf(config, entry.source), entry.stream, (d) => destinationStreams(config.destinations, d)).filter(
    (d) => d in config.destinations,
  );
  const names = [...new Set([...rows.map((r) => r.destination), ...routed])].filter((d) => d in config.destinations);
  return names.map((destination) => ({ destination, state: rows.find((r) => r.destination === destination)?.state ?? null }));
}

/** Read-only facts for the console: the box's time zone (every time on the page is shown in it) and resend targets. */
export function registerConsoleRoutes(app: FastifyInstance, runtime: RuntimeView, requireAdmin: preHandlerHookHandler): void {
  app.get(
    '/api/box',
    { preHandler: requireAdmin, schema: { tags: ['devices'], summary: 'The box: id, facility, name and the time zone every page shows times in' } },
    async () => {
      const { id, facility, name, department, timezone } = runtime.config.box;
      const now = Date.now();
      return {
        id,
        facility,
        name: name ?? null,
        department: department ?? null,
        timezone,
        utcOffsetMinutes: zoneOffsetMinutes(now, timezone),
        now: isoWithOffset(now, timezone),
      };
    },
  );

  app.get(
    '/api/journal/:id/targets',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['journal'],
        summary: 'Destinations this entry can be sent again to: those it was routed to and those its source routes that take its stream',
        params: { type: 'object', properties: { id: { type: 'integer' } } },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const targets = resendTargets(runtime, (req.params as { id: number }).id);
      if (!targets) return reply.code(404).send({ error: 'no journal entry with that id' });
      return { targets };
    },
  );
}
