import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { CLIPS_DIR } from '../../kiosk/audio/clipsDir.ts';
import { originGuard } from '../kiosk/index.ts';
import { publicEvent, publicSnapshot } from './publicView.ts';
import { actingUser, StaffScope } from './staffScope.ts';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { PrinterPool } from '../printer/index.ts';
import { queueStats, statsCsv } from './stats.ts';
import { TicketPrinting, type TicketPrinter } from './ticketPrinting.ts';
import type { TicketQueue } from './ticketQueue.ts';
import { PRIORITY_CLASSES, type QueueEvent } from './types.ts';

export type { TicketPrinter } from './ticketPrinting.ts';

/** A route guard (ConsoleAuth.requireAdmin / requireStaff / requireKiosk): replies itself when it refuses. */
export type RouteGuard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface QueueRoutesOptions {
  queue: TicketQueue;
  /** The printers service, or a getter (printer drivers may start after the API). */
  printers?: TicketPrinter | (() => TicketPrinter | undefined);
  /** Shared with the kiosk so every print is logged once (made from `printers` when absent). */
  printing?: TicketPrinting;
  /** Statistics and printer previews. */
  requireAdmin: RouteGuard;
  /**
   * Counter actions, transfers, priority confirmation, cancel, reprint, tickets in full and the
   * print log: a staff (or admin) login, limited to the account's counters. The state and the
   * live feed (numbers only: publicView.ts) stay open to the LAN for the call screens.
   */
  requireStaff: RouteGuard;
  /** Issuing a ticket without a login: the kiosk's credential (a staff login works too). */
  requireKiosk: RouteGuard;
  /** Origins besides the box's own that the pages may be served from (kiosk.allowedOrigins). */
  allowedOrigins?: string[];
  /** Print a QR with the ticket id (default true). */
  qr?: boolean;
}

const error = { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string' } }, required: ['error'] } as const;
const errors = { '4xx': error, '5xx': error } as const;
const ticketSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    id: { type: 'string' },
    service: { type: 'string' },
    day: { type: 'string' },
    number: { type: 'string' },
    priority: { type: ['string', 'null'] },
    priorityStatus: { type: ['string', 'null'] },
    state: { type: 'string' },
    counter: { type: ['string', 'null'] },
    issuedAt: { type: 'integer' },
  },
} as const;
const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 100 } }, required: ['id'] } as const;
const printResult = {
  type: ['object', 'null'],
  additionalProperties: true,
  properties: { ok: { type: 'boolean' }, error: { type: 'string' }, printer: { type: 'string' } },
} as const;
const COUNTER_ACTIONS = ['next', 'recall', 'serve', 'skip', 'finish'] as const;

const AUDIO_DIR = CLIPS_DIR;

/**
 * The queue's HTTP API and live feed: issue tickets (kiosk), counter actions (staff page),
 * statistics (JSON/CSV), and /api/queue/live (WebSocket: a full snapshot on connect, then
 * every change). Registered inside the local API (core/http/server.ts), whose WebSocket plugin
 * (with its maxPayload) and error handler apply: a `QueueError` carries its HTTP status, so it is
 * answered `{ error, code }` with that status.
 */
export const queueRoutes: FastifyPluginAsync<QueueRoutesOptions> = async (app, opts) => {
  const { queue } = opts;
  const printers = (): TicketPrinter | undefined => (typeof opts.printers === 'function' ? opts.printers() : opts.printers);
  const printing = opts.printing ?? new TicketPrinting(queue, printers, { qr: opts.qr !== false });
  const scope = new StaffScope(() => queue.config);
  // Authentication in onRequest: nothing is parsed or validated for a caller without the right.
  const origin = originGuard(opts.allowedOrigins ?? []);
  const staff = [origin, opts.requireStaff];
  const admin = [origin, opts.requireAdmin];
  const hasLogin = (req: FastifyRequest) => /(?:^|;\s*)edge_session=/.test(req.headers.cookie ?? '') || req.headers.authorization !== undefined;
  // A staff login issues tickets from the counter; the kiosk issues them with its own credential.
  const issuer = [origin, async (req: FastifyRequest, reply: FastifyReply) => (hasLogin(req) ? opts.requireStaff : opts.requireKiosk)(req, reply)];
  const refuse = (reply: FastifyReply, message: string | null) => (message ? reply.code(403).send({ error: message, code: 'QUEUE_NOT_YOUR_COUNTER' }) : null);
  const ticketAllowed = (req: FastifyRequest, reply: FastifyReply, id: string) => refuse(reply, scope.ticketRefusal(req.principal, queue.get(id)));
  const sockets = new Set<{ send(data: string): void; readyState: number }>();
  const broadcast = (msg: unknown): void => {
    const text = JSON.stringify(msg);
    for (const s of sockets) if (s.readyState === 1) s.send(text);
  };
  const off = queue.onEvent((event: QueueEvent) => {
    broadcast({ type: 'change', event: publicEvent(queue, event), call: queue.callView(event), snapshot: publicSnapshot(queue, queue.snapshot()) });
  });
  const offPrint = printing.onPrint((result, record) => broadcast({ type: 'print', result, record }));
  app.addHook('onClose', async () => {
    off();
    offPrint();
  });

  const print = (ticketId: string, printer?: string) => printing.print(ticketId, printer ? { printer } : {});

  app.get(
    '/api/queue/state',
    {
      schema: {
        tags: ['queue'],
        summary: 'Services, counters and the live snapshot (what screens and the counter page show)',
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    async () => ({
      config: queue.config,
      priorityClasses: PRIORITY_CLASSES,
      snapshot: publicSnapshot(queue, queue.snapshot()),
    }),
  );

  app.get(
    '/api/queue/me',
    { onRequest: staff, schema: { tags: ['queue'], summary: 'The logged-in account and the counters it may act for (the counter page)' } },
    async (req) => ({
      user: actingUser(req.principal) ?? null,
      role: req.principal?.kind === 'user' ? req.principal.role : null,
      counters: scope.counters(req.principal),
    }),
  );

  app.get(
    '/api/queue/counters/:id',
    {
      onRequest: staff,
      schema: {
        tags: ['queue'],
        summary: 'A counter and its current ticket in full (priority class, who confirmed it): the counter page',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        response: errors,
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if (refuse(reply, scope.counterRefusal(req.principal, id))) return reply;
      const counter = queue.config.counters.find((c) => c.id === id);
      if (!counter) return reply.code(404).send({ error: `no counter ${id}`, code: 'QUEUE_UNKNOWN_COUNTER' });
      return { counter, current: queue.currentAt(id) };
    },
  );

  app.post(
    '/api/queue/tickets',
    {
      onRequest: issuer,
      bodyLimit: 4096,
      schema: {
        tags: ['queue'],
        summary: 'Issue a ticket; answers once it is on disk, printing follows (print=wait to wait for the printer)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['service'],
          properties: {
            service: { type: 'string', maxLength: 64 },
            birthDate: {
              type: 'string',
              pattern: '^\\d{4}(-\\d{2}-\\d{2})?$',
              description: 'From a logged-in staff member who saw the ID only: derives under-6 / 75+ priority; not stored',
            },
            claim: { type: 'string', enum: [...PRIORITY_CLASSES], description: 'Priority the patient claims (staff confirm)' },
            print: { type: 'string', enum: ['no', 'queue', 'wait'], default: 'queue' },
            printer: { type: 'string', maxLength: 64 },
          },
        },
        response: {
          201: {
            type: 'object',
            properties: { ticket: ticketSchema, ahead: { type: 'integer' }, serviceName: { type: 'string' }, print: printResult, printing: { type: 'string' } },
          },
          ...errors,
        },
      },
    },
    async (req, reply) => {
      const body = req.body as {
        service: string;
        birthDate?: string;
        claim?: (typeof PRIORITY_CLASSES)[number];
        print?: 'no' | 'queue' | 'wait';
        printer?: string;
      };
      // A birth date decides a priority class: only staff who saw the ID may give one. The
      // kiosk's priority comes from the card the box read (/api/kiosk/checkin).
      if (body.birthDate && req.principal?.kind !== 'user')
        return reply.code(403).send({
          error:
            'a birth date is accepted only from a logged-in staff member; the kiosk takes the priority from the card the box read (POST /api/kiosk/checkin)',
        });
      // A kiosk unit on the LAN goes through /api/kiosk/checkin, where its tickets are rate-limited;
      // here only staff and the box's own tools (loopback) issue.
      if (req.principal?.kind === 'kiosk' && req.principal.kioskId !== 'local')
        return reply.code(403).send({ error: 'kiosk units issue tickets through POST /api/kiosk/checkin' });
      const mode = body.print ?? 'queue';
      const willPrint = mode !== 'no' && printing.available;
      const { ticket, ahead } = await queue.issue({
        service: body.service,
        ...(body.birthDate ? { birthDate: body.birthDate } : {}),
        ...(body.claim ? { claim: body.claim } : {}),
        ...(willPrint ? { print: true } : {}),
      });
      const serviceName = queue.config.services.find((s) => s.id === ticket.service)?.name ?? ticket.service;
      if (mode === 'wait') return reply.code(201).send({ ticket, ahead, serviceName, print: await print(ticket.id, body.printer), printing: 'done' });
      // The screen shows the number first; a print failure never loses the ticket (reprint).
      if (mode === 'queue' && printing.available) void print(ticket.id, body.printer).catch((err: unknown) => req.log.warn({ err }, 'ticket print failed'));
      return reply.code(201).send({ ticket, ahead, serviceName, print: null, printing: mode === 'queue' && printing.available ? 'queued' : 'none' });
    },
  );

  app.get(
    '/api/queue/tickets/:id',
    {
      onRequest: staff,
      schema: {
        tags: ['queue'],
        summary: 'One ticket in full and the people ahead of it (staff)',
        params: idParams,
        response: { 200: { type: 'object', properties: { ticket: ticketSchema, ahead: { type: 'integer' } } }, ...errors },
      },
    },
    async (req) => {
      const ticket = queue.get((req.params as { id: string }).id);
      return { ticket, ahead: queue.peopleAhead(ticket) };
    },
  );

  app.post(
    '/api/queue/tickets/:id/reprint',
    {
      onRequest: staff,
      schema: {
        tags: ['queue'],
        summary: "Print a ticket again (printer failed, paper out): on the named printer, the counter's printer, or the service's",
        params: idParams,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { printer: { type: 'string', maxLength: 64 }, counter: { type: 'string', maxLength: 64 } },
        },
        response: { 200: { type: 'object', properties: { print: printResult } }, ...errors },
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const b = (req.body ?? {}) as { printer?: string; counter?: string };
      if (refuse(reply, b.counter ? scope.counterRefusal(req.principal, b.counter) : scope.ticketRefusal(req.principal, queue.get(id)))) return reply;
      // Not a server failure: an unknown ticket, or a box without a printer, is the caller's to fix.
      if (!queue.get(id)) return reply.code(404).send({ error: `no ticket ${id} today`, code: 'QUEUE_UNKNOWN_TICKET' });
      if (!printing.available) return reply.code(409).send({ error: 'no printer is configured', code: 'QUEUE_NO_PRINTER' });
      const result = await printing.print(id, { ...(b.printer ? { printer: b.printer } : {}), ...(b.counter ? { counter: b.counter } : {}) }, true);
      return { print: result };
    },
  );

  app.post(
    '/api/queue/tickets/:id/transfer',
    {
      onRequest: staff,
      schema: {
        tags: ['queue'],
        summary: 'Send a ticket to another service and/or counter, to the end or the front',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['position'],
          properties: {
            service: { type: 'string', maxLength: 64 },
            counter: { type: 'string', maxLength: 64 },
            position: { type: 'string', enum: ['end', 'front'] },
          },
        },
        response: { 200: { type: 'object', properties: { ticket: ticketSchema } }, ...errors },
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if (ticketAllowed(req, reply, id)) return reply;
      const b = req.body as { service?: string; counter?: string; position: 'end' | 'front' };
      const by = actingUser(req.principal);
      return { ticket: await queue.transfer(id, { ...b, ...(by ? { by } : {}) }) };
    },
  );

  app.post(
    '/api/queue/tickets/:id/cancel',
    {
      onRequest: staff,
      schema: {
        tags: ['queue'],
        summary: 'Cancel a ticket',
        params: idParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: {} },
        response: { 200: { type: 'object', properties: { ticket: ticketSchema } }, ...errors },
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if (ticketAllowed(req, reply, id)) return reply;
      return { ticket: await queue.cancel(id, actingUser(req.principal)) };
    },
  );

  app.post(
    '/api/queue/tickets/:id/priority',
    {
      onRequest: staff,
      schema: {
        tags: ['queue'],
        summary: 'Staff confirm or reject a claimed priority (the logged-in account is recorded)',
        params: idParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { accept: { type: 'boolean', default: true } } },
        response: { 200: { type: 'object', properties: { ticket: ticketSchema } }, ...errors },
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      if (ticketAllowed(req, reply, id)) return reply;
      const b = (req.body ?? {}) as { accept?: boolean };
      return { ticket: await queue.confirmPriority(id, actingUser(req.principal) ?? 'staff', b.accept ?? true) };
    },
  );

  app.post(
    '/api/queue/counters/:id/:action',
    {
      onRequest: staff,
      schema: {
        tags: ['queue'],
        summary: 'Counter actions: next (finishes the current ticket), recall (current, or a skipped ticket within tolerance), serve, skip, finish',
        params: {
          type: 'object',
          required: ['id', 'action'],
          properties: { id: { type: 'string', maxLength: 64 }, action: { type: 'string', enum: [...COUNTER_ACTIONS] } },
        },
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { ticket: { type: 'string', maxLength: 100, description: 'recall: a skipped ticket id' } },
        },
        response: { 200: { type: 'object', properties: { ticket: ticketSchema } }, ...errors },
      },
    },
    async (req, reply) => {
      const { id, action } = req.params as { id: string; action: (typeof COUNTER_ACTIONS)[number] };
      if (refuse(reply, scope.counterRefusal(req.principal, id))) return reply;
      const b = (req.body ?? {}) as { ticket?: string };
      const by = actingUser(req.principal);
      switch (action) {
        case 'next':
          return { ticket: await queue.callNext(id, by) };
        case 'recall':
          return { ticket: await queue.recall(id, b.ticket, by) };
        case 'serve':
          return { ticket: await queue.startServing(id, by) };
        case 'skip':
          return { ticket: await queue.skip(id, by) };
        case 'finish':
          return { ticket: await queue.finish(id, by) };
      }
    },
  );

  app.get(
    '/api/queue/stats',
    {
      onRequest: admin,
      schema: {
        tags: ['queue'],
        summary: 'Waiting time (first call − issue), service time, no-show rate per service, priority class and hour; format=csv for a spreadsheet',
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            to: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            format: { type: 'string', enum: ['json', 'csv'], default: 'json' },
          },
        },
        response: { 200: { type: ['object', 'string'], additionalProperties: true }, ...errors },
      },
    },
    async (req: FastifyRequest, reply: FastifyReply) => {
      const q = req.query as { from?: string; to?: string; format?: string };
      const today = queue.today();
      const stats = queueStats(queue, q.from ?? today, q.to ?? q.from ?? today);
      if (q.format === 'csv') {
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="queue-stats-${stats.fromDay}-${stats.toDay}.csv"`)
          .send(statsCsv(stats));
      }
      return stats;
    },
  );

  app.get(
    '/api/queue/prints',
    {
      onRequest: staff,
      schema: {
        tags: ['queue'],
        summary: "Today's ticket prints, newest first; failed=true: tickets whose last print failed and that still wait (reprint them)",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { failed: { type: 'boolean', default: false }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
        },
      },
    },
    async (req) => {
      const q = req.query as { failed?: boolean; limit?: number };
      return { prints: printing.recent({ failed: q.failed ?? false, limit: q.limit ?? 50 }) };
    },
  );

  app.get(
    '/api/queue/printers',
    { onRequest: staff, schema: { tags: ['queue'], summary: 'Printers: tickets printed/failed/pending, paper and cover status, last error, last ticket' } },
    async () => {
      const pool = printers() as PrinterPool | undefined;
      return { printers: typeof pool?.list === 'function' ? pool.list() : [] };
    },
  );

  app.get(
    '/api/queue/printers/:id/last.png',
    {
      onRequest: admin,
      schema: { tags: ['queue'], summary: 'The last ticket sent to a printer, as the raster it printed (console preview)', params: idParams },
    },
    async (req, reply) => {
      const pool = printers() as PrinterPool | undefined;
      const png = typeof pool?.get === 'function' ? pool.get((req.params as { id: string }).id)?.lastTicketPng() : null;
      if (!png) return reply.code(404).send({ error: 'no ticket printed on this printer since the agent started' });
      return reply.header('content-type', 'image/png').header('cache-control', 'no-store').send(png);
    },
  );

  // Voice clips made by kiosk/audio/generate.ts (espeak-ng) or replaced by recorded ones.
  app.get(
    '/api/queue/audio/:file',
    {
      schema: {
        tags: ['queue'],
        summary: 'Call-screen voice clips and their manifest',
        params: { type: 'object', properties: { file: { type: 'string', pattern: '^[a-z0-9-]+\\.(wav|json)$' } } },
      },
    },
    async (req, reply) => {
      const file = (req.params as { file: string }).file;
      const path = `${AUDIO_DIR}${file}`;
      if (!existsSync(path)) return reply.code(404).send({ error: 'clip not found: run `npx tsx kiosk/audio/generate.ts`' });
      return reply
        .header('content-type', file.endsWith('.json') ? 'application/json' : 'audio/wav')
        .header('cache-control', 'max-age=3600')
        .send(await readFile(path));
    },
  );

  app.get(
    '/api/queue/live',
    { websocket: true, schema: { tags: ['queue'], summary: 'WebSocket: {type:"snapshot"} on connect, then {type:"change"} and {type:"print"} messages' } },
    (socket) => {
      sockets.add(socket);
      socket.send(JSON.stringify({ type: 'snapshot', snapshot: publicSnapshot(queue, queue.snapshot()) }));
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => sockets.delete(socket));
    },
  );
};
