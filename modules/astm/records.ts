import { deviceTimeToIso as astmTimeToIso, parseNumber } from '../lab/index.ts';
import {
  isNotMeasured,
  numberOccurrences,
  patientFieldsOf,
  personName,
  resultIdentity,
  type LabReport,
  type LabResult,
  type PatientFacts,
  type PatientIdentifier,
} from '../lab/index.ts';

/**
 * ASTM E1394 / CLSI LIS02 records. Delimiters are read from the H record (`H|\^&` is common,
 * Cepheid GeneXpert sends `H|@^\`), never hard-coded. Fields are split first and unescaped after,
 * so an escaped delimiter never splits a field.
 */

export interface Delimiters {
  field: string;
  repeat: string;
  component: string;
  escape: string;
}

export const DEFAULT_DELIMITERS: Delimiters = { field: '|', repeat: '\\', component: '^', escape: '&' };

export class AstmRecordError extends Error {
  readonly code: 'ASTM_RECORD_NO_HEADER' | 'ASTM_RECORD_DELIMITERS' | 'ASTM_RECORD_TOO_LARGE';
  constructor(code: AstmRecordError['code'], message: string) {
    super(message);
    this.name = 'AstmRecordError';
    this.code = code;
  }
}

export interface AstmRecord {
  /** Record type letter: H P O R C M Q L (or anything a device invents). */
  type: string;
  /** Raw (still escaped) fields; index n-1 holds field n, so fields[0] is the type. */
  fields: string[];
}

export interface AstmMessage {
  delimiters: Delimiters;
  records: AstmRecord[];
}

/** Splits text into records: CR is the terminator; LF and CR LF are accepted (bare captures). */
export function splitRecords(text: string): string[] {
  return text.split(/\r\n|\r|\n/).filter((line) => line.length > 0);
}

/** Reads delimiters from an H record line: the four characters after 'H'. */
export function delimitersFromHeader(line: string): Delimiters {
  if (line.length < 5 || line[0] !== 'H') throw new AstmRecordError('ASTM_RECORD_NO_HEADER', 'the first record is not an H record with delimiters');
  const [field, repeat, component, escapeChar] = [line[1]!, line[2]!, line[3]!, line[4]!];
  const set = new Set([field, repeat, component, escapeChar]);
  if (set.size !== 4 || [...set].some((c) => /[A-Za-z0-9\r\n]/.test(c))) {
    throw new AstmRecordError(
      'ASTM_RECORD_DELIMITERS',
      `H record delimiters ${JSON.stringify(line.slice(1, 5))} must be four distinct non-alphanumeric characters`,
    );
  }
  return { field, repeat, component, escape: escapeChar };
}

/** Parses a message's text (decoded) into records. Text before the first H is ignored. */
export function parseMessage(text: string, opts: { maxRecords?: number } = {}): AstmMessage {
  const lines = splitRecords(text);
  const maxRecords = opts.maxRecords ?? 100_000;
  if (lines.length > maxRecords) throw new AstmRecordError('ASTM_RECORD_TOO_LARGE', `message has ${lines.length} records, limit ${maxRecords}`);
  const first = lines.findIndex((l) => l[0] === 'H');
  if (first < 0) throw new AstmRecordError('ASTM_RECORD_NO_HEADER', 'no H record in message');
  let delimiters = delimitersFromHeader(lines[first]!);
  const records: AstmRecord[] = [];
  for (const line of lines.slice(first)) {
    // A repeated H after a line failure may even change delimiters: read them again.
    if (line[0] === 'H' && line.length >= 5) {
      try {
        delimiters = delimitersFromHeader(line);
      } catch {
        /* keep the previous ones */
      }
      const rest = line.slice(5).split(delimiters.field);
      records.push({ type: 'H', fields: ['H', line.slice(2, 5), ...rest.slice(1)] });
      continue;
    }
    const fields = line.split(delimiters.field);
    records.push({ type: fields[0]!.trim().toUpperCase().slice(0, 1), fields });
  }
  return { delimiters, records };
}

/** Field n (1-based, as in the standard: H.5, R.3...), raw; '' when left out. */
export function rawField(rec: AstmRecord, n: number): string {
  return rec.fields[n - 1] ?? '';
}

/** Unescapes one value (&F& &S& &R& &E& &Xhh& &H& &N& &Z..&). Unknown sequences stay literal. */
export function unescapeValue(value: string, d: Delimiters): string {
  const e = d.escape;
  if (!value.includes(e)) return value;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const ch = value[i]!;
    if (ch !== e) {
      out += ch;
      i++;
      continue;
    }
    const close = value.indexOf(e, i + 1);
    if (close < 0) {
      out += value.slice(i);
      break;
    }
    const seq = value.slice(i + 1, close);
    if (seq === 'F') out += d.field;
    else if (seq === 'S') out += d.component;
    else if (seq === 'R') out += d.repeat;
    else if (seq === 'E') out += d.escape;
    else if (seq === 'H' || seq === 'N' || seq[0] === 'Z') out += '';
    else if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) {
      for (let k = 1; k < seq.length; k += 2) out += String.fromCharCode(parseInt(seq.slice(k, k + 2), 16));
    } else {
      out += value.slice(i, close + 1);
    }
    i = close + 1;
  }
  return out;
}

export function escapeValue(value: string, d: Delimiters): string {
  let out = '';
  for (const ch of value) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.repeat) out += `${d.escape}R${d.escape}`;
    else if (ch === '\r' || ch === '\n') out += `${d.escape}X${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}${d.escape}`;
    else out += ch;
  }
  return out;
}

/** Field n split into repeats, each into unescaped components. */
export function fieldRepeats(rec: AstmRecord, n: number, d: Delimiters): string[][] {
  return rawField(rec, n)
    .split(d.repeat)
    .map((rep) => rep.split(d.component).map((c) => unescapeValue(c, d)));
}

/** Component c (1-based) of the first repeat of field n, unescaped. */
export function component(rec: AstmRecord, n: number, c: number, d: Delimiters): string {
  return fieldRepeats(rec, n, d)[0]?.[c - 1] ?? '';
}

/** Whole field unescaped, keeping component/repeat delimiters as text ('3+^3+^45'). */
export function fieldText(rec: AstmRecord, n: number, d: Delimiters): string {
  return fieldRepeats(rec, n, d)
    .map((r) => r.join(d.component))
    .join(d.repeat);
}

/** Builds a record line from values (unescaped strings, or arrays of components). */
export type FieldValue = string | string[] | undefined;
export function serializeRecord(type: string, fields: FieldValue[], d: Delimiters = DEFAULT_DELIMITERS): string {
  if (type === 'H') {
    // fields[0] is 'H' and fields[1] the delimiter field itself: written from `d`.
    const rest = fields.slice(2).map((f) => serializeField(f, d));
    return ['H' + d.field + d.repeat + d.component + d.escape, ...rest].join(d.field).replace(new RegExp(`${escapeRe(d.field)}+$`), '');
  }
  const line = [type, ...fields.map((f) => serializeField(f, d))].join(d.field);
  // Trailing empty fields may be left out (E1394 7.1.3).
  return line.replace(new RegExp(`${escapeRe(d.field)}+$`), '');
}

function serializeField(f: FieldValue, d: Delimiters): string {
  if (f === undefined) return '';
  if (Array.isArray(f)) return f.map((c) => escapeValue(c, d)).join(d.component);
  return escapeValue(f, d);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Joins record lines into message text, CR-terminated. */
export function joinRecords(lines: string[]): string {
  return lines.map((l) => l + '\r').join('');
}

// ------------------------------------------------------------------ time

// Device times and values are read the same way for ASTM and HL7 (modules/lab/values.ts).
export { astmTimeToIso, parseNumber };

// ------------------------------------------------------------------ results

export interface ResultMappingOptions {
  device: string;
  timezone: string;
  receivedAt: string;
  /** Device test code → LIS code. */
  testCodes?: Record<string, string>;
  rawJournalId?: number;
}

export interface AstmQuery {
  /** Q.3 starting range: `^specimen` (component 2), sometimes component 1. */
  specimenIds: string[];
  requestedTests: string[];
  sequence: string;
}

export interface MessageSummary {
  sender: { name?: string; version?: string; serial?: string };
  processingId?: string;
  messageTime?: string;
  results: LabResult[];
  /** One per O record with its R and C records, in message order. */
  reports: LabReport[];
  queries: AstmQuery[];
  /** Records seen per type, for logs. */
  counts: Record<string, number>;
  hasTerminator: boolean;
}

type AstmPatient = PatientFacts & { comments: string[] };

/**
 * Walks the H/P/O/R/C/M/Q/L hierarchy and maps R records to LabResult and each O record to a
 * LabReport. Every R record is a result, even when another R of the same order has the same
 * test and value; a repeated H (the instrument restarting after a line failure, repeating
 * H/P/O before the records it is not sure were saved) starts the count again, so a restarted
 * record is the same result as before it. C records comment on the record before them.
 */
export function extractResults(msg: AstmMessage, opts: ResultMappingOptions): MessageSummary {
  const d = msg.delimiters;
  const summary: MessageSummary = { sender: {}, results: [], reports: [], queries: [], counts: {}, hasTerminator: false };
  let header: { qc: boolean } = { qc: false };
  let patient: AstmPatient = { ids: [], comments: [] };
  let order: LabReport | null = null;
  /** Results since the last H: occurrences are counted within one restart section. */
  let section: LabResult[] = [];
  let commentTarget: { comments?: string[] } | null = null;
  let restarts = 0;
  const restartSection = () => {
    numberOccurrences(section);
    section = [];
  };
  for (const rec of msg.records) {
    summary.counts[rec.type] = (summary.counts[rec.type] ?? 0) + 1;
    switch (rec.type) {
      case 'H': {
        if (summary.counts.H! > 1) restarts++;
        restartSection();
        const [name, version, serial] = fieldRepeats(rec, 5, d)[0] ?? [];
        summary.sender = { name: name || undefined, version: version || undefined, serial: serial || undefined };
        summary.processingId = component(rec, 12, 1, d) || undefined;
        summary.messageTime = component(rec, 14, 1, d) || undefined;
        header = { qc: summary.processingId?.toUpperCase() === 'Q' };
        patient = { ids: [], comments: [] };
        order = null;
        commentTarget = null;
        break;
      }
      case 'P': {
        patient = astmPatient(rec, d);
        order = null;
        commentTarget = patient;
        break;
      }
      case 'O': {
        const specimenParts = trimTrailing(fieldRepeats(rec, 3, d)[0] ?? []);
        const specimen = specimenParts.find((c) => c.trim())?.trim() ?? '';
        const instrument = (fieldRepeats(rec, 4, d)[0] ?? []).find((c) => c.trim())?.trim();
        const qc = header.qc || component(rec, 12, 1, d).toUpperCase() === 'Q';
        // O.3 is the LIS barcode; devices that leave it empty identify the sample by O.4 or P.3 (Euroimmun).
        const specimenId = specimen || instrument || patient.ids[0]?.id || '';
        order = {
          device: opts.device,
          protocol: 'astm',
          group: summary.reports.length + 1,
          specimenId,
          results: [],
          qc,
          timezone: opts.timezone,
          receivedAt: opts.receivedAt,
          ...patientFieldsOf(patient),
        };
        if (specimenParts.length > 1) order.specimenIdParts = specimenParts;
        if (instrument) order.instrumentSpecimenId = instrument;
        const service = trimTrailing(fieldRepeats(rec, 5, d)[0] ?? []);
        if (service.some((c) => c.trim())) order.serviceId = service;
        const type = component(rec, 16, 1, d);
        if (type) order.specimenType = type;
        const observed = component(rec, 8, 1, d);
        if (observed) order.observedRaw = observed;
        if (patient.comments.length) order.comments = [...patient.comments];
        // After a restart the instrument repeats the order it was sending: it continues that report.
        const repeated =
          restarts > 0
            ? summary.reports.find((r) => r.specimenId === specimenId && JSON.stringify(r.serviceId) === JSON.stringify(order!.serviceId))
            : undefined;
        if (repeated) order = repeated;
        else summary.reports.push(order);
        commentTarget = order;
        break;
      }
      case 'R': {
        const observationId = trimTrailing(fieldRepeats(rec, 3, d)[0] ?? []);
        const deviceTestCode = (observationId[3] ?? '').trim() || observationId.find((c) => c.trim())?.trim() || '';
        const valueText = fieldText(rec, 4, d).replace(new RegExp(`${escapeRe(d.component)}+$`), '');
        const completedRaw = component(rec, 13, 1, d) || undefined;
        const flags = fieldRepeats(rec, 7, d)
          .flat()
          .map((f) => f.trim())
          .filter(Boolean);
        const specimenId = order?.specimenId ?? patient.ids[0]?.id ?? '';
        const result: LabResult = {
          device: opts.device,
          protocol: 'astm',
          specimenId,
          deviceTestCode,
          testCode: opts.testCodes?.[deviceTestCode] ?? deviceTestCode,
          observationId,
          occurrence: 1,
          valueText,
          flags,
          status: component(rec, 9, 1, d) || 'F',
          timezone: opts.timezone,
          receivedAt: opts.receivedAt,
          qc: order?.qc ?? header.qc,
          ...patientFieldsOf(patient),
        };
        if (order?.specimenIdParts) result.specimenIdParts = order.specimenIdParts;
        if (order?.specimenType) result.specimenType = order.specimenType;
        if (observationId[4]?.trim() && observationId[4] !== deviceTestCode) result.testName = observationId[4].trim();
        if (order?.instrumentSpecimenId) result.instrumentSpecimenId = order.instrumentSpecimenId;
        if (isNotMeasured(valueText)) result.notMeasured = true;
        else {
          const num = parseNumber(valueText);
          if (num !== undefined) result.valueNumber = num;
        }
        const units = component(rec, 5, 1, d);
        if (units) result.units = units;
        const range = fieldText(rec, 6, d);
        if (range) result.referenceRange = range;
        if (completedRaw) {
          result.completedRaw = completedRaw;
          const iso = astmTimeToIso(completedRaw, opts.timezone);
          if (iso) result.completedAt = iso;
        }
        if (opts.rawJournalId !== undefined) result.rawJournalId = opts.rawJournalId;
        section.push(result);
        summary.results.push(result);
        if (order) order.results.push(result);
        commentTarget = result;
        break;
      }
      case 'C': {
        // C.4 comment text (its components joined), on the record before it.
        const text = fieldRepeats(rec, 4, d)
          .map((parts) => trimTrailing(parts).join(' ').trim())
          .filter(Boolean)
          .join('\n');
        if (commentTarget && text) (commentTarget.comments ??= []).push(text);
        break;
      }
      case 'Q': {
        const ids = fieldRepeats(rec, 3, d)
          .map((parts) => parts[1]?.trim() || parts[0]?.trim() || '')
          .filter(Boolean);
        const tests = fieldRepeats(rec, 5, d)
          .map((parts) => parts[3]?.trim() || parts.find((c) => c.trim()) || '')
          .filter((t) => t && t.toUpperCase() !== 'ALL');
        summary.queries.push({ specimenIds: ids, requestedTests: tests, sequence: rawField(rec, 2) || '1' });
        break;
      }
      case 'L':
        summary.hasTerminator = true;
        break;
      default:
        // M (manufacturer) records: device-specific, not mapped.
        break;
    }
  }
  restartSection();
  // A restarted record is the one sent before it (same identity): kept once.
  const seen = new Set<string>();
  const once = (r: LabResult) => {
    const id = resultIdentity(r);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  };
  summary.results = summary.results.filter(once);
  for (const report of summary.reports) {
    seen.clear();
    report.results = report.results.filter(once);
  }
  return summary;
}

function astmPatient(rec: AstmRecord, d: Delimiters): AstmPatient {
  const ids: PatientIdentifier[] = [];
  for (const [n, label] of [
    [3, 'P.3'],
    [4, 'P.4'],
    [5, 'P.5'],
  ] as const) {
    const id = component(rec, n, 1, d).trim();
    if (id) ids.push({ id, field: label });
  }
  // P.6: last^first^middle^suffix^title.
  const p: AstmPatient = { ids, comments: [], ...personName(fieldRepeats(rec, 6, d)[0] ?? []) };
  const birth = component(rec, 8, 1, d);
  if (birth) p.birthDate = birth;
  const sex = component(rec, 9, 1, d);
  if (sex) p.sex = sex;
  return p;
}

function trimTrailing(parts: string[]): string[] {
  let end = parts.length;
  while (end > 0 && (parts[end - 1] ?? '').trim() === '') end--;
  return parts.slice(0, end);
}
