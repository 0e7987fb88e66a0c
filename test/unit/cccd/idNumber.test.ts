import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCccd } from '../../../modules/cccd/emrtd.ts';
import { CardError } from '../../../modules/cccd/errors.ts';
import { loadCertificates } from '../../../modules/cccd/sod.ts';
import { buildChip, qrOf } from '../../sim/card/card.ts';
import { DEFAULT_CITIZEN } from '../../sim/card/files.ts';
import { generateTestPki, type TestPki } from '../../sim/card/pki.ts';
import { assertCccdNumber, cccdNumberProblem, CccdNumberError, isValidCccdNumber, PROVINCE_CODES } from '../../../modules/cccd/idNumber.ts';
import { parseCccdQr } from '../../../modules/cccd/qr.ts';
import { identityFromTypedId, keysFromDigits, keysFromQr } from '../../../modules/cccd/identity.ts';

describe('CCCD number rule (province code of birth registration, century digit)', () => {
  it('knows the 63 province codes of Circular 07/2016/TT-BCA', () => {
    expect(PROVINCE_CODES.size).toBe(63);
    for (const code of ['001', '079', '096', '048', '092']) expect(PROVINCE_CODES.has(code), code).toBe(true);
    for (const code of ['000', '003', '005', '097', '123', '999']) expect(PROVINCE_CODES.has(code), code).toBe(false);
  });

  it('accepts real-shaped numbers of every century digit a living person can have', () => {
    for (const id of ['001099012345', '079190001234', '079040001234', '096200000001', '001320012345', '089085001111'])
      expect(isValidCccdNumber(id), id).toBe(true);
  });

  it('refuses 123456789012 (no province 123) with a Vietnamese sentence for the patient and an English reason for the log', () => {
    const p = cccdNumberProblem('123456789012');
    expect(p).toMatchObject({ code: 'province' });
    expect(p!.patientMessage).toMatch(/^Số CCCD không đúng: 3 số đầu là mã tỉnh nơi đăng ký khai sinh/);
    expect(p!.patientMessage).toContain('123');
    expect(p!.reason).toMatch(/province code/);
    for (const id of ['000000000000', '003190001234', '097190001234', '999999999999']) expect(cccdNumberProblem(id)?.code, id).toBe('province');
  });

  it('refuses other lengths and a century digit of a century not begun yet', () => {
    for (const id of ['', '12345', '07919000123', '0791900012345', '07919000123a']) expect(cccdNumberProblem(id)?.code, id).toBe('length');
    expect(cccdNumberProblem('079490001234', undefined, new Date('2026-06-01'))?.code).toBe('century');
    expect(cccdNumberProblem('079990001234')?.code).toBe('century');
    expect(cccdNumberProblem('079490001234', undefined, new Date('2100-06-01'))).toBeNull();
  });

  it('checks the century digit against a birth date read with the number', () => {
    expect(cccdNumberProblem('079040001234', '1940-02-02')).toBeNull();
    expect(cccdNumberProblem('079240001234', '2040-02-02', new Date('2041-01-01'))).toBeNull();
    expect(cccdNumberProblem('079040001234', '2004-02-02')?.code).toBe('birth-year');
    expect(cccdNumberProblem('079220001234', '1999')?.code).toBe('birth-year');
    expect(cccdNumberProblem('079220001234', '')).toBeNull();
  });

  it('is the rule of the QR parser, the typed number and the keys from digits', () => {
    expect(() => parseCccdQr('123456789012|123456789|Phạm Văn Cụ|02021940|Nam|Số 9 Phố Cổ, Hà Nội|01012021')).toThrow(CccdNumberError);
    expect(() => parseCccdQr('079240001234|123456789|Phạm Văn Cụ|02021940|Nam|Số 9 Phố Cổ, Hà Nội|01012021')).toThrow(/century/);
    expect(parseCccdQr('079040001234|123456789|Phạm Văn Cụ|02021940|Nam|Số 9 Phố Cổ, Hà Nội|01012021').idNumber).toBe('079040001234');
    expect(() => identityFromTypedId('123456789012')).toThrow(CccdNumberError);
    expect(identityFromTypedId('079190001234').source).toBe('typed');
    expect(() => keysFromDigits('123456789012')).toThrow(CccdNumberError);
    expect(() => assertCccdNumber('123456789012')).toThrow(/province code/);
    try {
      identityFromTypedId('123456789012');
    } catch (err) {
      // A parse error like any other for the driver (CARD_PARSE), with the patient's sentence.
      expect((err as CccdNumberError).code).toBe('CARD_PARSE');
      expect((err as CccdNumberError).problem.patientMessage).toMatch(/^Số CCCD không đúng/);
    }
  });
});

describe('the chip path keeps the same rule', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = generateTestPki();
  });
  afterAll(() => pki?.remove());

  it('a chip whose DG13 number has no province code is refused as not a CCCD (the CAN still opens it)', async () => {
    // Same last six digits as the fixture card: PACE opens it with the fixture QR's CAN.
    const chip = buildChip({ signer: pki.signer, citizen: { ...DEFAULT_CITIZEN, idNumber: '123099012345' } });
    const keys = keysFromQr(parseCccdQr(qrOf()));
    const err = await readCccd({ transmit: async (a: Buffer) => chip.handle(a) }, { keys, cscas: loadCertificates(pki.cscaPem), extendedLength: false }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CardError);
    expect((err as CardError).code).toBe('CARD_NOT_CCCD');
    expect((err as CardError).message).toMatch(/province code/);
  });
});
