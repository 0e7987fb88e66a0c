import type Database from 'better-sqlite3';
import { serviceKey, type BlobRef } from '../../../core/contract/driver.ts';
import type { InstanceMeta } from './instanceMeta.ts';

/**
 * Patient → study → series → instance index of what the box received, for the console's
 * study list and for "which instances has the PACS acknowledged". Rows point at the journal
 * entry (and so at its outbox rows); the instance bytes stay in the blob store. Tables are the
 * index's own (created if missing), in the box's SQLite database, as the order cache does.
 */

export const STUDY_INDEX_SERVICE = serviceKey<SqliteStudyIndex>('dicom.studyIndex');

export interface RecordInput {
  journalId: number;
  blob: BlobRef;
  meta: InstanceMeta;
  sourceAe?: string;
  /** ISO 8601 or epoch ms. */
  receivedAt: string | number;
}

export interface RecordResult {
  /** This journal entry was already indexed. */
  duplicate: boolean;
  /** Another journal entry holds the same SOP Instance UID with different bytes. */
  conflict: boolean;
}

export type ForwardingState = 'pending' | 'delivered' | 'parked' | 'none';

export interface DestinationState {
  destination: string;
  state: 'pending' | 'done' | 'parked';
  attempts: number;
  lastError: string | null;
  doneMs: number | null;
  deadLetterReason: string | null;
  /** Storage commitment by this destination (absent when it does not request commitment). */
  commitment?: { state: 'pending' | 'committed' | 'failed'; transactionUid: string | null; reason: string | null; updatedMs: number };
}

export interface StudySummary {
  studyUid: string;
  patientId: string | null;
  patientName: string | null;
  patientBirthDate: string | null;
  patientSex: string | null;
  studyDate: string | null;
  studyTime: string | null;
  accessionNumber: string | null;
  description: string | null;
  referringPhysician: string | null;
  modalities: string[];
  seriesCount: number;
  instanceCount: number;
  conflicts: number;
  /** Outbox rows of the study's instances by state. */
  forwarding: { pending: number; done: number; parked: number };
  state: ForwardingState;
  firstReceivedAt: string;
  lastReceivedAt: string;
}

export interface InstanceView {
  sopInstanceUid: string;
  sopClassUid: string;
  instanceNumber: number | null;
  transferSyntaxUid: string;
  numberOfFrames: number | null;
  journalId: number;
  blobHash: string;
  size: number;
  sourceAe: string | null;
  receivedAt: string;
  conflict: boolean;
  destinations: DestinationState[];
}

export interface SeriesView {
  seriesUid: string;
  modality: string | null;
  seriesNumber: number | null;
  description: string | null;
  instances: InstanceView[];
}

export interface StudyView {
  study: StudySummary;
  series: SeriesView[];
}

export interface StudyQuery {
  patientId?: string;
  /** Study date range, inclusive, 'YYYYMMDD' or 'YYYY-MM-DD'. */
  dateFrom?: string;
  dateTo?: string;
  modality?: string;
  state?: ForwardingState | 'conflict';
  limit?: number;
  offset?: number;
}

export interface StudyIndex {
  record(input: RecordInput): RecordResult;
  /** Recorded with the next batch; `done` gets the outcome (or the error) then. */
  recordSoon(input: RecordInput, done?: (outcome: RecordResult | Error) => void): void;
  listStudies(query?: StudyQuery): { total: number; studies: StudySummary[] };
  getStudy(studyUid: string): StudyView | undefined;
  purgeForwarded(olderThanDays: number, nowMs?: number): number;
  scrubPersonal(olderThanHours: number, nowMs?: number, parkedOlderThanDays?: number): number;
}

/**
 * Indexes journal entries the index lacks (run at start-up): reads each blob's header and
 * metadata; a blob that does not parse is skipped (it is still journaled and forwarded).
 */
export async function backfillStudyIndex(
  index: SqliteStudyIndex,
  blobPath: (ref: BlobRef) => string,
  extract: (path: string) => Promise<InstanceMeta>,
  stream = 'dicom.instance',
): Promise<{ indexed: number; failed: number }> {
  let indexed = 0;
  let failed = 0;
  const seen = new Set<number>();
  for (;;) {
    const batch = index.unindexed(stream, 200).filter((r) => !seen.has(r.journalId));
    if (batch.length === 0) return { indexed, failed };
    for (const row of batch) {
      seen.add(row.journalId);
      try {
        const meta = await extract(blobPath(row.blob));
        const sourceAe = typeof row.meta.callingAe === 'string' ? row.meta.callingAe : undefined;
        index.record({ journalId: row.journalId, blob: row.blob, meta, sourceAe, receivedAt: row.receivedAt });
        indexed++;
      } catch {
        failed++;
      }
    }
  }
}

interface PendingRecord {
  input: RecordInput;
  done?: (outcome: RecordResult | Error) => void;
  outcome?: RecordResult | Error;
}

/** Index rows wait at most this long, and no more than this many, for their batch. */
const BATCH_MS = 100;
const BATCH_MAX = 256;

const DAY = 86_400_000;
const UNKNOWN_UID = '(none)';

function daDate(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const d = s.replace(/-/g, '');
  return /^\d{8}$/.test(d) ? d : undefined;
}

interface StudyRow {
  study_uid: string;
  patient_id: string | null;
  patient_name: string | null;
  patient_birth_date: string | null;
  patient_sex: string | null;
  study_date: string | null;
  study_time: string | null;
  accession: string | null;
  description: string | null;
  referring: string | null;
  first_ms: number;
  last_ms: number;
  modalities: string | null;
  series_count: number;
  instance_count: number;
  conflicts: number;
  pending: number | null;
  done: number | null;
  parked: number | null;
}

export class SqliteStudyIndex implements StudyIndex {
  private readonly findJournal;
  private readonly findSop;
  private readonly insertInstance;
  private readonly markConflict;
  private readonly upsertSeries;
  private readonly upsertStudy;
  /** Built once: a better-sqlite3 transaction function per call costs more than the inserts. */
  private readonly recordTx: (input: RecordInput) => RecordResult;
  private readonly recordBatchTx: (batch: PendingRecord[]) => void;
  private pending: PendingRecord[] = [];
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(private readonly db: Database.Database) {
    createStudyIndexTables(db);
    this.findJournal = db.prepare('SELECT conflict FROM dicom_instance WHERE journal_id = ?');
    this.findSop = db.prepare('SELECT journal_id, blob_hash FROM dicom_instance WHERE sop_instance_uid = ?');
    this.insertInstance = db.prepare(`INSERT INTO dicom_instance
      (journal_id, sop_instance_uid, series_uid, study_uid, sop_class_uid, instance_number, transfer_syntax, frames, blob_hash, blob_size, source_ae, received_ms, conflict)
      VALUES (@journalId, @sop, @series, @study, @sopClass, @number, @ts, @frames, @hash, @size, @ae, @ms, @conflict)`);
    this.markConflict = db.prepare('UPDATE dicom_instance SET conflict = 1 WHERE sop_instance_uid = ?');
    this.upsertSeries = db.prepare(`INSERT INTO dicom_series (series_uid, study_uid, modality, series_number, description)
      VALUES (@series, @study, @modality, @number, @description)
      ON CONFLICT (series_uid) DO UPDATE SET modality = COALESCE(excluded.modality, modality),
        series_number = COALESCE(excluded.series_number, series_number), description = COALESCE(excluded.description, description)`);
    // Later instances fill what earlier ones lacked; the first non-empty value of a field wins.
    this.upsertStudy =
      db.prepare(`INSERT INTO dicom_study (study_uid, patient_id, patient_name, patient_birth_date, patient_sex, study_date, study_time, accession, description, referring, first_ms, last_ms)
      VALUES (@study, @patientId, @patientName, @birthDate, @sex, @date, @time, @accession, @description, @referring, @ms, @ms)
      ON CONFLICT (study_uid) DO UPDATE SET
        patient_id = COALESCE(patient_id, excluded.patient_id), patient_name = COALESCE(patient_name, excluded.patient_name),
        patient_birth_date = COALESCE(patient_birth_date, excluded.patient_birth_date), patient_sex = COALESCE(patient_sex, excluded.patient_sex),
        study_date = COALESCE(study_date, excluded.study_date), study_time = COALESCE(study_time, excluded.study_time),
        accession = COALESCE(accession, excluded.accession), description = COALESCE(description, excluded.description),
        referring = COALESCE(referring, excluded.referring),
        first_ms = MIN(first_ms, excluded.first_ms), last_ms = MAX(last_ms, excluded.last_ms)`);
    this.recordTx = db.transaction((input: RecordInput) => this.recordInTx(input));
    this.recordBatchTx = db.transaction((batch: PendingRecord[]) => {
      for (const p of batch) {
        // A nested savepoint each: one bad row fails alone.
        try {
          p.outcome = this.recordTx(p.input);
        } catch (err) {
          p.outcome = err as Error;
        }
      }
    });
  }

  record(input: RecordInput): RecordResult {
    this.flush();
    return this.recordTx(input);
  }

  /**
   * The receiver's path: rows wait for a batch (one transaction and one fsync for up to
   * BATCH_MAX instances, BATCH_MS after the first) instead of adding their index pages to each
   * acknowledgement's commit (~0.35 ms per instance, docs/BENCHMARKS.md). Every read flushes
   * first, so the index never lags its readers; a crash loses only rows the start-up backfill
   * rebuilds from the journal.
   */
  recordSoon(input: RecordInput, done?: (outcome: RecordResult | Error) => void): void {
    this.pending.push({ input, ...(done ? { done } : {}) });
    if (this.pending.length >= BATCH_MAX) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), BATCH_MS).unref();
  }

  /** Writes the waiting rows now. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    try {
      this.recordBatchTx(batch);
    } catch (err) {
      for (const p of batch) p.outcome = err as Error; // the commit itself failed: none is recorded
    }
    for (const p of batch) p.done?.(p.outcome ?? new Error('not recorded'));
  }

  private recordInTx(input: RecordInput): RecordResult {
    const { meta } = input;
    const ms = typeof input.receivedAt === 'number' ? input.receivedAt : Date.parse(input.receivedAt);
    const receivedMs = Number.isFinite(ms) ? ms : Date.now();
    if (this.findJournal.get(input.journalId)) return { duplicate: true, conflict: false };
    const sop = meta.instance.sopInstanceUid;
    const others = this.findSop.all(sop) as Array<{ journal_id: number; blob_hash: string }>;
    const conflict = others.some((o) => o.blob_hash !== input.blob.hash);
    const study = meta.study.uid ?? UNKNOWN_UID;
    const series = meta.series.uid ?? `${study}/${UNKNOWN_UID}`;
    this.upsertStudy.run({
      study,
      patientId: meta.patient.id ?? null,
      patientName: meta.patient.name ?? null,
      birthDate: meta.patient.birthDate ?? null,
      sex: meta.patient.sex ?? null,
      date: meta.study.date ?? null,
      time: meta.study.time ?? null,
      accession: meta.study.accessionNumber ?? null,
      description: meta.study.description ?? null,
      referring: meta.study.referringPhysician ?? null,
      ms: receivedMs,
    });
    this.upsertSeries.run({
      series,
      study,
      modality: meta.series.modality ?? null,
      number: meta.series.number ?? null,
      description: meta.series.description ?? null,
    });
    this.insertInstance.run({
      journalId: input.journalId,
      sop,
      series,
      study,
      sopClass: meta.instance.sopClassUid,
      number: meta.instance.number ?? null,
      ts: meta.instance.transferSyntaxUid,
      frames: meta.instance.numberOfFrames ?? null,
      hash: input.blob.hash,
      size: input.blob.size,
      ae: input.sourceAe ?? meta.sourceAeTitle ?? null,
      ms: receivedMs,
      conflict: conflict ? 1 : 0,
    });
    // Both copies are flagged: the console shows the pair side by side.
    if (conflict) this.markConflict.run(sop);
    return { duplicate: false, conflict };
  }

  listStudies(query: StudyQuery = {}): { total: number; studies: StudySummary[] } {
    this.flush();
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (query.patientId) where.push('s.patient_id = @patientId'), (args.patientId = query.patientId);
    const from = daDate(query.dateFrom);
    const to = daDate(query.dateTo);
    if (from) where.push('s.study_date >= @from'), (args.from = from);
    if (to) where.push('s.study_date <= @to'), (args.to = to);
    if (query.modality)
      where.push('EXISTS (SELECT 1 FROM dicom_series m WHERE m.study_uid = s.study_uid AND m.modality = @modality)'), (args.modality = query.modality);
    const joined = 'FROM outbox o JOIN dicom_instance i ON i.journal_id = o.journal_id WHERE i.study_uid = s.study_uid';
    switch (query.state) {
      case 'pending':
      case 'parked':
        where.push(`EXISTS (SELECT 1 ${joined} AND o.state = '${query.state}')`);
        break;
      case 'delivered':
        where.push(`EXISTS (SELECT 1 ${joined}) AND NOT EXISTS (SELECT 1 ${joined} AND o.state != 'done')`);
        break;
      case 'none':
        where.push(`NOT EXISTS (SELECT 1 ${joined})`);
        break;
      case 'conflict':
        where.push('EXISTS (SELECT 1 FROM dicom_instance c WHERE c.study_uid = s.study_uid AND c.conflict = 1)');
        break;
      default:
        break;
    }
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM dicom_study s ${whereSql}`).get(args) as { n: number }).n;
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const offset = Math.max(query.offset ?? 0, 0);
    const rows = this.db
      .prepare(
        `SELECT s.*,
          (SELECT group_concat(DISTINCT modality) FROM dicom_series m WHERE m.study_uid = s.study_uid) AS modalities,
          (SELECT count(*) FROM dicom_series m WHERE m.study_uid = s.study_uid) AS series_count,
          (SELECT count(*) FROM dicom_instance i WHERE i.study_uid = s.study_uid) AS instance_count,
          (SELECT count(*) FROM dicom_instance i WHERE i.study_uid = s.study_uid AND i.conflict = 1) AS conflicts,
          f.pending, f.done, f.parked
        FROM dicom_study s
        LEFT JOIN (SELECT i.study_uid,
            sum(o.state = 'pending') AS pending, sum(o.state = 'done') AS done, sum(o.state = 'parked') AS parked
          FROM dicom_instance i JOIN outbox o ON o.journal_id = i.journal_id GROUP BY i.study_uid) f ON f.study_uid = s.study_uid
        ${whereSql}
        ORDER BY s.last_ms DESC, s.study_uid LIMIT ${limit} OFFSET ${offset}`,
      )
      .all(args) as StudyRow[];
    return { total, studies: rows.map(toSummary) };
  }

  getStudy(studyUid: string): StudyView | undefined {
    this.flush();
    const { studies } = this.listStudiesByUid(studyUid);
    const study = studies[0];
    if (!study) return undefined;
    const series = this.db.prepare('SELECT * FROM dicom_series WHERE study_uid = ? ORDER BY series_number, series_uid').all(studyUid) as Array<{
      series_uid: string;
      modality: string | null;
      series_number: number | null;
      description: string | null;
    }>;
    const instances = this.db
      .prepare('SELECT * FROM dicom_instance WHERE study_uid = ? ORDER BY instance_number, received_ms, journal_id')
      .all(studyUid) as Array<{
      journal_id: number;
      sop_instance_uid: string;
      series_uid: string;
      sop_class_uid: string;
      instance_number: number | null;
      transfer_syntax: string;
      frames: number | null;
      blob_hash: string;
      blob_size: number;
      source_ae: string | null;
      received_ms: number;
      conflict: number;
    }>;
    const dest = this.db
      .prepare(
        `SELECT o.journal_id, o.destination, o.state, o.attempts, o.last_error, o.done_ms, d.reason
       FROM outbox o JOIN dicom_instance i ON i.journal_id = o.journal_id LEFT JOIN dead_letter d ON d.outbox_id = o.id
       WHERE i.study_uid = ? ORDER BY o.destination`,
      )
      .all(studyUid) as Array<{
      journal_id: number;
      destination: string;
      state: DestinationState['state'];
      attempts: number;
      last_error: string | null;
      done_ms: number | null;
      reason: string | null;
    }>;
    const commitments = this.commitmentsOf(studyUid);
    const byJournal = new Map<number, DestinationState[]>();
    for (const d of dest) {
      const list = byJournal.get(d.journal_id) ?? [];
      const c = commitments.get(`${d.journal_id}|${d.destination}`);
      list.push({
        destination: d.destination,
        state: d.state,
        attempts: d.attempts,
        lastError: d.last_error,
        doneMs: d.done_ms,
        deadLetterReason: d.reason,
        ...(c ? { commitment: c } : {}),
      });
      byJournal.set(d.journal_id, list);
    }
    return {
      study,
      series: series.map((s) => ({
        seriesUid: s.series_uid,
        modality: s.modality,
        seriesNumber: s.series_number,
        description: s.description,
        instances: instances
          .filter((i) => i.series_uid === s.series_uid)
          .map((i) => ({
            sopInstanceUid: i.sop_instance_uid,
            sopClassUid: i.sop_class_uid,
            instanceNumber: i.instance_number,
            transferSyntaxUid: i.transfer_syntax,
            numberOfFrames: i.frames,
            journalId: i.journal_id,
            blobHash: i.blob_hash,
            size: i.blob_size,
            sourceAe: i.source_ae,
            receivedAt: new Date(i.received_ms).toISOString(),
            conflict: i.conflict === 1,
            destinations: byJournal.get(i.journal_id) ?? [],
          })),
      })),
    };
  }

  /** Storage commitment rows of a study's instances (the table exists once a destination requests commitment). */
  private commitmentsOf(studyUid: string): Map<string, NonNullable<DestinationState['commitment']>> {
    const out = new Map<string, NonNullable<DestinationState['commitment']>>();
    if (!this.hasCommitment()) return out;
    const rows = this.db
      .prepare(
        `SELECT c.journal_id, c.destination, c.state, c.tx_uid, c.reason, c.updated_ms FROM dicom_commit_instance c
         JOIN dicom_instance i ON i.journal_id = c.journal_id WHERE i.study_uid = ?`,
      )
      .all(studyUid) as Array<{
      journal_id: number;
      destination: string;
      state: 'pending' | 'committed' | 'failed';
      tx_uid: string | null;
      reason: string | null;
      updated_ms: number;
    }>;
    for (const r of rows) out.set(`${r.journal_id}|${r.destination}`, { state: r.state, transactionUid: r.tx_uid, reason: r.reason, updatedMs: r.updated_ms });
    return out;
  }

  private hasCommitment(): boolean {
    return this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dicom_commit_instance'`).get() !== undefined;
  }

  private listStudiesByUid(studyUid: string): { studies: StudySummary[] } {
    const rows = this.db
      .prepare(
        `SELECT s.*,
          (SELECT group_concat(DISTINCT modality) FROM dicom_series m WHERE m.study_uid = s.study_uid) AS modalities,
          (SELECT count(*) FROM dicom_series m WHERE m.study_uid = s.study_uid) AS series_count,
          (SELECT count(*) FROM dicom_instance i WHERE i.study_uid = s.study_uid) AS instance_count,
          (SELECT count(*) FROM dicom_instance i WHERE i.study_uid = s.study_uid AND i.conflict = 1) AS conflicts,
          (SELECT sum(o.state = 'pending') FROM dicom_instance i JOIN outbox o ON o.journal_id = i.journal_id WHERE i.study_uid = s.study_uid) AS pending,
          (SELECT sum(o.state = 'done') FROM dicom_instance i JOIN outbox o ON o.journal_id = i.journal_id WHERE i.study_uid = s.study_uid) AS done,
          (SELECT sum(o.state = 'parked') FROM dicom_instance i JOIN outbox o ON o.journal_id = i.journal_id WHERE i.study_uid = s.study_uid) AS parked
        FROM dicom_study s WHERE s.study_uid = ?`,
      )
      .all(studyUid) as StudyRow[];
    return { studies: rows.map(toSummary) };
  }

  /**
   * Removes index rows of instances received before the cutoff whose every outbox row is
   * delivered (or whose journal entry the core's retention already removed), then series and
   * studies left empty. Instances still pending or parked, or never routed, stay listed.
   */
  purgeForwarded(olderThanDays: number, nowMs = Date.now()): number {
    this.flush();
    const cutoff = nowMs - olderThanDays * DAY;
    // Held (e.g. not yet committed by a PACS asked for storage commitment): still listed, as its file is kept.
    const uncommitted = `AND NOT EXISTS (SELECT 1 FROM journal_hold h WHERE h.journal_id = dicom_instance.journal_id)`;
    return this.db.transaction(() => {
      const doomed = `FROM dicom_instance WHERE received_ms < ? AND (
             NOT EXISTS (SELECT 1 FROM journal j WHERE j.id = dicom_instance.journal_id)
             OR (EXISTS (SELECT 1 FROM outbox o WHERE o.journal_id = dicom_instance.journal_id)
                 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.journal_id = dicom_instance.journal_id AND o.state != 'done') ${uncommitted}))`;
      this.db.prepare(`INSERT OR IGNORE INTO dicom_purged (journal_id) SELECT journal_id ${doomed}`).run(cutoff);
      const removed = this.db.prepare(`DELETE ${doomed}`).run(cutoff).changes;
      this.db.prepare('DELETE FROM dicom_purged WHERE NOT EXISTS (SELECT 1 FROM journal j WHERE j.id = dicom_purged.journal_id)').run();
      this.db.prepare('DELETE FROM dicom_series WHERE NOT EXISTS (SELECT 1 FROM dicom_instance i WHERE i.series_uid = dicom_series.series_uid)').run();
      this.db.prepare('DELETE FROM dicom_study WHERE NOT EXISTS (SELECT 1 FROM dicom_instance i WHERE i.study_uid = dicom_study.study_uid)').run();
      return removed;
    })();
  }

  /**
   * Journal entries of `stream` with a blob but no index row: the index is written after the
   * journal append, so a crash in between leaves some. Oldest first.
   */
  unindexed(stream = 'dicom.instance', limit = 1000): Array<{ journalId: number; blob: BlobRef; receivedAt: string; meta: Record<string, unknown> }> {
    this.flush();
    const rows = this.db
      .prepare(
        `SELECT j.id, j.blob_hash, j.blob_size, j.received_at, j.meta FROM journal j
         WHERE j.stream = ? AND j.blob_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dicom_instance i WHERE i.journal_id = j.id)
           AND NOT EXISTS (SELECT 1 FROM dicom_purged p WHERE p.journal_id = j.id)
         ORDER BY j.id LIMIT ?`,
      )
      .all(stream, limit) as Array<{ id: number; blob_hash: string; blob_size: number; received_at: string; meta: string | null }>;
    return rows.map((r) => ({
      journalId: r.id,
      blob: { hash: r.blob_hash, size: r.blob_size },
      receivedAt: r.received_at,
      meta: r.meta ? (JSON.parse(r.meta) as Record<string, unknown>) : {},
    }));
  }

  /**
   * Personal data retention (as the journal's): patient name and birth date are blanked in
   * studies whose last instance is older than the cutoff and fully delivered, and (with
   * `parkedOlderThanDays`, retention.personalMaxDays) in studies older than that with nothing
   * pending: what is left there is parked, and its files were scrubbed at the same age.
   */
  scrubPersonal(olderThanHours: number, nowMs = Date.now(), parkedOlderThanDays?: number): number {
    this.flush();
    const cutoff = nowMs - olderThanHours * 3_600_000;
    const parkedCutoff = parkedOlderThanDays === undefined ? null : nowMs - parkedOlderThanDays * DAY;
    const rows = (state: string) =>
      `EXISTS (SELECT 1 FROM outbox o JOIN dicom_instance i ON i.journal_id = o.journal_id WHERE i.study_uid = dicom_study.study_uid AND ${state})`;
    return this.db
      .prepare(
        // The patient id too: in Vietnam it is often the CCCD number.
        `UPDATE dicom_study SET patient_id = NULL, patient_name = NULL, patient_birth_date = NULL
         WHERE (patient_id IS NOT NULL OR patient_name IS NOT NULL OR patient_birth_date IS NOT NULL)
           AND ((last_ms < @cutoff AND NOT ${rows("o.state != 'done'")})
             OR (@parkedCutoff IS NOT NULL AND last_ms < @parkedCutoff AND NOT ${rows("o.state = 'pending'")}))`,
      )
      .run({ cutoff, parkedCutoff }).changes;
  }
}

function toSummary(r: StudyRow): StudySummary {
  const pending = r.pending ?? 0;
  const done = r.done ?? 0;
  const parked = r.parked ?? 0;
  const state: ForwardingState = parked > 0 ? 'parked' : pending > 0 ? 'pending' : done > 0 ? 'delivered' : 'none';
  return {
    studyUid: r.study_uid,
    patientId: r.patient_id,
    patientName: r.patient_name,
    patientBirthDate: r.patient_birth_date,
    patientSex: r.patient_sex,
    studyDate: r.study_date,
    studyTime: r.study_time,
    accessionNumber: r.accession,
    description: r.description,
    referringPhysician: r.referring,
    modalities: r.modalities ? r.modalities.split(',').filter(Boolean).sort() : [],
    seriesCount: r.series_count,
    instanceCount: r.instance_count,
    conflicts: r.conflicts,
    forwarding: { pending, done, parked },
    state,
    firstReceivedAt: new Date(r.first_ms).toISOString(),
    lastReceivedAt: new Date(r.last_ms).toISOString(),
  };
}

/** The study index's tables: the dicom module's schema step 1 (also ensured by an index built alone, as tests do). */
export function createStudyIndexTables(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS dicom_study (
      study_uid TEXT PRIMARY KEY,
      patient_id TEXT, patient_name TEXT, patient_birth_date TEXT, patient_sex TEXT,
      study_date TEXT, study_time TEXT, accession TEXT, description TEXT, referring TEXT,
      first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS dicom_study_date ON dicom_study (study_date);
    CREATE INDEX IF NOT EXISTS dicom_study_patient ON dicom_study (patient_id);
    CREATE INDEX IF NOT EXISTS dicom_study_last ON dicom_study (last_ms);
    CREATE TABLE IF NOT EXISTS dicom_series (
      series_uid TEXT PRIMARY KEY,
      study_uid TEXT NOT NULL,
      modality TEXT, series_number INTEGER, description TEXT
    );
    CREATE INDEX IF NOT EXISTS dicom_series_study ON dicom_series (study_uid);
    CREATE TABLE IF NOT EXISTS dicom_instance (
      journal_id INTEGER PRIMARY KEY,
      sop_instance_uid TEXT NOT NULL,
      series_uid TEXT NOT NULL,
      study_uid TEXT NOT NULL,
      sop_class_uid TEXT NOT NULL,
      instance_number INTEGER,
      transfer_syntax TEXT NOT NULL,
      frames INTEGER,
      blob_hash TEXT NOT NULL,
      blob_size INTEGER NOT NULL,
      source_ae TEXT,
      received_ms INTEGER NOT NULL,
      conflict INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS dicom_instance_sop ON dicom_instance (sop_instance_uid);
    CREATE INDEX IF NOT EXISTS dicom_instance_series ON dicom_instance (series_uid);
    CREATE INDEX IF NOT EXISTS dicom_instance_study ON dicom_instance (study_uid);
    -- Journal entries purged from the index while the journal still holds them (not re-indexed by backfill).
    CREATE TABLE IF NOT EXISTS dicom_purged (journal_id INTEGER PRIMARY KEY);
  `);
}
