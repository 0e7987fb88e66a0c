import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { resendTargets } from './consoleRoutes.ts';
import type { RuntimeView } from '../runtime.ts';
import type { JournalRow } from '../store/journal.ts';
import { errorResponses } from './schemas.ts';

const listQuery = {
  type: 'object',
  properties: {
    source: { type: 'string' },
    stream: { type: 'string' },
    kind: { type: 'string' },
    since: { type: 'string', format: 'date-time', description: 'ISO 8601' },
    until: { type: 'string', format: 'date-time' },
    before: { type: 'integer', description: 'Page backwards: entries with a lower id' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
} as const;

/** Journal browsing for IT staff: list, filter, one entry raw and parsed, raw captures. */
export function registerJournalRoutes(app: FastifyInstance, runtime: RuntimeView, requireAdmin: preHandlerHookHandler): void {
  app.get(
    '/api/journal',
    {
      preHandler: requireAdmin,
      schema: { tags: ['journal'], summary: 'List journal entries, newest first', querystring: listQuery, response: errorResponses },
    },
    async (req, reply) => {
      const q = req.query as { source?: string; stream?: string; kind?: string; since?: string; until?: string; before?: number; limit?: number };
      const sinceMs = q.since ? Date.parse(q.since) : undefined;
      const untilMs = q.until ? Date.parse(q.until) : undefined;
      if (Number.isNaN(sinceMs) || Number.isNaN(untilMs))
        return reply.code(400).send({ error: 'since/until must be ISO 8601 times, e.g. 2026-11-22T08:00:00+07:00' });
      const rows = runtime.store.journalStore.list({ source: q.source, stream: q.stream, kind: q.kind, sinceMs, untilMs, beforeId: q.before, limit: q.limit });
      return { entries: rows.map((r) => summary(r)), next: rows.length ? rows[rows.length - 1]!.id : null };
    },
  );

  app.get(
    '/api/journal/:id',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['journal'],
        summary: 'One journal entry with raw bytes and parsed form',
        params: { type: 'object', properties: { id: { type: 'integer' } } },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const row = runtime.store.journalStore.get((req.params as { id: number }).id);
      if (!row) return reply.code(404).send({ error: 'no journal entry with that id' });
      return {
        ...summary(row),
        raw: row.raw ? { base64: row.raw.toString('base64'), text: printable(row.raw) } : null,
        parsed: row.parsed,
        meta: row.meta,
        outbox: runtime.store.outbox.list({ journalId: row.id }),
      };
    },
  );

  app.post(
    '/api/journal/:id/resend',
    {
      preHandler: requireAdmin,
      config: { audit: 'journal.resend' },
      schema: {
        tags: ['journal'],
        summary: 'Send an entry again to a destination (delivered or parked: back to pending; never routed there: queued)',
        params: { type: 'object', properties: { id: { type: 'integer' } } },
        body: { type: 'object', required: ['destination'], additionalProperties: false, properties: { destination: { type: 'string' } } },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: number }).id;
      const { destination } = req.body as { destination: string };
      req.auditDetail = { destination: destination.slice(0, 64) };
      if (!(destination in runtime.config.destinations))
        return reply
          .code(400)
          .send({ error: `destination "${destination}" is not configured (known: ${Object.keys(runtime.config.destinations).join(', ')})` });
      // Only where it could go: a destination it was routed to or that takes its stream (no ASTM frame to the PACS).
      const targets = resendTargets(runtime, id);
      if (targets && !targets.some((t) => t.destination === destination))
        return reply.code(409).send({
          error: `entry ${id} cannot go to "${destination}" (it takes: ${targets.map((t) => t.destination).join(', ') || "none of this entry's kind"})`,
        });
      const outcome = await runtime.store.outbox.resend(id, destination);
      if (outcome === 'no such entry') return reply.code(404).send({ error: 'no journal entry with that id' });
      req.log.info({ journalId: id, destination, outcome }, 'journal entry sent again from the console');
      req.auditDetail = { destination, outcome };
      runtime.wakeDestination(destination);
      return { outcome };
    },
  );

  app.get(
    '/api/captures',
    {
      preHandler: requireAdmin,
      schema: { tags: ['journal'], summary: 'Raw byte captures per connection', querystring: { type: 'object', properties: { device: { type: 'string' } } } },
    },
    async (req) => {
      return { captures: runtime.store.captures.list((req.query as { device?: string }).device) };
    },
  );

  app.get(
    '/api/captures/:id',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['journal'],
        summary: 'The bytes of one capture, in order, with direction',
        params: { type: 'object', properties: { id: { type: 'integer' } } },
      },
    },
    async (req, reply) => {
      const id = (req.params as { id: number }).id;
      const chunks = runtime.store.captures.chunks(id);
      if ((req.headers.accept ?? '').includes('application/octet-stream')) {
        // Inbound bytes only, concatenated: what `edge-agent replay` re-sends.
        reply.header('content-type', 'application/octet-stream');
        return Buffer.concat(chunks.filter((c) => c.direction === 'in').map((c) => c.bytes));
      }
      return {
        id,
        chunks: chunks.map((c) => ({ seq: c.seq, direction: c.direction, atMs: c.atMs, base64: c.bytes.toString('base64'), text: printable(c.bytes) })),
      };
    },
  );
}

function summary(r: JournalRow) {
  return {
    id: r.id,
    receivedAt: r.receivedAt,
    source: r.source,
    stream: r.stream,
    kind: r.kind,
    idempotencyKey: r.idempotencyKey,
    size: r.raw?.length ?? r.blob?.size ?? 0,
    blob: r.blob,
    personal: r.personal,
    scrubbed: r.scrubbed,
  };
}

/** Bytes as text with control characters shown as <STX>, <ETX>, <CR>… as lab staff know them. */
export function printable(bytes: Buffer): string {
  const names: Record<number, string> = {
    2: '<STX>',
    3: '<ETX>',
    4: '<EOT>',
    5: '<ENQ>',
    6: '<ACK>',
    10: '<LF>',
    11: '<VT>',
    13: '<CR>',
    21: '<NAK>',
    23: '<ETB>',
    28: '<FS>',
  };
  const text = bytes.subarray(0, 65536).toString('latin1');
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    out += names[code] ?? (code < 32 || code === 127 ? `<${code.toString(16).padStart(2, '0')}>` : ch);
    if (code === 13) out += '\n';
  }
  return bytes.length > 65536 ? `${out}… (${bytes.length} bytes)` : out;
}
