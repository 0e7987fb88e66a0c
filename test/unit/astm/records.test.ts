import Database from 'better-sqlite3';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildQueryAnswer } from '../../../modules/astm/hostQuery.ts';
import {
  astmTimeToIso,
  AstmRecordError,
  DEFAULT_DELIMITERS,
  escapeValue,
  extractResults,
  fieldText,
  parseMessage,
  parseNumber,
  serializeRecord,
  unescapeValue,
} from '../../../modules/astm/records.ts';
import { SqliteOrderCache } from '../../../modules/lab/orderCache.ts';
import { resultIdentity } from '../../../modules/lab/result.ts';

const fixture = (name: string) => readFileSync(`fixtures/lab/${name}`, 'utf8');
const opts = { device: 'an1', timezone: 'Asia/Ho_Chi_Minh', receivedAt: '2026-11-22T10:00:00.000Z' };

describe('E1394 records → LabResult', () => {
  it('Euroimmun: many P/O/R groups, decimal comma, censored values kept as text', () => {
    const s = extractResults(parseMessage(fixture('go-astm_euroimmun_sampleigg.astm')), opts);
    expect(s.hasTerminator).toBe(true);
    expect(s.results.length).toBe(s.counts.R);
    const first = s.results[0]!;
    expect(first).toMatchObject({ deviceTestCode: 'SARSCOV2IGA', valueText: '>8', units: 'Ratio', status: 'F', patientId: 'TEST-27-079-5-1' });
    expect(first.valueNumber).toBeUndefined();
    expect(s.results[1]!.valueText).toBe('7,41');
    expect(s.results[1]!.valueNumber).toBe(7.41);
    // O.3 is empty here: the sample is identified by P.3, so equal values of two patients stay apart.
    expect(new Set(s.results.map(resultIdentity)).size).toBe(s.results.length);
  });

  it('Galileo: two O under one P, component-structured values, completed time in the device zone', () => {
    const s = extractResults(parseMessage(fixture('go-astm_galileo_result.astm')), opts);
    expect(s.sender.name).toBe('Echo');
    expect(s.results).toHaveLength(14);
    const r = s.results.find((x) => x.deviceTestCode === 'Anti-B')!;
    expect(r).toMatchObject({
      specimenId: '0651439A',
      valueText: '3+^3+^45',
      completedRaw: '20060306164429',
      completedAt: '2006-03-06T16:44:29.000+07:00',
      patientName: 'Patient Test',
    });
    expect(s.results.filter((x) => x.deviceTestCode.startsWith('Screen')).length).toBe(4);
  });

  it('IH-Com: C records after each R, repeats in O.3, R.9 statuses', () => {
    const s = extractResults(parseMessage(fixture('go-astm_ihcom_v52_bloodtype.astm')), opts);
    expect(s.counts.C).toBe(4);
    expect(s.results.map((r) => r.deviceTestCode)).toEqual(['AntiA', 'AntiB', 'AntiD', 'Result']);
    expect(s.results[0]).toMatchObject({ specimenId: '1122206642', valueText: '40', status: 'R', testName: 'MO10' });
    expect(s.results[3]!.valueText).toBe('A^NEG^NEG^ccee^K-^NEG');
  });

  it('Cepheid GeneXpert: delimiters read from H|@^\\, Vietnamese name, escapes with \\ as escape char', () => {
    const msg = parseMessage(fixture('synthetic_cepheid_genexpert.astm'));
    expect(msg.delimiters).toEqual({ field: '|', repeat: '@', component: '^', escape: '\\' });
    const s = extractResults(msg, { ...opts, testCodes: { 'MTB-RIF': 'MTB-XPERT' } });
    expect(s.results.map((r) => [r.deviceTestCode, r.testCode, r.valueText])).toEqual([
      ['MTB-RIF', 'MTB-XPERT', 'MTB DETECTED LOW'],
      ['RIF', 'RIF', 'Rif Resistance NOT DETECTED'],
    ]);
    expect(s.results[0]!.patientName).toBe('Nguyễn Văn An');
    const c = msg.records.find((r) => r.type === 'C')!;
    expect(fieldText(c, 4, msg.delimiters)).toBe('note with | field and ^ component');
  });

  it('Sysmex XN: code in R.3 component 5, &R& inside a value, specimen from O.4', () => {
    const s = extractResults(parseMessage(fixture('synthetic_sysmex_xn.astm')), opts);
    expect(s.results.map((r) => r.deviceTestCode)).toEqual(['WBC', 'RBC', 'HGB', 'PLT', 'Blasts/Abn_Lympho?']);
    expect(s.results[0]).toMatchObject({ valueNumber: 7.52, specimenId: '0000000123', instrumentSpecimenId: '0000000123', flags: ['N'] });
    expect(s.results[3]).toMatchObject({ valueText: '>1000', flags: ['H'] });
    expect(s.results[4]!.valueText).toBe('150\\200');
  });

  it('QC detection by H.12 = Q and by O.12 = Q', () => {
    const s = extractResults(parseMessage(fixture('synthetic_cobas_qc.astm')), opts);
    expect(s.results).toHaveLength(1);
    expect(s.results[0]).toMatchObject({ qc: true, valueNumber: 5.4, deviceTestCode: '687/' });
    const byOrder = extractResults(parseMessage('H|\\^&\rP|1\rO|1|S1||^^^GLU|R||||||Q\rR|1|^^^GLU|5\rL|1\r'), opts);
    expect(byOrder.results[0]!.qc).toBe(true);
    const patient = extractResults(parseMessage('H|\\^&\rP|1\rO|1|S1||^^^GLU|R||||||N\rR|1|^^^GLU|5\rL|1\r'), opts);
    expect(patient.results[0]!.qc).toBe(false);
  });

  it('restart after a line failure: repeated H/P/O and records give each result once', () => {
    const once = 'H|\\^&\rP|1||PID\rO|1|S9||^^^GLU\rR|1|^^^GLU|5,1|mmol/L||||F||||20261122101010\r';
    const s = extractResults(parseMessage(once + once + 'R|2|^^^CREA|80|umol/L||||F||||20261122101010\rL|1|N\r'), opts);
    expect(s.results.map((r) => r.deviceTestCode)).toEqual(['GLU', 'CREA']);
    expect(new Set(s.results.map(resultIdentity)).size).toBe(2);
  });

  it('trailing empty fields may be left out', () => {
    const s = extractResults(parseMessage('H|\\^&\rO|1|S1\rR|1|^^^K|4\rL\r'), opts);
    expect(s.results[0]).toMatchObject({ specimenId: 'S1', deviceTestCode: 'K', valueText: '4', status: 'F', flags: [] });
    expect(s.results[0]!.units).toBeUndefined();
  });

  it('host query: Q.3 specimen and requested tests', () => {
    const s = extractResults(parseMessage(fixture('synthetic_cobas_query.astm')), opts);
    expect(s.results).toHaveLength(0);
    expect(s.queries).toEqual([{ specimenIds: ['SP-Q-0001'], requestedTests: [], sequence: '1' }]);
  });
});

describe('escapes, times, numbers', () => {
  const d = DEFAULT_DELIMITERS;
  it('unescapes &F& &S& &R& &E& &Xhh& and drops &H& &N& &Z..&', () => {
    expect(unescapeValue('a&F&b&S&c&R&d&E&e&X41&&X4243&&H&bold&N&&Zlocal&', d)).toBe('a|b^c\\d&eABCbold');
    expect(unescapeValue('unterminated &F', d)).toBe('unterminated &F');
    expect(unescapeValue('&Q&', d)).toBe('&Q&');
  });
  it('escape → unescape round-trips any text', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(unescapeValue(escapeValue(s, d), d)).toBe(s);
      }),
    );
  });
  it('times without an offset are local to the device zone; with an offset they are honoured', () => {
    expect(astmTimeToIso('20261122101500', 'Asia/Ho_Chi_Minh')).toBe('2026-11-22T10:15:00.000+07:00');
    expect(astmTimeToIso('20261122101500+0000', 'Asia/Ho_Chi_Minh')).toBe('2026-11-22T17:15:00.000+07:00');
    expect(astmTimeToIso('202611221015', 'Europe/Berlin')).toBe('2026-11-22T10:15:00.000+01:00');
    expect(astmTimeToIso('20261340', 'Asia/Ho_Chi_Minh')).toBeUndefined();
  });
  it('numbers: decimal comma accepted, censored values refused', () => {
    expect(parseNumber('5,2')).toBe(5.2);
    expect(parseNumber('-0.5')).toBe(-0.5);
    for (const t of ['>8', '<0,1', '-----', '***.**', '', '1e5', 'NaN']) expect(parseNumber(t)).toBeUndefined();
  });
});

describe('serializer and host query answer', () => {
  it('serializes with the H delimiters and leaves out trailing empty fields', () => {
    const cep = { field: '|', repeat: '@', component: '^', escape: '\\' };
    expect(serializeRecord('H', ['H', '', '', '', ['EDGE', '1.0']], cep)).toBe('H|@^\\|||EDGE^1.0');
    expect(serializeRecord('R', ['1', ['', '', '', 'GLU'], 'a|b', '', ''], DEFAULT_DELIMITERS)).toBe('R|1|^^^GLU|a&F&b');
    const back = parseMessage(serializeRecord('H', ['H'], cep) + '\r' + serializeRecord('R', ['1', ['', '', '', 'GLU'], 'x^y'], cep) + '\rL|1\r');
    expect(back.delimiters).toEqual(cep);
    expect(extractResults(back, opts).results[0]!.valueText).toBe('x^y');
  });

  it('answers from the SQLite order cache; unknown specimen gets O.26 = Z', () => {
    const db = new Database(':memory:');
    const cache = new SqliteOrderCache(db);
    cache.upsert({ specimenId: 'SP-Q-0001', patientId: 'BN001', patientName: 'Nguyễn Văn An', tests: ['687', '418'], priority: 'S' });
    cache.upsert({ specimenId: 'SP-Q-0001', patientId: 'BN001', patientName: 'Nguyễn Văn An', tests: ['687', '418', '690'] });
    expect(cache.findBySpecimen('SP-Q-0001')!.tests).toEqual(['687', '418', '690']);
    new SqliteOrderCache(db); // CREATE TABLE IF NOT EXISTS: a second open is harmless
    const text = buildQueryAnswer(
      { specimenIds: ['SP-Q-0001', 'NOPE'], requestedTests: [], sequence: '1' },
      (id) => cache.findBySpecimen(id),
      DEFAULT_DELIMITERS,
      { now: '20261122101011' },
    );
    const msg = parseMessage(text);
    expect(msg.records.map((r) => r.type)).toEqual(['H', 'P', 'O', 'P', 'O', 'L']);
    const [o1, o2] = msg.records.filter((r) => r.type === 'O');
    expect(o1!.fields[2]).toBe('SP-Q-0001');
    expect(o1!.fields[4]).toBe('^^^687\\^^^418\\^^^690');
    expect(o1!.fields[25]).toBe('Q');
    expect(o2!.fields[25]).toBe('Z');
    expect(msg.records[1]!.fields[5]).toBe('Nguyễn^An^Văn');
  });
});

describe('fuzz', () => {
  it('parseMessage + extractResults only throw AstmRecordError, on any text', () => {
    const astmish = fc
      .array(fc.constantFrom('H|\\^&', 'H|@^\\', 'P|1', 'O|1|S', 'R|1|^^^X|1,5', 'Q|1|^S', 'L|1', '|', '^', '\\', '&', '&X4', '\r', '\n', 'x', 'Đ'), {
        maxLength: 60,
      })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), astmish), (text) => {
        try {
          extractResults(parseMessage(text), opts);
        } catch (err) {
          expect(err).toBeInstanceOf(AstmRecordError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
