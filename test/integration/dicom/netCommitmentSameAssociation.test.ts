import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { openStore, type Store } from '../../../core/store/store.ts';
import { SqliteCommitmentStore } from '../../../modules/dicom/data/commitmentStore.ts';
import { datasetEncodingOf } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { decodeAssociateRq, encodeAssociateAc } from '../../../modules/dicom/net/associate.ts';
import type { AssociateRq } from '../../../modules/dicom/net/associate.ts';
import { decodeCommitmentRequest, encodeCommitmentReport, nActionRsp, nEventReportRq, reportEventType } from '../../../modules/dicom/net/commitment.ts';
import type { CommitmentReport, CommitmentRequest } from '../../../modules/dicom/net/commitment.ts';
import { CommitmentRequester } from '../../../modules/dicom/net/commitmentRequester.ts';
import { N_ACTION_RQ, N_EVENT_REPORT_RSP, decodeCommand, encodeCommand } from '../../../modules/dicom/net/dimse.ts';
import type { Command } from '../../../modules/dicom/net/dimse.ts';
import { PDU_ASSOCIATE_RQ, PDU_DATA_TF, PDU_RELEASE_RQ, PduReader, encodeDataPdu, encodeReleaseRp } from '../../../modules/dicom/net/pdu.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

/**
 * The other path of PS3.4 J.3.3: a PACS that sends the N-EVENT-REPORT on the association the
 * N-ACTION came on, before release. No Debian package offers such an SCP (DCMTK has no storage
 * commitment tool; Orthanc always opens a new association), so this peer is scripted over real
 * sockets with the project's PDU encoders; what it checks is what the box puts on the wire.
 */

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const CT = '1.2.840.10008.5.1.4.1.1.2';
const { dir, cleanup } = tempDir('dicom-commit-same-');
let store: Store;
let commits: SqliteCommitmentStore;
let server: Server;
let port = 0;
const seen: { requests: CommitmentRequest[]; rspStatuses: number[]; associations: AssociateRq[] } = { requests: [], rspStatuses: [], associations: [] };
/** How the scripted PACS answers each request. */
let answer: (req: CommitmentRequest) => CommitmentReport | null = (req) => ({ transactionUid: req.transactionUid, committed: req.referenced, failed: [] });

function servePacs(socket: Socket): void {
  const reader = new PduReader({ maxDataLength: 1 << 20 });
  let contextId = 0;
  let ts = '';
  let command: Buffer[] = [];
  let data: Buffer[] = [];
  let cmd: Command | null = null;
  const send = (isCommand: boolean, bytes: Buffer): void => void encodeDataPdu(contextId, isCommand, true, bytes).forEach((b) => socket.write(b));
  socket.on('data', (chunk) => {
    for (const pdu of reader.feed(chunk)) {
      if (pdu.type === PDU_ASSOCIATE_RQ) {
        const rq = decodeAssociateRq(pdu.body);
        seen.associations.push(rq);
        contextId = rq.contexts[0]!.id;
        ts = rq.contexts[0]!.transferSyntaxes[0]!;
        socket.write(
          encodeAssociateAc({
            calledAe: rq.calledAe,
            callingAe: rq.callingAe,
            contexts: [{ id: contextId, result: 0, transferSyntax: ts }],
            user: { maxPduLength: 65536 },
          }),
        );
      } else if (pdu.type === PDU_DATA_TF) {
        for (const pdv of pdu.pdvs) {
          if (pdv.command) {
            command.push(pdv.data);
            if (pdv.last) {
              cmd = decodeCommand(Buffer.concat(command));
              command = [];
              if (cmd.commandField === N_EVENT_REPORT_RSP) seen.rspStatuses.push(cmd.status ?? -1);
            }
          } else {
            data.push(pdv.data);
            if (pdv.last && cmd?.commandField === N_ACTION_RQ) {
              const req = decodeCommitmentRequest(Buffer.concat(data), datasetEncodingOf(ts));
              data = [];
              seen.requests.push(req);
              send(true, encodeCommand(nActionRsp(cmd.messageId ?? 0, 0)));
              // The report on the same association, right after the N-ACTION-RSP.
              const report = answer(req);
              if (!report) continue;
              send(true, encodeCommand(nEventReportRq(1, reportEventType(report))));
              send(false, encodeCommitmentReport(report, datasetEncodingOf(ts)));
            }
          }
        }
      } else if (pdu.type === PDU_RELEASE_RQ) socket.end(encodeReleaseRp());
    }
  });
  socket.on('error', () => undefined);
}

beforeAll(async () => {
  store = await openStore({ dir: join(dir, 'store') });
  commits = new SqliteCommitmentStore(store.db, store.outbox);
  server = createServer(servePacs);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  store.close();
  cleanup();
});

async function delivered(uids: string[]): Promise<number[]> {
  const ids: number[] = [];
  for (const uid of uids) {
    const blob = await store.blobs.write(Buffer.from(uid));
    const a = await store
      .journalFor('ct1', ['pacs'])
      .append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: uid, blob, parsed: { instance: { sopClassUid: CT, sopInstanceUid: uid } } });
    await store.outbox.markDone((store.db.prepare('SELECT id FROM outbox WHERE journal_id = ?').get(a.id) as { id: number }).id);
    ids.push(a.id);
  }
  return ids;
}

function requester(config: { maxPerTransaction?: number; timeoutSeconds?: number; reportWaitMs?: number } = {}): CommitmentRequester {
  const peer = { host: '127.0.0.1', port, calledAe: 'PACS', callingAe: 'EDGE', maxPduLength: 65536, connectTimeoutMs: 5000, responseTimeoutMs: 5000 };
  return new CommitmentRequester('pacs', peer, { enabled: true, batchWindowMs: 50, reportWaitMs: 5000, timeoutSeconds: 60, ...config }, commits, log);
}

const state = (id: number): string | undefined => commits.byJournal([id]).get(id)?.[0]?.state;

describe('storage commitment: report on the same association', () => {
  it('batches deliveries into N-ACTIONs of at most maxPerTransaction; the report before release commits them; RSP success', async () => {
    const r = requester({ maxPerTransaction: 4 });
    r.start();
    const uids = Array.from({ length: 10 }, (_, i) => `1.2.826.0.1.3680043.10.81.${i + 1}`);
    const ids = await delivered(uids);
    for (const [i, id] of ids.entries()) r.delivered({ journalId: id, sopClassUid: CT, sopInstanceUid: uids[i]! });
    await waitFor(() => ids.every((id) => state(id) === 'committed'), 'all committed', 20_000, 20);
    await r.stop();
    expect(seen.requests.map((q) => q.referenced.length)).toEqual([4, 4, 2]);
    expect(seen.requests.flatMap((q) => q.referenced.map((x) => x.sopInstanceUid))).toEqual(uids);
    expect(new Set(seen.requests.map((q) => q.transactionUid)).size).toBe(3);
    expect(seen.rspStatuses).toEqual([0, 0, 0]);
    // Each N-ACTION on its own association proposing only the Push Model SOP class.
    expect(seen.associations.every((a) => a.contexts.length === 1 && a.contexts[0]!.abstractSyntax === '1.2.840.10008.1.20.1')).toBe(true);
    expect(r.stats.reportsOnAssociation).toBe(3);
  });

  it('failures on the same association: 0110 resends (outbox pending), 0122 parks with the reason', async () => {
    answer = (req) => ({
      transactionUid: req.transactionUid,
      committed: [],
      failed: req.referenced.map((x, i) => ({ ...x, failureReason: i === 0 ? 0x0110 : 0x0122 })),
    });
    const r = requester();
    r.start();
    const uids = ['1.2.826.0.1.3680043.10.82.1', '1.2.826.0.1.3680043.10.82.2'];
    const ids = await delivered(uids);
    for (const [i, id] of ids.entries()) r.delivered({ journalId: id, sopClassUid: CT, sopInstanceUid: uids[i]! });
    await waitFor(() => ids.every((id) => state(id) === 'failed'), 'both failed', 20_000, 20);
    await r.stop();
    const outbox = (id: number) =>
      store.db.prepare('SELECT o.state, d.reason FROM outbox o LEFT JOIN dead_letter d ON d.outbox_id = o.id WHERE o.journal_id = ?').get(id);
    expect(outbox(ids[0]!)).toEqual({ state: 'pending', reason: null });
    expect(outbox(ids[1]!)).toEqual({ state: 'parked', reason: 'storage commitment failed: 0122 referenced SOP class not supported' });
    expect(seen.rspStatuses.at(-1)).toBe(0);
  });

  it('no report: asked once more under a new transaction UID after timeoutSeconds, then flagged; the instance stays pending', async () => {
    answer = () => null;
    const before = seen.requests.length;
    const r = requester({ timeoutSeconds: 1, reportWaitMs: 100 });
    r.start();
    const [id] = await delivered(['1.2.826.0.1.3680043.10.84.1']);
    r.delivered({ journalId: id!, sopClassUid: CT, sopInstanceUid: '1.2.826.0.1.3680043.10.84.1' });
    await waitFor(() => r.stats.flagged === 1, 'flagged after the retry', 20_000, 50);
    await r.stop();
    const asked = seen.requests.slice(before);
    expect(asked).toHaveLength(2);
    expect(asked[0]!.transactionUid).not.toBe(asked[1]!.transactionUid);
    const txs = store.db
      .prepare('SELECT tx_uid, state, attempt FROM dicom_commit_tx WHERE tx_uid IN (?, ?) ORDER BY attempt')
      .all(asked[0]!.transactionUid, asked[1]!.transactionUid);
    expect(txs).toEqual([
      { tx_uid: asked[0]!.transactionUid, state: 'replaced', attempt: 1 },
      { tx_uid: asked[1]!.transactionUid, state: 'timed-out', attempt: 2 },
    ]);
    expect(commits.byJournal([id!]).get(id!)![0]).toMatchObject({ state: 'pending', transactionUid: asked[1]!.transactionUid });
    expect(commits.byJournal([id!]).get(id!)![0]!.reason).toMatch(/^no storage commitment report for transaction .* within 1 s \(after one retry\)$/);
  });

  it('a PACS that is down: the transaction is abandoned and the instances asked for again when it is back', async () => {
    answer = (req) => ({ transactionUid: req.transactionUid, committed: req.referenced, failed: [] });
    const realPort = port;
    port = 1; // nothing listens there
    const down = requester();
    down.start();
    const [id] = await delivered(['1.2.826.0.1.3680043.10.83.1']);
    down.delivered({ journalId: id!, sopClassUid: CT, sopInstanceUid: '1.2.826.0.1.3680043.10.83.1' });
    await waitFor(() => down.stats.actionFailures > 0, 'a failed N-ACTION', 20_000, 20);
    await down.stop();
    expect(state(id!)).toBe('pending');
    expect(commits.byJournal([id!]).get(id!)![0]!.transactionUid).toBeNull();
    port = realPort;
    const up = requester();
    up.start();
    await waitFor(() => state(id!) === 'committed', 'committed once the PACS is back', 20_000, 20);
    await up.stop();
  });
});
