import type Database from 'better-sqlite3';
import type { FastifyInstance, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { unmapIpv4 } from '../net/peers.ts';
import { errorResponses } from './schemas.ts';

/** What the audit log records (never a value a person typed: no passwords, reasons, names). */
export type AuditAction =
  | 'login'
  | 'login.failed'
  | 'login.locked'
  | 'logout'
  | 'access.denied'
  | 'config.validate'
  | 'config.apply'
  | 'agent.restart'
  | 'journal.resend'
  | 'outbox.retry'
  | 'outbox.park'
  | 'outbox.requeue'
  | 'device.test'
  | 'orders.push';

export interface AuditRecord {
  action: AuditAction;
  /** Account name, `kiosk:<id>`, or `-` when nobody is known (a failed login for an unknown name). */
  actor: string;
  role?: string;
  ip: string;
  outcome: 'ok' | 'refused' | 'failed';
  status?: number;
  /** What was acted on: ids and names from the configuration (destination, journal id…). */
  target?: Record<string, string | number>;
  /** Figures about the action (problem count, configuration hashes, resend outcome). */
  detail?: Record<string, string | number | boolean>;
}

export interface AuditEntry extends AuditRecord {
  id: number;
  at: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's action in the audit log: recorded (durably) before its answer is sent. */
    audit?: AuditAction;
  }
  interface FastifyRequest {
    /** Set by a handler: figures about what it did, for its audit entry. */
    auditDetail?: AuditRecord['detail'];
  }
}

/** Entries kept at most, whatever their age (a flood of failed logins cannot fill the disk). */
const MAX_ROWS = 200_000;
const PURGE_EVERY_MS = 3_600_000;

/**
 * The console's audit log: logins (success, failure, lockout), configuration checks and
 * changes, restarts, resends and outbox actions: who, when, from where, what. A table of its
 * own in the store's database, written through the store's group commit (durable before the
 * action's answer is sent), kept `auditDays`.
 */
export class AuditLog {
  private readonly insert: Database.Statement;
  private lastPurgeMs = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly submit: <T>(write: () => T) => Promise<T>,
    private readonly keepDays: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS http_audit (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT,
        ip TEXT NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER,
        target TEXT,
        detail TEXT
      );
      CREATE INDEX IF NOT EXISTS http_audit_at ON http_audit (at_ms);
    `);
    this.insert = db.prepare('INSERT INTO http_audit (at_ms, action, actor, role, ip, outcome, status, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  }

  /** Resolves once the entry is durable; a failed write is logged, never thrown at the caller. */
  async record(r: AuditRecord): Promise<void> {
    const at = this.now();
    try {
      await this.submit(() => {
        this.insert.run(
          at,
          r.action,
          r.actor.slice(0, 80),
          r.role ?? null,
          r.ip,
          r.outcome,
          r.status ?? null,
          r.target ? JSON.stringify(r.target).slice(0, 500) : null,
          r.detail ? JSON.stringify(r.detail).slice(0, 500) : null,
        );
        if (at - this.lastPurgeMs > PURGE_EVERY_MS) {
          this.lastPurgeMs = at;
          this.db.prepare('DELETE FROM http_audit WHERE at_ms < ?').run(at - this.keepDays * 86_400_000);
          this.db.prepare('DELETE FROM http_audit WHERE id <= (SELECT MAX(id) FROM http_audit) - ?').run(MAX_ROWS);
        }
      });
    } catch (err) {
      this.log.error({ err, action: r.action }, 'audit entry not stored');
    }
  }

  list(q: { beforeId?: number; action?: string; limit?: number } = {}): AuditEntry[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.beforeId !== undefined) where.push('id < ?'), args.push(q.beforeId);
    if (q.action) where.push('(action = ? OR action LIKE ?)'), args.push(q.action, `${q.action}.%`);
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
    const rows = this.db
      .prepare(
        `SELECT id, at_ms, action, actor, role, ip, outcome, status, target, detail FROM http_audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`,
      )
      .all(...args) as Array<{
      id: number;
      at_ms: number;
      action: AuditAction;
      actor: string;
      role: string | null;
      ip: string;
      outcome: AuditRecord['outcome'];
      status: number | null;
      target: string | null;
      detail: string | null;
    }>;
    return rows.map((r) => ({
      id: r.id,
      at: new Date(r.at_ms).toISOString(),
      action: r.action,
      actor: r.actor,
      ...(r.role ? { role: r.role } : {}),
      ip: r.ip,
      outcome: r.outcome,
      ...(r.status !== null ? { status: r.status } : {}),
      ...(r.target ? { target: JSON.parse(r.target) as AuditRecord['target'] } : {}),
      ...(r.detail ? { detail: JSON.parse(r.detail) as AuditRecord['detail'] } : {}),
    }));
  }
}

export function clientAddress(req: FastifyRequest): string {
  return unmapIpv4(req.socket.remoteAddress ?? '?');
}

/** Route params and query values that are ids (numbers, short names), never free text. */
function targetOf(req: FastifyRequest): AuditRecord['target'] {
  const out: Record<string, string | number> = {};
  for (const source of [req.params, req.query]) {
    if (!source || typeof source !== 'object') continue;
    for (const [k, v] of Object.entries(source as Record<string, unknown>)) {
      if (k === 'token') continue;
      if (typeof v === 'number') out[k] = v;
      else if (typeof v === 'string' && /^\d{1,15}$/.test(v)) out[k] = Number(v);
      else if (typeof v === 'string' && /^[\w.:-]{1,100}$/.test(v)) out[k] = v;
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * Every route whose config names an `audit` action gets its entry written before its answer
 * is sent (so a restart or a crash right after cannot lose it). Refusals by the guards are not
 * entries of the route's action: 401s are the login's business, 403s are `access.denied`.
 */
export function registerAudit(app: FastifyInstance, audit: AuditLog, requireAdmin: preHandlerHookHandler): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const action = req.routeOptions.config?.audit;
    const who = req.principal;
    if (!action || !who) return payload;
    const status = reply.statusCode;
    await audit.record({
      action,
      actor: who.kind === 'user' ? who.user : `kiosk:${who.kioskId}`,
      ...(who.kind === 'user' ? { role: who.role } : {}),
      ip: clientAddress(req),
      outcome: status < 400 ? 'ok' : status >= 500 ? 'failed' : 'refused',
      status,
      ...(targetOf(req) ? { target: targetOf(req) } : {}),
      ...(req.auditDetail ? { detail: req.auditDetail } : {}),
    });
    return payload;
  });

  app.get(
    '/api/audit',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['auth'],
        summary: 'The audit log, newest first: logins, lockouts, configuration changes, restarts, resends, outbox actions (who, when, from where)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            before: { type: 'integer' },
            action: { type: 'string', maxLength: 40 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: errorResponses,
      },
    },
    async (req) => {
      const q = req.query as { before?: number; action?: string; limit?: number };
      const entries = audit.list({ beforeId: q.before, action: q.action, limit: q.limit });
      return { entries, next: entries.length ? entries[entries.length - 1]!.id : null };
    },
  );
}
