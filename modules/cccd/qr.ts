import { CardParseError } from './errors.ts';
import { assertCccdNumber } from './idNumber.ts';

/** The QR code of a 2021 or 2024 card: ID12|CMND9|name|DOB ddmmyyyy|sex|address|issue ddmmyyyy[|…]. */
export interface CccdQr {
  idNumber: string;
  oldIdNumber: string;
  fullName: string;
  /** ISO yyyy-mm-dd */
  dateOfBirth: string;
  sex: 'male' | 'female' | 'unknown';
  permanentAddress: string;
  /** ISO yyyy-mm-dd, '' when absent */
  issueDate: string;
  /** Fields after the seventh (2024 cards; layout unpublished), kept raw. */
  extra: string[];
  /** True when the scanner mangled the text (non-Unicode keyboard mode): names are unreliable. */
  mangled: boolean;
  /** True when the mangling was undone (UTF-8 read as Latin-1/CP1252). */
  repaired: boolean;
  warnings: string[];
}

export const MANGLED_WARNING =
  'The QR scanner changed the Vietnamese letters (it is in a non-Unicode keyboard mode): the number and dates are usable, the name and address are not. Ask staff to set the scanner to Unicode/UTF-8 mode.';

/** Valid calendar date (29 February only in leap years) → ISO, else null. */
export function isoFromDdmmyyyy(s: string): string | null {
  const m = /^(\d{2})(\d{2})(\d{4})$/.exec(s);
  if (!m) return null;
  const d = Number(m[1]);
  const mo = Number(m[2]);
  const y = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || y < 1900 || y > 2200) return null;
  const dim = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > dim) return null;
  return `${m[3]}-${m[2]}-${m[1]}`;
}

/** Characters that appear when UTF-8 Vietnamese is typed through a Latin-1/CP1252 keyboard map. */
const MOJIBAKE = /[ÃÄÆá»áºÂ][\u0080-\u00ff\u2000-\u20ff\u0152-\u0192\u02c6-\u02dc]/;

function tryRepair(text: string): string | null {
  if (!MOJIBAKE.test(text)) return null;
  // Map CP1252's extra code points back to their bytes, then decode as UTF-8.
  const cp1252: Record<number, number> = {
    0x20ac: 0x80,
    0x201a: 0x82,
    0x0192: 0x83,
    0x201e: 0x84,
    0x2026: 0x85,
    0x2020: 0x86,
    0x2021: 0x87,
    0x02c6: 0x88,
    0x2030: 0x89,
    0x0160: 0x8a,
    0x2039: 0x8b,
    0x0152: 0x8c,
    0x017d: 0x8e,
    0x2018: 0x91,
    0x2019: 0x92,
    0x201c: 0x93,
    0x201d: 0x94,
    0x2022: 0x95,
    0x2013: 0x96,
    0x2014: 0x97,
    0x02dc: 0x98,
    0x2122: 0x99,
    0x0161: 0x9a,
    0x203a: 0x9b,
    0x0153: 0x9c,
    0x017e: 0x9e,
    0x0178: 0x9f,
  };
  const bytes: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x100) bytes.push(cp);
    else if (cp1252[cp] !== undefined) bytes.push(cp1252[cp]!);
    else return null;
  }
  const out = Buffer.from(bytes).toString('utf8');
  return out.includes('\ufffd') ? null : out.normalize('NFC');
}

function sexOf(s: string): CccdQr['sex'] | null {
  const v = s.normalize('NFC').trim().toLowerCase();
  if (v === 'nam') return 'male';
  if (v === 'nữ') return 'female';
  return null;
}

const VIETNAMESE_LETTERS = /[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]/i;

/** Tolerant parser: requires a 12-digit first field and a valid date of birth. */
export function parseCccdQr(input: string): CccdQr {
  if (input.length > 4096) throw new CardParseError('QR text is too long for a CCCD code');
  let text = input
    .replace(/^\ufeff/, '')
    .replace(/[\r\n\t]+$/g, '')
    .replace(/^[\r\n\t ]+/, '')
    .normalize('NFC');
  const warnings: string[] = [];
  let mangled = false;
  let repaired = false;
  const fixed = tryRepair(text);
  if (fixed !== null) {
    text = fixed;
    repaired = true;
    mangled = true;
    warnings.push(
      'The QR scanner sent UTF-8 letters as Latin-1 (non-Unicode keyboard mode); the text was repaired. Ask staff to set the scanner to UTF-8 mode.',
    );
  }
  const f = text.split('|');
  const id = (f[0] ?? '').trim();
  if (!/^\d{12}$/.test(id)) throw new CardParseError('this is not a CCCD QR code: the first field is not a 12-digit number');
  // Province code and century digit (idNumber.ts): a misread scan is refused here, not at the HIS.
  assertCccdNumber(id);
  if (f.length < 4) throw new CardParseError('the CCCD QR code is incomplete (fewer than 4 fields)');
  const old = (f[1] ?? '').trim();
  if (old !== '' && !/^\d{9}$|^\d{12}$/.test(old)) warnings.push('the old ID field is not a 9-digit number; ignored');
  const dob = isoFromDdmmyyyy((f[3] ?? '').trim());
  if (!dob) throw new CardParseError('the date of birth in the QR code is not a valid ddmmyyyy date');
  assertCccdNumber(id, dob);
  const issueRaw = (f[6] ?? '').trim();
  const issue = issueRaw === '' ? '' : isoFromDdmmyyyy(issueRaw);
  if (issue === null) warnings.push('the issue date in the QR code is not a valid date; ignored');
  const name = (f[2] ?? '').trim();
  const address = (f[5] ?? '').trim();
  let sex = sexOf(f[4] ?? '');
  if (!repaired) {
    // Signs of a scanner that dropped or replaced the diacritics.
    const suspicious = /[?\ufffd]|[\u0080-\u009f]/.test(name + address + (f[4] ?? '')) || (sex === null && /^n.{1,2}$/i.test((f[4] ?? '').trim()));
    const stripped = sex === null && /^nu$/i.test((f[4] ?? '').trim());
    if (suspicious || stripped || ((name + address).length > 8 && !VIETNAMESE_LETTERS.test(name + address) && /^[\x20-\x7e]*$/.test(name + address))) {
      mangled = true;
      warnings.push(MANGLED_WARNING);
    }
    if (sex === null && /^nu$/i.test((f[4] ?? '').trim())) sex = 'female';
  }
  return {
    idNumber: id,
    oldIdNumber: /^\d{9}$|^\d{12}$/.test(old) ? old : '',
    fullName: name,
    dateOfBirth: dob,
    sex: sex ?? 'unknown',
    permanentAddress: address,
    issueDate: issue ?? '',
    extra: f.slice(7),
    mangled,
    repaired,
    warnings,
  };
}
