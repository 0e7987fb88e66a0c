import type Database from 'better-sqlite3';
import type { Outbox } from '../../../core/contract/store.ts';
import { serviceKey } from '../../../core/contract/driver.ts';

/**
 * Durable state of DICOM Storage Commitment (Push Model) per destination: transactions the box
 * sent (N-ACTION) and, per delivered instance, whether the PACS committed it. A second state on
 * top of the outbox's 'done': the outbox says "the PACS answered C-STORE success", this says
 * "the PACS took responsibility". Retention keeps an instance's file while a row here is not
 * 'committed'. Tables are this module's own (created if missing), in the box's SQLite database,
 * as the study index does.
 *
 * Every write is one synchronous SQLite transaction (WAL, synchronous=FULL): when a method
 * returns, the outcome is on disk, so the SCP may answer N-EVENT-REPORT-RSP success.
 */

export const STORAGE_COMMITMENT_SERVICE = serviceKey<SqliteCommitmentStore>('dicom.storageCommitment');

export type CommitmentState = 'pending' | 'committed' | 'failed';
/** sending: N-ACTION not yet answered; waiting: answered, report expected; reported; replaced: timed out and resent under a new UID; timed-out: flagged after the retry. */
export type TransactionState = 'sending' | 'waiting' | 'reported' | 'replaced' | 'timed-out';

export interface CommitmentView {
  destination: string;
  state: CommitmentState;
  transactionUid: string | null;
  reason: string | null;
  failures: number;
  updatedMs: number;
}

export interface PendingInstance {
  journalId: number;
  sopClassUid: string;
  sopInstanceUid: string;
}

export interface TransactionRow {
  transactionUid: string;
  destination: string;
  createdMs: number;
  state: TransactionState;
  attempt: number;
}

export interface ReportInput {
  transactionUid: string;
  committed: Array<{ sopInstanceUid: string }>;
  failed: Array<{ sopInstanceUid: string; failureReason: number }>;
  /** Who sent it (logged with the outcome). */
  fromAe?: string;
}

export interface ReportOutcome {
  /** The transaction UID is one of ours. */
  known: boolean;
  destination?: string;
  committed: number;
  /** Failed instances sent again (outbox row back to pending). */
  requeued: number;
  /** Failed instances parked (permanent reason or too many failures). */
  parked: number;
  /** UIDs in the report that match no pending instance of the transaction's destination. */
  unmatched: number;
}

/** Failure reasons resending cannot fix (PS3.3 C.14.1.1): parked with the reason. */
const PERMANENT_REASONS = new Map<number, string>([
  [0x0122, 'referenced SOP class not supported'],
  [0x0119, 'class / instance conflict'],
]);
const REASON_TEXT = new Map<number, string>([
  [0x0110, 'processing failure'],
  [0x0112, 'no such object instance'],
  [0x0213, 'resource limitation'],
  [0x0131, 'duplicate transaction UID'],
  ...PERMANENT_REASONS,
]);

export function failureReasonText(reason: number): string {
  return `${reason.toString(16).toUpperCase().padStart(4, '0')} ${REASON_TEXT.get(reason) ?? 'failure'}`;
}

/** The journal hold of a destination's uncommitted instances. */
const holderFor = (destination: string): string => `dicom-commit:${destination}`;

/** After this many commitment failures of one instance it is parked instead of resent (no endless loop). */
export const MAX_COMMITMENT_FAILURES = 3;

export class SqliteCommitmentStore {
  private readonly upsertPending;
  private readonly unassignedStmt;
  private readonly onRequeued: (destination: string) => void;

  constructor(
    private readonly db: Database.Database,
    /** Where a lost instance is sent again or parked. */
    private readonly outbox: Pick<Outbox, 'reopenDelivered' | 'parkDelivered' | 'hold' | 'release'>,
    options: { onRequeued?: (destination: string) => void; now?: () => number } = {},
  ) {
    this.onRequeued = options.onRequeued ?? (() => undefined);
    if (options.now) this.now = options.now;
    createCommitmentTables(db);
    // A new delivery (first or after a requeue) is pending again and waits for a new transaction.
    this.upsertPending = db.prepare(`INSERT INTO dicom_commit_instance (destination, journal_id, sop_class_uid, sop_instance_uid, state, tx_uid, updated_ms)
      VALUES (@destination, @journalId, @sopClassUid, @sopInstanceUid, 'pending', NULL, @now)
      ON CONFLICT (destination, journal_id) DO UPDATE SET state = 'pending', tx_uid = NULL, sop_class_uid = excluded.sop_class_uid,
        sop_instance_uid = excluded.sop_instance_uid, updated_ms = excluded.updated_ms`);
    this.unassignedStmt = db.prepare(`SELECT journal_id AS journalId, sop_class_uid AS sopClassUid, sop_instance_uid AS sopInstanceUid
      FROM dicom_commit_instance WHERE destination = ? AND state = 'pending' AND tx_uid IS NULL ORDER BY journal_id LIMIT ?`);
  }

  private now: () => number = () => Date.now();

  /** A delivery to a destination that commits: pending, and held so retention keeps the entry and its file. */
  recordDelivered(destination: string, inst: PendingInstance): void {
    this.db.transaction(() => {
      this.upsertPending.run({ destination, ...inst, now: this.now() });
      this.outbox.hold(inst.journalId, holderFor(destination));
    })();
  }

  /**
   * Rows of entries retention has since removed (released when committed, then aged out), and
   * transactions left without instances: reported ones at once, replaced or timed-out ones after
   * 30 days (a late report for them is still the PACS's word until then).
   */
  forgetPurged(destination: string): void {
    this.db.transaction(() => {
      this.db
        .prepare(`DELETE FROM dicom_commit_instance WHERE destination = ? AND state = 'committed' AND journal_id NOT IN (SELECT id FROM journal)`)
        .run(destination);
      this.db
        .prepare(
          `DELETE FROM dicom_commit_tx WHERE destination = ? AND (state = 'reported' OR (state IN ('replaced', 'timed-out') AND created_ms < ?))
             AND NOT EXISTS (SELECT 1 FROM dicom_commit_instance c WHERE c.tx_uid = dicom_commit_tx.tx_uid)`,
        )
        .run(destination, this.now() - 30 * 86_400_000);
    })();
  }

  unassigned(destination: string, limit: number): PendingInstance[] {
    return this.unassignedStmt.all(destination, limit) as PendingInstance[];
  }

  /** A transaction for these instances, state 'sending'. */
  createTransaction(destination: string, transactionUid: string, journalIds: number[], attempt = 1): void {
    const now = this.now();
    this.db.transaction(() => {
      this.db
        .prepare(`INSERT INTO dicom_commit_tx (tx_uid, destination, created_ms, state, attempt) VALUES (?, ?, ?, 'sending', ?)`)
        .run(transactionUid, destination, now, attempt);
      const assign = this.db.prepare(
        `UPDATE dicom_commit_instance SET tx_uid = ?, updated_ms = ? WHERE destination = ? AND journal_id = ? AND state = 'pending'`,
      );
      for (const id of journalIds) assign.run(transactionUid, now, destination, id);
    })();
  }

  /** N-ACTION-RSP success: the report is now expected (the timeout counts from here). */
  markSent(transactionUid: string): void {
    const now = this.now();
    this.db
      .prepare(`UPDATE dicom_commit_tx SET state = 'waiting', sent_ms = ?, created_ms = ? WHERE tx_uid = ? AND state = 'sending'`)
      .run(now, now, transactionUid);
  }

  /** The N-ACTION did not go through: the instances wait for the next transaction. */
  abandon(transactionUid: string, why: string): void {
    this.db.transaction(() => {
      this.db
        .prepare(`UPDATE dicom_commit_instance SET tx_uid = NULL, reason = ? WHERE tx_uid = ? AND state = 'pending'`)
        .run(why.slice(0, 500), transactionUid);
      this.db.prepare(`DELETE FROM dicom_commit_tx WHERE tx_uid = ? AND state = 'sending'`).run(transactionUid);
    })();
  }

  /** Transactions of a destination waiting longer than `timeoutMs` for their report (or stuck sending: a crash). */
  overdue(destination: string, timeoutMs: number): TransactionRow[] {
    return this.db
      .prepare(
        `SELECT tx_uid AS transactionUid, destination, created_ms AS createdMs, state, attempt FROM dicom_commit_tx
         WHERE destination = ? AND ((state = 'waiting' AND created_ms <= ?) OR state = 'sending') ORDER BY created_ms`,
      )
      .all(destination, this.now() - timeoutMs) as TransactionRow[];
  }

  /** Instances of a transaction still pending (what a retry must ask for again). */
  pendingOf(transactionUid: string): PendingInstance[] {
    return this.db
      .prepare(
        `SELECT journal_id AS journalId, sop_class_uid AS sopClassUid, sop_instance_uid AS sopInstanceUid FROM dicom_commit_instance WHERE tx_uid = ? AND state = 'pending' ORDER BY journal_id`,
      )
      .all(transactionUid) as PendingInstance[];
  }

  /** First timeout: the old transaction is replaced by `newUid` (attempt + 1) holding its pending instances. */
  replace(oldUid: string, newUid: string): number {
    const now = this.now();
    return this.db.transaction(() => {
      const old = this.db.prepare(`SELECT destination, attempt FROM dicom_commit_tx WHERE tx_uid = ?`).get(oldUid) as
        | { destination: string; attempt: number }
        | undefined;
      if (!old) return 0;
      this.db.prepare(`UPDATE dicom_commit_tx SET state = 'replaced', note = ? WHERE tx_uid = ?`).run(`no report; retried as ${newUid}`, oldUid);
      this.db
        .prepare(`INSERT INTO dicom_commit_tx (tx_uid, destination, created_ms, state, attempt) VALUES (?, ?, ?, 'sending', ?)`)
        .run(newUid, old.destination, now, old.attempt + 1);
      return this.db.prepare(`UPDATE dicom_commit_instance SET tx_uid = ?, updated_ms = ? WHERE tx_uid = ? AND state = 'pending'`).run(newUid, now, oldUid)
        .changes;
    })();
  }

  /** Second timeout: flagged. The instances stay pending (files kept); a late report still applies. */
  flagTimedOut(transactionUid: string, why: string): number {
    const now = this.now();
    return this.db.transaction(() => {
      this.db.prepare(`UPDATE dicom_commit_tx SET state = 'timed-out', note = ? WHERE tx_uid = ?`).run(why, transactionUid);
      return this.db.prepare(`UPDATE dicom_commit_instance SET reason = ?, updated_ms = ? WHERE tx_uid = ? AND state = 'pending'`).run(why, now, transactionUid)
        .changes;
    })();
  }

  transaction(transactionUid: string): TransactionRow | undefined {
    return this.db
      .prepare(`SELECT tx_uid AS transactionUid, destination, created_ms AS createdMs, state, attempt FROM dicom_commit_tx WHERE tx_uid = ?`)
      .get(transactionUid) as TransactionRow | undefined;
  }

  /**
   * Applies an N-EVENT-REPORT in one SQLite transaction. Instances are matched by SOP Instance
   * UID among the destination's pending ones (not only the transaction's: a report for a
   * replaced transaction is still the PACS's word). A failed instance's outbox row goes back to
   * pending (sent again), or is parked with the reason when resending cannot help
   * (SOP class not supported, class/instance conflict) or it failed too often.
   */
  applyReport(report: ReportInput): ReportOutcome {
    const tx = this.transaction(report.transactionUid);
    if (!tx) return { known: false, committed: 0, requeued: 0, parked: 0, unmatched: report.committed.length + report.failed.length };
    const now = this.now();
    const destination = tx.destination;
    const outcome = this.db.transaction((): ReportOutcome => {
      const out: ReportOutcome = { known: true, destination, committed: 0, requeued: 0, parked: 0, unmatched: 0 };
      const find = this.db.prepare(
        `SELECT journal_id, failures FROM dicom_commit_instance WHERE destination = ? AND sop_instance_uid = ? AND state = 'pending'`,
      );
      const commit = this.db.prepare(
        `UPDATE dicom_commit_instance SET state = 'committed', tx_uid = ?, reason = NULL, updated_ms = ? WHERE destination = ? AND journal_id = ?`,
      );
      const fail = this.db.prepare(
        `UPDATE dicom_commit_instance SET state = 'failed', tx_uid = ?, failures = failures + 1, reason = ?, updated_ms = ? WHERE destination = ? AND journal_id = ?`,
      );
      // The outbox's own synchronous calls, inside this transaction: a crash cannot separate the
      // report from the resend it causes.
      for (const c of report.committed) {
        const rows = find.all(destination, c.sopInstanceUid) as Array<{ journal_id: number }>;
        if (rows.length === 0) out.unmatched++;
        for (const r of rows) {
          commit.run(report.transactionUid, now, destination, r.journal_id);
          this.outbox.release(r.journal_id, holderFor(destination));
          out.committed++;
        }
      }
      for (const f of report.failed) {
        const rows = find.all(destination, f.sopInstanceUid) as Array<{ journal_id: number; failures: number }>;
        if (rows.length === 0) out.unmatched++;
        for (const r of rows) {
          const permanent = PERMANENT_REASONS.has(f.failureReason);
          const tooMany = r.failures + 1 >= MAX_COMMITMENT_FAILURES;
          const reason = `storage commitment failed: ${failureReasonText(f.failureReason)}`;
          if (permanent || tooMany) {
            const why = permanent ? reason : `${reason} (${r.failures + 1} times)`;
            fail.run(report.transactionUid, why, now, destination, r.journal_id);
            this.outbox.parkDelivered(destination, r.journal_id, why);
            out.parked++;
          } else {
            fail.run(report.transactionUid, reason, now, destination, r.journal_id);
            this.outbox.reopenDelivered(destination, r.journal_id, reason);
            out.requeued++;
          }
        }
      }
      this.db
        .prepare(`UPDATE dicom_commit_tx SET state = 'reported', reported_ms = ?, note = ? WHERE tx_uid = ? AND state IN ('sending', 'waiting', 'timed-out')`)
        .run(
          now,
          `${out.committed} committed, ${out.requeued} resent, ${out.parked} parked${report.fromAe ? ` (from ${report.fromAe})` : ''}`,
          report.transactionUid,
        );
      return out;
    })();
    if (outcome.requeued > 0) this.onRequeued(destination);
    return outcome;
  }

  /** Per-instance commitment state by journal id, for GET /api/studies. */
  byJournal(journalIds: number[]): Map<number, CommitmentView[]> {
    const out = new Map<number, CommitmentView[]>();
    if (journalIds.length === 0) return out;
    const stmt = this.db.prepare(
      `SELECT journal_id, destination, state, tx_uid, reason, failures, updated_ms FROM dicom_commit_instance WHERE journal_id IN (SELECT value FROM json_each(?))`,
    );
    for (const r of stmt.all(JSON.stringify(journalIds)) as Array<{
      journal_id: number;
      destination: string;
      state: CommitmentState;
      tx_uid: string | null;
      reason: string | null;
      failures: number;
      updated_ms: number;
    }>) {
      const list = out.get(r.journal_id) ?? [];
      list.push({ destination: r.destination, state: r.state, transactionUid: r.tx_uid, reason: r.reason, failures: r.failures, updatedMs: r.updated_ms });
      out.set(r.journal_id, list);
    }
    return out;
  }

  counts(destination: string): Record<CommitmentState, number> & { waitingTransactions: number; timedOutTransactions: number } {
    const c = (state: string) =>
      (this.db.prepare(`SELECT count(*) AS n FROM dicom_commit_instance WHERE destination = ? AND state = ?`).get(destination, state) as { n: number }).n;
    const t = (state: string) =>
      (this.db.prepare(`SELECT count(*) AS n FROM dicom_commit_tx WHERE destination = ? AND state = ?`).get(destination, state) as { n: number }).n;
    return { pending: c('pending'), committed: c('committed'), failed: c('failed'), waitingTransactions: t('waiting'), timedOutTransactions: t('timed-out') };
  }
}

/** Whether the commitment tables exist in this database (retention and the study index look before joining). */
export function hasCommitmentTables(db: Database.Database): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dicom_commit_instance'`).get() !== undefined;
}

/** Storage commitment's tables: the dicom module's schema step 1 with the study index's (also ensured by a store built alone). */
export function createCommitmentTables(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS dicom_commit_tx (
      tx_uid TEXT PRIMARY KEY,
      destination TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('sending', 'waiting', 'reported', 'replaced', 'timed-out')),
      attempt INTEGER NOT NULL DEFAULT 1,
      sent_ms INTEGER,
      reported_ms INTEGER,
      note TEXT
    );
    CREATE INDEX IF NOT EXISTS dicom_commit_tx_open ON dicom_commit_tx (destination, state, created_ms) WHERE state IN ('sending', 'waiting');
    CREATE TABLE IF NOT EXISTS dicom_commit_instance (
      destination TEXT NOT NULL,
      journal_id INTEGER NOT NULL,
      sop_class_uid TEXT NOT NULL,
      sop_instance_uid TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('pending', 'committed', 'failed')),
      tx_uid TEXT,
      failures INTEGER NOT NULL DEFAULT 0,
      reason TEXT,
      updated_ms INTEGER NOT NULL,
      PRIMARY KEY (destination, journal_id)
    );
    CREATE INDEX IF NOT EXISTS dicom_commit_unassigned ON dicom_commit_instance (destination, journal_id) WHERE state = 'pending' AND tx_uid IS NULL;
    CREATE INDEX IF NOT EXISTS dicom_commit_tx_uid ON dicom_commit_instance (tx_uid);
    CREATE INDEX IF NOT EXISTS dicom_commit_sop ON dicom_commit_instance (destination, sop_instance_uid);
    CREATE INDEX IF NOT EXISTS dicom_commit_journal ON dicom_commit_instance (journal_id);
  `);
}
