import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { type LabOrder, SqliteOrderCache } from '../../../modules/lab/orderCache.ts';
import { buildQueryAnswer, Hl7QueryError, parseHostQuery } from '../../../modules/hl7/hostQuery.ts';
import { comp, field, header, Hl7ParseError, parseHl7, segment } from '../../../modules/hl7/message.ts';
import { applyOrders, Hl7OrderError, ordersFromHl7 } from '../../../modules/hl7/orders.ts';
import { hl7Segment } from '../../helpers/hl7Fixtures.ts';

const TZ = 'Asia/Ho_Chi_Minh';
const NOW = Date.UTC(2026, 10, 22, 3, 0, 0);

// Mindray BS/BC host query layout: QRD-8 holds the sample barcode.
const QRY =
  [
    'MSH|^~\\&|BC-5380|Mindray|||20261122100000||QRY^Q02|Q7|P|2.3.1||||||UNICODE',
    'QRD|20261122100000|R|D|7|||RD|SID-001|OTH|||T',
    'QRF|BC-5380|||||RCT|COR|ALL||',
  ].join('\r') + '\r';
const QBP =
  ['MSH|^~\\&|CL-900i|Mindray|LIS||20261122100000||QBP^Q11^QBP_Q11|Q8|P|2.5.1||||||UNICODE UTF-8', 'QPD|WOS^Work Order Step^IHE_LABTF|TAG-9|SID-001'].join(
    '\r',
  ) + '\r';

const ORDER: LabOrder = {
  specimenId: 'SID-001',
  patientId: 'BN-42',
  patientName: 'Nguyễn Thị Ánh',
  patientBirthDate: '19800101',
  patientSex: 'F',
  tests: ['CBC-WBC', 'CBC-HGB'],
  priority: 'S',
  orderedAt: '2026-11-22T09:30:00.000+07:00',
};

function answer(text: string, order: LabOrder | undefined) {
  const msg = parseHl7(text);
  const hdr = header(msg);
  let n = 0;
  return buildQueryAnswer(hdr, parseHostQuery(msg, hdr), order, {
    delimiters: msg.delimiters,
    nextControlId: () => `R${++n}`,
    nowMs: NOW,
    timeZone: TZ,
    application: 'EDGE',
    testCodesToDevice: { 'CBC-WBC': 'WBC' },
  }).map(parseHl7);
}

describe('host query QRY^Q02 → QCK^Q02 + DSR^Q03', () => {
  it('answers a known specimen with QCK (QAK OK) then DSR with Mindray DSP lines and device test codes', () => {
    const [qck, dsr] = answer(QRY, ORDER);
    expect(header(qck!)).toMatchObject({
      messageType: 'QCK',
      triggerEvent: 'Q02',
      receivingApplication: 'BC-5380',
      sendingApplication: 'EDGE',
      version: '2.3.1',
      charset: 'UNICODE',
      controlId: 'R1',
    });
    expect(field(segment(qck!, 'MSA'), 2)).toBe('Q7');
    expect(field(segment(qck!, 'QAK'), 2)).toBe('OK');
    expect(header(dsr!)).toMatchObject({ messageType: 'DSR', triggerEvent: 'Q03', controlId: 'R2' });
    const dsp = new Map(dsr!.segments.filter((s) => s.id === 'DSP').map((s) => [Number(field(s, 1)), comp(dsr!, s, 3)]));
    expect(dsp.get(1)).toBe('BN-42');
    expect(dsp.get(3)).toBe('Nguyễn Thị Ánh');
    expect(dsp.get(21)).toBe('SID-001');
    expect(dsp.get(23)).toBe('20261122093000+0700');
    expect(dsp.get(24)).toBe('Y');
    expect([dsp.get(29), dsp.get(30)]).toEqual(['WBC', 'CBC-HGB']);
    // The query is echoed so the analyzer can match the answer.
    expect(comp(dsr!, segment(dsr!, 'QRD'), 8)).toBe('SID-001');
    expect(dsr!.segments.at(-1)!.id).toBe('DSC');
  });

  it('answers an unknown specimen with QCK (QAK NF) and no DSR', () => {
    const out = answer(QRY, undefined);
    expect(out).toHaveLength(1);
    expect(field(segment(out[0]!, 'QAK'), 2)).toBe('NF');
  });

  it('refuses a query without the barcode, by name of the field', () => {
    const msg = parseHl7(QRY.replace('SID-001', ''));
    expect(() => parseHostQuery(msg, header(msg))).toThrow(/QRD-8/);
  });
});

describe('host query QBP^Q11 → RSP^K11', () => {
  it('answers with QAK (tag, OK, one hit), the QPD echoed, PID, SPM and ORC/OBR per test', () => {
    const [rsp] = answer(QBP, ORDER);
    expect(header(rsp!)).toMatchObject({ messageType: 'RSP', triggerEvent: 'K11', version: '2.5.1', charset: 'UNICODE UTF-8' });
    const qak = segment(rsp!, 'QAK')!;
    expect([field(qak, 1), field(qak, 2), field(qak, 4)]).toEqual(['TAG-9', 'OK', '1']);
    expect(field(segment(rsp!, 'QPD'), 3)).toBe('SID-001');
    expect(comp(rsp!, segment(rsp!, 'PID'), 5, 1)).toBe('Nguyễn');
    expect(comp(rsp!, segment(rsp!, 'PID'), 5, 2)).toBe('Thị Ánh');
    expect(rsp!.segments.filter((s) => s.id === 'OBR').map((s) => comp(rsp!, s, 4))).toEqual(['WBC', 'CBC-HGB']);
    expect(field(segment(rsp!, 'OBR'), 5)).toBe('S');
  });

  it('answers NF with zero hits and no patient when the order is unknown', () => {
    const [rsp] = answer(QBP, undefined);
    expect(field(segment(rsp!, 'QAK'), 2)).toBe('NF');
    expect(field(segment(rsp!, 'QAK'), 4)).toBe('0');
    expect(segment(rsp!, 'PID')).toBeUndefined();
  });
});

const ORM =
  [
    'MSH|^~\\&|LIS|BV|EDGE||20261122091500||ORM^O01|O1|P|2.3.1||||||UNICODE',
    'PID|1||BN-42||Nguyễn^Thị Ánh||19800101|F',
    'ORC|NW|P1|SID-001||||^^^^^S||20261122091000',
    'OBR|1|P1|SID-001|CBC-WBC^WBC',
    'ORC|NW|P2|SID-001',
    'OBR|2|P2|SID-001|CBC-HGB^HGB',
    'ORC|NW|P3|SID-002',
    'OBR|3|P3|SID-002|GLU^Glucose|R',
  ].join('\r') + '\r';

const OML =
  [
    'MSH|^~\\&|HIS|BV|EDGE||20261122091500||OML^O21^OML_O21|O2|P|2.5.1||||||UNICODE UTF-8',
    'PID|1||BN-43||Trần^Văn Bình||19700505|M',
    'ORC|NW|P9',
    'OBR|1|P9||CREA^Creatinine',
    'SPM|1|SID-003||SER',
  ].join('\r') + '\r';

describe('orders from the LIS/HIS (ORM^O01, OML^O21)', () => {
  it('groups ORC/OBR pairs per specimen with the patient, priority and order time in the zone', () => {
    const { orders, cancels } = ordersFromHl7(parseHl7(ORM), TZ);
    expect(cancels).toEqual([]);
    expect(orders).toEqual([
      {
        specimenId: 'SID-001',
        patientId: 'BN-42',
        patientName: 'Nguyễn Thị Ánh',
        patientBirthDate: '19800101',
        patientSex: 'F',
        tests: ['CBC-WBC', 'CBC-HGB'],
        items: [
          { code: 'CBC-WBC', name: 'WBC' },
          { code: 'CBC-HGB', name: 'HGB' },
        ],
        priority: 'S',
        orderedAt: '2026-11-22T09:10:00.000+07:00',
      },
      {
        specimenId: 'SID-002',
        patientId: 'BN-42',
        patientName: 'Nguyễn Thị Ánh',
        patientBirthDate: '19800101',
        patientSex: 'F',
        tests: ['GLU'],
        items: [{ code: 'GLU', name: 'Glucose' }],
        priority: 'R',
      },
    ]);
  });

  it('takes the specimen id from SPM-2 in OML^O21 (SPM follows OBR)', () => {
    const { orders } = ordersFromHl7(parseHl7(OML), TZ);
    expect(orders).toMatchObject([{ specimenId: 'SID-003', tests: ['CREA'], patientName: 'Trần Văn Bình' }]);
  });

  it('imaging orders (OMI^O23): procedure name and modality, scheduled time, station from IPC, referring doctor', () => {
    const omi =
      [
        'MSH|^~\\&|HIS|BV|EDGE||20261203080000||OMI^O23^OMI_O23|O3|P|2.5.1||||||UNICODE UTF-8',
        'PID|1||BN-44||Lê^Thị Mai||19900303|F',
        hl7Segment('PV1', { 1: '1', 2: 'O', 8: 'BS01^Phạm^Minh^Quang' }),
        hl7Segment('ORC', { 1: 'NW', 2: 'P20', 9: '20261203075500' }),
        hl7Segment('TQ1', { 1: '1', 7: '20261203091000' }),
        hl7Segment('OBR', { 1: '1', 2: 'P20', 3: 'ACC-77', 4: 'CT01^CT sọ não', 24: 'CT' }),
        hl7Segment('IPC', { 1: 'ACC-77', 2: 'RP77', 3: '1.2.3', 4: 'SPS77', 5: 'CT', 7: 'CT PHONG 2', 8: 'P.012', 9: 'CT_KHOA_A' }),
        hl7Segment('ORC', { 1: 'NW', 2: 'P21' }),
        hl7Segment('OBR', { 1: '2', 2: 'P21', 3: 'ACC-78', 4: 'XQ01^X-quang ngực', 24: 'RAD', 36: '20261203100000' }),
      ].join('\r') + '\r';
    const { orders } = ordersFromHl7(parseHl7(omi), TZ);
    expect(orders).toMatchObject([
      {
        specimenId: 'ACC-77',
        tests: ['CT01'],
        items: [{ code: 'CT01', name: 'CT sọ não', modality: 'CT' }],
        orderedAt: '2026-12-03T07:55:00.000+07:00',
        referringPhysician: 'Phạm^Minh^Quang',
        scheduled: { at: '2026-12-03T09:10:00.000+07:00', stationAeTitle: 'CT_KHOA_A', stationName: 'CT PHONG 2', location: 'P.012' },
      },
      // RAD names no DICOM modality; OBR-36 holds the time; no IPC, no station.
      { specimenId: 'ACC-78', items: [{ code: 'XQ01', name: 'X-quang ngực' }], scheduled: { at: '2026-12-03T10:00:00.000+07:00' } },
    ]);
    expect(orders[1]!.scheduled).not.toHaveProperty('stationAeTitle');
    // Every test of an order has its item, named or not (the worklist makes one step per item).
    const unnamed = ordersFromHl7(parseHl7(ORM.replace('CBC-HGB^HGB', 'CBC-HGB')), TZ).orders[0]!;
    expect(unnamed.items).toEqual([{ code: 'CBC-WBC', name: 'WBC' }, { code: 'CBC-HGB' }]);
    // A station AE a modality could not match is refused where it arrived, naming the field.
    expect(() => ordersFromHl7(parseHl7(omi.replace('CT_KHOA_A', 'CT_PHÒNG')), TZ)).toThrow(/IPC-9 \(scheduled station AE title\) must be 1–16 ASCII/);
  });

  it('applies new orders and cancellations (ORC-1 CA) to the cache, idempotently', () => {
    const cache = new SqliteOrderCache(new Database(':memory:'));
    const batch = ordersFromHl7(parseHl7(ORM), TZ);
    applyOrders(cache, batch);
    applyOrders(cache, batch);
    expect(cache.findBySpecimen('SID-001')!.tests).toEqual(['CBC-WBC', 'CBC-HGB']);
    const cancel = ORM.split('\r').slice(0, 4).join('\r').replace('ORC|NW|', 'ORC|CA|') + '\r';
    const c = ordersFromHl7(parseHl7(cancel), TZ);
    expect(c.cancels).toEqual([{ specimenId: 'SID-001', orderId: 'P1', tests: ['CBC-WBC'] }]);
    applyOrders(cache, c);
    applyOrders(cache, c);
    expect(cache.findBySpecimen('SID-001')!.tests).toEqual(['CBC-HGB']);
    expect(cache.findBySpecimen('SID-001')!.items).toEqual([{ code: 'CBC-HGB', name: 'HGB' }]);
    // The last test cancelled: the order is cancelled, no longer offered to host queries.
    const lastCancel = 'MSH|^~\\&|LIS|BV|EDGE||20261122093000||ORM^O01|O9|P|2.3.1\rPID|1||BN-42\rORC|OC|P2|SID-001\rOBR|1|P2|SID-001|CBC-HGB^HGB\r';
    applyOrders(cache, ordersFromHl7(parseHl7(lastCancel), TZ));
    expect(cache.findBySpecimen('SID-001')).toBeUndefined();
  });

  it('refuses an order without a test or a specimen, naming what is missing', () => {
    expect(() => ordersFromHl7(parseHl7(ORM.replace('CBC-WBC^WBC', '')), TZ)).toThrow(/OBR 1: OBR-4/);
    expect(() => ordersFromHl7(parseHl7('MSH|^~\\&|LIS||||x||ORM^O01|1|P|2.3\rPID|1\rOBR|1|||X\r'), TZ)).toThrow(/no specimen id/);
    expect(() => ordersFromHl7(parseHl7('MSH|^~\\&|LIS||||x||ORM^O01|1|P|2.3\rPID|1\r'), TZ)).toThrow(Hl7OrderError);
  });

  it('never fails other than with a typed error on arbitrary segments (fuzz)', () => {
    const seg = fc
      .tuple(fc.constantFrom('PID', 'ORC', 'OBR', 'SPM', 'QRD', 'QPD', 'NTE'), fc.array(fc.string({ maxLength: 12 }), { maxLength: 10 }))
      .map(([id, f]) => [id, ...f].join('|'));
    fc.assert(
      fc.property(fc.constantFrom('ORM^O01', 'OML^O21', 'QRY^Q02', 'QBP^Q11'), fc.array(seg, { maxLength: 8 }), (type, segs) => {
        const text = [`MSH|^~\\&|A||||20261122||${type}|1|P|2.5`, ...segs].join('\r');
        try {
          const msg = parseHl7(text);
          if (type.startsWith('Q')) {
            const hdr = header(msg);
            const q = parseHostQuery(msg, hdr);
            buildQueryAnswer(hdr, q, ORDER, { delimiters: msg.delimiters, nextControlId: () => 'R', nowMs: NOW, timeZone: TZ });
          } else ordersFromHl7(msg, TZ);
        } catch (err) {
          if (!(err instanceof Hl7ParseError || err instanceof Hl7OrderError || err instanceof Hl7QueryError)) throw err;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
