import type Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../../core/contract/http.ts';
import type { ModuleContext, RouteGuard } from '../../core/contract/module.ts';
import { deviceParseSettings, findUnsentResults, recoveryEntries } from './recover.ts';
import type { LabResult } from './result.ts';

/** Where a result is on its way out: every destination acknowledged, one refused, or still going. */
export type ForwardingState = 'forwarded' | 'pending' | 'parked' | 'not routed';

export interface ResultQuery {
  device?: string;
  specimen?: string;
  test?: string;
  state?: ForwardingState;
  sinceMs?: number;
  untilMs?: number;
  beforeId?: number;
  limit?: number;
}

export interface ResultView {
  journalId: number;
  receivedAt: string;
  device: string;
  /** The result as stored; personal fields are gone once the personal-data retention scrubbed it. */
  result: Partial<LabResult>;
  scrubbed: boolean;
  state: ForwardingState;
  destinations: Array<{ destination: string; state: string; attempts: number; lastError: string | null; doneMs: number | null; reason: string | null }>;
}

/**
 * The journal entries that carry a result out: the result's own, and the report of the order it
 * was sent in (a LIS taking one message per order delivers the report, not the result).
 */
const CARRIERS = `(j.id, (SELECT r.id FROM journal r WHERE r.stream = 'lab.report' AND r.idem_key = json_extract(j.parsed, '$.reportKey')))`;

// A result's overall state from its outbox rows (parked wins: someone must look at it).
const STATE_SQL = `CASE
  WHEN NOT EXISTS (SELECT 1 FROM outbox o WHERE o.journal_id IN ${CARRIERS}) THEN 'not routed'
  WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.journal_id IN ${CARRIERS} AND o.state = 'parked') THEN 'parked'
  WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.journal_id IN ${CARRIERS} AND o.state = 'pending') THEN 'pending'
  ELSE 'forwarded' END`;

/** Lab results received, newest first, with their forwarding state per destination. */
export function listResults(db: Database.Database, q: ResultQuery): ResultView[] {
  const where = [`j.stream = 'lab.result'`];
  const args: unknown[] = [];
  if (q.device) where.push('j.source = ?'), args.push(q.device);
  if (q.specimen) where.push(`json_extract(j.parsed, '$.specimenId') = ?`), args.push(q.specimen);
  if (q.test) where.push(`(json_extract(j.parsed, '$.testCode') = ? OR json_extract(j.parsed, '$.deviceTestCode') = ?)`), args.push(q.test, q.test);
  if (q.sinceMs !== undefined) where.push('j.received_ms >= ?'), args.push(q.sinceMs);
  if (q.untilMs !== undefined) where.push('j.received_ms < ?'), args.push(q.untilMs);
  if (q.beforeId !== undefined) where.push('j.id < ?'), args.push(q.beforeId);
  if (q.state) where.push(`${STATE_SQL} = ?`), args.push(q.state);
  const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
  const rows = db
    .prepare(
      `SELECT j.id, j.received_at AS receivedAt, j.source, j.parsed, j.scrubbed_ms AS scrubbedMs, ${STATE_SQL} AS state
       FROM journal j WHERE ${where.join(' AND ')} ORDER BY j.id DESC LIMIT ${limit}`,
    )
    .all(...args) as Array<{ id: number; receivedAt: string; source: string; parsed: string | null; scrubbedMs: number | null; state: ForwardingState }>;
  const outbox = db.prepare(
    `SELECT o.destination, o.state, o.attempts, o.last_error AS lastError, o.done_ms AS doneMs, d.reason
     FROM outbox o LEFT JOIN dead_letter d ON d.outbox_id = o.id
     WHERE o.journal_id = ? OR o.journal_id = (SELECT r.id FROM journal r WHERE r.stream = 'lab.report' AND r.idem_key = ?) ORDER BY o.destination`,
  );
  return rows.map((r) => ({
    journalId: r.id,
    receivedAt: r.receivedAt,
    device: r.source,
    result: r.parsed ? (JSON.parse(r.parsed) as Partial<LabResult>) : {},
    scrubbed: r.scrubbedMs !== null,
    state: r.state,
    destinations: outbox.all(r.id, (r.parsed ? (JSON.parse(r.parsed) as { reportKey?: string }).reportKey : undefined) ?? null) as ResultView['destinations'],
  }));
}

const STATES: ForwardingState[] = ['forwarded', 'pending', 'parked', 'not routed'];

/** GET /api/results: what the lab technicians ask IT ("did my result reach the LIS?"). */
export function registerResultsRoutes(app: FastifyInstance, ctx: Pick<ModuleContext, 'db' | 'config' | 'deviceJournal'>, requireAdmin: RouteGuard): void {
  const querystring = {
    type: 'object',
    additionalProperties: false,
    properties: {
      device: { type: 'string', description: 'Device id from configuration' },
      specimen: { type: 'string', description: 'Specimen id (barcode) as sent by the analyzer' },
      test: { type: 'string', description: 'Test code, the LIS code or the device code' },
      state: { type: 'string', enum: STATES, description: 'Forwarding state' },
      since: { type: 'string', format: 'date-time', description: 'Received at or after (ISO 8601)' },
      until: { type: 'string', format: 'date-time', description: 'Received before (ISO 8601)' },
      before: { type: 'integer', description: 'Page backwards: results with a lower journal id' },
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    },
  } as const;
  app.get(
    '/api/results',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['lab'],
        summary: 'Lab results received, newest first, with their forwarding state per destination',
        querystring,
        response: errorResponses,
      },
    },
    async (req) => {
      const q = req.query as {
        device?: string;
        specimen?: string;
        test?: string;
        state?: ForwardingState;
        since?: string;
        until?: string;
        before?: number;
        limit?: number;
      };
      const results = listResults(ctx.db, {
        device: q.device,
        specimen: q.specimen,
        test: q.test,
        state: q.state,
        sinceMs: q.since ? Date.parse(q.since) : undefined,
        untilMs: q.until ? Date.parse(q.until) : undefined,
        beforeId: q.before,
        limit: q.limit,
      });
      return { results, next: results.length ? results[results.length - 1]!.journalId : null };
    },
  );

  // Results the identity rule before issue #16 merged or dropped, re-read from the raw messages.
  const unsent = () => findUnsentResults(ctx.db, (device) => deviceParseSettings(ctx.config.devices[device] as never, ctx.config.box.timezone));
  app.get(
    '/api/results/recover',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['lab'],
        summary: 'Results acknowledged to an analyzer and never stored under the old identity rule (re-read from the raw messages still in the journal)',
      },
    },
    async () => ({
      unsent: unsent().map(({ result: _r, report: _p, ...u }) => u),
    }),
  );
  app.post(
    '/api/results/recover',
    {
      preHandler: requireAdmin,
      schema: { tags: ['lab'], summary: 'Journal and forward the results GET /api/results/recover lists (each once, with a report per order)' },
    },
    async (req) => {
      const entries = recoveryEntries(unsent());
      let stored = 0;
      for (const e of entries) {
        const { source, ...input } = e;
        const r = await ctx.deviceJournal(source).append({ ...input, personal: true });
        if (!r.duplicate && e.stream === 'lab.result') stored++;
      }
      req.log.info({ results: stored }, 'recovered results journaled for forwarding');
      return { recovered: stored };
    },
  );
}
