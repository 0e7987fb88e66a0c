import { readTlv, children } from './ber.ts';
import { CardParseError } from './errors.ts';
import { checkDigit } from './crypto/bac.ts';

/** The TD1 machine readable zone of a CCCD (ICAO 9303-5), read from DG1. */
export interface Td1Mrz {
  documentCode: string;
  issuingState: string;
  /** The 9 digits the chip uses as document number (last 9 of the ID). */
  documentNumber: string;
  /** The 12-digit CCCD number from the optional data of line 1. */
  idNumber: string | null;
  dateOfBirth: string;
  sex: 'M' | 'F' | 'X';
  dateOfExpiry: string;
  nationality: string;
  surname: string;
  givenNames: string;
  /** False when any check digit does not match (the data is then still returned). */
  checkDigitsValid: boolean;
  lines: [string, string, string];
}

/** Parses the 90 (or 3×30 with newlines) character TD1 MRZ. */
export function parseTd1(text: string): Td1Mrz {
  const flat = text.replace(/[\r\n ]/g, '').toUpperCase();
  if (flat.length !== 90 || !/^[A-Z0-9<]+$/.test(flat)) throw new CardParseError('a TD1 MRZ has 3 lines of 30 characters A-Z, 0-9 and <');
  const l1 = flat.slice(0, 30);
  const l2 = flat.slice(30, 60);
  const l3 = flat.slice(60, 90);
  const docNo = l1.slice(5, 14);
  const opt1 = l1.slice(15, 30);
  const dob = l2.slice(0, 6);
  const doe = l2.slice(8, 14);
  const sexCh = l2[7];
  const idMatch = /^(\d{12})/.exec(opt1);
  const composite = l1.slice(5, 30) + l2.slice(0, 7) + l2.slice(8, 15) + l2.slice(18, 29);
  const valid = checkDigit(docNo) === l1[14] && checkDigit(dob) === l2[6] && checkDigit(doe) === l2[14] && checkDigit(composite) === l2[29];
  const [surname = '', given = ''] = l3.split('<<');
  return {
    documentCode: l1.slice(0, 2).replace(/</g, ''),
    issuingState: l1.slice(2, 5),
    documentNumber: docNo.replace(/<+$/, ''),
    idNumber: idMatch ? idMatch[1]! : null,
    dateOfBirth: dob,
    sex: sexCh === 'M' ? 'M' : sexCh === 'F' ? 'F' : 'X',
    dateOfExpiry: doe,
    nationality: l2.slice(15, 18),
    surname: surname.replace(/</g, ' ').trim(),
    givenNames: given.replace(/</g, ' ').trim(),
    checkDigitsValid: valid,
    lines: [l1, l2, l3],
  };
}

/** DG1: 61 { 5F1F MRZ } */
export function parseDg1(file: Buffer): Td1Mrz {
  const top = readTlv(file);
  if (top.tag !== 0x61) throw new CardParseError('DG1 does not start with tag 61');
  const mrz = children(top).find((t) => t.tag === 0x5f1f);
  if (!mrz) throw new CardParseError('DG1 has no MRZ (5F1F)');
  return parseTd1(mrz.value.toString('latin1'));
}
