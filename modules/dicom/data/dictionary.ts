import { DICTIONARY_DATA } from './dictionaryData.ts';

/**
 * Tag → VR and keyword from the DICOM data dictionary (PS3.6/PS3.7). Implicit VR datasets
 * (DIMSE command sets, the default transfer syntax) carry no VR: the reader takes it from here.
 */

let byTag: Map<number, { vr: string; keyword: string }> | null = null;
let byKeyword: Map<string, number> | null = null;

function load(): void {
  byTag = new Map();
  byKeyword = new Map();
  for (const entry of DICTIONARY_DATA.split('|')) {
    const tag = parseInt(entry.slice(0, 8), 16) >>> 0;
    const vr = entry.slice(8, 10);
    const keyword = entry.slice(10);
    byTag.set(tag, { vr, keyword });
    byKeyword.set(keyword, tag);
  }
}

export function dictionaryEntry(tag: number): { vr: string; keyword: string } | undefined {
  if (!byTag) load();
  return byTag!.get(tag >>> 0);
}

/** The VR an implicit-VR reader assumes for a tag ('UN' when nothing is known). */
export function implicitVr(tag: number): string {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (element === 0) return 'UL'; // group length (PS3.5 7.2)
  if (group & 1) return element >= 0x10 && element <= 0xff ? 'LO' : 'UN'; // private creator / private data (PS3.5 7.8.1)
  if (tag === 0x7fe00010) return 'OW'; // native pixel data in implicit VR LE (PS3.5 A.1)
  if ((group & 0xff00) === 0x6000 && element === 0x3000) return 'OW'; // overlay data, repeating group
  if ((group & 0xff00) === 0x5000) return element === 0x3000 ? 'OW' : 'UN'; // retired curves
  return dictionaryEntry(tag)?.vr ?? 'UN';
}

/** Tag for a keyword ("PatientName" → 0x00100010), or undefined. */
export function tagOfKeyword(keyword: string): number | undefined {
  if (!byKeyword) load();
  return byKeyword!.get(keyword);
}

/** "(0010,0010)" style for messages and logs. */
export function formatTag(tag: number): string {
  const h = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${h.slice(0, 4)},${h.slice(4)})`;
}

/**
 * Parses "PatientName", "00100010", "0010,0010" or "(0010,0010)" into a tag number.
 * Throws on anything else (used for configuration, where a typo must be loud).
 */
export function parseTag(text: string): number {
  const t = text.trim();
  const hex = t.replace(/^\(|\)$/g, '').replace(',', '');
  if (/^[0-9A-Fa-f]{8}$/.test(hex)) return parseInt(hex, 16) >>> 0;
  const byName = tagOfKeyword(t);
  if (byName === undefined) throw new Error(`unknown DICOM tag or keyword "${text}"`);
  return byName;
}
