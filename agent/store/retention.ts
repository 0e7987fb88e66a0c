import type Database from 'better-sqlite3';
import type { Clock } from '../clock.ts';
import type { BlobStore } from './blobs.ts';

export interface RetentionPolicy {
  /** Delivered items (and journal entries with nothing left to deliver) are purged after this. */
  deliveredDays: number;
  /** Personal data (raw bytes, parsed form, captures) scrubbed after this, once delivered. */
  personalHours: number;
  /** Delivered entries with a blob (DICOM images) purged after this instead: they fill disks. */
  imagesDays?: number;
}

export interface RetentionOutcome {
  outboxPurged: number;
  journalPurged: number;
  personalScrubbed: number;
  capturesPurged: number;
  blobsRemoved: number;
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

/**
 * Purges what is delivered and old, and scrubs personal data after its shorter retention.
 * Nothing still pending or parked is ever touched: clinical data never expires from the outbox.
 */
export async function applyRetention(db: Database.Database, blobs: BlobStore, clock: Clock, policy: RetentionPolicy): Promise<RetentionOutcome> {
  const now = clock.now();
  const deliveredBefore = now - policy.deliveredDays * DAY;
  const imagesBefore = now - (policy.imagesDays ?? policy.deliveredDays) * DAY;
  const personalBefore = now - policy.personalHours * HOUR;
  // An entry is finished when it has no pending or parked outbox row and nobody holds it (a PACS
  // asked for storage commitment that has not committed yet: the box's copy is the only one).
  const finished = `NOT EXISTS (SELECT 1 FROM outbox o WHERE o.journal_id = journal.id AND o.state != 'done')
    AND NOT EXISTS (SELECT 1 FROM journal_hold h WHERE h.journal_id = journal.id)`;

  const outcome = db.transaction((): Omit<RetentionOutcome, 'blobsRemoved'> & { blobHashes: string[] } => {
    const personalScrubbed = db
      .prepare(`UPDATE journal SET raw = NULL, parsed = NULL, scrubbed_ms = ? WHERE personal = 1 AND scrubbed_ms IS NULL AND received_ms < ? AND ${finished}`)
      .run(now, personalBefore).changes;
    const old = `received_ms < (CASE WHEN blob_hash IS NULL THEN @deliveredBefore ELSE @imagesBefore END) AND ${finished}`;
    const cutoffs = { deliveredBefore, imagesBefore };
    const blobHashes = (db.prepare(`SELECT DISTINCT blob_hash FROM journal WHERE blob_hash IS NOT NULL AND ${old}`).all(cutoffs) as Array<{ blob_hash: string }>).map((r) => r.blob_hash);
    const outboxPurged = db.prepare(`DELETE FROM outbox WHERE journal_id IN (SELECT id FROM journal WHERE ${old})`).run(cutoffs).changes;
    const journalPurged = db.prepare(`DELETE FROM journal WHERE ${old}`).run(cutoffs).changes;
    const oldCaptures = `SELECT id FROM capture WHERE started_ms < ?`;
    db.prepare(`DELETE FROM capture_chunk WHERE capture_id IN (${oldCaptures})`).run(personalBefore);
    const capturesPurged = db.prepare(`DELETE FROM capture WHERE started_ms < ?`).run(personalBefore).changes;
    db.prepare(`DELETE FROM dead_letter WHERE outbox_id NOT IN (SELECT id FROM outbox)`).run();
    return { outboxPurged, journalPurged, personalScrubbed, capturesPurged, blobHashes };
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
