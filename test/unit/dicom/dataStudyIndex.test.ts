import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../../core/store/store.ts';
import { extractInstanceMeta } from '../../../modules/dicom/data/instanceMeta.ts';
import { SqliteStudyIndex, backfillStudyIndex } from '../../../modules/dicom/data/studyIndex.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { syntheticPart10, VN_PATIENT } from './dataFixtures.ts';
import type { SyntheticInstance } from './dataFixtures.ts';

const tmp = tempDir('dicom-index-');
let store: Awaited<ReturnType<typeof openStore>>;
let index: SqliteStudyIndex;
const journal = () => store.journalFor('us1', ['pacs', 'stow']);

beforeAll(async () => {
  store = await openStore({ dir: join(tmp.dir, 'store') });
  index = new SqliteStudyIndex(store.db);
});
afterAll(async () => {
  await store.close();
  tmp.cleanup();
});

/** Receives an instance the way the C-STORE SCP does: blob, journal entry with outbox rows, index. */
async function receive(s: SyntheticInstance, receivedAt: string, routes?: string[]) {
  const bytes = syntheticPart10(s);
  const path = join(tmp.dir, `${s.sopInstanceUid}-${Math.random()}.dcm`);
  writeFileSync(path, bytes);
  const blob = await store.blobs.write(bytes);
  const meta = await extractInstanceMeta(path);
  const j = routes ? store.journalFor('us1', routes) : journal();
  const appended = await j.append({
    stream: 'dicom.instance',
    kind: 'c-store',
    idempotencyKey: `${s.sopInstanceUid}:${blob.hash}`,
    blob,
    personal: true,
    parsed: { sop: s.sopInstanceUid },
  });
  return { appended, result: index.record({ journalId: appended.id, blob, meta, sourceAe: 'US01', receivedAt }), blob, meta };
}

function outboxIds(journalId: number): Array<{ id: number; destination: string }> {
  return store.db.prepare('SELECT id, destination FROM outbox WHERE journal_id = ? ORDER BY destination').all(journalId) as Array<{
    id: number;
    destination: string;
  }>;
}

describe('SqliteStudyIndex over the real store', () => {
  const studyA = '1.2.826.0.1.3680043.10.9.1';
  const studyB = '1.2.826.0.1.3680043.10.9.2';

  it('indexes patient, study, series, instance; forwarding state per destination from the outbox', async () => {
    const a1 = await receive({ studyUid: studyA, seriesUid: `${studyA}.1`, sopInstanceUid: `${studyA}.1.1` }, '2026-11-20T08:00:00Z');
    await receive({ studyUid: studyA, seriesUid: `${studyA}.1`, sopInstanceUid: `${studyA}.1.2` }, '2026-11-20T08:00:01Z');
    expect(a1.result).toEqual({ duplicate: false, conflict: false });
    const view = index.getStudy(studyA)!;
    expect(view.study).toMatchObject({
      patientName: VN_PATIENT,
      patientId: 'BN0001',
      patientBirthDate: '19800101',
      instanceCount: 2,
      seriesCount: 1,
      modalities: ['US'],
      state: 'pending',
      forwarding: { pending: 4, done: 0, parked: 0 },
    });
    expect(view.series[0]!.instances.map((i) => i.destinations.map((d) => `${d.destination}:${d.state}`))).toEqual([
      ['pacs:pending', 'stow:pending'],
      ['pacs:pending', 'stow:pending'],
    ]);

    const [pacs, stow] = outboxIds(a1.appended.id);
    await store.outbox.markDone(pacs!.id);
    await store.outbox.park(stow!.id, 'stow', 'FailedSOPSequence: 0xA900 SOP class not supported');
    const after = index.getStudy(studyA)!;
    expect(after.study.state).toBe('parked');
    const first = after.series[0]!.instances.find((i) => i.journalId === a1.appended.id)!;
    expect(first.destinations).toMatchObject([
      { destination: 'pacs', state: 'done', attempts: 1 },
      { destination: 'stow', state: 'parked', deadLetterReason: 'FailedSOPSequence: 0xA900 SOP class not supported' },
    ]);
  });

  it('same journal entry twice is a duplicate; same SOP Instance UID with other bytes is a conflict on both copies', async () => {
    const sop = `${studyB}.1.1`;
    const first = await receive(
      { studyUid: studyB, seriesUid: `${studyB}.1`, sopInstanceUid: sop, modality: 'CT', patientId: 'BN0002' },
      '2026-11-21T09:00:00Z',
    );
    expect(index.record({ journalId: first.appended.id, blob: first.blob, meta: first.meta, receivedAt: Date.now() })).toEqual({
      duplicate: true,
      conflict: false,
    });
    const second = await receive(
      { studyUid: studyB, seriesUid: `${studyB}.1`, sopInstanceUid: sop, modality: 'CT', patientId: 'BN0002', pixels: Buffer.alloc(32, 9) },
      '2026-11-21T09:00:05Z',
    );
    expect(second.result).toEqual({ duplicate: false, conflict: true });
    const instances = index.getStudy(studyB)!.series[0]!.instances;
    expect(instances.map((i) => i.conflict)).toEqual([true, true]);
    expect(index.listStudies({ state: 'conflict' }).studies.map((s) => s.studyUid)).toEqual([studyB]);
  });

  it('filters by patient, date range, modality, state; pages', async () => {
    const studyC = '1.2.826.0.1.3680043.10.9.3';
    const c = await receive(
      { studyUid: studyC, seriesUid: `${studyC}.1`, sopInstanceUid: `${studyC}.1.1`, modality: 'DX', patientId: 'BN0003' },
      '2026-11-22T10:00:00Z',
    );
    for (const o of outboxIds(c.appended.id)) await store.outbox.markDone(o.id);
    expect(index.listStudies({ patientId: 'BN0002' }).studies.map((s) => s.studyUid)).toEqual([studyB]);
    expect(index.listStudies({ modality: 'DX' }).studies.map((s) => s.studyUid)).toEqual([studyC]);
    expect(index.listStudies({ dateFrom: '2026-11-22', dateTo: '20261122' }).total).toBe(3); // all synthetic studies are dated 20261122
    expect(index.listStudies({ dateFrom: '2026-11-23' }).total).toBe(0);
    expect(index.listStudies({ state: 'delivered' }).studies.map((s) => s.studyUid)).toEqual([studyC]);
    expect(
      index
        .listStudies({ state: 'pending' })
        .studies.map((s) => s.studyUid)
        .sort(),
    ).toEqual([studyA, studyB]);
    const page1 = index.listStudies({ limit: 2 });
    const page2 = index.listStudies({ limit: 2, offset: 2 });
    expect(page1.total).toBe(3);
    expect([...page1.studies, ...page2.studies].map((s) => s.studyUid)).toEqual([studyC, studyB, studyA]); // newest first
  });

  it('an instance journaled without routes shows state none and is never purged as forwarded', async () => {
    const studyD = '1.2.826.0.1.3680043.10.9.4';
    await receive({ studyUid: studyD, seriesUid: `${studyD}.1`, sopInstanceUid: `${studyD}.1.1` }, '2026-01-01T00:00:00Z', []);
    expect(index.getStudy(studyD)!.study.state).toBe('none');
    expect(index.listStudies({ state: 'none' }).studies.map((s) => s.studyUid)).toEqual([studyD]);
    index.purgeForwarded(1, Date.parse('2026-11-01T00:00:00Z')); // a fixed now: the suite's other studies are dated November 2026
    expect(index.getStudy(studyD)).toBeDefined();
  });

  it('purgeForwarded removes only fully delivered old instances; scrubPersonal blanks names only when delivered', () => {
    const now = Date.parse('2026-12-30T00:00:00Z');
    // Study C (delivered) and study D (never routed: finished, as the journal's retention sees it).
    expect(index.scrubPersonal(72, now)).toBe(2);
    expect(index.listStudies({ state: 'delivered' }).studies[0]).toMatchObject({ patientName: null, patientId: null });
    expect(index.getStudy('1.2.826.0.1.3680043.10.9.1')!.study.patientName).toBe(VN_PATIENT);
    const removed = index.purgeForwarded(7, now);
    expect(removed).toBe(1);
    expect(index.getStudy('1.2.826.0.1.3680043.10.9.3')).toBeUndefined();
    expect(index.getStudy('1.2.826.0.1.3680043.10.9.1')!.study.instanceCount).toBe(2);
    expect(index.purgeForwarded(7, Date.parse('2026-11-21T00:00:00Z'))).toBe(0); // nothing old enough
  });

  it('backfill indexes journal entries written before a crash lost their index rows; unparsable blobs are counted, not fatal', async () => {
    const sop = '1.2.826.0.1.3680043.10.9.5.1.1';
    const bytes = syntheticPart10({ sopInstanceUid: sop, studyUid: '1.2.826.0.1.3680043.10.9.5', seriesUid: '1.2.826.0.1.3680043.10.9.5.1' });
    const blob = await store.blobs.write(bytes);
    await journal().append({ stream: 'dicom.instance', kind: 'c-store', idempotencyKey: `${sop}:${blob.hash}`, blob, meta: { callingAe: 'CR01' } });
    const junk = await store.blobs.write(Buffer.from('not dicom'));
    await journal().append({ stream: 'dicom.instance', kind: 'c-store', idempotencyKey: 'junk', blob: junk });
    expect(index.unindexed().length).toBe(2);
    const r = await backfillStudyIndex(index, (ref) => store.blobs.path(ref), extractInstanceMeta);
    expect(r).toEqual({ indexed: 1, failed: 1 });
    expect(index.getStudy('1.2.826.0.1.3680043.10.9.5')!.series[0]!.instances[0]!.sourceAe).toBe('CR01');
  });

  it('recordSoon batches rows off the receive path; every read sees them; a bad row fails alone', async () => {
    const studyE = '1.2.826.0.1.3680043.10.9.6';
    const outcomes: Array<unknown> = [];
    const rows = [];
    for (let i = 1; i <= 3; i++) {
      const s = { studyUid: studyE, seriesUid: `${studyE}.1`, sopInstanceUid: `${studyE}.1.${i}`, modality: 'US' };
      const bytes = syntheticPart10(s);
      const path = join(tmp.dir, `${s.sopInstanceUid}.dcm`);
      writeFileSync(path, bytes);
      const blob = await store.blobs.write(bytes);
      const appended = await journal().append({ stream: 'dicom.instance', kind: 'c-store', idempotencyKey: `${s.sopInstanceUid}:${blob.hash}`, blob });
      rows.push({ journalId: appended.id, blob, meta: await extractInstanceMeta(path), receivedAt: Date.now() });
    }
    index.recordSoon(rows[0]!, (o) => outcomes.push(o));
    // A row whose meta lacks the SOP Instance UID violates NOT NULL: only it fails.
    const broken = { ...rows[1]!, meta: { ...rows[1]!.meta, instance: { ...rows[1]!.meta.instance, sopInstanceUid: null as unknown as string } } };
    index.recordSoon(broken, (o) => outcomes.push(o));
    index.recordSoon(rows[2]!, (o) => outcomes.push(o));
    expect(outcomes).toEqual([]); // waiting for the batch
    expect(index.getStudy(studyE)!.study.instanceCount).toBe(2); // the read flushed it
    expect(outcomes[0]).toEqual({ duplicate: false, conflict: false });
    expect(outcomes[1]).toBeInstanceOf(Error);
    expect(outcomes[2]).toEqual({ duplicate: false, conflict: false });
    // Without a read, the timer writes them.
    index.recordSoon(rows[1]!, (o) => outcomes.push(o));
    await new Promise((r) => setTimeout(r, 300));
    expect(outcomes[3]).toEqual({ duplicate: false, conflict: false });
    expect(index.unindexed().map((r) => r.journalId)).not.toContain(rows[1]!.journalId);
  });

  it('a second SqliteStudyIndex on the same database reuses its tables', () => {
    const again = new SqliteStudyIndex(store.db);
    expect(again.listStudies().total).toBe(index.listStudies().total);
  });
});
