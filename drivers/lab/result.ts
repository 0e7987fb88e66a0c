import { createHash } from 'node:crypto';

/**
 * One result model for ASTM and HL7 alike. Stored as the `parsed` form of a journal entry in
 * stream 'lab.result'; its identity is the idempotency key towards the LIS.
 */
export interface LabResult {
  /** Device id from configuration. */
  device: string;
  protocol: 'astm' | 'hl7';
  /** Specimen id as the LIS knows it (barcode): ASTM O.3, HL7 OBR-3/SPM-2. */
  specimenId: string;
  /** Instrument's own specimen id / rack-position (ASTM O.4), when sent. */
  instrumentSpecimenId?: string;
  patientId?: string;
  /** Personal data: masked in logs, scrubbed after the personal-data retention. */
  patientName?: string;
  patientBirthDate?: string;
  patientSex?: string;
  /** Test code as sent by the device (ASTM R.3 component 4, HL7 OBX-3.1). */
  deviceTestCode: string;
  /** The LIS's code after the profile's mapping table; equals deviceTestCode when unmapped. */
  testCode: string;
  testName?: string;
  /** Value exactly as sent (after decoding): '>8', '-----', '5,2', '***.**'. */
  valueText: string;
  /** Numeric value when the text is a plain number (decimal comma accepted). */
  valueNumber?: number;
  units?: string;
  referenceRange?: string;
  /** Abnormal flags (ASTM R.7, HL7 OBX-8), e.g. ['H'] */
  flags: string[];
  /** F final, C correction, P preliminary, X cannot be done... */
  status: string;
  /** Completed time as sent by the device (no offset), and as ISO 8601 with the zone's offset. */
  completedRaw?: string;
  completedAt?: string;
  /** The device's configured timezone used to interpret completedRaw. */
  timezone: string;
  /** Box receive time, ISO 8601 with offset. */
  receivedAt: string;
  /** Quality-control result: never forwarded as a patient result unless the route asks. */
  qc: boolean;
  /** Journal id of the raw message/transmission this result came from. */
  rawJournalId?: number;
}

/**
 * The result's identity: device, specimen, test, completed time, value, units, status.
 * Reruns (new time or value) and corrections (status C) get a new identity; resends do not.
 */
export function resultIdentity(r: LabResult): string {
  const parts = [r.device, r.specimenId, r.deviceTestCode, r.completedRaw ?? '', r.valueText, r.units ?? '', r.status];
  return 'res:' + createHash('sha256').update(parts.join('\u001f')).digest('hex').slice(0, 32);
}
