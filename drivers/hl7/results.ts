import type { LabResult } from '../lab/result.ts';
import { deviceTimeToIso, parseNumber } from '../lab/values.ts';
import { comp, field, type Hl7Message, type Hl7Segment } from './message.ts';

export interface Hl7ResultOptions {
  device: string;
  timezone: string;
  receivedAt: string;
  testCodes?: Record<string, string>;
}

/**
 * Maps PID/OBR/OBX groups to LabResults. Specimen id: OBR-3 (filler, what Mindray and most
 * analyzers put the sample barcode in), else OBR-2, else SPM-2. OBX rows without a value
 * (Mindray sends empty BAS#, histogram lines…) and ED rows (Base64 images) are not results.
 * QC: MSH-11 'Q' (Mindray's QC messages).
 */
export function extractHl7Results(msg: Hl7Message, opts: Hl7ResultOptions): LabResult[] {
  const results: LabResult[] = [];
  const qc = comp(msg, msg.segments[0], 11) === 'Q';
  let pid: Hl7Segment | undefined;
  let obr: Hl7Segment | undefined;
  let spm: Hl7Segment | undefined;
  const seen = new Set<string>();
  for (const seg of msg.segments) {
    if (seg.id === 'PID') {
      pid = seg;
      obr = undefined;
    } else if (seg.id === 'OBR') obr = seg;
    else if (seg.id === 'SPM') spm = seg;
    else if (seg.id === 'OBX') {
      const valueType = field(seg, 2);
      const valueText = comp(msg, seg, 5).trim();
      if (valueType === 'ED' || valueText === '') continue;
      const deviceTestCode = comp(msg, seg, 3, 1);
      const specimenId = comp(msg, obr, 3) || comp(msg, obr, 2) || comp(msg, spm, 2);
      const completedRaw = comp(msg, seg, 14) || comp(msg, obr, 7);
      const family = comp(msg, pid, 5, 1);
      const given = comp(msg, pid, 5, 2);
      const r: LabResult = {
        device: opts.device,
        protocol: 'hl7',
        specimenId,
        deviceTestCode,
        testCode: opts.testCodes?.[deviceTestCode] ?? deviceTestCode,
        valueText,
        flags: field(seg, 8).split(msg.delimiters.repetition).map((f) => f.trim()).filter((f) => f && f !== 'N'),
        status: field(seg, 11) || 'F',
        timezone: opts.timezone,
        receivedAt: opts.receivedAt,
        qc,
      };
      const testName = comp(msg, seg, 3, 2);
      if (testName) r.testName = testName;
      const num = parseNumber(valueText);
      if (num !== undefined) r.valueNumber = num;
      const units = comp(msg, seg, 6);
      if (units) r.units = units;
      const range = comp(msg, seg, 7);
      if (range) r.referenceRange = range;
      const patientId = comp(msg, pid, 3);
      if (patientId) r.patientId = patientId;
      const name = [family, given].filter(Boolean).join(' ');
      if (name) r.patientName = name;
      const birth = comp(msg, pid, 7);
      if (birth) r.patientBirthDate = birth;
      const sex = comp(msg, pid, 8);
      if (sex) r.patientSex = sex;
      if (completedRaw) {
        r.completedRaw = completedRaw;
        const iso = deviceTimeToIso(completedRaw, opts.timezone);
        if (iso) r.completedAt = iso;
      }
      // One result per identity even if the device repeats an OBX.
      const key = [r.specimenId, r.deviceTestCode, r.valueText, r.status, r.completedRaw].join('\u001f');
      if (seen.has(key)) continue;
      seen.add(key);
      results.push(r);
    }
  }
  return results;
}
