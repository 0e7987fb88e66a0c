import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { openStore } from '../../../core/store/store.ts';
import { readDataset, sequenceElement, stringElement, usElement, writeDataset } from '../../../modules/dicom/data/codec.ts';
import { EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { SqliteCommitmentStore } from '../../../modules/dicom/data/commitmentStore.ts';
import { SqliteStudyIndex } from '../../../modules/dicom/data/studyIndex.ts';
import {
  STORAGE_COMMITMENT_INSTANCE,
  STORAGE_COMMITMENT_PUSH_MODEL,
  StorageCommitmentError,
  decodeCommitmentReport,
  decodeCommitmentRequest,
  encodeCommitmentReport,
  encodeCommitmentRequest,
  nActionRq,
  nEventReportRq,
  nEventReportRsp,
  newTransactionUid,
  reportEventType,
} from '../../../modules/dicom/net/commitment.ts';
import { decodeAssociateAc, decodeAssociateRq, encodeAssociateAc, encodeAssociateRq } from '../../../modules/dicom/net/associate.ts';
import { N_ACTION_RQ, N_EVENT_REPORT_RSP, decodeCommand, encodeCommand } from '../../../modules/dicom/net/dimse.ts';
import { tempDir } from '../../helpers/tmp.ts';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const refs = Array.from({ length: 5 }, (_, i) => ({ sopClassUid: CT, sopInstanceUid: `1.2.826.0.1.3680043.10.77.${i + 1}` }));

describe('storage commitment codec (PS3.4 Annex J)', () => {
  it('N-ACTION-RQ command and dataset round trip, in implicit, explicit LE and explicit BE', () => {
    const cmd = decodeCommand(encodeCommand(nActionRq(7)));
    expect(cmd).toMatchObject({
      commandField: N_ACTION_RQ,
      messageId: 7,
      requestedSopClassUid: STORAGE_COMMITMENT_PUSH_MODEL,
      requestedSopInstanceUid: STORAGE_COMMITMENT_INSTANCE,
      actionTypeId: 1,
      hasDataset: true,
    });
    const uid = newTransactionUid();
    expect(uid).toMatch(/^2\.25\.[1-9][0-9]*$/);
    expect(uid.length).toBeLessThanOrEqual(64);
    for (const enc of [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE]) {
      const bytes = encodeCommitmentRequest({ transactionUid: uid, referenced: refs }, enc);
      expect(decodeCommitmentRequest(bytes, enc)).toEqual({ transactionUid: uid, referenced: refs });
      // The dataset is what the standard names: (0008,1195) then (0008,1199) items of (0008,1150)/(0008,1155).
      const els = readDataset(bytes, enc);
      expect(els.map((e) => e.tag)).toEqual([0x00081195, 0x00081199]);
      expect(els[1]!.items!.map((it) => it.map((e) => e.tag))).toEqual(refs.map(() => [0x00081150, 0x00081155]));
    }
  });

  it('N-EVENT-REPORT: event 1 (all success) and 2 (failures with reasons) round trip', () => {
    const tx = newTransactionUid();
    const ok = { transactionUid: tx, committed: refs, failed: [] };
    expect(reportEventType(ok)).toBe(1);
    expect(decodeCommitmentReport(encodeCommitmentReport(ok, EXPLICIT_LE), EXPLICIT_LE, 1)).toEqual(ok);
    const mixed = {
      transactionUid: tx,
      committed: refs.slice(0, 3),
      failed: refs.slice(3).map((r) => ({ ...r, failureReason: 0x0112 })),
      retrieveAeTitle: 'ORTHANC',
    };
    expect(reportEventType(mixed)).toBe(2);
    for (const enc of [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE]) expect(decodeCommitmentReport(encodeCommitmentReport(mixed, enc), enc, 2)).toEqual(mixed);
    const rq = decodeCommand(encodeCommand(nEventReportRq(3, 2)));
    expect(rq).toMatchObject({ eventTypeId: 2, affectedSopClassUid: STORAGE_COMMITMENT_PUSH_MODEL, affectedSopInstanceUid: STORAGE_COMMITMENT_INSTANCE });
    expect(decodeCommand(encodeCommand(nEventReportRsp(3, 0, 2)))).toMatchObject({
      commandField: N_EVENT_REPORT_RSP,
      messageIdBeingRespondedTo: 3,
      status: 0,
      eventTypeId: 2,
    });
  });

  it('malformed requests and reports are a StorageCommitmentError with a code', () => {
    const tx = newTransactionUid();
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(StorageCommitmentError);
        return (err as StorageCommitmentError).code;
      }
      return 'no error';
    };
    const ds = (els: ReturnType<typeof stringElement>[]) => writeDataset(els, EXPLICIT_LE);
    const item = (uid: string) => [stringElement(0x00081150, 'UI', CT), stringElement(0x00081155, 'UI', uid)];
    // No transaction UID; bad UID text; truncated bytes; a sequence item without its instance UID.
    expect(code(() => decodeCommitmentReport(ds([sequenceElement(0x00081199, [item('1.2.3')])]), EXPLICIT_LE, 1))).toBe('no-transaction');
    expect(
      code(() => decodeCommitmentReport(ds([stringElement(0x00081195, 'UI', '1.2.x3'), sequenceElement(0x00081199, [item('1.2.3')])]), EXPLICIT_LE, 1)),
    ).toBe('bad-uid');
    const good = encodeCommitmentReport({ transactionUid: tx, committed: refs, failed: [] }, EXPLICIT_LE);
    expect(code(() => decodeCommitmentReport(good.subarray(0, good.length - 5), EXPLICIT_LE, 1))).toBe('bad-dataset');
    expect(
      code(() =>
        decodeCommitmentReport(ds([stringElement(0x00081195, 'UI', tx), sequenceElement(0x00081199, [[stringElement(0x00081150, 'UI', CT)]])]), EXPLICIT_LE, 1),
      ),
    ).toBe('bad-item');
    // Event type and content disagree, unknown event type, a report naming nothing.
    expect(code(() => decodeCommitmentReport(good, EXPLICIT_LE, 2))).toBe('bad-event-type');
    expect(code(() => decodeCommitmentReport(good, EXPLICIT_LE, 9))).toBe('bad-event-type');
    const withFailure = ds([stringElement(0x00081195, 'UI', tx), sequenceElement(0x00081198, [[...item('1.2.3'), usElement(0x00081197, 0x0112)]])]);
    expect(code(() => decodeCommitmentReport(withFailure, EXPLICIT_LE, 1))).toBe('bad-event-type');
    expect(code(() => decodeCommitmentReport(ds([stringElement(0x00081195, 'UI', tx)]), EXPLICIT_LE, 1))).toBe('empty');
    // (0008,1199) that is not a sequence.
    expect(code(() => decodeCommitmentRequest(ds([stringElement(0x00081195, 'UI', tx), stringElement(0x00081199, 'UI', '1.2')]), IMPLICIT_LE))).not.toBe(
      'no error',
    );
    expect(code(() => encodeCommitmentRequest({ transactionUid: tx, referenced: [] }, EXPLICIT_LE))).toBe('empty');
    expect(code(() => encodeCommitmentRequest({ transactionUid: tx, referenced: [{ sopClassUid: CT, sopInstanceUid: 'not a uid' }] }, EXPLICIT_LE))).toBe(
      'bad-uid',
    );
  });

  it('fuzz: random and mutated report bytes throw only StorageCommitmentError', () => {
    const good = encodeCommitmentReport(
      { transactionUid: newTransactionUid(), committed: refs.slice(0, 2), failed: refs.slice(2).map((r) => ({ ...r, failureReason: 0x0110 })) },
      EXPLICIT_LE,
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.boolean(),
        (random, flips, useRandom) => {
          const bytes = Buffer.from(useRandom ? random : good);
          if (!useRandom) for (const [at, v] of flips) bytes[at] = v;
          try {
            decodeCommitmentReport(bytes, EXPLICIT_LE, 2);
          } catch (err) {
            if (!(err instanceof StorageCommitmentError)) throw err;
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('SCP/SCU role selection items round trip in A-ASSOCIATE-RQ and -AC', () => {
    const roles = [{ sopClassUid: STORAGE_COMMITMENT_PUSH_MODEL, scu: false, scp: true }];
    const rq = encodeAssociateRq({
      calledAe: 'EDGE',
      callingAe: 'ORTHANC',
      contexts: [{ id: 1, abstractSyntax: STORAGE_COMMITMENT_PUSH_MODEL, transferSyntaxes: ['1.2.840.10008.1.2'] }],
      user: { maxPduLength: 16384, roles },
    });
    expect(decodeAssociateRq(rq.subarray(6)).user.roles).toEqual(roles);
    const ac = encodeAssociateAc({
      calledAe: 'EDGE',
      callingAe: 'ORTHANC',
      contexts: [{ id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2' }],
      user: { maxPduLength: 16384, roles },
    });
    expect(decodeAssociateAc(ac.subarray(6)).user.roles).toEqual(roles);
  });
});

describe('SqliteCommitmentStore over the real store', () => {
  const tmp = tempDir('dicom-commit-');
  let store: Awaited<ReturnType<typeof openStore>>;
  let commits: SqliteCommitmentStore;
  const woken: string[] = [];
  let now = 1_000_000;

  beforeAll(async () => {
    store = await openStore({ dir: join(tmp.dir, 'store'), retention: { deliveredDays: 0, personalHours: 0, imagesDays: 0 } });
    commits = new SqliteCommitmentStore(store.db, store.outbox, { onRequeued: (d) => woken.push(d), now: () => now });
  });
  afterAll(() => {
    store.close();
    tmp.cleanup();
  });

  async function deliveredInstance(uid: string): Promise<number> {
    const blob = await store.blobs.write(Buffer.from(`instance ${uid}`));
    const a = await store
      .journalFor('ct1', ['pacs'])
      .append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: uid, blob, parsed: { instance: { sopClassUid: CT, sopInstanceUid: uid } } });
    const row = store.db.prepare('SELECT id FROM outbox WHERE journal_id = ?').get(a.id) as { id: number };
    await store.outbox.markDone(row.id);
    commits.recordDelivered('pacs', { journalId: a.id, sopClassUid: CT, sopInstanceUid: uid });
    return a.id;
  }

  it('pending → committed; failed → requeued (outbox pending) or parked for a permanent reason; files kept until committed', async () => {
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(await deliveredInstance(`1.2.826.0.1.3680043.10.78.${i}`));
    const batch = commits.unassigned('pacs', 100);
    expect(batch.map((b) => b.journalId)).toEqual(ids);
    const tx = newTransactionUid();
    commits.createTransaction('pacs', tx, ids);
    commits.markSent(tx);
    expect(commits.unassigned('pacs', 100)).toEqual([]);

    // Retention with 0 days: nothing is removed while the commitment is pending.
    let r = await store.applyRetention();
    expect(r.blobsRemoved).toBe(0);
    expect(r.journalPurged).toBe(0);

    const outcome = commits.applyReport({
      transactionUid: tx,
      committed: [{ sopInstanceUid: '1.2.826.0.1.3680043.10.78.0' }, { sopInstanceUid: '1.2.826.0.1.3680043.10.78.1' }],
      failed: [
        { sopInstanceUid: '1.2.826.0.1.3680043.10.78.2', failureReason: 0x0112 },
        { sopInstanceUid: '1.2.826.0.1.3680043.10.78.3', failureReason: 0x0122 },
      ],
    });
    expect(outcome).toEqual({ known: true, destination: 'pacs', committed: 2, requeued: 1, parked: 1, unmatched: 0 });
    expect(woken).toEqual(['pacs']);
    const states = commits.byJournal(ids);
    expect(ids.map((id) => states.get(id)![0]!.state)).toEqual(['committed', 'committed', 'failed', 'failed']);
    expect(states.get(ids[2]!)![0]!.reason).toContain('0112 no such object instance');
    const outbox = (id: number) =>
      store.db.prepare('SELECT o.state, d.reason FROM outbox o LEFT JOIN dead_letter d ON d.outbox_id = o.id WHERE o.journal_id = ?').get(id) as {
        state: string;
        reason: string | null;
      };
    expect(outbox(ids[2]!).state).toBe('pending');
    expect(outbox(ids[3]!)).toEqual({ state: 'parked', reason: 'storage commitment failed: 0122 referenced SOP class not supported' });
    expect(commits.transaction(tx)!.state).toBe('reported');

    // Only the committed ones may go.
    r = await store.applyRetention();
    expect(r.journalPurged).toBe(2);
    expect(r.blobsRemoved).toBe(2);
    expect(store.db.prepare('SELECT count(*) AS n FROM journal').get()).toEqual({ n: 2 });

    // The requeued instance is delivered again: pending again, its failure count kept.
    commits.recordDelivered('pacs', { journalId: ids[2]!, sopClassUid: CT, sopInstanceUid: '1.2.826.0.1.3680043.10.78.2' });
    expect(commits.byJournal([ids[2]!]).get(ids[2]!)![0]).toMatchObject({ state: 'pending', failures: 1, transactionUid: null });
  });

  it('a report for an unknown transaction changes nothing; overdue transactions are replaced once, then flagged', async () => {
    expect(commits.applyReport({ transactionUid: '1.2.3.4', committed: [{ sopInstanceUid: '1.2.826.0.1.3680043.10.78.2' }], failed: [] })).toMatchObject({
      known: false,
      committed: 0,
    });
    const id = await deliveredInstance('1.2.826.0.1.3680043.10.79.1');
    const tx1 = newTransactionUid();
    commits.createTransaction('pacs', tx1, [id]);
    commits.markSent(tx1);
    expect(commits.overdue('pacs', 60_000)).toEqual([]);
    now += 61_000;
    expect(commits.overdue('pacs', 60_000).map((t) => t.transactionUid)).toEqual([tx1]);
    const tx2 = newTransactionUid();
    expect(commits.replace(tx1, tx2)).toBe(1);
    commits.markSent(tx2);
    expect(commits.transaction(tx1)!.state).toBe('replaced');
    expect(commits.pendingOf(tx2).map((p) => p.journalId)).toEqual([id]);
    now += 61_000;
    const [over] = commits.overdue('pacs', 60_000).filter((t) => t.transactionUid === tx2);
    expect(over!.attempt).toBe(2);
    expect(commits.flagTimedOut(tx2, 'no report twice')).toBe(1);
    expect(commits.byJournal([id]).get(id)![0]).toMatchObject({ state: 'pending', reason: 'no report twice' });
    // A late report for the first (replaced) transaction still counts.
    expect(commits.applyReport({ transactionUid: tx1, committed: [{ sopInstanceUid: '1.2.826.0.1.3680043.10.79.1' }], failed: [] })).toMatchObject({
      known: true,
      committed: 1,
    });
    expect(commits.byJournal([id]).get(id)![0]!.state).toBe('committed');
  });

  it('the study index shows commitment per destination and keeps uncommitted instances listed', async () => {
    const index = new SqliteStudyIndex(store.db);
    const id = (store.db.prepare(`SELECT journal_id AS id FROM dicom_commit_instance WHERE state = 'pending'`).get() as { id: number }).id;
    const j = store.db.prepare('SELECT blob_hash, blob_size FROM journal WHERE id = ?').get(id) as { blob_hash: string; blob_size: number };
    index.record({
      journalId: id,
      blob: { hash: j.blob_hash, size: j.blob_size },
      meta: {
        patient: {},
        study: { uid: '1.2.826.0.1.3680043.10.80' },
        series: { uid: '1.2.826.0.1.3680043.10.80.1' },
        instance: { sopClassUid: CT, sopInstanceUid: '1.2.826.0.1.3680043.10.78.2', transferSyntaxUid: '1.2.840.10008.1.2.1' },
      } as never,
      receivedAt: 0,
    });
    const view = index.getStudy('1.2.826.0.1.3680043.10.80')!;
    expect(view.series[0]!.instances[0]!.destinations[0]).toMatchObject({
      destination: 'pacs',
      state: 'pending',
      commitment: { state: 'pending', transactionUid: null },
    });
    expect(index.purgeForwarded(0, Date.now() + 1000)).toBe(0);
  });
});
