import type Database from 'better-sqlite3';
import type { AppendResult, BlobRef, JournalInput } from '../contract/driver.ts';
import { isoWithOffset, type Clock } from '../contract/clock.ts';
import type { GroupCommitter } from './groupCommit.ts';
import type { StoreError } from './errors.ts';

export interface JournalRow {
  id: number;
  receivedAt: string;
  receivedMs: number;
  source: string;
  stream: string;
  kind: string;
  idempotencyKey: string;
  raw: Buffer | null;
  parsed: unknown;
  blob: BlobRef | null;
  personal: boolean;
  scrubbed: boolean;
  priority: string;
  meta: Record<string, unknown>;
}

export interface JournalQuery {
  source?: string;
  stream?: string;
  kind?: string;
  sinceMs?: number;
  untilMs?: number;
  /** Return entries with id lower than this (paging backwards, newest first). */
  beforeId?: number;
  limit?: number;
}

interface RawRow {
  id: number;
  received_ms: number;
  received_at: string;
  source: string;
  stream: string;
  kind: string;
  idem_key: string;
  raw: Buffer | null;
  parsed: string | null;
  blob_hash: string | null;
  blob_size: number | null;
  personal: number;
  priority: string;
  meta: string | null;
  scrubbed_ms: number | null;
}

/** Decides, before any write, whether the disk budget still admits this priority. */
export type Admission = (priority: 'clinical' | 'telemetry') => StoreError | null;

/** Append-only journal of everything devices sent, with its outbox rows in the same commit. */
export class JournalStore {
  private readonly insertEntry;
  private readonly findByKey;
  private readonly insertOutbox;
  private readonly insertStaged;

  constructor(
    private readonly db: Database.Database,
    private readonly committer: GroupCommitter,
    private readonly clock: Clock,
    private readonly admit: Admission,
    private readonly timezone: string,
    private readonly onEnqueued: (destinations: string[]) => void,
    /** The blob store's pool file for a blob whose content-addressed name is not durable yet. */
    private readonly stagedBlob: (hash: string) => { file: string; size: number } | undefined = () => undefined,
  ) {
    this.insertEntry = db.prepare(
      `INSERT INTO journal (received_ms, received_at, source, stream, kind, idem_key, raw, parsed, blob_hash, blob_size, personal, priority, meta)
       VALUES (@received_ms, @received_at, @source, @stream, @kind, @idem_key, @raw, @parsed, @blob_hash, @blob_size, @personal, @priority, @meta)
       ON CONFLICT (stream, idem_key) DO NOTHING`,
    );
    this.findByKey = db.prepare('SELECT id, meta FROM journal WHERE stream = ? AND idem_key = ?');
    this.insertOutbox = db.prepare(
      `INSERT INTO outbox (destination, order_key, journal_id, idem_key, state, next_ms, created_ms, updated_ms)
       VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`,
    );
    this.insertStaged = db.prepare('INSERT OR IGNORE INTO blob_staged (hash, file, size) VALUES (?, ?, ?)');
  }

  /**
   * Appends for `source`; resolves once durable. `routes` defaults to the device's routes (those
   * of its destinations that take the entry's stream, when given as a function of the stream).
   */
  append(source: string, input: JournalInput, defaultRoutes: string[] | ((stream: string) => string[])): Promise<AppendResult> {
    const priority = input.priority ?? 'clinical';
    const refused = this.admit(priority);
    if (refused) return Promise.reject(refused);
    const routes = input.routes ?? (typeof defaultRoutes === 'function' ? defaultRoutes(input.stream) : defaultRoutes);
    const now = this.clock.now();
    const row = {
      received_ms: now,
      received_at: isoWithOffset(now, this.timezone),
      source,
      stream: input.stream,
      kind: input.kind,
      idem_key: input.idempotencyKey,
      raw: input.raw ?? null,
      parsed: input.parsed === undefined ? null : JSON.stringify(input.parsed),
      blob_hash: input.blob?.hash ?? null,
      blob_size: input.blob?.size ?? null,
      personal: input.personal ? 1 : 0,
      priority,
      meta: input.meta ? JSON.stringify(input.meta) : null,
    };
    const orderKey = input.orderKey ?? source;
    return this.committer
      .submit((): AppendResult => {
        const info = this.insertEntry.run(row);
        if (info.changes === 0) {
          const existing = this.findByKey.get(row.stream, row.idem_key) as { id: number; meta: string | null };
          return { id: existing.id, duplicate: true, meta: existing.meta ? JSON.parse(existing.meta) : {} };
        }
        const id = Number(info.lastInsertRowid);
        // Where the blob is, in the same commit: found again after a power cut.
        const staged = row.blob_hash ? this.stagedBlob(row.blob_hash) : undefined;
        if (staged) this.insertStaged.run(row.blob_hash, staged.file, staged.size);
        for (const destination of routes) {
          this.insertOutbox.run(destination, orderKey, id, row.idem_key, now, now, now);
        }
        input.withEntry?.(id);
        return { id, duplicate: false, meta: input.meta ?? {} };
      })
      .then((result) => {
        if (!result.duplicate && routes.length > 0) this.onEnqueued(routes);
        return result;
      });
  }

  /** The committed entry with this key and its meta (drivers deciding what to append). */
  findByIdempotencyKey(stream: string, key: string): { id: number; meta: Record<string, unknown> } | undefined {
    const row = this.findByKey.get(stream, key) as { id: number; meta: string | null } | undefined;
    return row ? { id: row.id, meta: row.meta ? JSON.parse(row.meta) : {} } : undefined;
  }

  get(id: number): JournalRow | undefined {
    const row = this.db.prepare('SELECT * FROM journal WHERE id = ?').get(id) as RawRow | undefined;
    return row ? toJournalRow(row) : undefined;
  }

  list(query: JournalQuery): JournalRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.source) where.push('source = ?'), args.push(query.source);
    if (query.stream) where.push('stream = ?'), args.push(query.stream);
    if (query.kind) where.push('kind = ?'), args.push(query.kind);
    if (query.sinceMs !== undefined) where.push('received_ms >= ?'), args.push(query.sinceMs);
    if (query.untilMs !== undefined) where.push('received_ms < ?'), args.push(query.untilMs);
    if (query.beforeId !== undefined) where.push('id < ?'), args.push(query.beforeId);
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
    const sql = `SELECT * FROM journal ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ${limit}`;
    return (this.db.prepare(sql).all(...args) as RawRow[]).map(toJournalRow);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM journal').get() as { n: number }).n;
  }
}

function toJournalRow(r: RawRow): JournalRow {
  return {
    id: r.id,
    receivedAt: r.received_at,
    receivedMs: r.received_ms,
    source: r.source,
    stream: r.stream,
    kind: r.kind,
    idempotencyKey: r.idem_key,
    raw: r.raw,
    parsed: r.parsed === null ? null : JSON.parse(r.parsed),
    blob: r.blob_hash ? { hash: r.blob_hash, size: r.blob_size ?? 0 } : null,
    personal: r.personal === 1,
    scrubbed: r.scrubbed_ms !== null,
    priority: r.priority,
    meta: r.meta ? JSON.parse(r.meta) : {},
  };
}
