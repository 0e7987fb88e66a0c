import { describe, expect, it } from 'vitest';
import { parseCccdQr } from '../../../modules/cccd/qr.ts';
import { deriveExpiry, expiryCandidates, parseIso } from '../../../modules/cccd/cardExpiry.ts';
import { identityFromQr, keysFromQr, keysFromDigits, keysFromMrzText, ageOn, identityFromDg13 } from '../../../modules/cccd/identity.ts';
import { parseDg13 } from '../../../modules/cccd/dg13.ts';
import { fixtureHex, fixtureText } from './fixtures.ts';

const samples = fixtureText('qr_synthetic.txt')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'));
const mangled = fixtureText('qr_mangled_synthetic.txt')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'));

describe('CCCD QR code', () => {
  it('reads the first sample', () => {
    const q = parseCccdQr(samples[0]!);
    expect(q).toMatchObject({
      idNumber: '001099012345',
      oldIdNumber: '012345678',
      fullName: 'Nguyễn Văn Thử',
      dateOfBirth: '1999-01-01',
      sex: 'male',
      issueDate: '2021-04-15',
      mangled: false,
      extra: [],
    });
    expect(q.permanentAddress).toContain('Hà Nội');
  });
  it('accepts an empty old-ID field and 29 February in a leap year', () => {
    const q = parseCccdQr(samples[1]!);
    expect(q).toMatchObject({ oldIdNumber: '', dateOfBirth: '1988-02-29', sex: 'female', issueDate: '2024-07-01', mangled: false });
  });
  it('reads the person over 60 (card that does not expire)', () => {
    const q = parseCccdQr(samples[2]!);
    expect(q.dateOfBirth).toBe('1960-12-31');
    expect(deriveExpiry(parseIso(q.dateOfBirth)!, parseIso(q.issueDate)!)).toEqual({ kind: 'none' });
  });
  it('keeps extra 2024 fields raw and tolerates a trailing newline', () => {
    const q = parseCccdQr(samples[0]! + '|X1|Y2\r\n');
    expect(q.extra).toEqual(['X1', 'Y2']);
    expect(q.issueDate).toBe('2021-04-15');
  });
  it('refuses a code whose first field is not 12 digits and a 29 February in a common year', () => {
    expect(() => parseCccdQr('12345|a|b|01011999|Nam|x|01012021')).toThrow(/12-digit/);
    expect(() => parseCccdQr('001099012345||A|29021999|Nam|x|01012021')).toThrow(/date of birth/);
  });
  it('repairs UTF-8 read as CP1252 and says so', () => {
    const q = parseCccdQr(mangled[0]!);
    expect(q.repaired).toBe(true);
    expect(q.fullName).toBe('Nguyễn Văn Thử');
    expect(q.warnings[0]).toMatch(/non-Unicode keyboard mode/);
  });
  it('detects question marks and stripped diacritics, keeps the number usable', () => {
    for (const line of mangled.slice(1)) {
      const q = parseCccdQr(line);
      expect(q.mangled, line).toBe(true);
      expect(q.idNumber).toBe('001099012345');
      expect(q.warnings.join(' ')).toMatch(/non-Unicode keyboard mode/);
    }
  });
});

describe('expiry by renewal age', () => {
  const ymd = (s: string) => parseIso(s)!;
  it('a card issued at 22 expires at 25', () => {
    expect(deriveExpiry(ymd('1999-01-01'), ymd('2021-04-15'))).toEqual({ kind: 'date', date: { y: 2024, m: 1, d: 1 }, age: 25 });
  });
  it('a card issued within two years before 25 lasts to 40', () => {
    expect(deriveExpiry(ymd('1997-06-01'), ymd('2021-04-15'))).toEqual({ kind: 'date', date: { y: 2037, m: 6, d: 1 }, age: 40 });
  });
  it('issued at 58 or older: no expiry; under the 2023 law 14 is a renewal age', () => {
    expect(deriveExpiry(ymd('1960-12-31'), ymd('2022-10-10')).kind).toBe('none');
    expect(deriveExpiry(ymd('2015-03-03'), ymd('2024-08-01'))).toEqual({ kind: 'date', date: { y: 2029, m: 3, d: 3 }, age: 14 });
  });
  it('29 February: tries 28 February and 1 March in common years, then neighbouring ages', () => {
    const c = expiryCandidates(ymd('1988-02-29'), ymd('2024-07-01'));
    expect(c[0]).toBe('280229');
    expect(c).toContain('480229');
    expect(expiryCandidates(ymd('1996-02-29'), ymd('2015-06-01')).slice(0, 2)).toEqual(['210228', '210301']);
    const d = expiryCandidates(ymd('1989-02-28'), ymd('2021-01-01'));
    expect(d[0]).toBe('290228');
  });
  it('keys from the QR: CAN is the last 6 digits, BAC first tries the derived expiry', () => {
    const k = keysFromQr(parseCccdQr(samples[0]!));
    expect(k.can).toBe('012345');
    expect(k.bac[0]).toEqual({ documentNumber: '099012345', dateOfBirth: '990101', dateOfExpiry: '240101' });
    expect(k.bac.length).toBeGreaterThan(1);
    expect(keysFromDigits('0010 9901 2345')).toEqual({ can: '012345', bac: [], idNumber: '001099012345' });
    expect(keysFromMrzText(fixtureText('synthetic_cccd_mrz.txt')).bac[0]).toEqual({
      documentNumber: '099012345',
      dateOfBirth: '990101',
      dateOfExpiry: '240101',
    });
  });
});

describe('identity and hints', () => {
  it('computes age in Asia/Ho_Chi_Minh and the priority hints', () => {
    expect(ageOn('2020-05-05', '2026-05-04')).toBe(5);
    expect(ageOn('2020-05-05', '2026-05-05')).toBe(6);
    // 2026-05-04T18:00Z is already 5 May in Hanoi (UTC+7): the child turned 6.
    const q = parseCccdQr('001320012345||Bé Thử|05052020|Nữ|Hà Nội|01082024');
    expect(identityFromQr(q, new Date('2026-05-04T16:59:00Z')).hints.underSix).toBe(true);
    expect(identityFromQr(q, new Date('2026-05-04T17:00:00Z')).hints.underSix).toBe(false);
    const old = identityFromQr(parseCccdQr('001050000111||Cụ Thử|01011950|Nam|Hà Nội|01012021'), new Date('2026-01-01T00:00:00Z'));
    expect(old.hints.seventyFiveOrOver).toBe(true);
    expect(old.source).toBe('qr');
  });
  it('builds the chip identity from DG13', () => {
    const id = identityFromDg13(parseDg13(fixtureHex('synthetic_cccd_dg13.hex')), true, new Date('2025-12-31T12:00:00Z'));
    expect(id).toMatchObject({
      idNumber: '001099012345',
      dateOfBirth: '1999-01-01',
      sex: 'male',
      expiryDate: '2024-01-01',
      issueDate: '2021-04-15',
      oldIdNumber: '012345678',
      source: 'chip-verified',
      ageYears: 26,
    });
  });
});
