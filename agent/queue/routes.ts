import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import websocket from '@fastify/websocket';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { PrinterPool } from '../../drivers/printer/printerPool.ts';
import { queueStats, statsCsv } from './stats.ts';
import { TicketPrinting, type TicketPrinter } from './ticketPrinting.ts';
import type { TicketQueue } from './ticketQueue.ts';
import { PRIORITY_CLASSES, QueueError, type QueueEvent } from './types.ts';

export type { TicketPrinter } from './ticketPrinting.ts';

export interface QueueRoutesOptions {
  queue: TicketQueue;
  /** The printers service, or a getter (printer drivers may start after the API). */
  printers?: TicketPrinter | (() => TicketPrinter | undefined);
  /** Shared with the kiosk so every print is logged once (made from `printers` when absent). */
  printing?: TicketPrinting;
  /** Statistics, print log and printer previews. */
  requireAdmin: preHandlerAsyncHookHandler;
  /**
   * Counter actions, transfers, priority confirmation, cancel and reprint: staff-facing, so they
   * need the console login (default: requireAdmin). Issuing a ticket (the kiosk), the live feed
   * and the state (numbers only, no personal data) stay open to the LAN.
   */
  requireStaff?: preHandlerAsyncHookHandler;
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
const by = { type: 'string', maxLength: 80, description: 'Staff member doing the action (recorded with the event)' } as const;
const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 100 } }, required: ['id'] } as const;
const printResult = { type: ['object', 'null'], additionalProperties: true, properties: { ok: { type: 'boolean' }, error: { type: 'string' }, printer: { type: 'string' } } } as const;
const COUNTER_ACTIONS = ['next', 'recall', 'serve', 'skip', 'finish'] as const;
const STATUS: Record<QueueError['code'], number> = {
  QUEUE_UNKNOWN_SERVICE: 404,
  QUEUE_UNKNOWN_COUNTER: 404,
  QUEUE_UNKNOWN_TICKET: 404,
  QUEUE_BAD_STATE: 409,
  QUEUE_EMPTY: 409,
  QUEUE_TOLERANCE_EXCEEDED: 409,
  QUEUE_BAD_INPUT: 400,
};

const AUDIO_DIR = fileURLToPath(new URL('../../kiosk/audio/clips/', import.meta.url));

/**
 * The queue's HTTP API and live feed: issue tickets (kiosk), counter actions (staff page),
 * statistics (JSON/CSV), and /api/queue/live (WebSocket: a full snapshot on connect, then
 * every change).
 */
export const queueRoutes: FastifyPluginAsync<QueueRoutesOptions> = async (app, opts) => {
  const { queue } = opts;
  if (!app.hasDecorator('websocketServer')) await app.register(websocket);
  const printers = (): TicketPrinter | undefined => (typeof opts.printers === 'function' ? opts.printers() : opts.printers);
  const printing = opts.printing ?? new TicketPrinting(queue, printers, { qr: opts.qr !== false });
  const staff = opts.requireStaff ?? opts.requireAdmin;
  const sockets = new Set<{ send(data: string): void; readyState: number }>();
  const broadcast = (msg: unknown): void => {
    const text = JSON.stringify(msg);
    for (const s of sockets) if (s.readyState === 1) s.send(text);
  };
  const off = queue.onEvent((event: QueueEvent) => {
    const snapshot = queue.snapshot();
    broadcast({ type: 'change', event, call: queue.callView(event), snapshot });
  });
  const offPrint = printing.onPrint((result, record) => broadcast({ type: 'print', result, record }));
  app.addHook('onClose', async () => {
    off();
    offPrint();
  });

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, req, reply) => {
    if (err instanceof QueueError) return reply.code(STATUS[err.code]).send({ error: err.message, code: err.code });
    if (err.validation) return reply.code(400).send({ error: `invalid request: ${err.message}` });
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err, url: req.url }, 'queue request failed');
    return reply.code(status).send({ error: status >= 500 ? 'internal error; see the agent log' : err.message });
  });

  const print = (ticketId: string, printer?: string) => printing.print(ticketId, printer ? { printer } : {});

  app.get('/api/queue/state', { schema: { tags: ['queue'], summary: 'Services, counters and the live snapshot (what screens and the counter page show)', response: { 200: { type: 'object', additionalProperties: true } } } }, async () => ({
    config: queue.config,
    priorityClasses: PRIORITY_CLASSES,
    snapshot: queue.snapshot(),
  }));

  app.post(
    '/api/queue/tickets',
    {
      schema: {
        tags: ['queue'],
        summary: 'Issue a ticket; answers once it is on disk, printing follows (print=wait to wait for the printer)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['service'],
          properties: {
            service: { type: 'string', maxLength: 64 },
            birthDate: { type: 'string', pattern: '^\\d{4}(-\\d{2}-\\d{2})?$', description: 'Only used to derive under-6 / 75+ priority; not stored' },
            claim: { type: 'string', enum: [...PRIORITY_CLASSES], description: 'Priority the patient claims (staff confirm)' },
            print: { type: 'string', enum: ['no', 'queue', 'wait'], default: 'queue' },
            printer: { type: 'string', maxLength: 64 },
          },
        },
        response: { 201: { type: 'object', properties: { ticket: ticketSchema, ahead: { type: 'integer' }, serviceName: { type: 'string' }, print: printResult, printing: { type: 'string' } } }, ...errors },
      },
    },
    async (req, reply) => {
      const body = req.body as { service: string; birthDate?: string; claim?: (typeof PRIORITY_CLASSES)[number]; print?: 'no' | 'queue' | 'wait'; printer?: string };
      const mode = body.print ?? 'queue';
      const willPrint = mode !== 'no' && printing.available;
      const { ticket, ahead } = await queue.issue({ service: body.service, ...(body.birthDate ? { birthDate: body.birthDate } : {}), ...(body.claim ? { claim: body.claim } : {}), ...(willPrint ? { print: true } : {}) });
      const serviceName = queue.config.services.find((s) => s.id === ticket.service)?.name ?? ticket.service;
      if (mode === 'wait') return reply.code(201).send({ ticket, ahead, serviceName, print: await print(ticket.id, body.printer), printing: 'done' });
      // The screen shows the number first; a print failure never loses the ticket (reprint).
      if (mode === 'queue' && printing.available) void print(ticket.id, body.printer).catch((err: unknown) => req.log.warn({ err }, 'ticket print failed'));
      return reply.code(201).send({ ticket, ahead, serviceName, print: null, printing: mode === 'queue' && printing.available ? 'queued' : 'none' });
    },
  );

  app.get('/api/queue/tickets/:id', { schema: { tags: ['queue'], summary: 'One ticket and the people ahead of it', params: idParams, response: { 200: { type: 'object', properties: { ticket: ticketSchema, ahead: { type: 'integer' } } }, ...errors } } }, async (req) => {
    const ticket = queue.get((req.params as { id: string }).id);
    return { ticket, ahead: queue.peopleAhead(ticket) };
  });

  app.post(
    '/api/queue/tickets/:id/reprint',
    {
      preHandler: staff,
      schema: {
        tags: ['queue'],
        summary: 'Print a ticket again (printer failed, paper out): on the named printer, the counter\'s printer, or the service\'s',
        params: idParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { printer: { type: 'string', maxLength: 64 }, counter: { type: 'string', maxLength: 64 } } },
        response: { 200: { type: 'object', properties: { print: printResult } }, ...errors },
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      queue.get(id);
      if (!printing.available) return reply.code(503).send({ error: 'no printer is configured' });
      const b = (req.body ?? {}) as { printer?: string; counter?: string };
      const result = await printing.print(id, { ...(b.printer ? { printer: b.printer } : {}), ...(b.counter ? { counter: b.counter } : {}) }, true);
      return { print: result };
    },
  );

  app.post(
    '/api/queue/tickets/:id/transfer',
    {
      preHandler: staff,
      schema: {
        tags: ['queue'],
        summary: 'Send a ticket to another service and/or counter, to the end or the front',
        params: idParams,
        body: { type: 'object', additionalProperties: false, required: ['position'], properties: { service: { type: 'string' }, counter: { type: 'string' }, position: { type: 'string', enum: ['end', 'front'] }, by } },
        response: { 200: { type: 'object', properties: { ticket: ticketSchema } }, ...errors },
      },
    },
    async (req) => {
      const b = req.body as { service?: string; counter?: string; position: 'end' | 'front'; by?: string };
      return { ticket: await queue.transfer((req.params as { id: string }).id, b) };
    },
  );

  app.post(
    '/api/queue/tickets/:id/cancel',
    { preHandler: staff, schema: { tags: ['queue'], summary: 'Cancel a ticket', params: idParams, body: { type: ['object', 'null'], properties: { by } }, response: { 200: { type: 'object', properties: { ticket: ticketSchema } }, ...errors } } },
    async (req) => ({ ticket: await queue.cancel((req.params as { id: string }).id, (req.body as { by?: string } | null)?.by) }),
  );

  app.post(
    '/api/queue/tickets/:id/priority',
    {
      preHandler: staff,
      schema: {
        tags: ['queue'],
        summary: 'Staff confirm or reject a claimed priority (who is recorded)',
        params: idParams,
        body: { type: 'object', additionalProperties: false, required: ['by'], properties: { by: { ...by, minLength: 1 }, accept: { type: 'boolean', default: true } } },
        response: { 200: { type: 'object', properties: { ticket: ticketSchema } }, ...errors },
      },
    },
    async (req) => {
      const b = req.body as { by: string; accept?: boolean };
      return { ticket: await queue.confirmPriority((req.params as { id: string }).id, b.by, b.accept ?? true) };
    },
  );

  app.post(
    '/api/queue/counters/:id/:action',
    {
      preHandler: staff,
      schema: {
        tags: ['queue'],
        summary: 'Counter actions: next (finishes the current ticket), recall (current, or a skipped ticket within tolerance), serve, skip, finish',
        params: { type: 'object', required: ['id', 'action'], properties: { id: { type: 'string' }, action: { type: 'string', enum: [...COUNTER_ACTIONS] } } },
        body: { type: ['object', 'null'], additionalProperties: false, properties: { by, ticket: { type: 'string', description: 'recall: a skipped ticket id' } } },
        response: { 200: { type: 'object', properties: { ticket: ticketSchema } }, ...errors },
      },
    },
    async (req) => {
      const { id, action } = req.params as { id: string; action: (typeof COUNTER_ACTIONS)[number] };
      const b = (req.body ?? {}) as { by?: string; ticket?: string };
      switch (action) {
        case 'next':
          return { ticket: await queue.callNext(id, b.by) };
        case 'recall':
          return { ticket: await queue.recall(id, b.ticket, b.by) };
        case 'serve':
          return { ticket: await queue.startServing(id, b.by) };
        case 'skip':
          return { ticket: await queue.skip(id, b.by) };
        case 'finish':
          return { ticket: await queue.finish(id, b.by) };
      }
    },
  );

  app.get(
    '/api/queue/stats',
    {
      preHandler: opts.requireAdmin,
      schema: {
        tags: ['queue'],
        summary: 'Waiting time (first call − issue), service time, no-show rate per service, priority class and hour; format=csv for a spreadsheet',
        querystring: { type: 'object', properties: { from: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, to: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, format: { type: 'string', enum: ['json', 'csv'], default: 'json' } } },
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
      preHandler: staff,
      schema: {
        tags: ['queue'],
        summary: "Today's ticket prints, newest first; failed=true: tickets whose last print failed and that still wait (reprint them)",
        querystring: { type: 'object', additionalProperties: false, properties: { failed: { type: 'boolean', default: false }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } } },
      },
    },
    async (req) => {
      const q = req.query as { failed?: boolean; limit?: number };
      return { prints: printing.recent({ failed: q.failed ?? false, limit: q.limit ?? 50 }) };
    },
  );

  app.get('/api/queue/printers', { preHandler: staff, schema: { tags: ['queue'], summary: 'Printers: tickets printed/failed/pending, paper and cover status, last error, last ticket' } }, async () => {
    const pool = printers() as PrinterPool | undefined;
    return { printers: typeof pool?.list === 'function' ? pool.list() : [] };
  });

  app.get(
    '/api/queue/printers/:id/last.png',
    { preHandler: opts.requireAdmin, schema: { tags: ['queue'], summary: 'The last ticket sent to a printer, as the raster it printed (console preview)', params: idParams } },
    async (req, reply) => {
      const pool = printers() as PrinterPool | undefined;
      const png = typeof pool?.get === 'function' ? pool.get((req.params as { id: string }).id)?.lastTicketPng() : null;
      if (!png) return reply.code(404).send({ error: 'no ticket printed on this printer since the agent started' });
      return reply.header('content-type', 'image/png').header('cache-control', 'no-store').send(png);
    },
  );

  // Voice clips made by kiosk/audio/generate.ts (espeak-ng) or replaced by recorded ones.
  app.get('/api/queue/audio/:file', { schema: { tags: ['queue'], summary: 'Call-screen voice clips and their manifest', params: { type: 'object', properties: { file: { type: 'string', pattern: '^[a-z0-9-]+\\.(wav|json)$' } } } } }, async (req, reply) => {
    const file = (req.params as { file: string }).file;
    const path = `${AUDIO_DIR}${file}`;
    if (!existsSync(path)) return reply.code(404).send({ error: 'clip not found: run `npx tsx kiosk/audio/generate.ts`' });
    return reply.header('content-type', file.endsWith('.json') ? 'application/json' : 'audio/wav').header('cache-control', 'max-age=3600').send(await readFile(path));
  });

  app.get('/api/queue/live', { websocket: true, schema: { tags: ['queue'], summary: 'WebSocket: {type:"snapshot"} on connect, then {type:"change"} and {type:"print"} messages' } }, (socket) => {
    sockets.add(socket);
    socket.send(JSON.stringify({ type: 'snapshot', snapshot: queue.snapshot() }));
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => sockets.delete(socket));
  });
};
