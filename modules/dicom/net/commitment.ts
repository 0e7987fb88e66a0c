import { DicomParseError, findElement, getNumber, getUid, readDataset, sequenceElement, stringElement, usElement, writeDataset } from '../data/codec.ts';
import type { DataElement } from '../data/codec.ts';
import type { DatasetEncoding } from '../data/transferSyntaxes.ts';
import { N_ACTION_RQ, N_ACTION_RSP, N_EVENT_REPORT_RQ, N_EVENT_REPORT_RSP } from './dimse.ts';
import type { Command } from './dimse.ts';

/**
 * Storage Commitment Push Model (PS3.4 Annex J): the N-ACTION-RQ dataset the box sends (which
 * instances it asks the PACS to take responsibility for) and the N-EVENT-REPORT-RQ dataset the
 * PACS answers with (which it committed, which failed and why). Built on the project's dataset
 * codec; anything malformed is a `StorageCommitmentError`, never a half-read report.
 */

export const STORAGE_COMMITMENT_PUSH_MODEL = '1.2.840.10008.1.20.1';
/** The well-known SOP instance every request and report names (PS3.4 J.3.2). */
export const STORAGE_COMMITMENT_INSTANCE = '1.2.840.10008.1.20.1.1';
/** Action Type ID 1: "Request Storage Commitment" (PS3.4 J.3.2.1). */
export const ACTION_REQUEST_COMMITMENT = 1;
/** Event Type IDs (PS3.4 J.3.3.1): 1 all committed, 2 some (or all) failed. */
export const EVENT_ALL_SUCCESS = 1;
export const EVENT_SOME_FAILURES = 2;

/** Failure Reason (0008,1197) values (PS3.3 C.14.1.1). */
export const FAILURE = {
  processingFailure: 0x0110,
  noSuchObjectInstance: 0x0112,
  resourceLimitation: 0x0213,
  referencedSopClassNotSupported: 0x0122,
  classInstanceConflict: 0x0119,
  duplicateTransactionUid: 0x0131,
} as const;

const TAG = {
  referencedSopClass: 0x00081150,
  referencedSopInstance: 0x00081155,
  failureReason: 0x00081197,
  failedSopSequence: 0x00081198,
  referencedSopSequence: 0x00081199,
  transactionUid: 0x00081195,
  retrieveAeTitle: 0x00080054,
};

export interface ReferencedSop {
  sopClassUid: string;
  sopInstanceUid: string;
}

export interface FailedSop extends ReferencedSop {
  failureReason: number;
}

export interface CommitmentRequest {
  transactionUid: string;
  referenced: ReferencedSop[];
}

export interface CommitmentReport {
  transactionUid: string;
  committed: ReferencedSop[];
  failed: FailedSop[];
  retrieveAeTitle?: string;
}

export type StorageCommitmentErrorCode = 'bad-dataset' | 'no-transaction' | 'bad-uid' | 'bad-item' | 'empty' | 'bad-event-type';

/** A request or report that cannot be used; the receiving side answers with a failure status. */
export class StorageCommitmentError extends Error {
  override readonly name = 'StorageCommitmentError';
  constructor(
    readonly code: StorageCommitmentErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

function checkUid(uid: string | undefined, what: string): string {
  if (!uid) throw new StorageCommitmentError(what === 'Transaction UID' ? 'no-transaction' : 'bad-item', `${what} missing`);
  if (uid.length > 64 || !UID.test(uid)) throw new StorageCommitmentError('bad-uid', `${what} is not a valid UID: ${JSON.stringify(uid.slice(0, 80))}`);
  return uid;
}

function refItem(r: ReferencedSop): DataElement[] {
  return [
    stringElement(TAG.referencedSopClass, 'UI', checkUid(r.sopClassUid, 'Referenced SOP Class UID')),
    stringElement(TAG.referencedSopInstance, 'UI', checkUid(r.sopInstanceUid, 'Referenced SOP Instance UID')),
  ];
}

function read(bytes: Buffer, enc: DatasetEncoding): DataElement[] {
  try {
    return readDataset(bytes, enc);
  } catch (err) {
    if (err instanceof DicomParseError) throw new StorageCommitmentError('bad-dataset', `storage commitment dataset does not parse: ${err.message}`);
    throw err;
  }
}

function items(els: DataElement[], tag: number, name: string): DataElement[][] {
  const e = findElement(els, tag);
  if (!e) return [];
  if (!e.items) throw new StorageCommitmentError('bad-item', `${name} is not a sequence`);
  return e.items;
}

function readRef(item: DataElement[], name: string): ReferencedSop {
  return {
    sopClassUid: checkUid(getUid(item, TAG.referencedSopClass), `${name} item: Referenced SOP Class UID`),
    sopInstanceUid: checkUid(getUid(item, TAG.referencedSopInstance), `${name} item: Referenced SOP Instance UID`),
  };
}

/** N-ACTION-RQ dataset (PS3.4 Table J.3-1). */
export function encodeCommitmentRequest(req: CommitmentRequest, enc: DatasetEncoding): Buffer {
  if (req.referenced.length === 0) throw new StorageCommitmentError('empty', 'a storage commitment request needs at least one instance');
  return writeDataset(
    [
      stringElement(TAG.transactionUid, 'UI', checkUid(req.transactionUid, 'Transaction UID')),
      sequenceElement(TAG.referencedSopSequence, req.referenced.map(refItem)),
    ],
    enc,
  );
}

export function decodeCommitmentRequest(bytes: Buffer, enc: DatasetEncoding): CommitmentRequest {
  const els = read(bytes, enc);
  const transactionUid = checkUid(getUid(els, TAG.transactionUid), 'Transaction UID');
  const referenced = items(els, TAG.referencedSopSequence, 'Referenced SOP Sequence').map((it) => readRef(it, 'Referenced SOP Sequence'));
  if (referenced.length === 0) throw new StorageCommitmentError('empty', 'Referenced SOP Sequence is missing or empty');
  return { transactionUid, referenced };
}

/** N-EVENT-REPORT-RQ dataset (PS3.4 Table J.3-2); the event type follows from `failed`. */
export function encodeCommitmentReport(rep: CommitmentReport, enc: DatasetEncoding): Buffer {
  const els: DataElement[] = [];
  if (rep.retrieveAeTitle) els.push(stringElement(TAG.retrieveAeTitle, 'AE', rep.retrieveAeTitle));
  els.push(stringElement(TAG.transactionUid, 'UI', checkUid(rep.transactionUid, 'Transaction UID')));
  if (rep.failed.length)
    els.push(
      sequenceElement(
        TAG.failedSopSequence,
        rep.failed.map((f) => [...refItem(f), usElement(TAG.failureReason, f.failureReason, enc.littleEndian)]),
      ),
    );
  if (rep.committed.length) els.push(sequenceElement(TAG.referencedSopSequence, rep.committed.map(refItem)));
  return writeDataset(els, enc);
}

export function reportEventType(rep: CommitmentReport): number {
  return rep.failed.length ? EVENT_SOME_FAILURES : EVENT_ALL_SUCCESS;
}

export function decodeCommitmentReport(bytes: Buffer, enc: DatasetEncoding, eventTypeId: number | undefined): CommitmentReport {
  if (eventTypeId !== EVENT_ALL_SUCCESS && eventTypeId !== EVENT_SOME_FAILURES)
    throw new StorageCommitmentError('bad-event-type', `N-EVENT-REPORT event type ${eventTypeId ?? '(none)'} is not 1 or 2`);
  const els = read(bytes, enc);
  const transactionUid = checkUid(getUid(els, TAG.transactionUid), 'Transaction UID');
  const committed = items(els, TAG.referencedSopSequence, 'Referenced SOP Sequence').map((it) => readRef(it, 'Referenced SOP Sequence'));
  const failed = items(els, TAG.failedSopSequence, 'Failed SOP Sequence').map((it) => {
    const reason = getNumber(it, TAG.failureReason, enc.littleEndian);
    // A failure without its reason is still a failure: "processing failure" (the PACS said no).
    return { ...readRef(it, 'Failed SOP Sequence'), failureReason: reason ?? FAILURE.processingFailure };
  });
  if (eventTypeId === EVENT_SOME_FAILURES && failed.length === 0)
    throw new StorageCommitmentError('bad-event-type', 'event type 2 (failures) without a Failed SOP Sequence');
  if (eventTypeId === EVENT_ALL_SUCCESS && failed.length > 0)
    throw new StorageCommitmentError('bad-event-type', 'event type 1 (all success) with a Failed SOP Sequence');
  if (committed.length === 0 && failed.length === 0) throw new StorageCommitmentError('empty', 'report names no instance');
  const out: CommitmentReport = { transactionUid, committed, failed };
  const ae = getUid(els, TAG.retrieveAeTitle);
  if (ae) out.retrieveAeTitle = ae.trim();
  return out;
}

/** Command sets (PS3.7 10.3.4 N-ACTION, 10.3.1 N-EVENT-REPORT). */
export function nActionRq(messageId: number): Command {
  return {
    commandField: N_ACTION_RQ,
    messageId,
    requestedSopClassUid: STORAGE_COMMITMENT_PUSH_MODEL,
    requestedSopInstanceUid: STORAGE_COMMITMENT_INSTANCE,
    actionTypeId: ACTION_REQUEST_COMMITMENT,
    hasDataset: true,
  };
}

export function nActionRsp(messageIdBeingRespondedTo: number, status: number): Command {
  return {
    commandField: N_ACTION_RSP,
    messageIdBeingRespondedTo,
    affectedSopClassUid: STORAGE_COMMITMENT_PUSH_MODEL,
    affectedSopInstanceUid: STORAGE_COMMITMENT_INSTANCE,
    actionTypeId: ACTION_REQUEST_COMMITMENT,
    hasDataset: false,
    status,
  };
}

export function nEventReportRq(messageId: number, eventTypeId: number): Command {
  return {
    commandField: N_EVENT_REPORT_RQ,
    messageId,
    affectedSopClassUid: STORAGE_COMMITMENT_PUSH_MODEL,
    affectedSopInstanceUid: STORAGE_COMMITMENT_INSTANCE,
    eventTypeId,
    hasDataset: true,
  };
}

export function nEventReportRsp(messageIdBeingRespondedTo: number, status: number, eventTypeId?: number): Command {
  const c: Command = {
    commandField: N_EVENT_REPORT_RSP,
    messageIdBeingRespondedTo,
    affectedSopClassUid: STORAGE_COMMITMENT_PUSH_MODEL,
    affectedSopInstanceUid: STORAGE_COMMITMENT_INSTANCE,
    hasDataset: false,
    status,
  };
  if (eventTypeId !== undefined) c.eventTypeId = eventTypeId;
  return c;
}

/** A fresh transaction UID: 2.25 + a random 128-bit integer (PS3.5 B.2). */
export function newTransactionUid(): string {
  const hex = crypto.randomUUID().replace(/-/g, '');
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}
