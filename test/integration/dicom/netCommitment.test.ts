import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pino from 'pino';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { openStore, type Store } from '../../../core/store/store.ts';
import { STORAGE_COMMITMENT_SERVICE } from '../../../modules/dicom/data/commitmentStore.ts';
import { SqliteStudyIndex, STUDY_INDEX_SERVICE } from '../../../modules/dicom/data/studyIndex.ts';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../modules/dicom/index.ts';
import { StorageCommitmentService } from '../../../modules/dicom/net/commitmentService.ts';
import { CStoreDestination } from '../../../modules/dicom/net/cstoreDestination.ts';
import { generateStudy, startModality } from '../../sim/modality.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { orthancInstanceId, startOrthanc, type OrthancPeer } from './stowrsOrthanc.ts';
import { connect } from 'node:net';
import { decodeAssociateAc, encodeAssociateRq } from '../../../modules/dicom/net/associate.ts';
import { STORAGE_COMMITMENT_PUSH_MODEL, encodeCommitmentReport, nEventReportRq } from '../../../modules/dicom/net/commitment.ts';
import { decodeCommand, encodeCommand } from '../../../modules/dicom/net/dimse.ts';
import { PDU_ASSOCIATE_AC, PDU_DATA_TF, PduReader, encodeDataPdu, encodeReleaseRq } from '../../../modules/dicom/net/pdu.ts';
import { EXPLICIT_LE, EXPLICIT_VR_LITTLE_ENDIAN } from '../../../modules/dicom/data/transferSyntaxes.ts';

/**
 * Storage commitment against a real Orthanc 1.10: the box forwards by C-STORE, asks for
 * commitment (N-ACTION on its own association), and Orthanc sends the N-EVENT-REPORT on a NEW
 * association to the box's dicom-scp (Orthanc knows the box from DicomModalities).
 */

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const { dir, cleanup } = tempDir('dicom-commit-it-');
let store: Store;
let orthanc: OrthancPeer;
let driver: DicomScpDriver;
let service: StorageCommitmentService;
let forwarder: OutboxForwarder;
let destination: CStoreDestination;
const bus = new EventBus();
const registry = new Map<string, unknown>();
const services = { get: <T>(n: string) => registry.get(n) as T | undefined, provide: (n: string, s: unknown) => void registry.set(n, s) };

type Row = { journal_id: number; sop_instance_uid: string; state: string; reason: string | null; failures: number; tx_uid: string | null };
const commitRows = (): Row[] =>
  store.db.prepare('SELECT journal_id, sop_instance_uid, state, reason, failures, tx_uid FROM dicom_commit_instance ORDER BY journal_id').all() as Row[];

beforeAll(async () => {
  store = await openStore({ dir: join(dir, 'store') });
  registry.set(STUDY_INDEX_SERVICE, new SqliteStudyIndex(store.db));
  // The box's SCP first: Orthanc must know its port.
  const ctx = makeDriverContext(store, { id: 'ct1', routes: ['pacs'], bus, services });
  driver = dicomScpDriverFactory.create(ctx, {
    host: '127.0.0.1',
    port: 0,
    aeTitle: 'EDGE',
    worklist: false,
    allowedCallers: [{ aeTitle: 'CT01' }, { aeTitle: 'ORTHANC', addresses: ['127.0.0.1'] }, { aeTitle: 'OTHERPACS' }],
  }) as DicomScpDriver;
  await driver.start();
  orthanc = await startOrthanc(join(dir, 'orthanc'), {
    DicomModalities: { edge: { AET: 'EDGE', Host: '127.0.0.1', Port: driver.port, AllowStorageCommitment: true } },
  });
  const pacs = { type: 'dicom-cstore', host: '127.0.0.1', port: orthanc.dicomPort, calledAe: 'ORTHANC', callingAe: 'EDGE', associations: 2 };
  service = new StorageCommitmentService({
    db: store.db,
    outbox: store.outbox,
    bus,
    destinations: { pacs: { ...pacs, storageCommitment: { enabled: true, timeoutSeconds: 60, batchWindowMs: 300, reportWaitMs: 200 } } },
    log,
    wake: () => forwarder.wake(),
  });
  services.provide(STORAGE_COMMITMENT_SERVICE, service);
  service.start();
  destination = new CStoreDestination('pacs', pacs, log);
  forwarder = new OutboxForwarder(destination, store.outbox, systemClock, log, bus, {
    window: 4,
    ordered: false,
    attemptTimeoutMs: 30_000,
    backoff: { initialMs: 100, maxMs: 500, jitter: 0 },
  });
  forwarder.start();
  // As the agent does: new outbox rows wake the destination's forwarder.
  store.onEnqueued((d) => d.includes('pacs') && forwarder.wake());
}, 120_000);

afterAll(async () => {
  await forwarder?.stop();
  await destination?.stop();
  await service?.stop();
  await driver?.stop();
  await orthanc?.stop();
  store?.close();
  cleanup();
});

describe('storage commitment with Orthanc as the commitment SCP', () => {
  it('forwards N instances; Orthanc reports on a new association; every instance becomes committed', async () => {
    const instances = generateStudy({ instances: 12, pixelBytes: 4096, patientName: 'Trần^Thị Bình' });
    const modality = await startModality({ port: driver.port, callingAe: 'CT01' });
    const sent = await modality.sendGenerated(instances);
    await modality.stop();
    expect(sent.failed).toEqual([]);
    const uids = instances.map((i) => i.sopInstanceUid).sort();

    await waitFor(() => commitRows().filter((r) => r.state === 'committed').length === 12, '12 instances committed by Orthanc', 60_000, 100);
    const rows = commitRows();
    expect(rows.map((r) => r.sop_instance_uid).sort()).toEqual(uids);
    expect(rows.every((r) => r.state === 'committed' && r.reason === null)).toBe(true);
    // Orthanc really has them, and its report came on an association it opened to our SCP.
    for (const uid of uids) expect(await orthancInstanceId(orthanc, uid)).toBeDefined();
    const txs = store.db.prepare(`SELECT tx_uid, state, note FROM dicom_commit_tx`).all() as Array<{ tx_uid: string; state: string; note: string }>;
    expect(txs.length).toBeGreaterThan(0);
    expect(txs.every((t) => t.state === 'reported' && t.note.includes('(from ORTHANC)'))).toBe(true);
    expect(service.requesters.get('pacs')!.stats.reportsOnAssociation).toBe(0);
    expect(driver.status().counters?.associations).toBeGreaterThanOrEqual(2);

    // GET /api/studies' view carries the commitment next to the forwarding state.
    const index = registry.get(STUDY_INDEX_SERVICE) as SqliteStudyIndex;
    const study = index.listStudies().studies[0]!;
    const view = index.getStudy(study.studyUid)!;
    const dests = view.series.flatMap((s) => s.instances.flatMap((i) => i.destinations));
    expect(dests).toHaveLength(12);
    expect(dests.every((d) => d.state === 'done' && d.commitment?.state === 'committed')).toBe(true);
  }, 120_000);

  it('an instance Orthanc does not have is reported failed (0112), sent again by C-STORE, then committed', async () => {
    // An instance marked delivered without reaching Orthanc (as if the PACS lost it after C-STORE success).
    const [lost] = generateStudy({ instances: 1, pixelBytes: 1024 });
    const bytes = Buffer.concat([
      (await import('../../../modules/dicom/data/part10.ts')).part10Header({
        sopClassUid: lost!.sopClassUid,
        sopInstanceUid: lost!.sopInstanceUid,
        transferSyntaxUid: lost!.transferSyntaxUid,
        sourceAeTitle: 'CT01',
      }),
      lost!.dataset,
    ]);
    const blob = await store.blobs.write(bytes);
    const appended = await store.journalFor('ct1', ['pacs-lost']).append({
      stream: 'dicom.instance',
      kind: 'C-STORE',
      idempotencyKey: `${lost!.sopInstanceUid}:${blob.hash}`,
      blob,
      parsed: { instance: { sopClassUid: lost!.sopClassUid, sopInstanceUid: lost!.sopInstanceUid, transferSyntaxUid: lost!.transferSyntaxUid } },
    });
    // The row belongs to 'pacs' but is already done (the forwarder never saw it pending).
    store.db.prepare(`UPDATE outbox SET destination = 'pacs', state = 'done', done_ms = ? WHERE journal_id = ?`).run(Date.now(), appended.id);
    const outboxId = (store.db.prepare('SELECT id FROM outbox WHERE journal_id = ?').get(appended.id) as { id: number }).id;
    expect(await orthancInstanceId(orthanc, lost!.sopInstanceUid)).toBeUndefined();
    bus.emit('outbox.delivered', { destination: 'pacs', outboxId, journalId: appended.id, source: 'ct1' });

    // Orthanc answers "no such object instance"; the box puts the outbox row back to pending,
    // the forwarder sends it, and the next transaction commits it.
    await waitFor(() => commitRows().some((r) => r.journal_id === appended.id && r.failures === 1), 'the failure report', 60_000, 50);
    await waitFor(() => commitRows().some((r) => r.journal_id === appended.id && r.state === 'committed'), 'the resent instance committed', 60_000, 100);
    const row = commitRows().find((r) => r.journal_id === appended.id)!;
    expect(row).toMatchObject({ state: 'committed', failures: 1 });
    expect(await orthancInstanceId(orthanc, lost!.sopInstanceUid)).toBeDefined();
    const notes = (store.db.prepare(`SELECT note FROM dicom_commit_tx WHERE state = 'reported'`).all() as Array<{ note: string }>).map((n) => n.note);
    expect(notes.some((n) => n.startsWith('0 committed, 1 resent, 0 parked'))).toBe(true);
    // Retention keeps nothing it must not: every commitment row is committed now.
    expect(commitRows().every((r) => r.state === 'committed')).toBe(true);
  }, 120_000);

  it("the box's SCP accepts the PACS as Push Model SCP by role selection and answers reports only when stored", async () => {
    const socket = connect({ host: '127.0.0.1', port: driver.port });
    const reader = new PduReader({ maxDataLength: 1 << 20 });
    const pdus: ReturnType<PduReader['feed']> = [];
    socket.on('data', (c) => pdus.push(...reader.feed(c)));
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      encodeAssociateRq({
        calledAe: 'EDGE',
        callingAe: 'OTHERPACS',
        contexts: [{ id: 1, abstractSyntax: STORAGE_COMMITMENT_PUSH_MODEL, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }],
        user: { maxPduLength: 65536, roles: [{ sopClassUid: STORAGE_COMMITMENT_PUSH_MODEL, scu: false, scp: true }] },
      }),
    );
    await waitFor(() => pdus.length > 0, 'A-ASSOCIATE-AC');
    const acPdu = pdus.shift()!;
    expect(acPdu.type).toBe(PDU_ASSOCIATE_AC);
    const ac = decodeAssociateAc((acPdu as { body: Buffer }).body);
    expect(ac.contexts).toEqual([{ id: 1, result: 0, transferSyntax: EXPLICIT_VR_LITTLE_ENDIAN }]);
    expect(ac.user.roles).toEqual([{ sopClassUid: STORAGE_COMMITMENT_PUSH_MODEL, scu: false, scp: true }]);

    const status = async (report: Buffer, eventType: number): Promise<number> => {
      const before = pdus.length;
      for (const b of encodeDataPdu(1, true, true, encodeCommand(nEventReportRq(5, eventType)))) socket.write(b);
      for (const b of encodeDataPdu(1, false, true, report)) socket.write(b);
      await waitFor(() => pdus.length > before, 'N-EVENT-REPORT-RSP');
      const p = pdus[pdus.length - 1]!;
      expect(p.type).toBe(PDU_DATA_TF);
      return decodeCommand((p as { pdvs: Array<{ data: Buffer }> }).pdvs[0]!.data).status!;
    };
    // A report for a known transaction of this box (already settled: nothing changes) is answered success.
    const tx = (store.db.prepare(`SELECT tx_uid FROM dicom_commit_tx LIMIT 1`).get() as { tx_uid: string }).tx_uid;
    const committedUid = commitRows()[0]!.sop_instance_uid;
    expect(
      await status(
        encodeCommitmentReport(
          { transactionUid: tx, committed: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: committedUid }], failed: [] },
          EXPLICIT_LE,
        ),
        1,
      ),
    ).toBe(0);
    // Malformed: truncated dataset → invalid argument value (0115); wrong event type → no such event type (0113).
    const good = encodeCommitmentReport(
      { transactionUid: tx, committed: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: committedUid }], failed: [] },
      EXPLICIT_LE,
    );
    expect(await status(good.subarray(0, good.length - 7), 1)).toBe(0x0115);
    expect(await status(good, 2)).toBe(0x0113);
    expect(commitRows().every((r) => r.state === 'committed')).toBe(true);
    socket.write(encodeReleaseRq());
    socket.destroy();
  });
});
