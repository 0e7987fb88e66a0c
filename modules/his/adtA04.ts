import { controlIdFor, hl7TimeFromIso } from '../hl7/index.ts';
import { escapeHl7 } from '../hl7/index.ts';
import type { HisCheckIn } from './contract.ts';

/**
 * HL7 v2.5 ADT^A04 (register a patient) for a kiosk check-in, and the ACK it expects. The
 * message control id (MSH-10) is derived from the outbox idempotency key, so a retry after an
 * unknown outcome carries the same id and the HIS can drop the repeat (HL7 v2.5 2.10.2).
 */

export interface AdtA04Options {
  sendingApplication?: string;
  sendingFacility?: string;
  receivingApplication?: string;
  receivingFacility?: string;
  /** PID-3 assigning authority for the CCCD number. */
  idAuthority?: string;
  /** MSH-11: P production, T training, D debugging. */
  processingId?: 'P' | 'T' | 'D';
}

/** Vietnamese names are written family, middle, given: 'Nguyễn Văn An' → XPN 'Nguyễn^An^Văn'. */
export function vietnameseXpn(fullName: string): string {
  const parts = fullName.normalize('NFC').trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '';
  if (parts.length === 1) return escapeHl7(parts[0]!);
  const family = parts[0]!;
  const given = parts[parts.length - 1]!;
  const middle = parts.slice(1, -1).join(' ');
  return [family, given, middle]
    .map((p) => escapeHl7(p))
    .join('^')
    .replace(/\^+$/, '');
}

const SEX: Record<string, string> = { male: 'M', female: 'F', unknown: 'U' };

export function buildAdtA04(checkIn: HisCheckIn, idempotencyKey: string, now: string, options: AdtA04Options = {}): { message: string; controlId: string } {
  const controlId = controlIdFor(idempotencyKey);
  const id = checkIn.identity;
  const birth = id.dateOfBirth.replace(/-/g, '');
  const msh = [
    'MSH',
    '^~\\&',
    escapeHl7(options.sendingApplication ?? 'EDGE-KIOSK'),
    escapeHl7(options.sendingFacility ?? ''),
    escapeHl7(options.receivingApplication ?? 'HIS'),
    escapeHl7(options.receivingFacility ?? ''),
    hl7TimeFromIso(now),
    '',
    'ADT^A04^ADT_A01',
    controlId,
    options.processingId ?? 'P',
    '2.5',
    '',
    '',
    'AL',
    'NE',
    'VNM',
    'UNICODE UTF-8',
  ].join('|');
  const evn = ['EVN', 'A04', hl7TimeFromIso(checkIn.ticket.issuedAt)].join('|');
  const pid = [
    'PID',
    '1',
    '',
    // PID-3: the CCCD as a national identifier (identifier type NNVNM, HL7 table 0203).
    `${escapeHl7(id.idNumber)}^^^${escapeHl7(options.idAuthority ?? 'BCA')}^NNVNM`,
    '',
    vietnameseXpn(id.fullName),
    '',
    birth,
    SEX[id.sex] ?? 'U',
    '',
    '',
    // PID-11: the address as one line, country VNM.
    id.permanentAddress ? `${escapeHl7(id.permanentAddress)}^^^^^VNM` : '',
  ].join('|');
  const pv1 = new Array<string>(51).fill('');
  pv1[0] = 'PV1';
  pv1[1] = '1';
  pv1[2] = 'O'; // outpatient
  pv1[3] = escapeHl7(checkIn.service.code) + (checkIn.service.name ? `^^^^^^^^${escapeHl7(checkIn.service.name)}` : '');
  pv1[19] = escapeHl7(checkIn.ticket.number); // visit number: the queue ticket
  pv1[44] = hl7TimeFromIso(checkIn.ticket.issuedAt);
  // ADT_A01 has no SCH segment: a booked appointment's id travels as the alternate visit id.
  if (checkIn.appointmentId) pv1[50] = escapeHl7(checkIn.appointmentId);
  const segments = [msh, evn, pid, pv1.join('|').replace(/\|+$/, '')];
  return { message: segments.join('\r') + '\r', controlId };
}
