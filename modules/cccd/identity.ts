import type { BacKey } from './crypto/bac.ts';
import { bacKeyForCccd } from './crypto/bac.ts';
import type { Dg13 } from './dg13.ts';
import type { Td1Mrz } from './dg1.ts';
import { parseTd1 } from './dg1.ts';
import type { CccdQr } from './qr.ts';
import { expiryCandidates, parseIso } from './cardExpiry.ts';
import { CardParseError } from './errors.ts';
import { assertCccdNumber } from './idNumber.ts';

export type IdentitySource = 'chip-verified' | 'chip-unverified' | 'qr' | 'typed';

/** One patient identity, whatever it was read from. Dates are ISO (yyyy-mm-dd, or yyyy). */
export interface CccdIdentity {
  idNumber: string;
  fullName: string;
  dateOfBirth: string;
  sex: 'male' | 'female' | 'unknown';
  permanentAddress: string;
  placeOfOrigin: string;
  issueDate: string;
  /** ISO date, 'none' for a card that does not expire, '' when unknown. */
  expiryDate: string;
  oldIdNumber: string;
  source: IdentitySource;
  /** Age in whole years today in Asia/Ho_Chi_Minh (lower bound when only the year is known). */
  ageYears: number | null;
  /** Priority hints for the queue (children under 6, people 75 or over). */
  hints: { underSix: boolean; seventyFiveOrOver: boolean };
  warnings: string[];
}

export const HINT_TIMEZONE = 'Asia/Ho_Chi_Minh';

/** Today's date in a timezone, as yyyy-mm-dd. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

export function ageOn(dateOfBirth: string, today: string): number | null {
  const t = parseIso(today);
  if (!t) return null;
  if (/^\d{4}$/.test(dateOfBirth)) return Math.max(0, t.y - Number(dateOfBirth) - 1);
  const b = parseIso(dateOfBirth);
  if (!b) return null;
  let age = t.y - b.y;
  if (t.m < b.m || (t.m === b.m && t.d < b.d)) age--;
  return Math.max(0, age);
}

function withHints(base: Omit<CccdIdentity, 'ageYears' | 'hints'>, now: Date): CccdIdentity {
  const ageYears = ageOn(base.dateOfBirth, todayIn(HINT_TIMEZONE, now));
  return { ...base, ageYears, hints: { underSix: ageYears !== null && ageYears < 6, seventyFiveOrOver: ageYears !== null && ageYears >= 75 } };
}

/** dd/mm/yyyy → yyyy-mm-dd; yyyy stays; anything else (a phrase) returned as is. */
export function isoFromSlashed(s: string): string {
  const m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(s.trim());
  if (m) return `${m[3]}-${m[2]}-${m[1]}`;
  return s.trim();
}

function sexFromText(s: string): CccdIdentity['sex'] {
  const v = s.normalize('NFC').trim().toLowerCase();
  return v === 'nam' || v === 'm' ? 'male' : v === 'nữ' || v === 'f' ? 'female' : 'unknown';
}

export function identityFromDg13(dg13: Dg13, verified: boolean, now = new Date(), warnings: string[] = []): CccdIdentity {
  const expiry = isoFromSlashed(dg13.expiryDate);
  return withHints(
    {
      idNumber: dg13.idNumber,
      fullName: dg13.fullName,
      dateOfBirth: isoFromSlashed(dg13.dateOfBirth),
      sex: sexFromText(dg13.sex),
      permanentAddress: dg13.placeOfResidence,
      placeOfOrigin: dg13.placeOfOrigin,
      issueDate: isoFromSlashed(dg13.issueDate),
      // A phrase instead of a date ("Không thời hạn") marks a card that does not expire.
      expiryDate: /^\d{4}-\d{2}-\d{2}$/.test(expiry) ? expiry : expiry ? 'none' : '',
      oldIdNumber: dg13.oldIdNumber,
      source: verified ? 'chip-verified' : 'chip-unverified',
      warnings,
    },
    now,
  );
}

function mrzDate(yymmdd: string, future: boolean, now: Date): string {
  const yy = Number(yymmdd.slice(0, 2));
  const thisYear = now.getUTCFullYear() % 100;
  const century = future ? 2000 : yy > thisYear ? 1900 : 2000;
  return `${century + yy}-${yymmdd.slice(2, 4)}-${yymmdd.slice(4, 6)}`;
}

/** From DG1 alone (DG13 missing): the MRZ has no diacritics and no address. */
export function identityFromMrz(mrz: Td1Mrz, source: IdentitySource, now = new Date()): CccdIdentity {
  return withHints(
    {
      idNumber: mrz.idNumber ?? '',
      fullName: `${mrz.surname} ${mrz.givenNames}`.trim(),
      dateOfBirth: mrzDate(mrz.dateOfBirth, false, now),
      sex: mrz.sex === 'M' ? 'male' : mrz.sex === 'F' ? 'female' : 'unknown',
      permanentAddress: '',
      placeOfOrigin: '',
      issueDate: '',
      expiryDate: mrzDate(mrz.dateOfExpiry, true, now),
      oldIdNumber: '',
      source,
      warnings: ['name from the machine readable zone, without Vietnamese diacritics'],
    },
    now,
  );
}

export function identityFromQr(qr: CccdQr, now = new Date()): CccdIdentity {
  return withHints(
    {
      idNumber: qr.idNumber,
      fullName: qr.fullName,
      dateOfBirth: qr.dateOfBirth,
      sex: qr.sex,
      permanentAddress: qr.permanentAddress,
      placeOfOrigin: '',
      issueDate: qr.issueDate,
      expiryDate: '',
      oldIdNumber: qr.oldIdNumber,
      source: 'qr',
      warnings: [...qr.warnings],
    },
    now,
  );
}

export function identityFromTypedId(id12: string, now = new Date()): CccdIdentity {
  assertCccdNumber(id12);
  return withHints(
    {
      idNumber: id12,
      fullName: '',
      dateOfBirth: '',
      sex: 'unknown',
      permanentAddress: '',
      placeOfOrigin: '',
      issueDate: '',
      expiryDate: '',
      oldIdNumber: '',
      source: 'typed',
      warnings: [],
    },
    now,
  );
}

/** What can open the chip: a CAN for PACE and/or BAC keys in the order to try. */
export interface CardKeys {
  can?: string;
  bac: BacKey[];
  /** The ID the keys were made for (to check the chip belongs to the same person). */
  idNumber?: string;
}

/** From the QR: PACE CAN = last 6 digits; BAC with the expiry by the renewal-age rule, then neighbours. */
export function keysFromQr(qr: CccdQr): CardKeys {
  const dob = parseIso(qr.dateOfBirth)!;
  const issue = qr.issueDate ? parseIso(qr.issueDate) : null;
  const dobMrz = qr.dateOfBirth.slice(2, 4) + qr.dateOfBirth.slice(5, 7) + qr.dateOfBirth.slice(8, 10);
  const bac = expiryCandidates(dob, issue).map((doe) => bacKeyForCccd(qr.idNumber, dobMrz, doe));
  return { can: qr.idNumber.slice(-6), bac, idNumber: qr.idNumber };
}

export function keysFromMrzText(text: string): CardKeys {
  const mrz = parseTd1(text);
  const keys: CardKeys = { bac: [{ documentNumber: mrz.documentNumber, dateOfBirth: mrz.dateOfBirth, dateOfExpiry: mrz.dateOfExpiry }] };
  if (mrz.idNumber) {
    keys.can = mrz.idNumber.slice(-6);
    keys.idNumber = mrz.idNumber;
  }
  return keys;
}

/** A typed 12-digit number (or a 6-digit CAN) opens the chip only by PACE. */
export function keysFromDigits(digits: string): CardKeys {
  const d = digits.replace(/\s/g, '');
  if (/^\d{12}$/.test(d)) {
    assertCccdNumber(d);
    return { can: d.slice(-6), bac: [], idNumber: d };
  }
  if (/^\d{6}$/.test(d)) return { can: d, bac: [] };
  throw new CardParseError('type the 12-digit CCCD number (or the 6-digit CAN)');
}

/** Keys from an identity already known (a QR scan or typed number) to open the chip. */
export function keysFromIdentity(id: CccdIdentity): CardKeys {
  if (!/^\d{12}$/.test(id.idNumber)) return { bac: [] };
  const keys: CardKeys = { can: id.idNumber.slice(-6), bac: [], idNumber: id.idNumber };
  const dob = parseIso(id.dateOfBirth);
  if (dob) {
    const issue = id.issueDate ? parseIso(id.issueDate) : null;
    const dobMrz = id.dateOfBirth.slice(2, 4) + id.dateOfBirth.slice(5, 7) + id.dateOfBirth.slice(8, 10);
    keys.bac = expiryCandidates(dob, issue).map((doe) => bacKeyForCccd(id.idNumber, dobMrz, doe));
  }
  return keys;
}
