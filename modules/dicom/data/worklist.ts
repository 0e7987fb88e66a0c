import { createHash } from 'node:crypto';
import type { LabOrder } from '../../lab/index.ts';
import { findElement, padValue, trimValue } from './codec.ts';
import type { DataElement } from './codec.ts';
import { characterSetOf, decodeText, utf8CharsetElement, SPECIFIC_CHARACTER_SET } from './charset.ts';
import type { CharacterSet } from './charset.ts';
import { implicitVr } from './dictionary.ts';

/**
 * Modality Worklist matching (PS3.4 K.6.1.2 and C.2.2.2) over the orders the box keeps from
 * the HIS/LIS, so a modality gets its worklist even when the HIS is unreachable. Answers are
 * in ISO_IR 192 so Vietnamese names and procedure descriptions reach the modality intact.
 */

export const SCHEDULED_PROCEDURE_STEP_SEQUENCE = 0x00400100;
const REQUESTED_PROCEDURE_CODE_SEQUENCE = 0x00321064;
const SCHEDULED_PROTOCOL_CODE_SEQUENCE = 0x00400008;
const CODE_SEQUENCES = new Set([REQUESTED_PROCEDURE_CODE_SEQUENCE, SCHEDULED_PROTOCOL_CODE_SEQUENCE]);

export interface WorklistOptions {
  /** Box timezone: an order's ISO time becomes the local scheduled date/time. */
  timezone?: string;
  /** Scheduled Station AE Title for orders that name none (`scheduled.stationAeTitle`). */
  stationAeTitle?: string;
  /** Modality for order items that name none. */
  defaultModality?: string;
  /** Coding Scheme Designator of the HIS's procedure codes (default `99HIS`, a private scheme). */
  codingScheme?: string;
  /** Most answers returned (K.6.1.2.3 lets the SCP limit; the modality sees a complete list up to this). */
  maxResults?: number;
}

/** One Scheduled Procedure Step as matched and answered. Values are text (DICOM formats). */
interface WorklistEntry {
  top: Map<number, string>;
  step: Map<number, string>;
  /** Code sequences (one item each) by tag, at either level: the requested procedure's and the step's protocol code. */
  codes: Map<number, Map<number, string>>;
  /** No station AE known: a query for any station AE matches (echoed back). */
  anyStation: boolean;
}

/** A Study Instance UID derived from the order (PS3.5 B.2 UUID form) so every modality of one order uses the same study. */
export function studyUidForOrder(key: string): string {
  const h = createHash('sha1').update(`edge-agent worklist study ${key}`).digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50; // version 5 (name-based)
  h[8] = (h[8]! & 0x3f) | 0x80; // RFC 4122 variant
  return `2.25.${BigInt(`0x${h.toString('hex')}`).toString(10)}`;
}

/** "Nguyễn Thị Hương" (HIS free text, family name first) → "Nguyễn^Thị Hương"; DICOM PN kept as is. */
export function personNameOf(name: string): string {
  const t = name.trim().replace(/\s+/g, ' ');
  if (t.includes('^')) return t;
  const space = t.indexOf(' ');
  return space < 0 ? t : `${t.slice(0, space)}^${t.slice(space + 1)}`;
}

function localParts(iso: string, timeZone: string): { date: string; time: string } | undefined {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return undefined;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(ms)
      .map((p) => [p.type, p.value]),
  );
  return { date: `${parts.year}${parts.month}${parts.day}`, time: `${parts.hour}${parts.minute}${parts.second}` };
}

function daOf(isoDate: string | undefined): string | undefined {
  if (!isoDate) return undefined;
  const d = isoDate.slice(0, 10).replace(/-/g, '');
  return /^\d{8}$/.test(d) ? d : undefined;
}

/** The worklist entries of one order: one Scheduled Procedure Step per requested item (or one for the order). */
export function worklistEntriesOf(order: LabOrder, options: WorklistOptions = {}): WorklistEntry[] {
  const tz = options.timezone ?? 'Asia/Ho_Chi_Minh';
  const at = order.scheduled?.at ?? order.orderedAt;
  const when = at ? localParts(at, tz) : undefined;
  const station = order.scheduled?.stationAeTitle ?? options.stationAeTitle;
  const accession = order.accessionNumber ?? order.orderId ?? order.specimenId;
  const items = order.items?.length
    ? order.items
    : [{ code: order.tests[0] ?? '', name: undefined as string | undefined, modality: undefined as string | undefined }];
  const set = (m: Map<number, string>, tag: number, v: string | undefined): void => {
    if (v !== undefined && v !== '') m.set(tag, v);
  };
  return items.map((item, i) => {
    const top = new Map<number, string>();
    set(top, 0x00100010, order.patientName ? personNameOf(order.patientName) : undefined);
    set(top, 0x00100020, order.patientId);
    set(top, 0x00100030, daOf(order.patientBirthDate));
    set(top, 0x00100040, order.patientSex?.toUpperCase().slice(0, 1));
    set(top, 0x00080050, accession?.slice(0, 16));
    set(top, 0x00401001, (order.orderId ?? accession)?.slice(0, 16)); // Requested Procedure ID
    set(top, 0x00321060, item.name ?? item.code); // Requested Procedure Description
    set(top, 0x0020000d, studyUidForOrder(accession ?? order.specimenId));
    set(top, 0x00401003, order.priority === 'S' ? 'STAT' : 'ROUTINE'); // Requested Procedure Priority
    set(top, 0x00402016, order.orderId); // Placer Order Number / Imaging Service Request
    set(top, 0x00080090, order.referringPhysician ? personNameOf(order.referringPhysician) : undefined);
    const step = new Map<number, string>();
    set(step, 0x00080060, (item.modality ?? options.defaultModality)?.toUpperCase());
    set(step, 0x00400001, station);
    set(step, 0x00400002, when?.date);
    set(step, 0x00400003, when?.time);
    set(step, 0x00400007, item.name ?? item.code); // Scheduled Procedure Step Description
    set(step, 0x00400009, `${(accession ?? '').slice(0, 12)}-${i + 1}`.slice(0, 16)); // Scheduled Procedure Step ID
    set(step, 0x00400010, order.scheduled?.stationName);
    set(step, 0x00400011, order.scheduled?.location);
    set(step, 0x00400020, 'SCHEDULED');
    // Modalities pick their protocol from these codes (the HIS's item code and name).
    const code = new Map<number, string>();
    set(code, 0x00080100, item.code.slice(0, 16)); // Code Value
    set(code, 0x00080102, options.codingScheme ?? '99HIS'); // Coding Scheme Designator
    set(code, 0x00080104, item.name ?? item.code); // Code Meaning
    const codes = new Map([
      [REQUESTED_PROCEDURE_CODE_SEQUENCE, code],
      [SCHEDULED_PROTOCOL_CODE_SEQUENCE, code],
    ]);
    return { top, step, codes: item.code ? codes : new Map(), anyStation: !station };
  });
}

// ---------------------------------------------------------------- matching (PS3.4 C.2.2.2)

const FOLD_DIACRITICS = /[\u0300-\u036f]/g;

/**
 * Person names match case-insensitively and, for Vietnamese, without diacritics: a modality
 * keyboard often cannot type "Ễ", and "NGUYEN*" must find "Nguyễn" (đ/Đ folded to d too).
 */
function foldName(s: string): string {
  return s.normalize('NFD').replace(FOLD_DIACRITICS, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').toUpperCase();
}

function wildcardRegex(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

/** Single value, wildcard, range (DA/TM/DT) and UID list matching of one key against a stored value. */
export function matchesKey(vr: string, key: string, value: string | undefined): boolean {
  if (key === '' || key === '*') return true; // universal matching
  if (vr === 'DA' || vr === 'TM' || vr === 'DT') {
    if (value === undefined) return false;
    if (key.includes('-')) {
      const [from, to] = key.split('-', 2) as [string, string];
      const v = vr === 'TM' ? value.replace(/:/g, '') : value;
      const norm = (x: string) => (vr === 'TM' ? x.replace(/:/g, '') : x);
      if (from && v.slice(0, norm(from).length) < norm(from)) return false;
      if (to && v.slice(0, norm(to).length) > norm(to)) return false;
      return true;
    }
    return vr === 'TM' ? value.replace(/:/g, '').startsWith(key.replace(/:/g, '')) : value === key;
  }
  if (value === undefined) return false;
  if (vr === 'UI') return key.split('\\').includes(value);
  const pn = vr === 'PN';
  const k = pn ? foldName(key) : key;
  const v = pn ? foldName(value) : value;
  if (k.includes('*') || k.includes('?')) return wildcardRegex(k).test(v);
  return k === v;
}

function keyText(e: DataElement, charset: CharacterSet): string {
  return decodeText(e.value, e.vr, charset);
}

function entryMatches(entry: WorklistEntry, identifier: readonly DataElement[], charset: CharacterSet): boolean {
  for (const e of identifier) {
    if (e.tag === SPECIFIC_CHARACTER_SET || (e.tag >>> 16) % 2 === 1) continue; // private keys are not matched
    if (e.tag === SCHEDULED_PROCEDURE_STEP_SEQUENCE) {
      const item = e.items?.[0];
      if (!item) continue;
      const itemCharset = characterSetOf(item, charset);
      for (const k of item) {
        if (k.tag === SPECIFIC_CHARACTER_SET) continue;
        if (k.items) {
          if (!codeSequenceMatches(entry, k, itemCharset)) return false;
          continue;
        }
        if (k.tag === 0x00400001 && entry.anyStation) continue;
        if (!matchesKey(vrOf(k), keyText(k, itemCharset), entry.step.get(k.tag))) return false;
      }
      continue;
    }
    if (e.items) {
      if (!codeSequenceMatches(entry, e, charset)) return false;
      continue;
    }
    if (!matchesKey(vrOf(e), keyText(e, charset), entry.top.get(e.tag))) return false;
  }
  return true;
}

/** Sequence matching (C.2.2.2.6): each key of the query's code item matches the entry's; an empty item, and other sequences, match all. */
function codeSequenceMatches(entry: WorklistEntry, key: DataElement, charset: CharacterSet): boolean {
  const item = key.items?.[0];
  if (!item || !CODE_SEQUENCES.has(key.tag)) return true;
  const known = entry.codes.get(key.tag);
  const itemCharset = characterSetOf(item, charset);
  return item.every((k) => k.items || k.tag === SPECIFIC_CHARACTER_SET || matchesKey(vrOf(k), keyText(k, itemCharset), known?.get(k.tag)));
}

/** A sequence key answered: the entry's item with the keys asked for (all it has when none were), or no item. */
function sequenceAnswer(entry: WorklistEntry, key: DataElement): DataElement {
  const known = entry.codes.get(key.tag);
  if (!known) return { tag: key.tag, vr: 'SQ', value: Buffer.alloc(0), items: [] };
  const asked = (key.items?.[0] ?? []).filter((k) => k.tag !== SPECIFIC_CHARACTER_SET && !k.items);
  const keys = asked.length > 0 ? asked : [...known.keys()].map((tag): DataElement => ({ tag, vr: implicitVr(tag), value: Buffer.alloc(0) }));
  return { tag: key.tag, vr: 'SQ', value: Buffer.alloc(0), items: [keys.map((k) => answerElement(k, known.get(k.tag))).sort((a, b) => a.tag - b.tag)] };
}

function vrOf(e: DataElement): string {
  return e.vr === 'UN' ? implicitVr(e.tag) : e.vr;
}

function answerElement(e: DataElement, value: string | undefined): DataElement {
  const vr = vrOf(e);
  if (value === undefined) return { tag: e.tag, vr, value: Buffer.alloc(0) };
  return { tag: e.tag, vr, value: padValue(Buffer.from(value.normalize('NFC'), 'utf8'), vr) };
}

function answerOf(entry: WorklistEntry, identifier: readonly DataElement[], charset: CharacterSet): DataElement[] {
  const out: DataElement[] = [utf8CharsetElement()];
  for (const e of identifier) {
    if (e.tag === SPECIFIC_CHARACTER_SET || (e.tag >>> 16) % 2 === 1) continue;
    if (e.tag === SCHEDULED_PROCEDURE_STEP_SEQUENCE) {
      const keys = e.items?.[0] ?? [];
      const itemCharset = characterSetOf(keys, charset);
      const item = keys
        .filter((k) => k.tag !== SPECIFIC_CHARACTER_SET)
        .map((k) => {
          if (k.items) return sequenceAnswer(entry, k);
          // No station AE in the order: answer with the one the modality asked for.
          const asked = k.tag === 0x00400001 && entry.anyStation ? trimValue(keyText(k, itemCharset), 'AE') : undefined;
          return answerElement(k, entry.step.get(k.tag) ?? (asked && !/[*?]/.test(asked) ? asked : undefined));
        });
      out.push({ tag: e.tag, vr: 'SQ', value: Buffer.alloc(0), items: [item.sort((a, b) => a.tag - b.tag)] });
      continue;
    }
    if (e.items) {
      out.push(sequenceAnswer(entry, e));
      continue;
    }
    out.push(answerElement(e, entry.top.get(e.tag)));
  }
  return out.sort((a, b) => a.tag - b.tag);
}

/**
 * C-FIND identifiers answering a Modality Worklist query: one per matching Scheduled Procedure
 * Step, holding exactly the keys asked for (zero length when unknown), in ISO_IR 192.
 * `charset` is the query's character set (default: its own (0008,0005)).
 */
export function matchWorklist(
  identifier: readonly DataElement[],
  orders: readonly LabOrder[],
  charset?: CharacterSet,
  options: WorklistOptions = {},
): DataElement[][] {
  const cs = charset ?? characterSetOf(identifier);
  const answers: DataElement[][] = [];
  const max = options.maxResults ?? 1000;
  for (const order of orders) {
    for (const entry of worklistEntriesOf(order, options)) {
      if (answers.length >= max) return answers;
      if (entryMatches(entry, identifier, cs)) answers.push(answerOf(entry, identifier, cs));
    }
  }
  return answers;
}

/** For logs: how many keys a query had, without the values (they hold names). */
export function describeQuery(identifier: readonly DataElement[]): string {
  const sps = findElement(identifier, SCHEDULED_PROCEDURE_STEP_SEQUENCE)?.items?.[0] ?? [];
  const set = (els: readonly DataElement[]) => els.filter((e) => e.value.length > 0 && !e.items).length;
  return `${identifier.length} keys (${set(identifier)} set), step ${sps.length} keys (${set(sps)} set)`;
}
