import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import websocket from '@fastify/websocket';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { RuntimeView } from '../runtime.ts';
import { ConsoleAuth } from './auth.ts';
import { registerHealthRoutes } from './healthRoutes.ts';
import { registerJournalRoutes } from './journalRoutes.ts';
import type { AgentMetrics } from './metrics.ts';
import { registerOutboxRoutes } from './outboxRoutes.ts';
import { registerConfigRoutes } from './configRoutes.ts';
import { registerDiagnosticsRoute } from './diagnostics.ts';
import { AuditLog, registerAudit } from './audit.ts';
import { ConnectionGuard, createGuardedServer } from './limits.ts';
import { AllowedHosts } from './origin.ts';
import { isPageAsset, registerPageSecurity } from './pageSecurity.ts';
import { errorResponses } from './schemas.ts';
import { httpLimits, loginPolicy } from './settings.ts';
import { registerTlsInfo, tlsInfo } from './tlsInfo.ts';
import { registerLogRoutes } from './logRoutes.ts';
import { registerChartsRoutes } from './chartsRoutes.ts';
import { registerConsoleRoutes } from './consoleRoutes.ts';
import { recentLogLines } from '../log.ts';

export interface LocalApiOptions {
  runtime: RuntimeView;
  metrics: AgentMetrics;
  log: Logger;
  /** Extra route plugins (queue, kiosk, console) registered by later modules; their guards run in onRequest too. */
  plugins?: Array<(app: FastifyInstance, auth: ConsoleAuth) => void | Promise<void>>;
}

export interface LocalApi {
  app: FastifyInstance;
  auth: ConsoleAuth;
  /** Listens on `http.host:port` (HTTPS with `http.tls`) and, with TLS, plain HTTP on 127.0.0.1:`loopbackPort`. */
  listen(): Promise<void>;
  connections: ConnectionGuard;
}

/** A module's error code as the API passes it on (QUEUE_EMPTY), not a Fastify, Node or system code. */
const API_ERROR_CODE = /^(?!FST_|ERR_)[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;

/**
 * The one error handler of the local API, modules' routes included (they register none of their
 * own). Bad input gets a 400 that says which field and why, never a stack trace. An error that
 * carries its HTTP status (`statusCode` 4xx, e.g. `QueueError`: QUEUE_EMPTY → 409) is answered with
 * that status, its message and its `code` (what pages act on: an upper-case `MODULE_WHAT` code;
 * Fastify's `FST_…`, Node's `ERR_…` and system codes such as `ENOENT` are not passed on); anything
 * else is a 500 logged with the URL.
 */
export function apiErrorHandler(
  err: { validation?: unknown; statusCode?: number; code?: unknown; message: string },
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (err.validation) return reply.code(400).send({ error: `invalid request: ${err.message}` });
  const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
  if (status >= 500) {
    req.log.error({ err, url: req.url }, 'request failed');
    return reply.code(status).send({ error: 'internal error; see the agent log' });
  }
  const code = typeof err.code === 'string' && API_ERROR_CODE.test(err.code) ? { code: err.code } : {};
  return reply.code(status).send({ error: err.message, ...code });
}

/**
 * The box's local API (fastify): health, metrics, journal, outbox, ingest, OpenAPI, pages.
 * Every request passes the connection bounds, the Host check and the guards (onRequest)
 * before its body is read; every answer carries the security headers.
 */
export async function buildLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  const { runtime, metrics } = options;
  const http = runtime.config.http;
  const limits = httpLimits(http);
  const log = options.log.child({ module: 'http' });
  const connections = new ConnectionGuard(ConnectionGuard.allowList(http.allowedPeers), limits, log);
  let handler: RequestListener<typeof IncomingMessage, typeof ServerResponse> | undefined;
  const app = Fastify({
    loggerInstance: log as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyKB * 1024,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
    serverFactory: (h) => {
      handler = h as typeof handler;
      return createGuardedServer(handler!, limits, connections, http.tls);
    },
  });
  const audit = new AuditLog(runtime.store.db, (write) => runtime.store.committer.submit(write), http.auditDays ?? 365, log);
  const auth = new ConsoleAuth({
    accounts: ConsoleAuth.accountsFrom(http),
    kiosks: runtime.config.kiosk?.units ?? [],
    kioskLoopback: runtime.config.kiosk?.allowLoopback ?? true,
    sessionHours: http.sessionHours,
    sessionIdleMinutes: http.sessionIdleMinutes ?? 30,
    login: loginPolicy(http),
    audit,
    log,
  });
  // Every WebSocket route (queue live feed, kiosk) gets the same bound on what a page may send.
  // Registered before the hooks below: its own onRequest hook must see an upgrade that they
  // refuse, so that the upgraded socket is closed after the refusal (not left half-open).
  await app.register(websocket, { options: { maxPayload: limits.webSocketMaxPayloadKB * 1024 } });
  // Before any route: the guards of every route, plugins' too, run in onRequest.
  auth.runGuardsFirst(app);
  const hosts = new AllowedHosts({ listenHost: http.host, extra: http.allowedHosts, certificate: http.tls?.cert });
  registerPageSecurity(app, hosts);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Edge agent local API',
        version: '1',
        description:
          "The box's API for the kiosk, screens, console and scripts. Admin routes need a session cookie from POST /api/login or HTTP Basic; a write with the cookie must come from the box's own page (Origin).",
      },
      components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'edge_session' }, basic: { type: 'http', scheme: 'basic' } } },
    },
  });
  app.setErrorHandler(apiErrorHandler);

  auth.register(app);
  registerAudit(app, audit, auth.requireAdmin);
  registerTlsInfo(app, tlsInfo(http, runtime.configFile, log));
  registerHealthRoutes(app, runtime);
  metrics.register(app, http.metrics ?? 'login', auth.requireAdmin);
  registerJournalRoutes(app, runtime, auth.requireAdmin);
  registerOutboxRoutes(app, runtime, auth.requireAdmin);
  registerConfigRoutes(app, runtime, auth.requireAdmin, () => runtime.requestRestart());
  registerDiagnosticsRoute(app, runtime, auth.requireAdmin);
  registerLogRoutes(app, recentLogLines, auth.requireAdmin);
  registerChartsRoutes(app, runtime, auth.requireAdmin);
  registerConsoleRoutes(app, runtime, auth.requireAdmin);

  app.get('/api/devices', { preHandler: auth.requireAdmin, schema: { tags: ['devices'], summary: 'Devices and destinations with live status' } }, async () => ({
    box: { id: runtime.config.box.id, facility: runtime.config.box.facility, startedAt: new Date(runtime.startedAt).toISOString() },
    devices: runtime.devices(),
    destinations: runtime.destinations(),
  }));

  app.post(
    '/api/devices/:id/test',
    {
      preHandler: auth.requireAdmin,
      config: { audit: 'device.test' },
      schema: {
        tags: ['devices'],
        summary: "Run the device's test (listening check, test ticket, card read…); up to 25 s",
        params: { type: 'object', properties: { id: { type: 'string' } } },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const result = await runtime.testDevice((req.params as { id: string }).id);
      if (!result) return reply.code(404).send({ error: 'no running device with that id' });
      return result;
    },
  );

  const openapi = http.openapi ?? 'login';
  if (openapi !== 'off')
    app.get('/openapi.json', { ...(openapi === 'login' ? { preHandler: auth.requireAdmin } : {}), schema: { hide: true } }, async () => app.swagger());
  // Browser pages: only page assets under kiosk/ (no sources, no dot files, no `..`).
  await app.register(fastifyStatic, {
    root: fileURLToPath(new URL('../../kiosk/', import.meta.url)),
    prefix: '/',
    index: ['index.html'],
    redirect: true,
    wildcard: true,
    dotfiles: 'deny',
    allowedPath: (pathname, root) => isPageAsset(pathname, String(root)),
  });
  app.get('/', { schema: { hide: true } }, (_req, reply) => reply.sendFile('status/index.html'));
  for (const plugin of options.plugins ?? []) await plugin(app, auth);

  let loopback: Server | null = null;
  app.addHook('preClose', async () => {
    loopback?.close();
    loopback?.closeIdleConnections();
  });
  app.addHook('onClose', async () => connections.close());
  const listen = async (): Promise<void> => {
    await app.listen({ host: http.host, port: http.port });
    if (!http.tls || !http.loopbackPort) return;
    // Plain HTTP for the browsers on the box (kiosk, call screen): the same routes, hooks and bounds.
    const server = createGuardedServer(handler!, limits, connections);
    server.on('upgrade', (req, socket, head) => app.server.emit('upgrade', req, socket, head));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(http.loopbackPort, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await app.close();
      throw err;
    }
    loopback = server;
    log.info(
      { https: `${http.host}:${(app.server.address() as { port: number }).port}`, http: `127.0.0.1:${http.loopbackPort}` },
      "HTTPS for the LAN, plain HTTP on loopback for the box's own browsers",
    );
  };
  return { app, auth, listen, connections };
}
