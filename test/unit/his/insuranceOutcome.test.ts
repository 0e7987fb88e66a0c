import { describe, expect, it } from 'vitest';
import { describeInsuranceCode } from '../../../modules/his/insuranceOutcome.ts';
import { insuranceStatusFrom } from '../../../modules/his/httpHis.ts';

// Every maKetQua the 2024 card-history function documents (uplink.md, HIS section).
const EXPECTED: Array<[string, string, 'valid' | 'invalid' | 'unknown', RegExp]> = [
  ['000', 'valid', 'valid', /còn giá trị sử dụng/],
  ['001', 'defence-or-police-fund', 'unknown', /Bộ Quốc phòng/],
  ['002', 'defence-or-police-fund', 'unknown', /Bộ Công an/],
  ['003', 'replaced-card', 'valid', /thẻ mới/],
  ['004', 'replaced-card', 'valid', /thẻ mới/],
  ['010', 'expired', 'invalid', /hết hạn/],
  ['054', 'staff-identity', 'unknown', /chưa kiểm tra được/],
  ['055', 'staff-identity', 'unknown', /chưa kiểm tra được/],
  ['060', 'name-mismatch', 'invalid', /Họ tên/],
  ['070', 'birth-date-mismatch', 'invalid', /Ngày sinh/],
  ['205', 'bad-parameters', 'unknown', /chưa kiểm tra được/],
  ['401', 'authentication', 'unknown', /chưa kiểm tra được/],
];

describe('maKetQua → what the kiosk says', () => {
  it.each(EXPECTED)('%s is %s (%s) with its own sentence', (code, category, verdict, sentence) => {
    const o = describeInsuranceCode(code);
    expect(o.category).toBe(category);
    expect(o.verdict).toBe(verdict);
    expect(o.patientMessage).toMatch(sentence);
    expect(o.nextStep.length).toBeGreaterThan(10);
    expect(o.staffNote).toContain(code);
  });

  it('covers every code from 050 to 070 without a technical word for the patient', () => {
    for (let n = 50; n <= 70; n++) {
      const code = String(n).padStart(3, '0');
      const o = describeInsuranceCode(code);
      expect(o.category, code).not.toBe('unknown');
      expect(o.patientMessage, code).not.toMatch(/maKetQua|token|HTTP|\d{3}/);
      expect(o.nextStep, code).toMatch(/quầy|khám/);
    }
    expect(describeInsuranceCode('050').category).toBe('not-found');
    expect(describeInsuranceCode('061').category).toBe('name-mismatch');
  });

  it("treats every 1xx as a gateway problem the desk checks, never as the patient's fault", () => {
    for (let n = 100; n <= 199; n++) {
      const o = describeInsuranceCode(String(n));
      expect(o.category).toBe('gateway-error');
      expect(o.verdict).toBe('unknown');
      expect(o.nextStep).toMatch(/quầy tiếp đón/);
    }
  });

  it('accepts numeric codes and unknown ones safely', () => {
    expect(describeInsuranceCode(0).code).toBe('000');
    expect(describeInsuranceCode(10).category).toBe('expired');
    expect(describeInsuranceCode('999').category).toBe('unknown');
    expect(describeInsuranceCode('').verdict).toBe('unknown');
  });

  it('staff-facing problems give the patient the same neutral sentence', () => {
    const neutral = new Set(['054', '055', '205', '401', '150'].map((c) => describeInsuranceCode(c).patientMessage));
    expect(neutral.size).toBe(1);
  });

  it('builds the status with the validity converted to ISO dates', () => {
    const s = insuranceStatusFrom({ code: '000', cardNumber: 'DN4797912345678', validFrom: '01/01/2026', validTo: '31/12/2026', registeredFacility: '79001' });
    expect(s).toMatchObject({ code: '000', verdict: 'valid', validFrom: '2026-01-01', validTo: '2026-12-31', registeredFacility: '79001' });
    const replaced = insuranceStatusFrom({ code: '003', newCardNumber: 'GD4797912345678' });
    expect(replaced.newCardNumber).toBe('GD4797912345678');
  });
});
