import Fastify, { LogController } from 'fastify';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import { fileURLToPath } from 'node:url';
import { INGEST_SERVICE, registerIngestRoute } from "../../drivers/http-ingest/index.js";
import { ConsoleAuth } from "./auth.js";
import { registerHealthRoutes } from "./healthRoutes.js";
import { registerJournalRoutes } from "./journalRoutes.js";
import { registerOutboxRoutes } from "./outboxRoutes.js";
import { registerOrdersRoutes } from "./ordersRoutes.js";
import { registerResultsRoutes } from "./resultsRoutes.js";
import { registerConfigRoutes } from "./configRoutes.js";
import { registerDiagnosticsRoute } from "./diagnostics.js";
import { errorResponses } from "./schemas.js";
/** The box's local API (fastify): health, metrics, journal, outbox, ingest, OpenAPI. */
export async function buildLocalApi(options) {
    const { runtime, metrics } = options;
    const app = Fastify({
        loggerInstance: options.log.child({ module: 'http' }),
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
    app.setErrorHandler((err, req, reply) => {
        if (err.validation)
            return reply.code(400).send({ error: `invalid request: ${err.message}` });
        const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
        if (status >= 500)
            req.log.error({ err, url: req.url }, 'request failed');
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
    app.post('/api/devices/:id/test', { preHandler: auth.requireAdmin, schema: { tags: ['devices'], summary: 'Run the device\'s test (listening check, test ticket, card read…); up to 25 s', params: { type: 'object', properties: { id: { type: 'string' } } }, response: errorResponses } }, async (req, reply) => {
        const result = await runtime.testDevice(req.params.id);
        if (!result)
            return reply.code(404).send({ error: 'no running device with that id' });
        return result;
    });
    registerIngestRoute(app, options.ingest);
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    // Browser pages (status today; kiosk, call screen, counter and console as they land).
    await app.register(fastifyStatic, { root: fileURLToPath(new URL('../../kiosk/', import.meta.url)), prefix: '/', index: ['index.html'], redirect: true, wildcard: true });
    app.get('/', { schema: { hide: true } }, (_req, reply) => reply.sendFile('status/index.html'));
    for (const plugin of options.plugins ?? [])
        await plugin(app, auth);
    return { app, auth };
}
export { INGEST_SERVICE };
