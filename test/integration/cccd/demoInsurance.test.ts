// The demo's CCCD numbers (README, "Demo CCCD numbers") typed at the kiosk of an agent whose
// insurance look-ups go to the social-security gateway simulator, as `npm start` runs it
// (config/demo.yaml: his.lookup.vssGateway). A typed number carries no name or birth date; the
// simulator knows its demo patients, so 079190001234 shows a valid card (issue 17 item 4).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeInsuranceCode } from '../../../modules/his/insuranceOutcome.ts';
import { isValidCccdNumber } from '../../../modules/cccd/idNumber.ts';
import { KIOSK_TOKEN, startKioskAgent, type KioskAgent } from '../../helpers/kioskAgent.ts';
import { DEMO_PATIENTS } from '../../sim/vssGateway.ts';

let k: KioskAgent;
const K1 = { 'x-kiosk-token': KIOSK_TOKEN, 'content-type': 'application/json' };

beforeAll(async () => {
  k = await startKioskAgent({ gateway: true, kioskSettings: '  lookupLimits: { perKioskPerMinute: 60, perKioskBurst: 60 }' });
});
afterAll(async () => k?.close());

async function post(path: string, body: unknown): Promise<any> {
  const res = await fetch(`${k.url}${path}`, { method: 'POST', headers: K1, body: JSON.stringify(body) });
  expect(res.status, path).toBe(200);
  return res.json();
}

async function typedLookup(digits: string): Promise<{ insurance: { verdict: string; patientMessage: string } | null; appointment: unknown }> {
  const person = await post('/api/kiosk/identify', { digits });
  return post('/api/kiosk/lookup', { identityRef: person.identityRef });
}

describe('demo CCCD numbers at the gateway simulator', () => {
  it('079190001234 typed at the kiosk: the insurance card is valid (not "chưa kiểm tra được")', async () => {
    const r = await typedLookup('079190001234');
    expect(r.insurance).toEqual({ verdict: 'valid', patientMessage: 'Thẻ BHYT của bạn còn giá trị sử dụng.', nextStep: expect.any(String) });
    // The look-up went to the gateway with the number only, as the kiosk knows it.
    expect(k.gateway!.lookups.at(-1)).toMatchObject({ maThe: '079190001234', hoTen: '', ngaySinh: '', maKetQua: '000' });
  });

  it('every demo number typed shows the outcome the README lists', async () => {
    for (const p of DEMO_PATIENTS) {
      const r = await typedLookup(p.idNumber);
      expect(r.insurance?.patientMessage, p.idNumber).toBe(describeInsuranceCode(p.code).patientMessage);
    }
  });

  it('a number the gateway has no record of, typed, cannot be checked (the real gateway needs name and birth date)', async () => {
    const r = await typedLookup('001099012345');
    expect(r.insurance?.patientMessage).toBe('Lúc này chưa kiểm tra được thẻ BHYT của bạn.');
    // The same person by QR (name and birth date) is checked.
    const person = await post('/api/kiosk/identify', { qr: '001099012345|012345678|Nguyễn Văn Thử|01011999|Nam|Số 1 Đường Kiểm Thử, Hà Nội|15042021' });
    expect((await post('/api/kiosk/lookup', { identityRef: person.identityRef })).insurance.verdict).toBe('valid');
  });

  it('the demo numbers follow the CCCD rule and the README lists each of them', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
    for (const p of DEMO_PATIENTS) {
      const [d, m, y] = p.dateOfBirth.split('/');
      expect(isValidCccdNumber(p.idNumber, `${y}-${m}-${d}`), p.idNumber).toBe(true);
      expect(readme, p.idNumber).toContain(`| \`${p.idNumber}\` |`);
    }
  });
});
