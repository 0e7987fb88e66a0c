import { readTlv, children, decodeOid, readInt, walk, type Tlv } from './ber.ts';
import { CardParseError } from './errors.ts';

/** Vietnam's DG13 ("thông tin công dân"), every field as text. */
export interface Dg13 {
  idNumber: string;
  fullName: string;
  /** dd/mm/yyyy, or yyyy alone on some cards. */
  dateOfBirth: string;
  sex: string;
  nationality: string;
  ethnicity: string;
  religion: string;
  placeOfOrigin: string;
  placeOfResidence: string;
  identifyingFeatures: string;
  issueDate: string;
  /** dd/mm/yyyy, or a phrase ("Không thời hạn") for a card that does not expire. */
  expiryDate: string;
  fatherName: string;
  motherName: string;
  spouseName: string;
  oldIdNumber: string;
  cardUid: string;
  /** Every field number with all its string leaves, for fields this model does not name. */
  raw: Record<number, string[]>;
}

const STRING_TAGS = new Set([0x0c, 0x13, 0x16, 0x14, 0x1a, 0x1e, 0x12, 0x04]);

function text(t: Tlv): string {
  // BMPString (1E) is UTF-16BE; everything else here is UTF-8 (OID 1.0.10646.1.0.8) or ASCII.
  if (t.tag === 0x1e) {
    // swap16 throws a RangeError on an odd length: a malformed field, said as such (found by the fuzzer).
    if (t.value.length % 2 !== 0) throw new CardParseError('DG13: a BMPString of odd length');
    return Buffer.from(t.value).swap16().toString('utf16le');
  }
  return t.value.toString('utf8').normalize('NFC');
}

/**
 * 6D { 30 { INTEGER 1, OID, SET { 30 { INTEGER n, value… } … } } }. Walks the tree and
 * collects every string leaf under each n, so both public nestings of field 13 (one or
 * two inner SEQUENCEs) read the same.
 */
export function parseDg13(file: Buffer): Dg13 {
  const top = readTlv(file);
  if (top.tag !== 0x6d) throw new CardParseError('DG13 does not start with tag 6D');
  const raw: Record<number, string[]> = {};
  const visit = (node: Tlv, depth: number): void => {
    if (node.tag !== 0x30) return;
    if (depth > 16) throw new CardParseError('DG13 nesting too deep');
    const kids = children(node);
    const first = kids[0];
    if (first && first.tag === 0x02 && kids.length >= 1) {
      const n = readInt(first);
      const rest = kids.slice(1);
      // The outer SEQUENCE { INTEGER 1, OID, SET } is a header, not field 1.
      if (!(rest[0]?.tag === 0x06)) {
        if (n >= 1 && n <= 64 && raw[n] === undefined) {
          const leaves: string[] = [];
          for (const r of rest) for (const leaf of walk(r)) if (!leaf.constructed && STRING_TAGS.has(leaf.tag)) leaves.push(text(leaf));
          raw[n] = leaves;
          return;
        }
      } else if (rest[0] && rest[0].tag === 0x06) {
        decodeOid(rest[0].value); // validates; the value is the UTF-8 marker 1.0.10646.1.0.8
      }
    }
    for (const k of kids) {
      if (k.tag === 0x30) visit(k, depth + 1);
      else if (k.tag === 0x31) for (const s of children(k)) visit(s, depth + 1);
    }
  };
  for (const k of children(top)) visit(k, 0);
  if (!raw[1] && !raw[2]) throw new CardParseError('DG13 holds neither an ID number nor a name');
  const one = (n: number): string => (raw[n] ?? []).join(' ').trim();
  // Fields 15/16: public readers disagree which holds the old 9-digit ID; classify by content.
  let oldIdNumber = '';
  let cardUid = '';
  for (const n of [15, 16]) {
    const v = one(n);
    if (/^(\d{9}|\d{12})$/.test(v) && !oldIdNumber) oldIdNumber = v;
    else if (v && !cardUid) cardUid = v;
  }
  const parents = raw[13] ?? [];
  return {
    idNumber: one(1),
    fullName: one(2),
    dateOfBirth: one(3),
    sex: one(4),
    nationality: one(5),
    ethnicity: one(6),
    religion: one(7),
    placeOfOrigin: one(8),
    placeOfResidence: one(9),
    identifyingFeatures: one(10),
    issueDate: one(11),
    expiryDate: one(12),
    fatherName: parents[0]?.trim() ?? '',
    motherName: parents[1]?.trim() ?? '',
    spouseName: one(14),
    oldIdNumber,
    cardUid,
    raw,
  };
}
