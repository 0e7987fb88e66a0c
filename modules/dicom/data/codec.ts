import { implicitVr, formatTag } from './dictionary.ts';
import type { DatasetEncoding } from './transferSyntaxes.ts';

/**
 * DICOM dataset reader and writer (PS3.5 section 7): tags, VRs, raw value bytes, sequences with
 * defined or undefined lengths, encapsulated pixel data. Values stay as the bytes received (no
 * number or text conversion here), so what the box forwards is what the modality sent.
 */

export interface DataElement {
  /** (group << 16 | element), unsigned. */
  tag: number;
  /** Two-letter VR: from the stream (explicit VR) or the dictionary (implicit VR; 'UN' if unknown). */
  vr: string;
  /** Value bytes as in the stream, in its byte order (empty for SQ and encapsulated pixel data). */
  value: Buffer;
  /** SQ items, each a dataset. */
  items?: DataElement[][];
  /** Encapsulated pixel data (PS3.5 A.4): the basic offset table item first, then the fragments. */
  fragments?: Buffer[];
  /** The element was encoded with undefined length (0xFFFFFFFF) and delimitation items. */
  undefinedLength?: boolean;
  /** Byte range of the whole element (header to end of value or delimiter) in the buffer read. */
  start?: number;
  end?: number;
}

export type DicomParseErrorCode = 'truncated' | 'bad-vr' | 'bad-item' | 'bad-length' | 'too-deep' | 'not-part10' | 'bad-meta' | 'bad-deflate';

/** Every failure to read DICOM bytes is this error; anything else thrown is a bug. */
export class DicomParseError extends Error {
  override readonly name = 'DicomParseError';
  constructor(
    readonly code: DicomParseErrorCode,
    message: string,
    /** Byte offset where reading failed. */
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
  }
}

export const ITEM = 0xfffee000;
export const ITEM_DELIMITATION = 0xfffee00d;
export const SEQUENCE_DELIMITATION = 0xfffee0dd;
export const PIXEL_DATA = 0x7fe00010;
const UNDEFINED = 0xffffffff;
/** Nested sequences beyond this depth are refused (real objects use fewer than 10). */
const MAX_DEPTH = 32;

/** VRs with a 2-byte reserved field and a 4-byte length in explicit VR (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const SHORT_VRS = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'PN', 'SH', 'SL', 'SS', 'ST', 'TM', 'UI', 'UL', 'US']);
/** String VRs are padded with a space to even length; UI and binary VRs with NUL (PS3.5 6.2). */
export const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UR', 'UT']);
/** String VRs whose text follows (0008,0005) Specific Character Set (PS3.5 6.1.2.3). */
export const CHARSET_VRS = new Set(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);

export function isKnownVr(vr: string): boolean {
  return LONG_VRS.has(vr) || SHORT_VRS.has(vr);
}

export interface ReadOptions {
  /** Byte offset to start at (default 0). */
  offset?: number;
  /** Stop (without error) before the first top-level element whose tag is >= this one. */
  stopAtTag?: number;
  /** Keep element byte ranges (start/end); default true. */
  ranges?: boolean;
}

export interface ReadResult {
  elements: DataElement[];
  /** Offset after the last element read (where stopAtTag stopped, or the end). */
  end: number;
}

/** Reads a whole dataset from bytes. Throws DicomParseError on malformed or truncated input. */
export function readDataset(bytes: Uint8Array, ts: DatasetEncoding, options: ReadOptions = {}): DataElement[] {
  return readDatasetWithEnd(bytes, ts, options).elements;
}

export function readDatasetWithEnd(bytes: Uint8Array, ts: DatasetEncoding, options: ReadOptions = {}): ReadResult {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = new DatasetReader(buf, options.ranges ?? true);
  const start = options.offset ?? 0;
  const { elements, end } = reader.readElements(start, buf.length, ts, 0, options.stopAtTag, false);
  return { elements, end };
}

/**
 * Reads one element at `offset` (with its whole sequence or fragments). Used by incremental
 * readers: a 'truncated' error means "give me more bytes".
 */
export function readElementAt(bytes: Buffer, offset: number, ts: DatasetEncoding): { element: DataElement; end: number } {
  const reader = new DatasetReader(bytes, true);
  return reader.readElement(offset, bytes.length, ts, 0);
}

export interface ElementHeader {
  tag: number;
  vr: string;
  /** Value length, or 0xFFFFFFFF for undefined. */
  length: number;
  headerLength: number;
}

/** Reads only an element's header; null when fewer bytes than a header are available. */
export function readElementHeader(bytes: Buffer, offset: number, ts: DatasetEncoding): ElementHeader | null {
  if (offset + 8 > bytes.length) return null;
  const tag = readTag(bytes, offset, ts.littleEndian);
  if (tag === ITEM || tag === ITEM_DELIMITATION || tag === SEQUENCE_DELIMITATION) {
    return { tag, vr: '', length: u32(bytes, offset + 4, ts.littleEndian), headerLength: 8 };
  }
  if (!ts.explicitVr) return { tag, vr: implicitVr(tag), length: u32(bytes, offset + 4, ts.littleEndian), headerLength: 8 };
  const vr = String.fromCharCode(bytes[offset + 4]!, bytes[offset + 5]!);
  if (LONG_VRS.has(vr)) {
    if (offset + 12 > bytes.length) return null;
    return { tag, vr, length: u32(bytes, offset + 8, ts.littleEndian), headerLength: 12 };
  }
  if (!SHORT_VRS.has(vr)) throw new DicomParseError('bad-vr', `unknown VR "${printable(vr)}" for ${formatTag(tag)}`, offset + 4);
  return { tag, vr, length: ts.littleEndian ? bytes.readUInt16LE(offset + 6) : bytes.readUInt16BE(offset + 6), headerLength: 8 };
}

function readTag(b: Buffer, o: number, le: boolean): number {
  return le ? ((b.readUInt16LE(o) << 16) | b.readUInt16LE(o + 2)) >>> 0 : ((b.readUInt16BE(o) << 16) | b.readUInt16BE(o + 2)) >>> 0;
}
function u32(b: Buffer, o: number, le: boolean): number {
  return le ? b.readUInt32LE(o) : b.readUInt32BE(o);
}
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}

/** Explicit VR LE: items inside a UN element of undefined length are implicit VR LE (PS3.5 6.2.2 note). */
const IMPLICIT_LE_ENC: DatasetEncoding = { explicitVr: false, littleEndian: true };

class DatasetReader {
  constructor(
    private readonly b: Buffer,
    private readonly ranges: boolean,
  ) {}

  /**
   * Elements from `pos` up to `limit`, or (when `untilDelimiter`) up to an item delimitation
   * item, returning the offset after it.
   */
  readElements(
    pos: number,
    limit: number,
    ts: DatasetEncoding,
    depth: number,
    stopAtTag: number | undefined,
    untilDelimiter: boolean,
  ): { elements: DataElement[]; end: number } {
    const elements: DataElement[] = [];
    while (pos < limit) {
      if (pos + 8 > limit) {
        // Trailing padding of fewer than 8 zero bytes after the last element is tolerated (seen in files from old modalities).
        if (!untilDelimiter && this.b.subarray(pos, limit).every((x) => x === 0)) return { elements, end: limit };
        throw new DicomParseError('truncated', 'element header cut short', pos);
      }
      const tag = readTag(this.b, pos, ts.littleEndian);
      if (tag === ITEM_DELIMITATION) {
        if (!untilDelimiter) throw new DicomParseError('bad-item', 'item delimitation outside an item', pos);
        return { elements, end: pos + 8 };
      }
      if (tag === ITEM || tag === SEQUENCE_DELIMITATION) throw new DicomParseError('bad-item', `${formatTag(tag)} where a data element was expected`, pos);
      if (stopAtTag !== undefined && depth === 0 && tag >= stopAtTag) return { elements, end: pos };
      const { element, end } = this.readElement(pos, limit, ts, depth);
      elements.push(element);
      pos = end;
    }
    if (untilDelimiter) throw new DicomParseError('truncated', 'item without its delimitation item', pos);
    return { elements, end: pos };
  }

  readElement(pos: number, limit: number, ts: DatasetEncoding, depth: number): { element: DataElement; end: number } {
    if (depth > MAX_DEPTH) throw new DicomParseError('too-deep', `sequences nested deeper than ${MAX_DEPTH}`, pos);
    const header = readElementHeader(this.b, pos, ts);
    if (!header || pos + header.headerLength > limit) throw new DicomParseError('truncated', 'element header cut short', pos);
    const { tag, length } = header;
    let { vr } = header;
    const valueStart = pos + header.headerLength;
    if (length === UNDEFINED) {
      if (tag === PIXEL_DATA || (ts.explicitVr && (vr === 'OB' || vr === 'OW'))) {
        const { fragments, end } = this.readFragments(valueStart, limit, ts);
        return { element: this.made({ tag, vr, value: Buffer.alloc(0), fragments, undefinedLength: true }, pos, end), end };
      }
      if (vr === 'SQ' || vr === 'UN' || !ts.explicitVr) {
        // UN with undefined length is a sequence encoded in implicit VR LE (PS3.5 6.2.2).
        const itemEnc = vr === 'UN' && ts.explicitVr ? IMPLICIT_LE_ENC : ts;
        if (!ts.explicitVr) vr = 'SQ';
        const { items, end } = this.readItems(valueStart, limit, itemEnc, depth, true);
        return { element: this.made({ tag, vr: vr === 'UN' ? 'SQ' : vr, value: Buffer.alloc(0), items, undefinedLength: true }, pos, end), end };
      }
      throw new DicomParseError('bad-length', `undefined length on ${vr} ${formatTag(tag)}`, pos);
    }
    const valueEnd = valueStart + length;
    if (valueEnd > limit) throw new DicomParseError('truncated', `value of ${formatTag(tag)} (${length} bytes) runs past the end`, pos);
    if (vr === 'SQ') {
      const { items } = this.readItems(valueStart, valueEnd, ts, depth, false);
      return { element: this.made({ tag, vr, value: Buffer.alloc(0), items }, pos, valueEnd), end: valueEnd };
    }
    return { element: this.made({ tag, vr, value: this.b.subarray(valueStart, valueEnd) }, pos, valueEnd), end: valueEnd };
  }

  private made(e: DataElement, start: number, end: number): DataElement {
    if (this.ranges) {
      e.start = start;
      e.end = end;
    }
    return e;
  }

  private readItems(pos: number, limit: number, ts: DatasetEncoding, depth: number, undefinedLength: boolean): { items: DataElement[][]; end: number } {
    const items: DataElement[][] = [];
    for (;;) {
      if (!undefinedLength && pos === limit) return { items, end: pos };
      if (pos + 8 > limit) throw new DicomParseError('truncated', 'sequence cut short', pos);
      const tag = readTag(this.b, pos, ts.littleEndian);
      const length = u32(this.b, pos + 4, ts.littleEndian);
      if (tag === SEQUENCE_DELIMITATION) {
        if (!undefinedLength) throw new DicomParseError('bad-item', 'sequence delimitation in a defined-length sequence', pos);
        return { items, end: pos + 8 };
      }
      if (tag !== ITEM) throw new DicomParseError('bad-item', `${formatTag(tag)} where a sequence item was expected`, pos);
      if (length === UNDEFINED) {
        const { elements, end } = this.readElements(pos + 8, limit, ts, depth + 1, undefined, true);
        items.push(elements);
        pos = end;
      } else {
        const end = pos + 8 + length;
        if (end > limit) throw new DicomParseError('truncated', 'item runs past its sequence', pos);
        items.push(this.readElements(pos + 8, end, ts, depth + 1, undefined, false).elements);
        pos = end;
      }
    }
  }

  private readFragments(pos: number, limit: number, ts: DatasetEncoding): { fragments: Buffer[]; end: number } {
    const fragments: Buffer[] = [];
    for (;;) {
      if (pos + 8 > limit) throw new DicomParseError('truncated', 'encapsulated pixel data cut short', pos);
      const tag = readTag(this.b, pos, ts.littleEndian);
      const length = u32(this.b, pos + 4, ts.littleEndian);
      if (tag === SEQUENCE_DELIMITATION) return { fragments, end: pos + 8 };
      if (tag !== ITEM) throw new DicomParseError('bad-item', `${formatTag(tag)} inside encapsulated pixel data`, pos);
      if (length === UNDEFINED || pos + 8 + length > limit) throw new DicomParseError('truncated', 'pixel data fragment runs past the end', pos);
      fragments.push(this.b.subarray(pos + 8, pos + 8 + length));
      pos += 8 + length;
    }
  }
}

// ---------------------------------------------------------------- writing

/**
 * Encodes elements in `ts`. Value bytes are written as they are (they must already be in the
 * target byte order and padded: use the builders or padValue). Sequences keep
 * undefined length when read that way; elements should be in ascending tag order.
 */
export function writeDataset(elements: readonly DataElement[], ts: DatasetEncoding): Buffer {
  const parts: Buffer[] = [];
  writeElements(elements, ts, parts, 0);
  return Buffer.concat(parts);
}

function writeElements(elements: readonly DataElement[], ts: DatasetEncoding, out: Buffer[], depth: number): void {
  for (const e of elements) writeElement(e, ts, out, depth);
}

function tagBytes(tag: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) {
    b.writeUInt16LE(tag >>> 16, 0);
    b.writeUInt16LE(tag & 0xffff, 2);
  } else {
    b.writeUInt16BE(tag >>> 16, 0);
    b.writeUInt16BE(tag & 0xffff, 2);
  }
  return b;
}

function itemHeader(tag: number, length: number, le: boolean): Buffer {
  const b = Buffer.alloc(8);
  tagBytes(tag, le).copy(b, 0);
  if (le) b.writeUInt32LE(length, 4);
  else b.writeUInt32BE(length, 4);
  return b;
}

function elementHeader(tag: number, vr: string, length: number, ts: DatasetEncoding): Buffer {
  const le = ts.littleEndian;
  if (!ts.explicitVr) return itemHeader(tag, length, le);
  if (LONG_VRS.has(vr)) {
    const b = Buffer.alloc(12);
    tagBytes(tag, le).copy(b, 0);
    b.write(vr, 4, 'latin1');
    if (le) b.writeUInt32LE(length, 8);
    else b.writeUInt32BE(length, 8);
    return b;
  }
  if (length > 0xffff) throw new RangeError(`${vr} value of ${formatTag(tag)} is ${length} bytes; at most 65534 fit`);
  const b = Buffer.alloc(8);
  tagBytes(tag, le).copy(b, 0);
  b.write(vr, 4, 'latin1');
  if (le) b.writeUInt16LE(length, 6);
  else b.writeUInt16BE(length, 6);
  return b;
}

/** Pads a value to even length as PS3.5 6.2 asks (space for strings, NUL for UI and binary). */
export function padValue(value: Buffer, vr: string): Buffer {
  if (value.length % 2 === 0) return value;
  return Buffer.concat([value, Buffer.from([STRING_VRS.has(vr) ? 0x20 : 0x00])]);
}

function writeElement(e: DataElement, ts: DatasetEncoding, out: Buffer[], depth: number): void {
  if (depth > MAX_DEPTH) throw new RangeError('sequences nested too deep to write');
  const le = ts.littleEndian;
  if (e.fragments) {
    out.push(elementHeader(e.tag, e.vr === 'OW' && ts.explicitVr ? 'OW' : e.vr || 'OB', UNDEFINED, ts));
    for (const f of e.fragments) {
      out.push(itemHeader(ITEM, f.length, le), f);
    }
    out.push(itemHeader(SEQUENCE_DELIMITATION, 0, le));
    return;
  }
  if (e.items) {
    const vr = 'SQ';
    if (e.undefinedLength) {
      out.push(elementHeader(e.tag, vr, UNDEFINED, ts));
      for (const item of e.items) {
        out.push(itemHeader(ITEM, UNDEFINED, le));
        writeElements(item, ts, out, depth + 1);
        out.push(itemHeader(ITEM_DELIMITATION, 0, le));
      }
      out.push(itemHeader(SEQUENCE_DELIMITATION, 0, le));
    } else {
      const itemBufs = e.items.map((item) => {
        const parts: Buffer[] = [];
        writeElements(item, ts, parts, depth + 1);
        const body = Buffer.concat(parts);
        return Buffer.concat([itemHeader(ITEM, body.length, le), body]);
      });
      const total = itemBufs.reduce((n, b) => n + b.length, 0);
      out.push(elementHeader(e.tag, vr, total, ts), ...itemBufs);
    }
    return;
  }
  // Values read from a stream are written as they came, odd lengths included (byte identity);
  // the element builders below pad new values.
  const value = e.value;
  out.push(elementHeader(e.tag, ts.explicitVr ? e.vr : '', value.length, ts), value);
}

// ---------------------------------------------------------------- building and reading values

export function findElement(elements: readonly DataElement[], tag: number): DataElement | undefined {
  // Datasets are small at the top level (tens to hundreds of elements): a scan is fine.
  for (const e of elements) if (e.tag === tag) return e;
  return undefined;
}

/** Raw text of a value with padding removed (ASCII/Latin-1 view; use charset.ts for person names and descriptions). */
export function getString(elements: readonly DataElement[], tag: number): string | undefined {
  const e = findElement(elements, tag);
  if (!e || e.items || e.fragments) return undefined;
  return trimValue(e.value.toString('latin1'), e.vr);
}

/** Removes the padding a VR allows: trailing NUL for UI, trailing spaces for strings, leading spaces where PS3.5 6.2 permits. */
export function trimValue(text: string, vr: string): string {
  if (vr === 'UI') return text.replace(/[\0 ]+$/, '');
  if (vr === 'LT' || vr === 'ST' || vr === 'UT' || vr === 'UR') return text.replace(/[\0 ]+$/, '');
  return text.replace(/\0+$/, '').trim();
}

export function getUid(elements: readonly DataElement[], tag: number): string | undefined {
  const s = getString(elements, tag);
  return s === undefined || s === '' ? undefined : s;
}

/** First value of a numeric element (US, SS, UL, SL, FL, FD, or IS/DS text), or undefined. */
export function getNumber(elements: readonly DataElement[], tag: number, littleEndian = true): number | undefined {
  const e = findElement(elements, tag);
  if (!e || e.items || e.fragments) return undefined;
  const v = e.value;
  const le = littleEndian;
  switch (e.vr) {
    case 'US':
      return v.length >= 2 ? (le ? v.readUInt16LE(0) : v.readUInt16BE(0)) : undefined;
    case 'SS':
      return v.length >= 2 ? (le ? v.readInt16LE(0) : v.readInt16BE(0)) : undefined;
    case 'UL':
      return v.length >= 4 ? (le ? v.readUInt32LE(0) : v.readUInt32BE(0)) : undefined;
    case 'SL':
      return v.length >= 4 ? (le ? v.readInt32LE(0) : v.readInt32BE(0)) : undefined;
    case 'FL':
      return v.length >= 4 ? (le ? v.readFloatLE(0) : v.readFloatBE(0)) : undefined;
    case 'FD':
      return v.length >= 8 ? (le ? v.readDoubleLE(0) : v.readDoubleBE(0)) : undefined;
    case 'IS':
    case 'DS': {
      const first = v.toString('latin1').split('\\')[0]!.trim();
      if (first === '') return undefined;
      const n = Number(first);
      return Number.isFinite(n) ? n : undefined;
    }
    default:
      return undefined;
  }
}

/** An element holding text (ASCII/Latin-1 bytes as given; charset-aware encoding is in charset.ts). */
export function stringElement(tag: number, vr: string, text: string): DataElement {
  return { tag, vr, value: padValue(Buffer.from(text, 'latin1'), vr) };
}

export function bytesElement(tag: number, vr: string, value: Buffer): DataElement {
  return { tag, vr, value: padValue(value, vr) };
}

export function usElement(tag: number, n: number, littleEndian = true): DataElement {
  const value = Buffer.alloc(2);
  if (littleEndian) value.writeUInt16LE(n);
  else value.writeUInt16BE(n);
  return { tag, vr: 'US', value };
}

export function ulElement(tag: number, n: number, littleEndian = true): DataElement {
  const value = Buffer.alloc(4);
  if (littleEndian) value.writeUInt32LE(n);
  else value.writeUInt32BE(n);
  return { tag, vr: 'UL', value };
}

export function sequenceElement(tag: number, items: DataElement[][]): DataElement {
  return { tag, vr: 'SQ', value: Buffer.alloc(0), items };
}

/**
 * A DIMSE command set (PS3.7 6.3.1): implicit VR LE with (0000,0000) CommandGroupLength
 * computed over the other elements. Give the elements without the group length.
 */
export function writeCommandSet(elements: readonly DataElement[]): Buffer {
  const ts: DatasetEncoding = { explicitVr: false, littleEndian: true };
  const sorted = elements.filter((e) => e.tag !== 0).sort((a, b) => a.tag - b.tag);
  const body = writeDataset(sorted, ts);
  return Buffer.concat([writeDataset([ulElement(0x00000000, body.length)], ts), body]);
}

/**
 * The encoding a dataset really uses. Some writers label a dataset explicit VR but write it
 * implicit (pydicom's SC_rgb_jpeg.dcm, old JPEG writers); pydicom and DCMTK both look at the
 * first element's VR bytes, and so does this.
 */
export function sniffEncoding(bytes: Buffer, offset: number, ts: DatasetEncoding): DatasetEncoding {
  if (offset + 8 > bytes.length) return ts;
  const vr = String.fromCharCode(bytes[offset + 4]!, bytes[offset + 5]!);
  if (ts.explicitVr && !isKnownVr(vr)) return { explicitVr: false, littleEndian: ts.littleEndian };
  if (!ts.explicitVr && isKnownVr(vr) && readTag(bytes, offset, ts.littleEndian) !== ITEM) return { explicitVr: true, littleEndian: ts.littleEndian };
  return ts;
}
