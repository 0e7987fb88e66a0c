import type Database from 'better-sqlite3';
import type { OutboxItem } from '../contract/destination.ts';
import type { Clock } from '../contract/clock.ts';
import type { GroupCommitter } from './groupCommit.ts';

export interface OutboxStatus {
  destination: string;
  pending: number;
  parked: number;
  delivered: number;
  oldestPendingMs: number | null;
  lastError: string | null;
}

export interface OutboxEntryView {
  outboxId: number;
  journalId: number;
  destination: string;
  orderKey: string;
  idempotencyKey: string;
  state: 'pending' | 'done' | 'parked';
  attempts: number;
  nextAttemptMs: number;
  lastError: string | null;
  createdMs: number;
  doneMs: number | null;
  deadLetterReason: string | null;
}

interface ClaimRow {
  outbox_id: number;
  journal_id: number;
  destination: string;
  order_key: string;
  idem_key: string;
  attempts: number;
  next_ms: number;
  source: string;
  stream: string;
  kind: string;
  raw: Buffer | null;
  parsed: string | null;
  blob_hash: string | null;
  blob_size: number | null;
  received_at: string;
  meta: string | null;
}

const ITEM_COLUMNS = `o.id AS outbox_id, o.journal_id, o.destination, o.order_key, o.idem_key, o.attempts, o.next_ms,
  j.source, j.stream, j.kind, j.raw, j.parsed, j.blob_hash, j.blob_size, j.received_at, j.meta`;

/**
 * The outbox per destination. Items are rows written in the same commit as their journal entry;
 * an item leaves 'pending' only when its destination acknowledged it ('done') or refused it for
 * good ('parked', with a dead_letter row). "In flight" lives in the forwarder's memory only, so
 * after a crash every unacknowledged item is simply pending again, with the same idempotency key.
 */
export class Outbox {
  private readonly headsStmt;
  private readonly keysStmt;
  private readonly keyDueStmt;
  private readonly itemStmt;
  private readonly anyDueStmt;
  private readonly nextDueStmt;
  private readonly markDoneStmt;
  private readonly markRetryStmt;
  private readonly markParkedStmt;
  private readonly insertDeadStmt;
  private readonly reopenDeliveredStmt;
  private readonly parkDeliveredStmt;
  private readonly holdStmt;
  private readonly releaseStmt;

  constructor(
    private readonly db: Database.Database,
    private readonly committer: GroupCommitter,
    private readonly clock: Clock,
    private readonly blobPath: (hash: string) => string,
  ) {
    // Head of line per order key. SQLite has no loose index scan, so the recursive query hops
    // from one order key to the next through the index: O(keys × log n), not O(backlog).
    this.headsStmt = db.prepare(
      `WITH RECURSIVE keys(k) AS (
         SELECT MIN(order_key) FROM outbox WHERE destination = @d AND state = 'pending'
         UNION ALL
         SELECT (SELECT MIN(order_key) FROM outbox WHERE destination = @d AND state = 'pending' AND order_key > k) FROM keys WHERE k IS NOT NULL
       )
       SELECT h.order_key, h.id, h.next_ms FROM keys
       JOIN outbox h ON h.id = (SELECT MIN(id) FROM outbox WHERE destination = @d AND state = 'pending' AND order_key = keys.k)
       WHERE keys.k IS NOT NULL`,
    );
    // Per order key (a study for DICOM): its head and when its newest item was received, for the
    // stable hold. The newest item is the one with the highest id (rows are inserted as received),
    // so both come from the outbox_open index: O(keys × log n) again, whatever the backlog.
    this.keysStmt = db.prepare(
      `WITH RECURSIVE keys(k) AS (
         SELECT MIN(order_key) FROM outbox WHERE destination = @d AND state = 'pending'
         UNION ALL
         SELECT (SELECT MIN(order_key) FROM outbox WHERE destination = @d AND state = 'pending' AND order_key > k) FROM keys WHERE k IS NOT NULL
       )
       SELECT h.order_key, h.id, h.next_ms, l.created_ms AS last_ms FROM keys
       JOIN outbox h ON h.id = (SELECT MIN(id) FROM outbox WHERE destination = @d AND state = 'pending' AND order_key = keys.k)
       JOIN outbox l ON l.id = (SELECT MAX(id) FROM outbox WHERE destination = @d AND state = 'pending' AND order_key = keys.k)
       WHERE keys.k IS NOT NULL`,
    );
    this.keyDueStmt = db.prepare(
      `SELECT ${ITEM_COLUMNS} FROM outbox o INDEXED BY outbox_open JOIN journal j ON j.id = o.journal_id
       WHERE o.destination = ? AND o.state = 'pending' AND o.order_key = ? AND o.next_ms <= ? ORDER BY o.id LIMIT ?`,
    );
    this.itemStmt = db.prepare(`SELECT ${ITEM_COLUMNS} FROM outbox o JOIN journal j ON j.id = o.journal_id WHERE o.id = ?`);
    this.anyDueStmt = db.prepare(
      // Oldest first by walking the id index (the planner would sort the whole backlog otherwise).
      `SELECT ${ITEM_COLUMNS} FROM outbox o INDEXED BY outbox_pending_id JOIN journal j ON j.id = o.journal_id
       WHERE o.destination = ? AND o.state = 'pending' AND o.next_ms <= ? ORDER BY o.id LIMIT ?`,
    );
    this.nextDueStmt = db.prepare(`SELECT MIN(next_ms) AS next FROM outbox WHERE destination = ? AND state = 'pending' AND next_ms > ?`);
    this.markDoneStmt = db.prepare(
      `UPDATE outbox SET state = 'done', done_ms = ?, updated_ms = ?, attempts = attempts + 1, last_error = NULL WHERE id = ? AND state = 'pending'`,
    );
    this.markRetryStmt = db.prepare(
      `UPDATE outbox SET attempts = attempts + 1, next_ms = ?, last_error = ?, updated_ms = ? WHERE id = ? AND state = 'pending'`,
    );
    this.markParkedStmt = db.prepare(
      `UPDATE outbox SET state = 'parked', attempts = attempts + 1, last_error = ?, updated_ms = ? WHERE id = ? AND state = 'pending'`,
    );
    this.insertDeadStmt = db.prepare(`INSERT OR REPLACE INTO dead_letter (outbox_id, destination, reason, parked_ms) VALUES (?, ?, ?, ?)`);
    this.reopenDeliveredStmt = db.prepare(
      `UPDATE outbox SET state = 'pending', next_ms = ?, updated_ms = ?, done_ms = NULL, last_error = ? WHERE destination = ? AND journal_id = ? AND state = 'done'`,
    );
    this.parkDeliveredStmt = db.prepare(
      `UPDATE outbox SET state = 'parked', updated_ms = ?, last_error = ? WHERE destination = ? AND journal_id = ? AND state = 'done' RETURNING id`,
    );
    this.holdStmt = db.prepare('INSERT OR IGNORE INTO journal_hold (journal_id, holder, since_ms) VALUES (?, ?, ?)');
    this.releaseStmt = db.prepare('DELETE FROM journal_hold WHERE journal_id = ? AND holder = ?');
  }

  /**
   * Items ready to send now, and when the next one that is not ready yet becomes due.
   * Ordered mode: at most one per order key, the head of line, only if due and not in flight
   * (items behind a head wait for it, whatever their own due time). Unordered mode: any due
   * items, oldest first.
   *
   * stableMs > 0 (the "stable" hold): no item of an order key is due while that key's newest
   * item was received less than stableMs ago; once the key is quiet, all its due items are
   * (unordered: key by key, oldest key first, so a study leaves together). Computed from stored
   * times, so the hold survives a restart; nextDueMs includes the moment a held key goes quiet.
   */
  claim(destination: string, limit: number, inFlight: ReadonlySet<number>, ordered: boolean, stableMs = 0): { items: OutboxItem[]; nextDueMs: number | null } {
    const now = this.clock.now();
    const items: OutboxItem[] = [];
    if (stableMs > 0) return this.claimStable(destination, limit, inFlight, ordered, stableMs, now);
    if (ordered) {
      const heads = this.headsStmt.all({ d: destination }) as Array<{ order_key: string; id: number; next_ms: number }>;
      heads.sort((a, b) => a.id - b.id);
      let nextDueMs: number | null = null;
      for (const head of heads) {
        if (inFlight.has(head.id)) continue;
        if (head.next_ms > now) {
          nextDueMs = nextDueMs === null ? head.next_ms : Math.min(nextDueMs, head.next_ms);
        } else if (items.length < limit) {
          items.push(this.toItem(this.itemStmt.get(head.id) as ClaimRow));
        }
      }
      return { items, nextDueMs };
    }
    if (limit > 0) {
      const rows = this.anyDueStmt.all(destination, now, limit + inFlight.size) as ClaimRow[];
      for (const row of rows) {
        if (items.length >= limit) break;
        if (!inFlight.has(row.outbox_id)) items.push(this.toItem(row));
      }
    }
    return { items, nextDueMs: (this.nextDueStmt.get(destination, now) as { next: number | null }).next };
  }

  private claimStable(
    destination: string,
    limit: number,
    inFlight: ReadonlySet<number>,
    ordered: boolean,
    stableMs: number,
    now: number,
  ): { items: OutboxItem[]; nextDueMs: number | null } {
    const keys = this.keysStmt.all({ d: destination }) as Array<{ order_key: string; id: number; next_ms: number; last_ms: number }>;
    keys.sort((a, b) => a.id - b.id);
    const items: OutboxItem[] = [];
    let nextDueMs: number | null = null;
    const later = (ms: number): void => {
      nextDueMs = nextDueMs === null ? ms : Math.min(nextDueMs, ms);
    };
    for (const key of keys) {
      const quietAt = key.last_ms + stableMs;
      if (quietAt > now) {
        later(quietAt);
        continue;
      }
      if (ordered) {
        if (inFlight.has(key.id)) continue;
        if (key.next_ms > now) later(key.next_ms);
        else if (items.length < limit) items.push(this.toItem(this.itemStmt.get(key.id) as ClaimRow));
        continue;
      }
      if (items.length >= limit) continue;
      const rows = this.keyDueStmt.all(destination, key.order_key, now, limit - items.length + inFlight.size) as ClaimRow[];
      for (const row of rows) {
        if (items.length >= limit) break;
        if (!inFlight.has(row.outbox_id)) items.push(this.toItem(row));
      }
    }
    // Unordered: items of a quiet key waiting for their backoff (a rare case) are found here.
    if (!ordered) {
      const next = (this.nextDueStmt.get(destination, now) as { next: number | null }).next;
      if (next !== null) later(next);
    }
    return { items, nextDueMs };
  }

  markDone(outboxId: number): Promise<void> {
    const now = this.clock.now();
    return this.committer.submit(() => void this.markDoneStmt.run(now, now, outboxId));
  }

  markRetry(outboxId: number, nextMs: number, error: string): Promise<void> {
    const now = this.clock.now();
    return this.committer.submit(() => void this.markRetryStmt.run(nextMs, error.slice(0, 2000), now, outboxId));
  }

  park(outboxId: number, destination: string, reason: string): Promise<void> {
    const now = this.clock.now();
    return this.committer.submit(() => {
      this.markParkedStmt.run(reason.slice(0, 2000), now, outboxId);
      this.insertDeadStmt.run(outboxId, destination, reason.slice(0, 2000), now);
    });
  }

  /**
   * A delivered item the destination later reported lost (a storage commitment failure): back to
   * pending, due now. Synchronous, so the caller can run it inside its own transaction with the
   * report that caused it.
   */
  reopenDelivered(destination: string, journalId: number, reason: string): boolean {
    const now = this.clock.now();
    return this.reopenDeliveredStmt.run(now, now, reason.slice(0, 2000), destination, journalId).changes > 0;
  }

  /** As reopenDelivered, for a loss resending cannot fix: parked in dead letter with the reason. */
  parkDelivered(destination: string, journalId: number, reason: string): boolean {
    const now = this.clock.now();
    const row = this.parkDeliveredStmt.get(now, reason.slice(0, 2000), destination, journalId) as { id: number } | undefined;
    if (row) this.insertDeadStmt.run(row.id, destination, reason.slice(0, 2000), now);
    return row !== undefined;
  }

  /**
   * Keeps a delivered entry (and its blob) past retention until released: for a destination that
   * confirms later than its acknowledgement (storage commitment). Synchronous, like the two above.
   */
  hold(journalId: number, holder: string): void {
    this.holdStmt.run(journalId, holder, this.clock.now());
  }

  release(journalId: number, holder: string): void {
    this.releaseStmt.run(journalId, holder);
  }

  /**
   * Console action: move a parked item back to pending (attempts kept, due now). Not one whose
   * personal data was scrubbed at retention.personalMaxDays: there is nothing left to send.
   */
  requeue(outboxId: number): Promise<boolean> {
    const now = this.clock.now();
    return this.committer.submit(() => {
      const changed = this.db
        .prepare(
          `UPDATE outbox SET state = 'pending', next_ms = ?, updated_ms = ? WHERE id = ? AND state = 'parked' AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.id = outbox.journal_id AND j.scrubbed_ms IS NOT NULL)`,
        )
        .run(now, now, outboxId).changes;
      if (changed) this.db.prepare('DELETE FROM dead_letter WHERE outbox_id = ?').run(outboxId);
      return changed > 0;
    });
  }

  /**
   * Console action "send again": a delivered or parked item goes back to pending (its delivery is
   * logged, the destination dedupes by idempotency key if it must); a destination it was never
   * routed to gets a new item. Answers what was done.
   */
  resend(journalId: number, destination: string): Promise<'queued again' | 'already pending' | 'queued' | 'no such entry'> {
    const now = this.clock.now();
    return this.committer.submit(() => {
      const entry = this.db.prepare('SELECT source, idem_key FROM journal WHERE id = ?').get(journalId) as { source: string; idem_key: string } | undefined;
      if (!entry) return 'no such entry';
      const row = this.db.prepare('SELECT id, state FROM outbox WHERE destination = ? AND journal_id = ?').get(destination, journalId) as
        | { id: number; state: string }
        | undefined;
      if (!row) {
        // The entry's order key where it was queued before (a DICOM study), else its source.
        const key =
          (this.db.prepare('SELECT order_key FROM outbox WHERE journal_id = ? LIMIT 1').get(journalId) as { order_key: string } | undefined)?.order_key ??
          entry.source;
        this.db
          .prepare(
            `INSERT INTO outbox (destination, order_key, journal_id, idem_key, state, next_ms, created_ms, updated_ms) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`,
          )
          .run(destination, key, journalId, entry.idem_key, now, now, now);
        return 'queued';
      }
      if (row.state === 'pending') return 'already pending';
      this.db.prepare(`UPDATE outbox SET state = 'pending', next_ms = ?, updated_ms = ?, done_ms = NULL, last_error = NULL WHERE id = ?`).run(now, now, row.id);
      this.db.prepare('DELETE FROM dead_letter WHERE outbox_id = ?').run(row.id);
      return 'queued again';
    });
  }

  /** Console action: try a pending item (or all of a destination) now instead of at its backoff time. */
  retryNow(destination: string, outboxId?: number): Promise<number> {
    const now = this.clock.now();
    return this.committer.submit(() =>
      outboxId === undefined
        ? this.db.prepare(`UPDATE outbox SET next_ms = ? WHERE destination = ? AND state = 'pending'`).run(now, destination).changes
        : this.db.prepare(`UPDATE outbox SET next_ms = ? WHERE id = ? AND destination = ? AND state = 'pending'`).run(now, outboxId, destination).changes,
    );
  }

  /** Console action: park a pending item by hand (e.g. a message the LIS must never get). */
  parkByHand(outboxId: number, reason: string): Promise<boolean> {
    const row = this.db.prepare(`SELECT destination FROM outbox WHERE id = ? AND state = 'pending'`).get(outboxId) as { destination: string } | undefined;
    if (!row) return Promise.resolve(false);
    return this.park(outboxId, row.destination, `parked by hand: ${reason}`).then(() => true);
  }

  status(destinations: string[]): OutboxStatus[] {
    const now = this.clock.now();
    // Each figure is read from a partial index, so a large delivered history costs little.
    const known = this.db.prepare(`SELECT DISTINCT destination FROM outbox INDEXED BY outbox_done WHERE state = 'done'`);
    const count = (state: string) => this.db.prepare(`SELECT count(*) AS n FROM outbox WHERE destination = ? AND state = '${state}'`);
    const pending = count('pending');
    const parked = count('parked');
    const done = count('done');
    // The oldest waiting item: its age, and its last error (usually what holds the rest back).
    const oldest = this.db.prepare(
      `SELECT created_ms, last_error FROM outbox WHERE id = (SELECT MIN(id) FROM outbox WHERE destination = ? AND state = 'pending')`,
    );
    const names = new Set([...destinations, ...(known.all() as Array<{ destination: string }>).map((r) => r.destination)]);
    return [...names].map((destination) => {
      const first = oldest.get(destination) as { created_ms: number; last_error: string | null } | undefined;
      return {
        destination,
        pending: (pending.get(destination) as { n: number }).n,
        parked: (parked.get(destination) as { n: number }).n,
        delivered: (done.get(destination) as { n: number }).n,
        oldestPendingMs: first ? now - first.created_ms : null,
        lastError: first?.last_error ?? null,
      };
    });
  }

  list(filter: { destination?: string; state?: string; journalId?: number; limit?: number }): OutboxEntryView[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.destination) where.push('o.destination = ?'), args.push(filter.destination);
    if (filter.state) where.push('o.state = ?'), args.push(filter.state);
    if (filter.journalId !== undefined) where.push('o.journal_id = ?'), args.push(filter.journalId);
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    return this.db
      .prepare(
        `SELECT o.id AS outboxId, o.journal_id AS journalId, o.destination, o.order_key AS orderKey, o.idem_key AS idempotencyKey,
                o.state, o.attempts, o.next_ms AS nextAttemptMs, o.last_error AS lastError, o.created_ms AS createdMs,
                o.done_ms AS doneMs, d.reason AS deadLetterReason
         FROM outbox o LEFT JOIN dead_letter d ON d.outbox_id = o.id
         ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY o.id DESC LIMIT ${limit}`,
      )
      .all(...args) as OutboxEntryView[];
  }

  private toItem(row: ClaimRow): OutboxItem {
    return {
      outboxId: row.outbox_id,
      journalId: row.journal_id,
      destination: row.destination,
      orderKey: row.order_key,
      source: row.source,
      stream: row.stream,
      kind: row.kind,
      idempotencyKey: row.idem_key,
      attempts: row.attempts,
      raw: row.raw,
      parsed: row.parsed === null ? null : JSON.parse(row.parsed),
      blob: row.blob_hash ? { hash: row.blob_hash, size: row.blob_size ?? 0 } : null,
      blobPath: row.blob_hash ? this.blobPath(row.blob_hash) : null,
      receivedAt: row.received_at,
      meta: row.meta ? JSON.parse(row.meta) : {},
    };
  }
}
