import iconv from 'iconv-lite';
import { CHARSET_VRS, padValue, trimValue } from './codec.ts';
import type { DataElement } from './codec.ts';

/**
 * Text by (0008,0005) Specific Character Set (PS3.3 C.12.1.1.2, PS3.5 6.1). dcmjs mis-decodes
 * UTF-8 inside sequences and dicom-parser reads everything as Latin-1 (specs/dicom.md), so the
 * box decodes its own text: single-byte sets, UTF-8, GB18030/GBK, and ISO 2022 code extensions
 * (escape sequences switching G0/G1) for Japanese, Korean, Chinese and the ISO 8859 parts.
 * Output is NFC so Vietnamese names compare equal whatever the sender's normalisation.
 */

/** The defined terms of (0008,0005), in order; an empty first term means the default repertoire. */
export type CharacterSet = readonly string[];

export const DEFAULT_CHARSET: CharacterSet = [''];
export const UTF8_CHARSET: CharacterSet = ['ISO_IR 192'];
export const SPECIFIC_CHARACTER_SET = 0x00080005;

/** Single-byte or multi-byte sets without code extensions: defined term → iconv-lite encoding. */
const PLAIN: Record<string, string> = {
  'ISO_IR 6': 'latin1',
  'ISO_IR 100': 'latin1',
  'ISO_IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO_IR 13': 'shift_jis', // JIS X 0201: romaji + half-width katakana, single bytes
  'ISO_IR 166': 'tis-620',
  'ISO_IR 192': 'utf8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/** ISO 2022 G1 single-byte sets: the upper half of an ISO 8859 part (escape "ESC - F"). */
const G1_SINGLE: Record<string, string> = {
  'ISO 2022 IR 100': 'latin1',
  'ISO 2022 IR 101': 'iso-8859-2',
  'ISO 2022 IR 109': 'iso-8859-3',
  'ISO 2022 IR 110': 'iso-8859-4',
  'ISO 2022 IR 144': 'iso-8859-5',
  'ISO 2022 IR 127': 'iso-8859-6',
  'ISO 2022 IR 126': 'iso-8859-7',
  'ISO 2022 IR 138': 'iso-8859-8',
  'ISO 2022 IR 148': 'iso-8859-9',
  'ISO 2022 IR 203': 'iso-8859-15',
  'ISO 2022 IR 166': 'tis-620',
  'ISO 2022 IR 13': 'shift_jis',
};

/** Code elements an escape sequence selects (PS3.3 Table C.12-3/-4). */
type CodeElement =
  | { kind: 'ascii' }
  | { kind: 'single'; encoding: string } // bytes decoded as they are (G1 upper half or JIS X 0201)
  | { kind: 'jis0208' } // 94x94 in G0: two 7-bit bytes (PS3.3 C.12.1.1.2, ISO 2022 IR 87)
  | { kind: 'jis0212' }
  | { kind: 'euc'; encoding: string }; // 94x94 in G1 (KS X 1001, GB 2312): bytes with the high bit

const ESCAPES: Array<[string, CodeElement]> = [
  ['\x1b(B', { kind: 'ascii' }],
  ['\x1b(J', { kind: 'ascii' }], // JIS X 0201 romaji: ASCII but for yen sign and overline
  ['\x1b)I', { kind: 'single', encoding: 'shift_jis' }],
  ['\x1b$B', { kind: 'jis0208' }],
  ['\x1b$(D', { kind: 'jis0212' }],
  ['\x1b$)C', { kind: 'euc', encoding: 'euc-kr' }],
  ['\x1b$)A', { kind: 'euc', encoding: 'gb2312' }],
  ['\x1b-A', { kind: 'single', encoding: 'latin1' }],
  ['\x1b-B', { kind: 'single', encoding: 'iso-8859-2' }],
  ['\x1b-C', { kind: 'single', encoding: 'iso-8859-3' }],
  ['\x1b-D', { kind: 'single', encoding: 'iso-8859-4' }],
  ['\x1b-L', { kind: 'single', encoding: 'iso-8859-5' }],
  ['\x1b-G', { kind: 'single', encoding: 'iso-8859-6' }],
  ['\x1b-F', { kind: 'single', encoding: 'iso-8859-7' }],
  ['\x1b-H', { kind: 'single', encoding: 'iso-8859-8' }],
  ['\x1b-M', { kind: 'single', encoding: 'iso-8859-9' }],
  ['\x1b-b', { kind: 'single', encoding: 'iso-8859-15' }],
  ['\x1b-T', { kind: 'single', encoding: 'tis-620' }],
];

/** Reads (0008,0005) from a dataset; `inherited` when the dataset (a sequence item) has none. */
export function characterSetOf(elements: readonly DataElement[], inherited: CharacterSet = DEFAULT_CHARSET): CharacterSet {
  const e = elements.find((x) => x.tag === SPECIFIC_CHARACTER_SET);
  if (!e) return inherited;
  return parseCharacterSet(e.value.toString('latin1'));
}

export function parseCharacterSet(value: string): CharacterSet {
  const terms = value
    .replace(/\0/g, '')
    .split('\\')
    .map((t) =>
      t
        .trim()
        .toUpperCase()
        .replace(/^ISO-IR/, 'ISO_IR'),
    );
  // Some writers use "ISO-IR 100" or "ISO IR 192"; accept the obvious misspellings.
  return terms.map((t) => t.replace(/^ISO IR /, 'ISO_IR ').replace(/^ISO_IR_/, 'ISO_IR '));
}

export interface DecodeOptions {
  /**
   * With no (0008,0005) the repertoire is ASCII, but many modalities in Vietnam send UTF-8
   * without declaring it: valid UTF-8 is decoded as UTF-8, anything else as Latin-1 (default on).
   */
  undeclaredUtf8?: boolean;
}

/** Decodes a string value (already without its padding rules applied) to NFC text. */
export function decodeText(bytes: Buffer, vr: string, charset: CharacterSet, options: DecodeOptions = {}): string {
  if (!CHARSET_VRS.has(vr)) return trimValue(bytes.toString('latin1'), vr);
  return trimValue(decodeBytes(bytes, vr, charset, options), vr).normalize('NFC');
}

function decodeBytes(bytes: Buffer, vr: string, charset: CharacterSet, options: DecodeOptions): string {
  const first = charset[0] ?? '';
  const isIso2022 = charset.some((t) => t.startsWith('ISO 2022'));
  if (!isIso2022) {
    if (first === '' || first === 'ISO_IR 6') return decodeUndeclared(bytes, options);
    const enc = PLAIN[first];
    if (enc) return iconv.decode(bytes, enc);
    return decodeUndeclared(bytes, options);
  }
  return decodeIso2022(bytes, vr, charset);
}

function decodeUndeclared(bytes: Buffer, options: DecodeOptions): string {
  if (!bytes.some((b) => b >= 0x80)) return bytes.toString('latin1');
  if (options.undeclaredUtf8 ?? true) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      // not UTF-8: Latin-1 is the most common undeclared 8-bit set from western modalities
    }
  }
  return bytes.toString('latin1');
}

/**
 * ISO 2022 with code extensions: the first term selects the initial G0/G1 sets; escape sequences
 * switch; the state returns to the initial one at each value delimiter ('\') and, for PN, at
 * each component group ('=') and component ('^') delimiter (PS3.5 6.1.2.5.3).
 */
function decodeIso2022(bytes: Buffer, vr: string, charset: CharacterSet): string {
  const first = charset[0] ?? '';
  const initialG1: CodeElement = G1_SINGLE[first] ? { kind: 'single', encoding: G1_SINGLE[first]! } : { kind: 'ascii' };
  const initialG0: CodeElement = first === 'ISO 2022 IR 13' ? { kind: 'single', encoding: 'shift_jis' } : { kind: 'ascii' };
  const resets = vr === 'PN' ? new Set([0x5c, 0x3d, 0x5e]) : new Set([0x5c, 0x0d, 0x0a, 0x09, 0x0c]);
  let g0: CodeElement = initialG0;
  let g1: CodeElement = initialG1;
  let out = '';
  let run: number[] = [];
  let runG0: CodeElement = g0;
  let runG1: CodeElement = g1;
  const flush = (): void => {
    if (run.length) out += decodeRun(Buffer.from(run), runG0, runG1);
    run = [];
  };
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b === 0x1b) {
      const esc = ESCAPES.find(([seq]) => bytes.toString('latin1', i, i + seq.length) === seq);
      flush();
      if (!esc) {
        i++; // unknown escape: drop the ESC, keep the rest as text
        continue;
      }
      const el = esc[1];
      // 94x94 sets with "$)" and the ISO 8859 upper halves go to G1; the others to G0.
      if (el.kind === 'euc' || (el.kind === 'single' && esc[0][1] === '-')) g1 = el;
      else if (esc[0] === '\x1b)I') g1 = el;
      else g0 = el;
      runG0 = g0;
      runG1 = g1;
      i += esc[0].length;
      continue;
    }
    if (resets.has(b) && g0.kind !== 'jis0208' && g0.kind !== 'jis0212') {
      flush();
      out += String.fromCharCode(b);
      g0 = initialG0;
      g1 = initialG1;
      runG0 = g0;
      runG1 = g1;
      i++;
      continue;
    }
    run.push(b);
    i++;
  }
  flush();
  return out;
}

function decodeRun(run: Buffer, g0: CodeElement, g1: CodeElement): string {
  // Split the run into G0 (high bit clear) and G1 (high bit set) stretches.
  let out = '';
  let start = 0;
  const isHigh = (x: number): boolean => x >= 0x80;
  while (start < run.length) {
    const high = isHigh(run[start]!);
    let end = start;
    while (end < run.length && isHigh(run[end]!) === high) end++;
    const part = run.subarray(start, end);
    out += decodeWith(part, high ? g1 : g0, high);
    start = end;
  }
  return out;
}

function decodeWith(part: Buffer, el: CodeElement, high: boolean): string {
  switch (el.kind) {
    case 'ascii':
      return part.toString('latin1');
    case 'single':
      return iconv.decode(part, el.encoding);
    case 'jis0208':
      // 7-bit JIS X 0208 pairs are EUC-JP with the high bit set.
      return iconv.decode(Buffer.from(Uint8Array.from(part, (x) => x | 0x80)), 'euc-jp');
    case 'jis0212': {
      const euc: number[] = [];
      for (let k = 0; k + 1 < part.length; k += 2) euc.push(0x8f, part[k]! | 0x80, part[k + 1]! | 0x80);
      return iconv.decode(Buffer.from(euc), 'euc-jp');
    }
    case 'euc':
      return high ? iconv.decode(part, el.encoding) : part.toString('latin1');
  }
}

/** The text of an element, decoded by the character set in force (undefined for sequences and binary). */
export function elementText(element: DataElement | undefined, charset: CharacterSet, options?: DecodeOptions): string | undefined {
  if (!element || element.items || element.fragments) return undefined;
  return decodeText(element.value, element.vr, charset, options);
}

export function textOf(elements: readonly DataElement[], tag: number, charset: CharacterSet, options?: DecodeOptions): string | undefined {
  const t = elementText(
    elements.find((e) => e.tag === tag),
    charset,
    options,
  );
  return t === undefined || t === '' ? undefined : t;
}

/** An element with UTF-8 text (for datasets that declare ISO_IR 192), NFC, padded with a space. */
export function utf8Element(tag: number, vr: string, text: string): DataElement {
  return { tag, vr, value: padValue(Buffer.from(text.normalize('NFC'), 'utf8'), vr) };
}

/** (0008,0005) = ISO_IR 192. */
export function utf8CharsetElement(): DataElement {
  return { tag: SPECIFIC_CHARACTER_SET, vr: 'CS', value: padValue(Buffer.from('ISO_IR 192', 'latin1'), 'CS') };
}

/** Encodes text in a character set without code extensions (single-byte sets, UTF-8, GB18030). */
export function encodeText(text: string, vr: string, charset: CharacterSet): Buffer {
  const first = charset[0] ?? '';
  const enc = PLAIN[first] ?? (first === '' ? 'latin1' : undefined);
  if (!enc) throw new Error(`encoding text in ${charset.join('\\')} is not supported; use ISO_IR 192`);
  return padValue(iconv.encode(text.normalize('NFC'), enc), vr);
}
