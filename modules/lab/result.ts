import { createHash } from 'node:crypto';

/** A patient identifier as the device sent it, with where it came from. */
export interface PatientIdentifier {
  id: string;
  /** HL7 CX-4 assigning authority (its first component), when sent. */
  authority?: string;
  /** HL7 CX-5 identifier type code (MR, PI, NI…), when sent. */
  type?: string;
  /** The field it was read from: 'PID-2', 'PID-3', 'PID-4', 'P.3', 'P.4', 'P.5'. */
  field: string;
}

/** A person's name by component (HL7 XPN: family^given^middle^suffix^prefix; ASTM P.6 last^first^middle^suffix^title). */
export interface PersonName {
  family?: string;
  given?: string;
  middle?: string;
  suffix?: string;
  prefix?: string;
}

/**
 * One result model for ASTM and HL7 alike. Stored as the `parsed` form of a journal entry in
 * stream 'lab.result'; its identity is the idempotency key towards destinations that take
 * results one by one. What the analyzer sent is kept as sent: the text of the value, every
 * component of the test identifier, every flag, every comment.
 */
export interface LabResult {
  /** Device id from configuration. */
  device: string;
  protocol: 'astm' | 'hl7';
  /** Specimen id as the LIS knows it (barcode): ASTM O.3, HL7 OBR-3/SPM-2. */
  specimenId: string;
  /** Every component of the specimen id field as sent (OBR-3, ASTM O.3), when it has several. */
  specimenIdParts?: string[];
  /** Instrument's own specimen id / rack-position (ASTM O.4), when sent. */
  instrumentSpecimenId?: string;
  /** Specimen type as sent (HL7 SPM-4 / OBR-15, ASTM O.16). */
  specimenType?: string;
  /** The first patient identifier (PID-3, else PID-2, else PID-4; ASTM P.3, P.4, P.5). */
  patientId?: string;
  /** Every patient identifier with where it came from (all PID-3 repetitions with their authority). */
  patientIds?: PatientIdentifier[];
  /** Personal data: masked in logs, scrubbed after the personal-data retention. */
  patientName?: string;
  patientNameParts?: PersonName;
  patientBirthDate?: string;
  patientSex?: string;
  /**
   * Test code as sent by the device (ASTM R.3 component 4, HL7 OBX-3.1); when the device left
   * the code empty and named the test (a blood-gas `^pCO2(T)^M`), the name.
   */
  deviceTestCode: string;
  /** The LIS's code after the profile's mapping table; equals deviceTestCode when unmapped. */
  testCode: string;
  testName?: string;
  /** Every component of the observation identifier as sent (OBX-3, ASTM R.3). */
  observationId: string[];
  /** HL7 OBX-4 observation sub-id. */
  subId?: string;
  /**
   * 1-based count of this observation (same identifier and sub-id) within its message: a
   * message that sends the same test twice carries two results, never one.
   */
  occurrence: number;
  /** HL7 OBX-2 value type as sent (NM, ST, SN…). */
  valueType?: string;
  /** Value exactly as sent (after decoding): '>8', '-----', '5,2', '***.**', '.....'. */
  valueText: string;
  /** The value's components when it has several (HL7 SN `<^5`, CE `code^text`); valueText joins them with `^`. */
  valueParts?: string[];
  /** Numeric value when the text is a plain number (decimal comma accepted). */
  valueNumber?: number;
  /** The analyzer's placeholder for a value it did not measure ('.....', '-----', '***'). */
  notMeasured?: boolean;
  units?: string;
  referenceRange?: string;
  /** Abnormal flags as sent (ASTM R.7, HL7 OBX-8), 'N' (normal) included, e.g. ['H'], ['N'], ['<']. */
  flags: string[];
  /** F final, C correction, P preliminary, X cannot be done... */
  status: string;
  /** Comments sent with the result: HL7 NTE after the OBX, ASTM C records after the R. */
  comments?: string[];
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
 * One order as the analyzer grouped it (an HL7 OBR with its OBX and NTE; an ASTM O record with
 * its R and C records): what a LIS that wants one message per sample receives (stream
 * 'lab.report').
 */
export interface LabReport {
  device: string;
  protocol: 'astm' | 'hl7';
  /** 1-based position of the order in its message. */
  group: number;
  specimenId: string;
  specimenIdParts?: string[];
  instrumentSpecimenId?: string;
  specimenType?: string;
  /** HL7 OBR-2 placer order number. */
  placerOrderId?: string;
  /** HL7 OBR-4 / ASTM O.5: what was ordered, every component. */
  serviceId?: string[];
  /** Observation time of the order (OBR-7), as sent. */
  observedRaw?: string;
  /** Comments on the order: HL7 NTE after OBR, ASTM C after O (or after P). */
  comments?: string[];
  patientId?: string;
  patientIds?: PatientIdentifier[];
  patientName?: string;
  patientNameParts?: PersonName;
  patientBirthDate?: string;
  patientSex?: string;
  results: LabResult[];
  qc: boolean;
  timezone: string;
  receivedAt: string;
}

/** What a message says of its patient (HL7 PID, ASTM P), before it is copied onto each result. */
export interface PatientFacts {
  ids: PatientIdentifier[];
  name?: PersonName;
  nameText?: string;
  birthDate?: string;
  sex?: string;
}

/** A name from its components in HL7/ASTM order (family, given, middle, suffix, prefix), and as text (family middle given). */
export function personName(parts: string[]): Pick<PatientFacts, 'name' | 'nameText'> {
  const [family, given, middle, suffix, prefix] = parts.map((p) => p.trim());
  const name: PersonName = {};
  if (family) name.family = family;
  if (given) name.given = given;
  if (middle) name.middle = middle;
  if (suffix) name.suffix = suffix;
  if (prefix) name.prefix = prefix;
  const nameText = [family, middle, given].filter(Boolean).join(' ');
  return { ...(Object.keys(name).length ? { name } : {}), ...(nameText ? { nameText } : {}) };
}

/** The patient fields of a result or report. */
export function patientFieldsOf(p: PatientFacts): Partial<LabResult> {
  const out: Partial<LabResult> = {};
  if (p.ids.length) {
    out.patientId = p.ids[0]!.id;
    out.patientIds = p.ids;
  }
  if (p.nameText) out.patientName = p.nameText;
  if (p.name) out.patientNameParts = p.name;
  if (p.birthDate) out.patientBirthDate = p.birthDate;
  if (p.sex) out.patientSex = p.sex;
  return out;
}

const PLACEHOLDER = /^(\.{2,}|-{2,}|\*{2,}(\.\*+)?)$/;

/** A value text that is the analyzer's "not measured" placeholder ('.....', '-----', '***', '***.**'). */
export function isNotMeasured(valueText: string): boolean {
  return PLACEHOLDER.test(valueText.trim());
}

/**
 * The result's identity: device, specimen, the whole observation identifier and sub-id, its
 * occurrence within the message, completed time, value, units, status. Two different tests
 * never share one (whatever their codes, names and values); reruns (new time or value) and
 * corrections (status C) get a new one; a resend of the same message gets the same ones.
 */
export function resultIdentity(r: LabResult): string {
  const parts = [
    r.device,
    r.specimenId,
    r.observationId.join('\u001e'),
    r.subId ?? '',
    String(r.occurrence),
    r.completedRaw ?? '',
    r.valueText,
    r.units ?? '',
    r.status,
  ];
  return 'res2:' + createHash('sha256').update(parts.join('\u001f')).digest('hex').slice(0, 32);
}

/** The identity results had before observation ids and occurrences counted (kept to recover what it merged). */
export function legacyResultIdentity(r: LabResult): string {
  // The code the old rule took: HL7 OBX-3.1 (empty for a blood-gas `^pH^M`), ASTM's device code.
  const code = r.protocol === 'hl7' ? (r.observationId[0] ?? '') : r.deviceTestCode;
  const parts = [r.device, r.specimenId, code, r.completedRaw ?? '', r.valueText, r.units ?? '', r.status];
  return 'res:' + createHash('sha256').update(parts.join('\u001f')).digest('hex').slice(0, 32);
}

/** A report's identity: its device, specimen and its results' identities (a resend gets the same). */
export function reportIdentity(report: LabReport): string {
  const h = createHash('sha256').update(report.device).update('\u001f').update(report.specimenId);
  for (const r of report.results) h.update('\u001f').update(resultIdentity(r));
  return 'rep:' + h.digest('hex').slice(0, 32);
}

/** Each result's report identity (the order it was sent in), for results listed with their report's forwarding state. */
export function reportKeysOf(reports: LabReport[]): Map<LabResult, string> {
  const keys = new Map<LabResult, string>();
  for (const report of reports) {
    const key = reportIdentity(report);
    for (const r of report.results) keys.set(r, key);
  }
  return keys;
}

/** Counts each (observation id, sub-id) in message order: sets `occurrence` on every result. */
export function numberOccurrences(results: LabResult[]): void {
  const seen = new Map<string, number>();
  for (const r of results) {
    const key = `${r.specimenId}\u001f${r.observationId.join('\u001e')}\u001f${r.subId ?? ''}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    r.occurrence = n;
  }
}
