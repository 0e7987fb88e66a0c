import { describe, expect, it } from 'vitest';
import { controlIdFor } from '../../../modules/hl7/ack.ts';
import { buildOru, reportOf } from '../../../modules/hl7/oru.ts';
import { comp, field, header, parseHl7, segment } from '../../../modules/hl7/message.ts';
import { resultIdentity, type LabResult } from '../../../modules/lab/result.ts';

const r: LabResult = {
  device: 'xn1',
  protocol: 'astm',
  specimenId: 'S|1^x',
  deviceTestCode: 'WBC',
  testCode: 'CBC-WBC',
  observationId: ['', '', '', 'WBC'],
  occurrence: 1,
  testName: 'Bạch cầu',
  valueText: '>8',
  units: '10*9/L',
  referenceRange: '4-10',
  flags: ['H', 'A'],
  status: 'C',
  completedRaw: '20261122091000',
  completedAt: '2026-11-22T09:10:00.000+07:00',
  timezone: 'Asia/Ho_Chi_Minh',
  receivedAt: '2026-11-22T09:11:00.000+07:00',
  qc: false,
  patientId: 'BN-1',
  patientName: 'Nguyễn Văn An',
  patientSex: 'M',
};

describe('ORU^R01 built from a LabResult', () => {
  it('reads back with every field in place, delimiters in values escaped, MSH-18 UNICODE UTF-8', () => {
    const msg = parseHl7(buildOru(reportOf(r), 'CID1', { sendingApplication: 'EDGE', receivingApplication: 'LIS' }, Date.UTC(2026, 10, 22, 2, 11)));
    expect(header(msg)).toMatchObject({
      messageType: 'ORU',
      triggerEvent: 'R01',
      controlId: 'CID1',
      processingId: 'P',
      version: '2.5.1',
      charset: 'UNICODE UTF-8',
      sendingApplication: 'EDGE',
      receivingApplication: 'LIS',
      time: '20261122091100+0700',
    });
    const obx = segment(msg, 'OBX');
    expect(comp(msg, segment(msg, 'OBR'), 3)).toBe('S|1^x');
    expect([
      comp(msg, obx, 3, 1),
      comp(msg, obx, 3, 2),
      comp(msg, obx, 5),
      comp(msg, obx, 6),
      field(obx, 8),
      field(obx, 11),
      field(obx, 2),
      field(obx, 14),
    ]).toEqual(['CBC-WBC', 'Bạch cầu', '>8', '10*9/L', 'H~A', 'C', 'ST', '20261122091000+0700']);
    expect(comp(msg, segment(msg, 'PID'), 5)).toBe('Nguyễn Văn An');
  });

  it('QC results go out with MSH-11 Q; numeric values as NM', () => {
    const msg = parseHl7(buildOru(reportOf({ ...r, qc: true, valueText: '5.2', valueNumber: 5.2 }), 'C', {}, 0));
    expect(header(msg).processingId).toBe('Q');
    expect(field(segment(msg, 'OBX'), 2)).toBe('NM');
  });

  it('MSH-10 comes from the idempotency key: the same on every retry, at most 20 characters, different per result', () => {
    const a = controlIdFor(resultIdentity(r));
    expect(a).toBe(controlIdFor(resultIdentity({ ...r })));
    expect(a).toMatch(/^[0-9a-f]{20}$/);
    expect(controlIdFor(resultIdentity({ ...r, status: 'F' }))).not.toBe(a);
  });
});
