/**
 * Card expiry where only DOB and issue date are known (the QR code has no expiry).
 * Law on Citizen Identification 2014 art. 21 / Law on Identification 2023 art. 21: cards are
 * renewed at 25, 40 and 60 (and 14 for cards issued under the 2023 law, from 1 July 2024);
 * a card issued within two years before a renewal age lasts to the next one; a card issued
 * at 58 or older does not expire.
 */

export interface YMD {
  y: number;
  m: number;
  d: number;
}

export function parseIso(s: string): YMD | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  return m ? { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) } : null;
}

const LAW_2023_FROM = 20240701;
const num = (x: YMD): number => x.y * 10000 + x.m * 100 + x.d;

/** The birthday at `age`; 29 February becomes 28 February in common years (and 1 March as an alternative). */
export function birthdayAt(dob: YMD, age: number): YMD[] {
  const y = dob.y + age;
  if (dob.m === 2 && dob.d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)))
    return [
      { y, m: 2, d: 28 },
      { y, m: 3, d: 1 },
    ];
  return [{ y, m: dob.m, d: dob.d }];
}

export function renewalAges(issue: YMD): number[] {
  return num(issue) >= LAW_2023_FROM ? [14, 25, 40, 60] : [25, 40, 60];
}

export type DerivedExpiry = { kind: 'date'; date: YMD; age: number } | { kind: 'none' };

export function deriveExpiry(dob: YMD, issue: YMD): DerivedExpiry {
  const ages = renewalAges(issue);
  const bd = (age: number): YMD => birthdayAt(dob, age)[0]!;
  if (num(issue) >= num(bd(58))) return { kind: 'none' };
  for (let i = 0; i < ages.length; i++) {
    const age = ages[i]!;
    if (num(bd(age)) <= num(issue)) continue;
    // Issued within two years before this renewal age: valid to the next one.
    if (num(issue) >= num(bd(age - 2))) {
      const next = ages[i + 1];
      return next === undefined ? { kind: 'none' } : { kind: 'date', date: bd(next), age: next };
    }
    return { kind: 'date', date: bd(age), age };
  }
  return { kind: 'none' };
}

export function yymmdd(d: YMD): string {
  return String(d.y % 100).padStart(2, '0') + String(d.m).padStart(2, '0') + String(d.d).padStart(2, '0');
}

/**
 * MRZ expiry candidates in the order to try: the derived date, then the neighbouring
 * renewal ages (what the MRZ holds for a non-expiring card is not published).
 */
export function expiryCandidates(dob: YMD, issue: YMD | null): string[] {
  const out: string[] = [];
  const add = (d: YMD): void => {
    const s = yymmdd(d);
    if (!out.includes(s)) out.push(s);
  };
  const ages = renewalAges(issue ?? { y: 2021, m: 1, d: 1 });
  let centre = -1;
  if (issue) {
    const e = deriveExpiry(dob, issue);
    if (e.kind === 'date') {
      for (const d of birthdayAt(dob, e.age)) add(d);
      centre = ages.indexOf(e.age);
    } else centre = ages.length - 1;
  }
  const order = centre >= 0 ? [centre, centre - 1, centre + 1, centre - 2, centre + 2] : ages.map((_, i) => i);
  for (const i of order) {
    const age = ages[i];
    if (age !== undefined) for (const d of birthdayAt(dob, age)) add(d);
  }
  return out;
}
