import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../core/store/store.ts';
import { extractResults, parseMessage } from '../../../modules/astm/records.ts';
import { hl7DriverFactory } from '../../../modules/hl7/index.ts';
import { parseHl7 } from '../../../modules/hl7/message.ts';
import { extractHl7Results } from '../../../modules/hl7/results.ts';
import { legacyResultIdentity, resultIdentity, type LabResult } from '../../../modules/lab/result.ts';
import type { Driver } from '../../../core/contract/driver.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { hl7Fixture, withControlId } from '../../helpers/hl7Fixtures.ts';
import { TestMllpClient } from '../../helpers/mllpClient.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { loadAstmFixture } from '../../sim/astmAnalyzer.ts';

const opts = { device: 'an1', timezone: 'Asia/Ho_Chi_Minh', receivedAt: '2026-12-04T08:30:16.000+07:00' };
const hl7 = (name: string) => extractHl7Results(parseHl7(hl7Fixture(name)), opts);
const astm = (name: string) => extractResults(parseMessage(loadAstmFixture(`fixtures/lab/${name}`).toString('utf8')), opts);
const distinct = (results: LabResult[]) => new Set(results.map(resultIdentity)).size;

describe('blood-gas ORU v2.2: empty codes, names in OBX-3.2, placeholders, NTE, PID-4 only', () => {
  const { results, reports } = hl7('synthetic_bloodgas_v22.hl7');

  it('keeps all 21 results apart, pCO2(T) and pO2(T) included, although the old identity merged them', () => {
    expect(results).toHaveLength(21);
    expect(distinct(results)).toBe(21);
    const byName = (n: string) => results.find((r) => r.testName === n)!;
    expect(byName('pCO2').valueText).toBe(byName('pCO2(T)').valueText);
    expect(resultIdentity(byName('pCO2'))).not.toBe(resultIdentity(byName('pCO2(T)')));
    // The rule before observation ids counted: these two shared one identity, and one was dropped.
    expect(legacyResultIdentity(byName('pCO2'))).toBe(legacyResultIdentity(byName('pCO2(T)')));
    expect(results.map((r) => r.testName)).toContain('ctBil');
  });

  it('keeps the value text, the value type, every flag and the comments as sent', () => {
    const fo2hb = results.find((r) => r.testName === 'FO2Hb')!;
    expect(fo2hb).toMatchObject({
      valueText: '.....',
      valueType: 'ST',
      notMeasured: true,
      status: 'X',
      comments: ['E118 oximetry module: dirty cuvette'],
      observationId: ['', 'FO2Hb', 'M'],
      deviceTestCode: 'FO2Hb',
    });
    expect(fo2hb.valueNumber).toBeUndefined();
    expect(results.find((r) => r.testName === 'pH')).toMatchObject({ valueText: '7.412', valueNumber: 7.412, flags: ['N'], valueType: 'ST' });
    expect(results.find((r) => r.testName === 'cK+')).toMatchObject({ valueText: '<1.5', flags: ['<'], comments: ['E031 below measuring range'] });
    expect(results.find((r) => r.testName === 'cNa+')!.flags).toEqual(['>']);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      specimenId: 'BG26120401',
      specimenType: 'ART',
      comments: ['Arterial sample, patient on O2 2 L/min'],
      serviceId: ['', 'Blood gas', 'L'],
    });
  });

  it('takes the patient id from PID-4 when it is the only one, and the name by component', () => {
    expect(results[0]).toMatchObject({
      patientId: 'BN-2026-000417',
      patientIds: [{ id: 'BN-2026-000417', field: 'PID-4' }],
      patientNameParts: { family: 'Trần', given: 'Thị Bích', middle: 'Ngọc' },
      patientBirthDate: '19560314',
      patientSex: 'F',
    });
  });
});

describe('CBC v2.3.1: identifiers, repeats, sub-ids and comments', () => {
  const { results, reports } = hl7('synthetic_cbc_v231_repeats.hl7');
  it('every OBX is a result: equal values, equal tests with or without a sub-id', () => {
    expect(results).toHaveLength(7);
    expect(distinct(results)).toBe(7);
    const plt = results.filter((r) => r.deviceTestCode === 'PLT');
    expect(plt.map((r) => r.occurrence)).toEqual([1, 2]);
    expect(results.filter((r) => r.deviceTestCode === 'HGB').map((r) => r.subId)).toEqual(['1', '2']);
    expect(plt[0]!.comments).toEqual(['Kết quả đã kiểm tra trên lam máu']);
  });
  it("every patient identifier with its authority, the name's five components, the sample id components", () => {
    expect(results[0]!.patientIds).toEqual([
      { id: 'BN000233', authority: 'BVDK', type: 'MR', field: 'PID-3' },
      { id: '079190001234', authority: 'CCCD', type: 'NI', field: 'PID-3' },
      { id: 'BHYT-GD4790123456789', field: 'PID-2' },
      { id: 'CMND-024567891', field: 'PID-4' },
    ]);
    expect(results[0]!.patientNameParts).toEqual({ family: 'Nguyễn', given: 'Văn An', suffix: 'Jr', prefix: 'Ông' });
    expect(reports[0]).toMatchObject({
      specimenId: 'CB26120402',
      specimenIdParts: ['CB26120402', 'RACK03', 'POS07'],
      placerOrderId: 'ORD-233',
      specimenType: 'WB',
      comments: ['Mẫu hơi đông, đề nghị kiểm tra lại'],
    });
  });
});

describe('chemistry v2.5: two orders in one message, SPM, a structured value', () => {
  const { results, reports } = hl7('synthetic_chem_v25_two_orders.hl7');
  it('one report per OBR with its own results, specimen type from SPM, SN kept by component', () => {
    expect(reports.map((r) => [r.specimenId, r.results.length, r.specimenType])).toEqual([
      ['CH26120403', 1, 'SER'],
      ['CH26120404', 2, 'SER'],
    ]);
    expect(reports[1]!.comments).toEqual(['Lấy mẫu lần 2']);
    expect(results.find((r) => r.deviceTestCode === 'EGFR')).toMatchObject({ valueType: 'SN', valueText: '>^90', valueParts: ['>', '90'] });
  });
});

describe('ASTM with C records and equal values', () => {
  const s = astm('synthetic_chem_comments_equal_values.astm');
  it('stores every R record, carries C records to the record before them', () => {
    expect(s.results.map((r) => r.deviceTestCode)).toEqual(['ALT', 'AST', 'GLU', 'GLU']);
    expect(distinct(s.results)).toBe(4);
    expect(s.results.find((r) => r.deviceTestCode === 'AST')!.comments).toEqual(['Kiểm tra lại do tan máu']);
    expect(s.reports).toHaveLength(1);
    expect(s.reports[0]).toMatchObject({
      specimenId: 'SP26120405',
      specimenIdParts: ['SP26120405', 'R02', 'P11'],
      specimenType: 'SER',
      comments: ['Bệnh nhân nhịn ăn 8 giờ', 'Mẫu vỡ hồng cầu nhẹ'],
    });
    expect(s.results[0]).toMatchObject({
      patientIds: [
        { id: 'BN000912', field: 'P.4' },
        { id: '079190005678', field: 'P.5' },
      ],
      patientNameParts: { family: 'Phạm', given: 'Minh', middle: 'Quân' },
      flags: ['N'],
      observationId: ['', '', '', 'ALT', 'Alanine aminotransferase'],
    });
  });
});

// ---------------------------------------------------------------- through the listener and the store

type Store = Awaited<ReturnType<typeof openStore>>;
let store: Store;
let cleanup: () => void;
let driver: Driver;
let client: TestMllpClient;
beforeAll(async () => {
  const t = tempDir('result-identity-');
  cleanup = t.cleanup;
  store = await openStore({ dir: t.dir, synchronous: 'NORMAL' });
  const port = await freePort();
  driver = hl7DriverFactory.create(makeDriverContext(store, { id: 'an1', routes: [] }), { host: '127.0.0.1', port } as never);
  await driver.start();
  client = await TestMllpClient.open(port);
});
afterAll(async () => {
  client.close();
  await driver.stop();
  store.close();
  cleanup();
});

const storedResults = () => (store.db.prepare("SELECT COUNT(*) AS n FROM journal WHERE stream = 'lab.result'").get() as { n: number }).n;
const obxWithValue = (text: string) => text.split('\r').filter((s) => s.startsWith('OBX|') && s.split('|')[5] !== '' && s.split('|')[2] !== 'ED').length;
let seq = 0;

async function sendAndCount(text: string): Promise<{ added: number; resendAdded: number }> {
  const before = storedResults();
  expect(await client.send(text)).toMatch(/MSA\|(AA|CA)/);
  const added = storedResults() - before;
  expect(await client.send(text)).toMatch(/MSA\|(AA|CA)/);
  return { added, resendAdded: storedResults() - before - added };
}

describe('results stored = OBX segments sent; a resend stores nothing new', () => {
  const files = readdirSync('fixtures/hl7').filter((f) => f.endsWith('.hl7'));
  for (const name of files) {
    it(name, async () => {
      const text = withControlId(hl7Fixture(name), `FX${seq++}`);
      const { added, resendAdded } = await sendAndCount(text);
      expect(added).toBe(obxWithValue(text));
      expect(resendAdded).toBe(0);
    });
  }

  it('generated messages: whatever codes, names and values repeat', async () => {
    const code = fc.constantFrom('', 'GLU', 'pO2', '6690-2');
    const name = fc.constantFrom('', 'pO2', 'pO2(T)', 'Glucose', 'Đường huyết');
    const value = fc.constantFrom('5.4', '5.4', '.....', '>200', '7,1', '92.0');
    const obx = fc.record({
      code,
      name,
      system: fc.constantFrom('', 'M', 'L'),
      subId: fc.constantFrom('', '', '1', '2'),
      value,
      units: fc.constantFrom('', 'mmol/L', 'mmHg'),
      flag: fc.constantFrom('', 'N', 'H', '<'),
    });
    const message = fc.record({
      version: fc.constantFrom('2.2', '2.3.1', '2.5'),
      orders: fc.array(fc.array(obx, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(message, async (m) => {
        const id = `GEN${seq++}`;
        const lines = [`MSH|^~\\&|GEN|LAB|LIS||20261204083015||ORU^R01|${id}|P|${m.version}`, 'PID|1||||Nguyễn^Văn An'];
        m.orders.forEach((obxs, o) => {
          lines.push(`OBR|${o + 1}||${id}-S${o}`);
          obxs.forEach((x, i) => {
            const testName = x.code === '' && x.name === '' ? 'X' : x.name;
            lines.push(`OBX|${i + 1}|ST|${x.code}^${testName}^${x.system}|${x.subId}|${x.value}|${x.units}||${x.flag}|||F|||20261204082900`);
          });
        });
        const text = `${lines.join('\r')}\r`;
        const { added, resendAdded } = await sendAndCount(text);
        expect(added).toBe(obxWithValue(text));
        expect(resendAdded).toBe(0);
      }),
      { numRuns: 40 },
    );
  });
});
