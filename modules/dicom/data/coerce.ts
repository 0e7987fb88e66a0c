import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { ORDER_CACHE_SERVICE, type LabOrder } from '../../lab/index.ts';
import type { ServiceRegistry } from '../../../core/contract/driver.ts';
import { CHARSET_VRS, STRING_VRS, padValue, writeDataset } from './codec.ts';
import type { DataElement } from './codec.ts';
import { characterSetOf, decodeText, SPECIFIC_CHARACTER_SET, utf8CharsetElement } from './charset.ts';
import type { CharacterSet } from './charset.ts';
import { parseTag, formatTag, dictionaryEntry } from './dictionary.ts';
import { scanDataset } from './instanceMeta.ts';
import type { DatasetEncoding } from './transferSyntaxes.ts';

/**
 * Tag coercion for one destination (what commercial routers call tag morphing): set the
 * Institution Name, fill the Patient ID from the HIS order found by Accession Number... The
 * stored original is never touched; the forwarded copy is the original's bytes with only the
 * changed top-level elements re-encoded, everything else (private tags, pixel data, odd
 * encodings) byte for byte.
 */

export type OrderField = 'patientId' | 'patientName' | 'patientBirthDate' | 'patientSex' | 'accessionNumber' | 'orderId';

export interface CoercionRule {
  /** Keyword ("InstitutionName") or tag ("0008,0080"). Top-level elements only. */
  tag: string | number;
  /** Text to set. */
  value?: string;
  /** Take the value from the order whose accession number is the instance's (0008,0050). */
  fromOrder?: OrderField;
  /** 'always' (default) or only when the element is missing or empty. */
  when?: 'always' | 'empty';
  /** Remove the element instead. */
  remove?: boolean;
}

export interface CoercionContext {
  /** Finds the order for an accession number (the order cache). */
  orderByAccession?: (accessionNumber: string) => LabOrder | undefined;
}

/** The coercion context for a destination: orders from the agent's order cache, when there is one. */
export function coercionContextFrom(services: ServiceRegistry | undefined): CoercionContext {
  return {
    orderByAccession: (accessionNumber) => services?.get(ORDER_CACHE_SERVICE)?.findByAccession?.(accessionNumber),
  };
}

export class CoercionError extends Error {
  override readonly name = 'CoercionError';
}

export interface CoercionResult {
  /** The new dataset head: elements before `end`, rewritten. */
  bytes: Buffer;
  /** Tags changed, added or removed (for the log; no values). */
  changed: number[];
}

function resolveTag(tag: string | number): number {
  return typeof tag === 'number' ? tag >>> 0 : parseTag(tag);
}

function orderValue(order: LabOrder, field: OrderField): string | undefined {
  const v = order[field];
  if (v === undefined || v === '') return undefined;
  if (field === 'patientBirthDate') return v.slice(0, 10).replace(/-/g, '');
  if (field === 'patientSex') return v.toUpperCase().slice(0, 1);
  if (field === 'patientName' && !v.includes('^')) {
    const t = v.trim().replace(/\s+/g, ' ');
    const i = t.indexOf(' ');
    return i < 0 ? t : `${t.slice(0, i)}^${t.slice(i + 1)}`;
  }
  return v;
}

const PLAIN_ENCODINGS: Record<string, string> = {
  '': 'ascii',
  'ISO_IR 6': 'ascii',
  'ISO_IR 100': 'latin1',
  'ISO_IR 192': 'utf8',
  'ISO_IR 101': 'iso-8859-2',
  'ISO_IR 144': 'iso-8859-5',
  'ISO_IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  GB18030: 'gb18030',
};

/** Encodes text for the dataset's character set; null when the set cannot represent it. */
function encodeFor(text: string, vr: string, charset: CharacterSet): Buffer | null {
  const nfc = text.normalize('NFC');
  if (!CHARSET_VRS.has(vr)) return /^[\x20-\x7e]*$/.test(nfc) ? padValue(Buffer.from(nfc, 'latin1'), vr) : null;
  if (charset.length > 1 || charset.some((t) => t.startsWith('ISO 2022'))) return /^[\x20-\x7e]*$/.test(nfc) ? padValue(Buffer.from(nfc, 'latin1'), vr) : null;
  const enc = PLAIN_ENCODINGS[charset[0] ?? ''];
  if (!enc) return null;
  if (enc === 'ascii') return /^[\x00-\x7f]*$/.test(nfc) ? padValue(Buffer.from(nfc, 'latin1'), vr) : null;
  const bytes = iconv.encode(nfc, enc);
  return iconv.decode(bytes, enc) === nfc ? padValue(bytes, vr) : null;
}

function isAscii(el: DataElement): boolean {
  if (el.items) return el.items.every((item) => item.every(isAscii));
  if (!CHARSET_VRS.has(el.vr)) return true;
  return !el.value.some((b) => b >= 0x80 || b === 0x1b);
}

/**
 * Applies rules to top-level elements (with byte ranges from readDataset or scanDataset over
 * `source`). Returns the rewritten bytes of the range the elements cover.
 */
export function coerce(
  elements: readonly DataElement[],
  rules: readonly CoercionRule[],
  source: Buffer,
  encoding: DatasetEncoding,
  context: CoercionContext = {},
): CoercionResult {
  if (elements.some((e) => e.start === undefined || e.end === undefined)) throw new CoercionError('elements need byte ranges (read with ranges: true)');
  let charset = characterSetOf(elements);
  const current = new Map<number, DataElement>(elements.map((e) => [e.tag, e]));
  const replaced = new Map<number, DataElement | null>(); // null: removed
  const text = (tag: number): string | undefined => {
    const e = replaced.has(tag) ? replaced.get(tag) : current.get(tag);
    return e && !e.items ? decodeText(e.value, e.vr, charset) : undefined;
  };
  const accession = text(0x00080050);
  let order: LabOrder | undefined;
  let orderLooked = false;
  for (const rule of rules) {
    const tag = resolveTag(rule.tag);
    if (tag >>> 16 === 0x0002 || tag === SPECIFIC_CHARACTER_SET || tag === 0x7fe00010) throw new CoercionError(`${formatTag(tag)} cannot be coerced`);
    if (rule.remove) {
      if (current.has(tag) || replaced.get(tag)) replaced.set(tag, null);
      continue;
    }
    if ((rule.when ?? 'always') === 'empty' && (text(tag) ?? '') !== '') continue;
    let value = rule.value;
    if (rule.fromOrder) {
      if (!orderLooked) {
        order = accession ? context.orderByAccession?.(accession) : undefined;
        orderLooked = true;
      }
      value = order ? orderValue(order, rule.fromOrder) : undefined;
    }
    if (value === undefined) continue;
    const vr = current.get(tag)?.vr ?? dictionaryEntry(tag)?.vr ?? 'UN';
    if (!STRING_VRS.has(vr)) throw new CoercionError(`${formatTag(tag)} has VR ${vr}; only text elements can be coerced`);
    let bytes = encodeFor(value, vr, charset);
    if (!bytes && (charset[0] ?? '') === '' && charset.length <= 1 && [...current.values()].every(isAscii)) {
      // Everything else is ASCII: declaring UTF-8 changes no other element's meaning.
      charset = ['ISO_IR 192'];
      replaced.set(SPECIFIC_CHARACTER_SET, utf8CharsetElement());
      bytes = encodeFor(value, vr, charset);
    }
    if (!bytes) throw new CoercionError(`${formatTag(tag)}: the value cannot be written in the instance's character set ${charset.join('\\') || 'ISO_IR 6'}`);
    if (bytes.length > 0xfffe && !['UC', 'UR', 'UT'].includes(vr)) throw new CoercionError(`${formatTag(tag)}: value too long`);
    const prev = current.get(tag);
    if (prev && !prev.items && prev.value.equals(bytes) && !replaced.has(tag)) continue;
    replaced.set(tag, { tag, vr, value: bytes });
  }

  const parts: Buffer[] = [];
  const changed: number[] = [];
  const pendingNew = [...replaced.entries()]
    .filter(([tag, el]) => el && !current.has(tag))
    .map(([, el]) => el!)
    .sort((a, b) => a.tag - b.tag);
  let n = 0;
  for (const e of elements) {
    while (n < pendingNew.length && pendingNew[n]!.tag < e.tag) {
      parts.push(writeDataset([pendingNew[n]!], encoding));
      changed.push(pendingNew[n]!.tag);
      n++;
    }
    if (replaced.has(e.tag)) {
      const r = replaced.get(e.tag);
      if (r) parts.push(writeDataset([r], encoding));
      changed.push(e.tag);
    } else {
      parts.push(source.subarray(e.start!, e.end!));
    }
  }
  for (; n < pendingNew.length; n++) {
    parts.push(writeDataset([pendingNew[n]!], encoding));
    changed.push(pendingNew[n]!.tag);
  }
  return { bytes: Buffer.concat(parts), changed };
}

export interface CoercedFile {
  /** Total bytes of the coerced Part 10 file. */
  size: number;
  changed: number[];
  /** The coerced file as a stream: header and rewritten head from memory, the rest (pixel data) from the original file. */
  stream(): Readable;
}

/**
 * The coerced copy of a stored Part 10 file, without writing it anywhere: the file meta is
 * kept as is (the SOP Instance UID does not change), elements before the pixel data are
 * rewritten as needed, and the pixel data is streamed from the original. Deflated datasets
 * are refused (re-deflating would change every byte).
 */
export async function coercePart10(path: string, rules: readonly CoercionRule[], context: CoercionContext = {}, storedSize?: number): Promise<CoercedFile> {
  const scan = await scanDataset(path, storedSize === undefined ? {} : { size: storedSize });
  if (scan.deflated) throw new CoercionError('deflated datasets are not coerced; send them unchanged or to a destination without rules');
  const headLength = scan.part10.datasetOffset + scan.stoppedAt;
  const fh = await open(path, 'r');
  let head: Buffer;
  let fileSize: number;
  try {
    fileSize = storedSize ?? (await fh.stat()).size;
    head = Buffer.alloc(headLength);
    await fh.read(head, 0, headLength, 0);
  } finally {
    await fh.close();
  }
  // Ranges from scanDataset are relative to the dataset start; values skipped as large are copied by range too.
  const dataset = head.subarray(scan.part10.datasetOffset);
  const { bytes, changed } = coerce(scan.elements, rules, dataset, scan.encoding, context);
  const prefix = Buffer.concat([head.subarray(0, scan.part10.datasetOffset), bytes]);
  const size = prefix.length + (fileSize - headLength);
  return {
    size,
    changed,
    stream: () => {
      async function* gen(): AsyncGenerator<Buffer> {
        yield prefix;
        if (fileSize > headLength) yield* createReadStream(path, { start: headLength, end: fileSize - 1, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>;
      }
      return Readable.from(gen());
    },
  };
}
