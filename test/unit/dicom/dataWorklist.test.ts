import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readDataset, writeDataset, stringElement, sequenceElement, findElement, getString } from '../../../modules/dicom/data/codec.ts';
import type { DataElement } from '../../../modules/dicom/data/codec.ts';
import { characterSetOf, textOf, utf8Element, utf8CharsetElement } from '../../../modules/dicom/data/charset.ts';
import { matchWorklist, matchesKey, personNameOf, studyUidForOrder, describeQuery } from '../../../modules/dicom/data/worklist.ts';
import { IMPLICIT_LE, EXPLICIT_LE } from '../../../modules/dicom/data/transferSyntaxes.ts';
import type { LabOrder } from '../../../modules/lab/orderCache.ts';

const ORDERS: LabOrder[] = [
  {
    specimenId: 'S1',
    patientId: 'BN0001',
    patientName: 'Nguyễn Thị Hương',
    patientBirthDate: '1980-01-01',
    patientSex: 'F',
    tests: ['US001'],
    orderedAt: '2026-11-22T01:30:00Z',
    orderId: 'ORD1',
    accessionNumber: 'ACC1',
    items: [{ code: 'US001', name: 'Siêu âm ổ bụng tổng quát', modality: 'US' }],
  },
  {
    specimenId: 'S2',
    patientId: 'BN0002',
    patientName: 'Trần Văn Đức',
    patientBirthDate: '1975-05-05',
    patientSex: 'M',
    tests: ['CT01', 'DX01'],
    orderedAt: '2026-11-23T03:00:00Z',
    orderId: 'ORD2',
    accessionNumber: 'ACC2',
    priority: 'S',
    items: [
      { code: 'CT01', name: 'CT sọ não không tiêm thuốc', modality: 'CT' },
      { code: 'DX01', name: 'X-quang ngực thẳng', modality: 'DX' },
    ],
  },
  { specimenId: 'S3', patientId: 'BN0003', tests: ['X'], orderedAt: '2026-11-22T02:00:00Z' },
];

/** A worklist query as a modality (or `findscu -W` with DCMTK's wlistqry files) sends it. */
function query(top: Record<number, string>, step: Record<number, string>, extraTop: DataElement[] = []): DataElement[] {
  const vr = (tag: number) =>
    ({
      0x00100010: 'PN',
      0x00100020: 'LO',
      0x00100030: 'DA',
      0x00100040: 'CS',
      0x00080050: 'SH',
      0x0020000d: 'UI',
      0x00321060: 'LO',
      0x00401001: 'SH',
      0x00080060: 'CS',
      0x00400001: 'AE',
      0x00400002: 'DA',
      0x00400003: 'TM',
      0x00400007: 'LO',
      0x00400009: 'SH',
      0x00400010: 'SH',
      0x00400011: 'SH',
      0x00080090: 'PN',
    })[tag] ?? 'LO';
  const item = Object.entries(step)
    .map(([t, v]) => stringElement(Number(t), vr(Number(t)), v))
    .sort((a, b) => a.tag - b.tag);
  const els = [...Object.entries(top).map(([t, v]) => stringElement(Number(t), vr(Number(t)), v)), sequenceElement(0x00400100, [item]), ...extraTop];
  return els.sort((a, b) => a.tag - b.tag);
}

const ALL_STEP = { 0x00080060: '', 0x00400001: '', 0x00400002: '', 0x00400003: '', 0x00400007: '', 0x00400009: '' };
const ALL_TOP = { 0x00100010: '', 0x00100020: '', 0x00100030: '', 0x00100040: '', 0x00080050: '', 0x0020000d: '', 0x00321060: '' };

function names(answers: DataElement[][]): string[] {
  return answers.map((a) => textOf(a, 0x00100010, characterSetOf(a)) ?? '');
}

describe('Modality Worklist matching (PS3.4 K.6)', () => {
  it('universal query: one answer per scheduled procedure step, every asked key present, ISO_IR 192', () => {
    const answers = matchWorklist(query(ALL_TOP, ALL_STEP), ORDERS, undefined, { stationAeTitle: 'US01' });
    expect(answers).toHaveLength(4);
    const first = answers[0]!;
    expect(getString(first, 0x00080005)).toBe('ISO_IR 192');
    expect(textOf(first, 0x00100010, ['ISO_IR 192'])).toBe('Nguyễn^Thị Hương');
    expect(textOf(first, 0x00321060, ['ISO_IR 192'])).toBe('Siêu âm ổ bụng tổng quát');
    expect(getString(first, 0x00100030)).toBe('19800101');
    const step = findElement(first, 0x00400100)!.items![0]!;
    expect(step.map((e) => e.tag)).toEqual([0x00080060, 0x00400001, 0x00400002, 0x00400003, 0x00400007, 0x00400009]);
    expect(getString(step, 0x00080060)).toBe('US');
    expect(getString(step, 0x00400002)).toBe('20261122'); // 01:30Z is 08:30 in Ho Chi Minh City
    expect(getString(step, 0x00400003)).toBe('083000');
    expect(getString(step, 0x00400001)).toBe('US01');
    expect(textOf(step, 0x00400007, ['ISO_IR 192'])).toBe('Siêu âm ổ bụng tổng quát');
    // Keys asked for but unknown come back empty (S3 has no name), never missing.
    expect(findElement(answers[3]!, 0x00100010)!.value.length).toBe(0);
  });

  it('by modality, date range, station AE, patient id', () => {
    expect(names(matchWorklist(query(ALL_TOP, { ...ALL_STEP, 0x00080060: 'CT' }), ORDERS))).toEqual(['Trần^Văn Đức']);
    expect(matchWorklist(query(ALL_TOP, { ...ALL_STEP, 0x00400002: '20261123-' }), ORDERS)).toHaveLength(2);
    expect(matchWorklist(query(ALL_TOP, { ...ALL_STEP, 0x00400002: '-20261122' }), ORDERS)).toHaveLength(2);
    expect(matchWorklist(query(ALL_TOP, { ...ALL_STEP, 0x00400002: '20261122-20261122' }), ORDERS)).toHaveLength(2);
    expect(matchWorklist(query(ALL_TOP, { ...ALL_STEP, 0x00400002: '20261122', 0x00400003: '0800-0859' }), ORDERS)).toHaveLength(1);
    expect(matchWorklist(query(ALL_TOP, { ...ALL_STEP, 0x00400002: '20261122', 0x00400003: '0800-0900' }), ORDERS)).toHaveLength(2); // S3 at 09:00:00, range inclusive
    expect(matchWorklist(query({ ...ALL_TOP, 0x00100020: 'BN0002' }, ALL_STEP), ORDERS)).toHaveLength(2);
    // The cache's orders name no station: any station AE matches and is echoed back.
    const asked = matchWorklist(query(ALL_TOP, { ...ALL_STEP, 0x00400001: 'CT_ROOM1' }), ORDERS);
    expect(asked).toHaveLength(4);
    expect(getString(findElement(asked[0]!, 0x00400100)!.items![0]!, 0x00400001)).toBe('CT_ROOM1');
    // With a configured station, other stations get nothing.
    expect(matchWorklist(query(ALL_TOP, { ...ALL_STEP, 0x00400001: 'CT_ROOM1' }), ORDERS, undefined, { stationAeTitle: 'US01' })).toHaveLength(0);
  });

  it("an order's scheduled step: its station alone finds it, at its scheduled time, with station name, room and referring doctor", () => {
    const scheduled: LabOrder = {
      specimenId: 'S4',
      patientId: 'BN0004',
      patientName: 'Lê Thị Mai',
      tests: ['CT01'],
      orderedAt: '2026-11-22T00:55:00Z',
      accessionNumber: 'ACC4',
      items: [{ code: 'CT01', name: 'CT sọ não', modality: 'CT' }],
      referringPhysician: 'Phạm Minh Quang',
      scheduled: { at: '2026-11-24T02:10:00Z', stationAeTitle: 'CT_KHOA_A', stationName: 'CT phòng 2', location: 'P.012' },
    };
    const orders = [...ORDERS, scheduled];
    const step = { ...ALL_STEP, 0x00400010: '', 0x00400011: '' };
    const top = { ...ALL_TOP, 0x00080090: '' };
    const atStation = (ae: string, options = {}) => matchWorklist(query(top, { ...step, 0x00400001: ae }), orders, undefined, options);
    // Its own station finds it (and the orders without a station); another station does not, even with a configured default.
    expect(names(atStation('CT_KHOA_A'))).toContain('Lê^Thị Mai');
    expect(names(atStation('CT_KHOA_B'))).not.toContain('Lê^Thị Mai');
    expect(names(atStation('CT_KHOA_A', { stationAeTitle: 'US01' }))).toEqual(['Lê^Thị Mai']);
    const answer = atStation('CT_KHOA_A').find((a) => getString(a, 0x00080050) === 'ACC4')!;
    const sps = findElement(answer, 0x00400100)!.items![0]!;
    expect(getString(sps, 0x00400001)).toBe('CT_KHOA_A');
    expect(getString(sps, 0x00400002)).toBe('20261124'); // the scheduled time, not orderedAt (22 Nov)
    expect(getString(sps, 0x00400003)).toBe('091000');
    expect(textOf(sps, 0x00400010, ['ISO_IR 192'])).toBe('CT phòng 2');
    expect(getString(sps, 0x00400011)).toBe('P.012');
    expect(textOf(answer, 0x00080090, ['ISO_IR 192'])).toBe('Phạm^Minh Quang');
    // A date range finds it by its scheduled day.
    expect(names(matchWorklist(query(top, { ...step, 0x00400002: '20261124' }), orders))).toEqual(['Lê^Thị Mai']);
  });

  it('procedure codes: the Requested Procedure and Scheduled Protocol Code Sequences carry the HIS item, matched and answered', () => {
    const codeItem = (value = '') => [stringElement(0x00080100, 'SH', value), stringElement(0x00080102, 'SH', ''), stringElement(0x00080104, 'LO', '')];
    // An empty item asks for the whole code; each step gets its own item's code.
    const all = matchWorklist(query(ALL_TOP, ALL_STEP, [sequenceElement(0x00321064, [[]])]), ORDERS);
    const codeOf = (a: DataElement[], tag: number) => findElement(a, tag)!.items![0];
    expect(all.map((a) => getString(codeOf(a, 0x00321064)!, 0x00080100))).toEqual(['US001', 'CT01', 'DX01', 'X']);
    expect(getString(codeOf(all[1]!, 0x00321064)!, 0x00080102)).toBe('99HIS');
    expect(textOf(codeOf(all[1]!, 0x00321064)!, 0x00080104, ['ISO_IR 192'])).toBe('CT sọ não không tiêm thuốc');
    // A code value in the query matches it, at the top and inside the step; asked keys only come back.
    const byCode = matchWorklist(query(ALL_TOP, ALL_STEP, [sequenceElement(0x00321064, [codeItem('CT01')])]), ORDERS);
    expect(names(byCode)).toEqual(['Trần^Văn Đức']);
    const stepQuery = query(ALL_TOP, ALL_STEP).map((e) =>
      e.tag === 0x00400100 ? sequenceElement(0x00400100, [[...e.items![0]!, sequenceElement(0x00400008, [codeItem('US*')])].sort((x, y) => x.tag - y.tag)]) : e,
    );
    const byProtocol = matchWorklist(stepQuery, ORDERS, undefined, { codingScheme: 'BV-DVKT' });
    expect(names(byProtocol)).toEqual(['Nguyễn^Thị Hương']);
    const protocol = codeOf(findElement(byProtocol[0]!, 0x00400100)!.items![0]!, 0x00400008)!;
    expect(protocol.map((e) => [e.tag, e.value.toString('utf8').trim()])).toEqual([
      [0x00080100, 'US001'],
      [0x00080102, 'BV-DVKT'],
      [0x00080104, 'Siêu âm ổ bụng tổng quát'],
    ]);
    // Through the wire and back, nested in the step.
    const back = readDataset(writeDataset(byProtocol[0]!, EXPLICIT_LE), EXPLICIT_LE);
    expect(getString(codeOf(findElement(back, 0x00400100)!.items![0]!, 0x00400008)!, 0x00080100)).toBe('US001');
  });

  it('patient name: wildcards, case- and diacritic-insensitive (a modality keyboard types NGUYEN)', () => {
    expect(names(matchWorklist(query({ ...ALL_TOP, 0x00100010: 'NGUYEN*' }, ALL_STEP), ORDERS))).toEqual(['Nguyễn^Thị Hương']);
    expect(names(matchWorklist(query({ ...ALL_TOP, 0x00100010: 'tran^van d?c' }, ALL_STEP), ORDERS))).toEqual(['Trần^Văn Đức', 'Trần^Văn Đức']);
    expect(matchWorklist(query({ ...ALL_TOP, 0x00100010: 'LE*' }, ALL_STEP), ORDERS)).toHaveLength(0);
    // A UTF-8 query with the exact Vietnamese name.
    const q = query(ALL_TOP, ALL_STEP).filter((e) => e.tag !== 0x00100010);
    q.push(utf8CharsetElement(), utf8Element(0x00100010, 'PN', 'Nguyễn^Thị*'));
    q.sort((a, b) => a.tag - b.tag);
    expect(names(matchWorklist(q, ORDERS))).toEqual(['Nguyễn^Thị Hương']);
  });

  it('round-trips through implicit VR LE bytes as a C-FIND would carry them', () => {
    const wire = writeDataset(query({ ...ALL_TOP, 0x00100010: 'NGUYEN*' }, { ...ALL_STEP, 0x00080060: 'US' }), IMPLICIT_LE);
    const received = readDataset(wire, IMPLICIT_LE);
    const answers = matchWorklist(received, ORDERS);
    expect(answers).toHaveLength(1);
    for (const ts of [IMPLICIT_LE, EXPLICIT_LE]) {
      const back = readDataset(writeDataset(answers[0]!, ts), ts);
      expect(textOf(back, 0x00100010, characterSetOf(back))).toBe('Nguyễn^Thị Hương');
      const step = findElement(back, 0x00400100)!.items![0]!;
      expect(textOf(step, 0x00400007, characterSetOf(step, characterSetOf(back)))).toBe('Siêu âm ổ bụng tổng quát');
    }
    expect(describeQuery(received)).not.toMatch(/NGUYEN/);
  });

  it('study UID stable per order; names converted to PN; key matching rules', () => {
    expect(studyUidForOrder('ACC1')).toBe(studyUidForOrder('ACC1'));
    expect(studyUidForOrder('ACC1')).toMatch(/^2\.25\.\d{30,39}$/);
    expect(studyUidForOrder('ACC1')).not.toBe(studyUidForOrder('ACC2'));
    expect(personNameOf('  Lê   Văn  Tám ')).toBe('Lê^Văn Tám');
    expect(personNameOf('LE^VAN TAM')).toBe('LE^VAN TAM');
    expect(matchesKey('UI', '1.2\\1.3', '1.3')).toBe(true);
    expect(matchesKey('CS', 'us', 'US')).toBe(false); // CS is case-sensitive
    expect(matchesKey('DA', '20261122', undefined)).toBe(false);
    expect(matchesKey('LO', '', undefined)).toBe(true);
  });
});

describe('worklist fuzz', () => {
  it('arbitrary key values (wildcards, ranges, garbage) never throw', () => {
    const text = fc.string({ maxLength: 20 });
    fc.assert(
      fc.property(text, text, text, text, text, (name, id, date, time, mod) => {
        const q = query({ ...ALL_TOP, 0x00100010: name, 0x00100020: id }, { ...ALL_STEP, 0x00400002: date, 0x00400003: time, 0x00080060: mod });
        expect(Array.isArray(matchWorklist(q, ORDERS))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
