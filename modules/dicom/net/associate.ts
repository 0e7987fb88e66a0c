import { DicomPduError, PDU_ASSOCIATE_AC, PDU_ASSOCIATE_RQ, encodePdu } from './pdu.ts';

/**
 * A-ASSOCIATE-RQ and -AC bodies (PS3.8 9.3.2 and 9.3.3): protocol version, called and calling
 * AE titles, then variable items: application context (0x10), presentation contexts (0x20 in
 * the request, 0x21 in the answer) and user information (0x50) carrying the maximum PDU length
 * (0x51), implementation class UID (0x52) and version name (0x55).
 */

/** The DICOM application context name (PS3.7 Annex A.2.1). */
export const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';

export interface ProposedContext {
  /** Odd, 1..255 (PS3.8 9.3.2.2). */
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

/** Presentation context results (PS3.8 Table 9-18). */
export const PC_ACCEPTED = 0;
export const PC_USER_REJECTED = 1;
export const PC_NO_REASON = 2;
export const PC_ABSTRACT_SYNTAX_NOT_SUPPORTED = 3;
export const PC_TRANSFER_SYNTAXES_NOT_SUPPORTED = 4;

export interface AcceptedContext {
  id: number;
  result: number;
  /** Present when accepted. */
  transferSyntax?: string;
}

export interface UserInformation {
  /** 0 = no limit (PS3.8 D.1.1). */
  maxPduLength: number;
  implementationClassUid?: string;
  implementationVersionName?: string;
  /** Asynchronous operations window (PS3.7 D.3.3.3), if proposed. */
  maxOperationsInvoked?: number;
  maxOperationsPerformed?: number;
  /** SCP/SCU role selection items (0x54, PS3.7 D.3.3.4): proposed by a requestor, echoed by the acceptor. */
  roles?: RoleSelection[];
}

export interface RoleSelection {
  sopClassUid: string;
  /** The association requestor acts as SCU / as SCP of this SOP class. */
  scu: boolean;
  scp: boolean;
}

export interface AssociateRq {
  protocolVersion: number;
  calledAe: string;
  callingAe: string;
  applicationContext: string;
  contexts: ProposedContext[];
  user: UserInformation;
}

export interface AssociateAc {
  protocolVersion: number;
  calledAe: string;
  callingAe: string;
  applicationContext: string;
  contexts: AcceptedContext[];
  user: UserInformation;
}

function uidItem(type: number, uid: string): Buffer {
  const value = Buffer.from(uid, 'latin1');
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value]);
}

function item(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
}

function aeField(ae: string): Buffer {
  const b = Buffer.alloc(16, 0x20);
  b.write(ae.slice(0, 16), 'latin1');
  return b;
}

function fixedPart(calledAe: string, callingAe: string): Buffer {
  const version = Buffer.from([0, 1, 0, 0]);
  return Buffer.concat([version, aeField(calledAe), aeField(callingAe), Buffer.alloc(32)]);
}

function userItem(user: UserInformation): Buffer {
  const max = Buffer.alloc(4);
  max.writeUInt32BE(user.maxPduLength >>> 0);
  const subs = [item(0x51, max)];
  if (user.implementationClassUid) subs.push(uidItem(0x52, user.implementationClassUid));
  if (user.maxOperationsInvoked !== undefined) {
    const w = Buffer.alloc(4);
    w.writeUInt16BE(user.maxOperationsInvoked);
    w.writeUInt16BE(user.maxOperationsPerformed ?? 1, 2);
    subs.push(item(0x53, w));
  }
  for (const r of user.roles ?? []) {
    const uid = Buffer.from(r.sopClassUid, 'latin1');
    const body = Buffer.alloc(2 + uid.length + 2);
    body.writeUInt16BE(uid.length, 0);
    uid.copy(body, 2);
    body[2 + uid.length] = r.scu ? 1 : 0;
    body[3 + uid.length] = r.scp ? 1 : 0;
    subs.push(item(0x54, body));
  }
  if (user.implementationVersionName) subs.push(uidItem(0x55, user.implementationVersionName.slice(0, 16)));
  return item(0x50, Buffer.concat(subs));
}

export function encodeAssociateRq(rq: Omit<AssociateRq, 'protocolVersion' | 'applicationContext'> & { applicationContext?: string }): Buffer {
  const parts = [fixedPart(rq.calledAe, rq.callingAe), uidItem(0x10, rq.applicationContext ?? APPLICATION_CONTEXT)];
  for (const pc of rq.contexts) {
    const head = Buffer.from([pc.id, 0, 0, 0]);
    parts.push(item(0x20, Buffer.concat([head, uidItem(0x30, pc.abstractSyntax), ...pc.transferSyntaxes.map((ts) => uidItem(0x40, ts))])));
  }
  parts.push(userItem(rq.user));
  return encodePdu(PDU_ASSOCIATE_RQ, Buffer.concat(parts));
}

export function encodeAssociateAc(ac: Omit<AssociateAc, 'protocolVersion' | 'applicationContext'> & { applicationContext?: string }): Buffer {
  const parts = [fixedPart(ac.calledAe, ac.callingAe), uidItem(0x10, ac.applicationContext ?? APPLICATION_CONTEXT)];
  for (const pc of ac.contexts) {
    const head = Buffer.from([pc.id, 0, pc.result, 0]);
    // A rejected context still carries a transfer syntax sub-item, whose value is ignored (9.3.3.2).
    parts.push(item(0x21, Buffer.concat([head, uidItem(0x40, pc.transferSyntax ?? '')])));
  }
  parts.push(userItem(ac.user));
  return encodePdu(PDU_ASSOCIATE_AC, Buffer.concat(parts));
}

/** UIDs may be padded with a trailing NUL (PS3.8 Annex F); AE titles with spaces. */
function text(b: Buffer): string {
  return b
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
}

interface RawItem {
  type: number;
  body: Buffer;
}

function items(buf: Buffer, from: number): RawItem[] {
  const out: RawItem[] = [];
  let at = from;
  while (at < buf.length) {
    if (buf.length - at < 4) throw new DicomPduError('bad-item', 'truncated item header');
    const length = buf.readUInt16BE(at + 2);
    if (at + 4 + length > buf.length) throw new DicomPduError('bad-item', `item 0x${buf[at]!.toString(16)} of ${length} bytes overruns its PDU`);
    out.push({ type: buf[at]!, body: buf.subarray(at + 4, at + 4 + length) });
    at += 4 + length;
  }
  return out;
}

function parseUser(body: Buffer): UserInformation {
  const user: UserInformation = { maxPduLength: 0 };
  for (const sub of items(body, 0)) {
    if (sub.type === 0x51) {
      if (sub.body.length !== 4) throw new DicomPduError('bad-item', 'maximum length sub-item is not 4 bytes');
      user.maxPduLength = sub.body.readUInt32BE(0);
    } else if (sub.type === 0x52) user.implementationClassUid = text(sub.body);
    else if (sub.type === 0x55) user.implementationVersionName = text(sub.body);
    else if (sub.type === 0x53 && sub.body.length === 4) {
      user.maxOperationsInvoked = sub.body.readUInt16BE(0);
      user.maxOperationsPerformed = sub.body.readUInt16BE(2);
    } else if (sub.type === 0x54) {
      if (sub.body.length < 4) throw new DicomPduError('bad-item', 'role selection sub-item shorter than 4 bytes');
      const n = sub.body.readUInt16BE(0);
      if (2 + n + 2 > sub.body.length) throw new DicomPduError('bad-item', 'role selection UID overruns its sub-item');
      (user.roles ??= []).push({ sopClassUid: text(sub.body.subarray(2, 2 + n)), scu: sub.body[2 + n] === 1, scp: sub.body[3 + n] === 1 });
    }
    // Extended and user identity negotiation are not used: ignored (PS3.7 D.3.3).
  }
  return user;
}

function parseFixed(body: Buffer): { protocolVersion: number; calledAe: string; callingAe: string } {
  return { protocolVersion: body.readUInt16BE(0), calledAe: text(body.subarray(4, 20)), callingAe: text(body.subarray(20, 36)) };
}

export function decodeAssociateRq(body: Buffer): AssociateRq {
  const rq: AssociateRq = { ...parseFixed(body), applicationContext: '', contexts: [], user: { maxPduLength: 0 } };
  for (const it of items(body, 68)) {
    if (it.type === 0x10) rq.applicationContext = text(it.body);
    else if (it.type === 0x20) {
      if (it.body.length < 4) throw new DicomPduError('bad-item', 'presentation context item shorter than 4 bytes');
      const pc: ProposedContext = { id: it.body[0]!, abstractSyntax: '', transferSyntaxes: [] };
      for (const sub of items(it.body, 4)) {
        if (sub.type === 0x30) pc.abstractSyntax = text(sub.body);
        else if (sub.type === 0x40) pc.transferSyntaxes.push(text(sub.body));
      }
      rq.contexts.push(pc);
    } else if (it.type === 0x50) rq.user = parseUser(it.body);
  }
  return rq;
}

export function decodeAssociateAc(body: Buffer): AssociateAc {
  const ac: AssociateAc = { ...parseFixed(body), applicationContext: '', contexts: [], user: { maxPduLength: 0 } };
  for (const it of items(body, 68)) {
    if (it.type === 0x10) ac.applicationContext = text(it.body);
    else if (it.type === 0x21) {
      if (it.body.length < 4) throw new DicomPduError('bad-item', 'presentation context item shorter than 4 bytes');
      const pc: AcceptedContext = { id: it.body[0]!, result: it.body[2]! };
      for (const sub of items(it.body, 4)) if (sub.type === 0x40 && pc.result === PC_ACCEPTED) pc.transferSyntax = text(sub.body);
      ac.contexts.push(pc);
    } else if (it.type === 0x50) ac.user = parseUser(it.body);
  }
  return ac;
}
