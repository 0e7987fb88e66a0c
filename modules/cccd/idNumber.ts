import { CardParseError } from './errors.ts';

/**
 * The one rule for a CCCD number, used by the QR parser, the typed number (kiosk keypad, the
 * reader's `card/key` digits) and the chip read: 12 digits, of which (Circular 07/2016/TT-BCA,
 * Decree 137/2015/ND-CP art. 7)
 *   1–3  the code of the province where the birth was registered (63 codes, below);
 *   4    century and sex: 0/1 born 1900–1999 (male/female), 2/3 2000–2099, 4/5 2100s, 6/7 2200s, 8/9 2300s;
 *   5–6  the last two digits of the birth year;
 *   7–12 a random number.
 * A number that breaks it is a typing slip, a misread scan or an invented number: refused at
 * the edge, with a sentence the patient can act on, before it reaches the HIS or the gateway.
 */

/** Province codes of birth registration (Circular 07/2016/TT-BCA, appendix): 63 provinces. */
export const PROVINCE_CODES: ReadonlySet<string> = new Set(
  '001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096'.split(
    ' ',
  ),
);

export type CccdNumberProblemCode = 'length' | 'province' | 'century' | 'birth-year';

export interface CccdNumberProblem {
  code: CccdNumberProblemCode;
  /** For logs and IT staff (English, no digits of the number beyond the province code). */
  reason: string;
  /** For the patient's screen (Vietnamese, short and kind). */
  patientMessage: string;
}

/** First year of the century the 4th digit stands for (0/1 → 1900, 2/3 → 2000, …). */
export function centuryOf(idNumber: string): number {
  return 1900 + 100 * Math.floor(Number(idNumber[3]) / 2);
}

/** Sex the 4th digit stands for: even male, odd female. */
export function sexOf(idNumber: string): 'male' | 'female' {
  return Number(idNumber[3]) % 2 === 0 ? 'male' : 'female';
}

const CHECK_CARD = 'Xin xem lại số trên thẻ CCCD.';

/**
 * What is wrong with a CCCD number, or null when it follows the rule. `birthDate` (ISO
 * yyyy-mm-dd or yyyy), when the same read gave one (the QR), must fall in the number's century.
 * `today` bounds the century: nobody at the kiosk was born in the 2100s yet.
 */
export function cccdNumberProblem(idNumber: string, birthDate?: string, today: Date = new Date()): CccdNumberProblem | null {
  if (!/^\d{12}$/.test(idNumber)) return { code: 'length', reason: 'a CCCD number has 12 digits', patientMessage: 'Số CCCD có đúng 12 chữ số.' };
  const province = idNumber.slice(0, 3);
  if (!PROVINCE_CODES.has(province)) {
    return {
      code: 'province',
      reason: `the first 3 digits of a CCCD number are the province code of birth registration (Circular 07/2016/TT-BCA); ${province} is none`,
      patientMessage: `Số CCCD không đúng: 3 số đầu là mã tỉnh nơi đăng ký khai sinh, không có mã ${province}. ${CHECK_CARD}`,
    };
  }
  const century = centuryOf(idNumber);
  if (century > today.getUTCFullYear()) {
    return {
      code: 'century',
      reason: `the 4th digit of a CCCD number gives the century of birth; ${idNumber[3]} means ${century}s`,
      patientMessage: `Số CCCD không đúng: số thứ tư cho biết thế kỷ sinh (0 hoặc 1: sinh năm 19xx; 2 hoặc 3: sinh năm 20xx). ${CHECK_CARD}`,
    };
  }
  const year = birthDate ? Number(/^(\d{4})/.exec(birthDate)?.[1]) : NaN;
  if (Number.isInteger(year) && (year < century || year >= century + 100)) {
    return {
      code: 'birth-year',
      reason: `the 4th digit of the CCCD number gives the century ${century}s, the birth date read with it is in ${year}`,
      patientMessage: 'Số CCCD không khớp với năm sinh trên thẻ. Xin quét lại mã QR hoặc nhập số CCCD.',
    };
  }
  return null;
}

export function isValidCccdNumber(idNumber: string, birthDate?: string): boolean {
  return cccdNumberProblem(idNumber, birthDate) === null;
}

/** A number that breaks the rule: a parse error (CARD_PARSE) that also carries the patient's sentence. */
export class CccdNumberError extends CardParseError {
  readonly problem: CccdNumberProblem;
  constructor(problem: CccdNumberProblem) {
    super(problem.reason, problem.patientMessage);
    this.name = 'CccdNumberError';
    this.problem = problem;
  }
}

/** Throws CccdNumberError when the number breaks the rule. */
export function assertCccdNumber(idNumber: string, birthDate?: string): void {
  const problem = cccdNumberProblem(idNumber, birthDate);
  if (problem) throw new CccdNumberError(problem);
}
