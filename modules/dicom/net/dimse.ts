import { DicomParseError, findElement, readDataset, stringElement, usElement, writeCommandSet } from '../data/codec.ts';
import type { DataElement } from '../data/codec.ts';
import { IMPLICIT_LE } from '../data/transferSyntaxes.ts';

/**
 * DIMSE command sets (PS3.7 section 9.3 and Annex E): always implicit VR little endian, group
 * 0000 only. Values are read from the raw bytes by tag so an unknown dictionary VR cannot hide
 * a status or a message id.
 */

export const C_STORE_RQ = 0x0001;
export const C_STORE_RSP = 0x8001;
export const C_FIND_RQ = 0x0020;
export const C_FIND_RSP = 0x8020;
export const C_ECHO_RQ = 0x0030;
export const C_ECHO_RSP = 0x8030;
export const C_CANCEL_RQ = 0x0fff;
/** DIMSE-N used by Storage Commitment (PS3.7 10.3.1 and 10.3.4). */
export const N_EVENT_REPORT_RQ = 0x0100;
export const N_EVENT_REPORT_RSP = 0x8100;
export const N_ACTION_RQ = 0x0130;
export const N_ACTION_RSP = 0x8130;

/** (0000,0800) value meaning "no dataset follows" (PS3.7 E.1). */
export const NO_DATASET = 0x0101;

export const STATUS_SUCCESS = 0x0000;
export const STATUS_PENDING = 0xff00;
export const STATUS_CANCEL = 0xfe00;
/** Out of resources (PS3.4 B.2.3): the box could not make the instance durable. */
export const STATUS_OUT_OF_RESOURCES = 0xa700;
/** C-FIND: unable to process (PS3.4 C.4.1.1.4). */
export const STATUS_UNABLE_TO_PROCESS = 0xc000;
/** SOP class not supported (PS3.7 C.5). */
export const STATUS_SOP_CLASS_NOT_SUPPORTED = 0x0122;
/** Unrecognized operation (PS3.7 C.5). */
export const STATUS_UNRECOGNIZED_OPERATION = 0x0211;

export interface Command {
  commandField: number;
  messageId?: number;
  messageIdBeingRespondedTo?: number;
  affectedSopClassUid?: string;
  affectedSopInstanceUid?: string;
  priority?: number;
  hasDataset: boolean;
  status?: number;
  errorComment?: string;
  /** N-ACTION-RQ (and other N-requests): the SOP class and instance acted on (0000,0003)/(0000,1001). */
  requestedSopClassUid?: string;
  requestedSopInstanceUid?: string;
  /** N-EVENT-REPORT (0000,1002) and N-ACTION (0000,1008) type ids. */
  eventTypeId?: number;
  actionTypeId?: number;
}

const TAG = {
  affectedSopClass: 0x00000002,
  commandField: 0x00000100,
  messageId: 0x00000110,
  respondedTo: 0x00000120,
  priority: 0x00000700,
  datasetType: 0x00000800,
  status: 0x00000900,
  errorComment: 0x00000902,
  affectedSopInstance: 0x00001000,
  requestedSopClass: 0x00000003,
  requestedSopInstance: 0x00001001,
  eventTypeId: 0x00001002,
  actionTypeId: 0x00001008,
};

function us(els: DataElement[], tag: number): number | undefined {
  const e = findElement(els, tag);
  return e && e.value.length >= 2 ? e.value.readUInt16LE(0) : undefined;
}

function str(els: DataElement[], tag: number): string | undefined {
  const e = findElement(els, tag);
  if (!e) return undefined;
  const s = e.value
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  return s === '' ? undefined : s;
}

/** Parses a command set; throws DicomParseError on malformed bytes (the association is then aborted). */
export function decodeCommand(bytes: Buffer): Command {
  const els = readDataset(bytes, IMPLICIT_LE);
  const commandField = us(els, TAG.commandField);
  if (commandField === undefined) throw new DicomParseError('bad-meta', 'command set without (0000,0100) Command Field', 0);
  const cmd: Command = { commandField, hasDataset: (us(els, TAG.datasetType) ?? NO_DATASET) !== NO_DATASET };
  const set = <K extends keyof Command>(k: K, v: Command[K] | undefined): void => {
    if (v !== undefined) cmd[k] = v;
  };
  set('messageId', us(els, TAG.messageId));
  set('messageIdBeingRespondedTo', us(els, TAG.respondedTo));
  set('affectedSopClassUid', str(els, TAG.affectedSopClass));
  set('affectedSopInstanceUid', str(els, TAG.affectedSopInstance));
  set('priority', us(els, TAG.priority));
  set('status', us(els, TAG.status));
  set('errorComment', str(els, TAG.errorComment));
  set('requestedSopClassUid', str(els, TAG.requestedSopClass));
  set('requestedSopInstanceUid', str(els, TAG.requestedSopInstance));
  set('eventTypeId', us(els, TAG.eventTypeId));
  set('actionTypeId', us(els, TAG.actionTypeId));
  return cmd;
}

export function encodeCommand(cmd: Command): Buffer {
  const els: DataElement[] = [usElement(TAG.commandField, cmd.commandField), usElement(TAG.datasetType, cmd.hasDataset ? 0x0000 : NO_DATASET)];
  if (cmd.affectedSopClassUid) els.push(stringElement(TAG.affectedSopClass, 'UI', cmd.affectedSopClassUid));
  if (cmd.messageId !== undefined) els.push(usElement(TAG.messageId, cmd.messageId));
  if (cmd.messageIdBeingRespondedTo !== undefined) els.push(usElement(TAG.respondedTo, cmd.messageIdBeingRespondedTo));
  if (cmd.priority !== undefined) els.push(usElement(TAG.priority, cmd.priority));
  if (cmd.status !== undefined) els.push(usElement(TAG.status, cmd.status));
  if (cmd.errorComment) els.push(stringElement(TAG.errorComment, 'LO', cmd.errorComment.slice(0, 64)));
  if (cmd.affectedSopInstanceUid) els.push(stringElement(TAG.affectedSopInstance, 'UI', cmd.affectedSopInstanceUid));
  if (cmd.requestedSopClassUid) els.push(stringElement(TAG.requestedSopClass, 'UI', cmd.requestedSopClassUid));
  if (cmd.requestedSopInstanceUid) els.push(stringElement(TAG.requestedSopInstance, 'UI', cmd.requestedSopInstanceUid));
  if (cmd.eventTypeId !== undefined) els.push(usElement(TAG.eventTypeId, cmd.eventTypeId));
  if (cmd.actionTypeId !== undefined) els.push(usElement(TAG.actionTypeId, cmd.actionTypeId));
  return writeCommandSet(els);
}

/** Status classes (PS3.7 Annex C). */
export function statusKind(status: number): 'success' | 'warning' | 'failure' | 'pending' | 'cancel' {
  if (status === 0) return 'success';
  if (status === 0xff00 || status === 0xff01) return 'pending';
  if (status === 0xfe00) return 'cancel';
  if (status === 0x0001 || status === 0x0107 || status === 0x0116 || (status & 0xf000) === 0xb000) return 'warning';
  return 'failure';
}

export function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}
