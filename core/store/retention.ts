import type Database from 'better-sqlite3';
import type { Clock } from '../contract/clock.ts';
import type { BlobStore } from './blobs.ts';

export interface RetentionPolicy {
  /** Delivered items (and journal entries with nothing left to deliver) are purged after this. */
  deliveredDays: number;
  /** Personal data (raw bytes, parsed form, captures) scrubbed after this, once delivered. */
  personalHours: number;
  /**
   * Delivered entries with a blob (DICOM images) purged after this instead: they fill disks. A
   * blob holding personal data goes after personalHours when that is shorter.
   */
  imagesDays?: number;
  /** Longest personal data stays in a pending or parked entry (parked ones are scrubbed then). */
  personalMaxDays?: number;
  /** Share of personalMaxDays at which the personal-data-age alarm is raised. */
  personalAlarmPercent?: number;
}

export interface RetentionOutcome {
  outboxPurged: number;
  journalPurged: number;
  personalScrubbed: number;
  /** Parked entries whose personal bytes reached personalMaxDays: scrubbed, the dead letter kept. */
  parkedScrubbed: number;
  capturesPurged: number;
  blobsRemoved: number;
}

/** Personal data still waiting (pending) or refused (parked), per source, past the alarm age. */
export interface PersonalDataAge {
  source: string;
  state: 'pending' | 'parked';
  entries: number;
  oldestMs: number;
  ageDays: number;
  /** warn: past personalAlarmPercent of the limit; critical: past the limit (only pending ones stay). */
  level: 'warn' | 'critical';
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

export const DEFAULT_PERSONAL_MAX_DAYS = 30;
export const DEFAULT_PERSONAL_ALARM_PERCENT = 80;

/** An entry nobody holds and no destination still owes or refused. */
const FINISHED = `NOT EXISTS (SELECT 1 FROM outbox o WHERE o.journal_id = journal.id AND o.state != 'done')
    AND NOT EXISTS (SELECT 1 FROM journal_hold h WHERE h.journal_id = journal.id)`;
/** Refused by every destination that has not taken it (parked, none pending) and not held. */
const ONLY_PARKED = `EXISTS (SELECT 1 FROM outbox o WHERE o.journal_id = journal.id AND o.state = 'parked')
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.journal_id = journal.id AND o.state = 'pending')
    AND NOT EXISTS (SELECT 1 FROM journal_hold h WHERE h.journal_id = journal.id)`;

/**
 * Purges what is delivered and old, and scrubs personal data after its shorter retention.
 * Nothing still pending is ever touched: clinical data never expires from the outbox. A parked
 * entry keeps its row and dead-letter reason; only its personal bytes go, at personalMaxDays.
 */
export async function applyRetention(db: Database.Database, blobs: BlobStore, clock: Clock, policy: RetentionPolicy): Promise<RetentionOutcome> {
  const now = clock.now();
  const deliveredBefore = now - policy.deliveredDays * DAY;
  const imagesBefore = now - (policy.imagesDays ?? policy.deliveredDays) * DAY;
  const personalBefore = now - policy.personalHours * HOUR;
  // An image with personal data (every DICOM instance) leaves with the personal data, once the
  // PACS has it (delivered, and committed when storage commitment holds it), if that is sooner.
  const personalImagesBefore = Math.max(imagesBefore, personalBefore);
  const maxBefore = now - (policy.personalMaxDays ?? DEFAULT_PERSONAL_MAX_DAYS) * DAY;

  const outcome = db.transaction((): Omit<RetentionOutcome, 'blobsRemoved'> & { blobHashes: string[] } => {
    const personalScrubbed = db
      .prepare(`UPDATE journal SET raw = NULL, parsed = NULL, scrubbed_ms = ? WHERE personal = 1 AND scrubbed_ms IS NULL AND received_ms < ? AND ${FINISHED}`)
      .run(now, personalBefore).changes;
    // Parked past the personal-data limit: the bytes go, the evidence (row, reason) stays.
    const parkedWhere = `personal = 1 AND scrubbed_ms IS NULL AND received_ms < ? AND ${ONLY_PARKED}`;
    const parkedBlobs = (
      db.prepare(`SELECT DISTINCT blob_hash FROM journal WHERE blob_hash IS NOT NULL AND ${parkedWhere}`).all(maxBefore) as Array<{ blob_hash: string }>
    ).map((r) => r.blob_hash);
    const parkedScrubbed = db
      .prepare(`UPDATE journal SET raw = NULL, parsed = NULL, blob_hash = NULL, scrubbed_ms = ? WHERE ${parkedWhere}`)
      .run(now, maxBefore).changes;
    const old = `received_ms < (CASE WHEN blob_hash IS NULL THEN @deliveredBefore WHEN personal = 1 THEN @personalImagesBefore ELSE @imagesBefore END) AND ${FINISHED}`;
    const cutoffs = { deliveredBefore, imagesBefore, personalImagesBefore };
    const blobHashes = (
      db.prepare(`SELECT DISTINCT blob_hash FROM journal WHERE blob_hash IS NOT NULL AND ${old}`).all(cutoffs) as Array<{ blob_hash: string }>
    ).map((r) => r.blob_hash);
    const outboxPurged = db.prepare(`DELETE FROM outbox WHERE journal_id IN (SELECT id FROM journal WHERE ${old})`).run(cutoffs).changes;
    const journalPurged = db.prepare(`DELETE FROM journal WHERE ${old}`).run(cutoffs).changes;
    const oldCaptures = `SELECT id FROM capture WHERE started_ms < ?`;
    db.prepare(`DELETE FROM capture_chunk WHERE capture_id IN (${oldCaptures})`).run(personalBefore);
    const capturesPurged = db.prepare(`DELETE FROM capture WHERE started_ms < ?`).run(personalBefore).changes;
    db.prepare(`DELETE FROM dead_letter WHERE outbox_id NOT IN (SELECT id FROM outbox)`).run();
    return { outboxPurged, journalPurged, personalScrubbed, parkedScrubbed, capturesPurged, blobHashes: [...new Set([...blobHashes, ...parkedBlobs])] };
  })();

  // A blob file goes only when no remaining entry references it (same content, other entry).
  const stillUsed = db.prepare('SELECT 1 FROM journal WHERE blob_hash = ? LIMIT 1');
  let blobsRemoved = 0;
  for (const hash of outcome.blobHashes) {
    if (!stillUsed.get(hash)) {
      await blobs.remove(hash);
      blobsRemoved++;
    }
  }
  const { blobHashes: _, ...counts } = outcome;
  return { ...counts, blobsRemoved };
}

/**
 * Personal data in entries still pending or parked past personalAlarmPercent of personalMaxDays,
 * per source and state (an entry pending anywhere counts as pending). Counts only: no content.
 */
export function personalDataAge(db: Database.Database, nowMs: number, policy: RetentionPolicy): PersonalDataAge[] {
  const maxMs = (policy.personalMaxDays ?? DEFAULT_PERSONAL_MAX_DAYS) * DAY;
  const alarmMs = (maxMs * (policy.personalAlarmPercent ?? DEFAULT_PERSONAL_ALARM_PERCENT)) / 100;
  const rows = db
    .prepare(
      `SELECT source, CASE WHEN any_pending THEN 'pending' ELSE 'parked' END AS state, COUNT(*) AS entries, MIN(received_ms) AS oldest
       FROM (SELECT j.id, j.source, j.received_ms, MAX(o.state = 'pending') AS any_pending
             FROM outbox o JOIN journal j ON j.id = o.journal_id
             WHERE o.state IN ('pending', 'parked') AND j.personal = 1 AND j.scrubbed_ms IS NULL AND j.received_ms < ?
             GROUP BY j.id)
       GROUP BY source, state ORDER BY source, state`,
    )
    .all(nowMs - alarmMs) as Array<{ source: string; state: 'pending' | 'parked'; entries: number; oldest: number }>;
  return rows.map((r) => ({
    source: r.source,
    state: r.state,
    entries: r.entries,
    oldestMs: r.oldest,
    ageDays: Math.round(((nowMs - r.oldest) / DAY) * 10) / 10,
    level: nowMs - r.oldest >= maxMs ? 'critical' : 'warn',
  }));
}

/** Blob files no journal entry references (left by a crash between blob fsync and append). */
export async function removeOrphanBlobs(db: Database.Database, blobs: BlobStore, olderThanMs: number): Promise<number> {
  const used = db.prepare('SELECT 1 FROM journal WHERE blob_hash = ? LIMIT 1');
  const { stat } = await import('node:fs/promises');
  let removed = 0;
  for await (const hash of blobs.hashes()) {
    if (used.get(hash)) continue;
    const info = await stat(blobs.path({ hash })).catch(() => null);
    if (info && Date.now() - info.mtimeMs > olderThanMs) {
      await blobs.remove(hash);
      removed++;
    }
  }
  return removed;
}
