import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { INGEST_SERVICE, registerIngestRoute, type IngestRouter } from '../../drivers/http-ingest/index.ts';
import type { RuntimeView } from '../runtime.ts';
import { ConsoleAuth } from './auth.ts';
import { registerHealthRoutes } from './healthRoutes.ts';
import { registerJournalRoutes } from './journalRoutes.ts';
import type { AgentMetrics } from './metrics.ts';
import { registerOutboxRoutes } from './outboxRoutes.ts';
import { registerOrdersRoutes } from './ordersRoutes.ts';
import { registerResultsRoutes } from './resultsRoutes.ts';
import { registerConfigRoutes } from './configRoutes.ts';
import { registerDiagnosticsRoute } from './diagnostics.ts';
import { errorResponses } from './schemas.ts';

export interface LocalApiOptions {
  runtime: RuntimeView;
  metrics: AgentMetrics;
  log: Logger;
  ingest: IngestRouter;
  /** Extra route plugins (queue, kiosk, console) registered by later modules. */
  plugins?: Array<(app: FastifyInstance, auth: ConsoleAuth) => void | Promise<void>>;
}

/** The box's local API (fastify): health, metrics, journal, outbox, ingest, OpenAPI. */
export async function buildLocalApi(options: LocalApiOptions): Promise<{ app: FastifyInstance; auth: ConsoleAuth }> {
  const { runtime, metrics } = options;
  const app = Fastify({
    loggerInstance: options.log.child({ module: 'http' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024 * 1024,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Edge agent local API', version: '1', description: 'The box\'s API for the kiosk, screens, console and scripts. Admin routes need a session cookie from POST /api/login or HTTP Basic.' },
      components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'edge_session' }, basic: { type: 'http', scheme: 'basic' } } },
    },
  });

  // Bad input gets a 400 that says which field and why, never a stack trace.
  app.setErrorHandler((err: { validation?: unknown; statusCode?: number; message: string }, req, reply) => {
    if (err.validation) return reply.code(400).send({ error: `invalid request: ${err.message}` });
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err, url: req.url }, 'request failed');
    return reply.code(status).send({ error: status >= 500 ? 'internal error; see the agent log' : err.message });
  });

  const auth = new ConsoleAuth({
    accounts: ConsoleAuth.accountsFrom(runtime.config.http),
    kiosks: runtime.config.kiosk?.units ?? [],
    kioskLoopback: runtime.config.kiosk?.allowLoopback ?? true,
    sessionHours: runtime.config.http.sessionHours,
  });
  auth.register(app);
  registerHealthRoutes(app, runtime);
  metrics.register(app);
  registerJournalRoutes(app, runtime, auth.requireAdmin);
  registerOutboxRoutes(app, runtime, auth.requireAdmin);
  registerResultsRoutes(app, runtime, auth.requireAdmin);
  registerOrdersRoutes(app, runtime, auth.requireAdmin);
  registerConfigRoutes(app, runtime, auth.requireAdmin, () => runtime.requestRestart());
  registerDiagnosticsRoute(app, runtime, auth.requireAdmin);

  app.get('/api/devices', { preHandler: auth.requireAdmin, schema: { tags: ['devices'], summary: 'Devices and destinations with live status' } }, async () => ({
    box: { id: runtime.config.box.id, facility: runtime.config.box.facility, startedAt: new Date(runtime.startedAt).toISOString() },
    devices: runtime.devices(),
    destinations: runtime.destinations(),
  }));

  app.post(
    '/api/devices/:id/test',
    { preHandler: auth.requireAdmin, schema: { tags: ['devices'], summary: 'Run the device\'s test (listening check, test ticket, card read…); up to 25 s', params: { type: 'object', properties: { id: { type: 'string' } } }, response: errorResponses } },
    async (req, reply) => {
      const result = await runtime.testDevice((req.params as { id: string }).id);
      if (!result) return reply.code(404).send({ error: 'no running device with that id' });
      return result;
    },
  );

  registerIngestRoute(app, options.ingest);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // Browser pages (status today; kiosk, call screen, counter and console as they land).
  await app.register(fastifyStatic, { root: fileURLToPath(new URL('../../kiosk/', import.meta.url)), prefix: '/', index: ['index.html'], redirect: true, wildcard: true });
  app.get('/', { schema: { hide: true } }, (_req, reply) => reply.sendFile('status/index.html'));
  for (const plugin of options.plugins ?? []) await plugin(app, auth);
  return { app, auth };
}

export { INGEST_SERVICE };
