import {
  isNotMeasured,
  numberOccurrences,
  patientFieldsOf,
  personName,
  type LabReport,
  type LabResult,
  type PatientFacts,
  type PatientIdentifier,
} from '../lab/index.ts';
import { deviceTimeToIso, parseNumber } from '../lab/index.ts';
import { comp, components, field, repetitions, type Hl7Message, type Hl7Segment } from './message.ts';

export interface Hl7ResultOptions {
  device: string;
  timezone: string;
  receivedAt: string;
  testCodes?: Record<string, string>;
}

export interface Hl7Extraction {
  results: LabResult[];
  /** One per OBR, with its results in message order. */
  reports: LabReport[];
}

/**
 * Maps PID/OBR/OBX/NTE groups to LabResults and, per OBR, a LabReport. Specimen id: OBR-3
 * (filler, what Mindray and most analyzers put the sample barcode in), else OBR-2, else SPM-2.
 * Every OBX with a value is a result, even when another OBX of the message has the same code,
 * name and value; OBX rows without a value (Mindray's empty BAS#, histogram lines…) and ED rows
 * (Base64 images) are not results. NTE segments attach to the OBX (or OBR) before them.
 * QC: MSH-11 'Q' (Mindray's QC messages).
 */
export function extractHl7Results(msg: Hl7Message, opts: Hl7ResultOptions): Hl7Extraction {
  const results: LabResult[] = [];
  const reports: LabReport[] = [];
  const qc = comp(msg, msg.segments[0], 11) === 'Q';
  let patient: PatientFacts = { ids: [] };
  let report: LabReport | null = null;
  let obr: Hl7Segment | undefined;
  /** What the next NTE comments on: the last OBX's result, else the order. */
  let commentTarget: { comments?: string[] } | null = null;
  const orphanResults: LabResult[] = [];
  for (const seg of msg.segments) {
    switch (seg.id) {
      case 'PID':
        patient = patientFrom(msg, seg);
        report = null;
        obr = undefined;
        commentTarget = null;
        break;
      case 'OBR':
        obr = seg;
        report = reportFrom(msg, seg, patient, opts, qc, reports.length + 1);
        reports.push(report);
        commentTarget = report;
        break;
      case 'SPM': {
        // HL7 2.5: the specimen follows its order's observations.
        const type = comp(msg, seg, 4, 1);
        const id = comp(msg, seg, 2, 1);
        if (report) {
          if (type && !report.specimenType) report.specimenType = type;
          if (!report.specimenId && id) report.specimenId = id;
          for (const r of report.results) {
            if (type && !r.specimenType) r.specimenType = type;
            if (!r.specimenId && id) r.specimenId = id;
          }
        }
        break;
      }
      case 'NTE': {
        const text = repetitions(msg, seg, 3)
          .map((parts) => parts.join(msg.delimiters.component))
          .join('\n');
        if (commentTarget && text !== '') (commentTarget.comments ??= []).push(text);
        break;
      }
      case 'OBX': {
        commentTarget = null;
        const valueType = field(seg, 2);
        // A structured value (SN `<^5`, CE `code^text`) keeps its components; plain text as sent.
        const valueParts = components(msg, seg, 5);
        const valueText = valueParts.join(msg.delimiters.component).trim();
        if (valueType === 'ED' || valueText === '') break;
        const r = resultFrom(msg, seg, obr, patient, opts, qc, valueType, valueText);
        if (valueParts.length > 1) r.valueParts = valueParts;
        results.push(r);
        if (report) report.results.push(r);
        else orphanResults.push(r);
        commentTarget = r;
        break;
      }
      default:
        break;
    }
  }
  // OBX without an OBR (seen in minimal senders): one report holds them.
  if (orphanResults.length) {
    const first = orphanResults[0]!;
    reports.push({
      device: opts.device,
      protocol: 'hl7',
      group: reports.length + 1,
      specimenId: first.specimenId,
      results: orphanResults,
      qc,
      timezone: opts.timezone,
      receivedAt: opts.receivedAt,
      ...patientFieldsOf(patient),
    });
  }
  numberOccurrences(results);
  return { results, reports: reports.filter((r) => r.results.length > 0 || (r.comments?.length ?? 0) > 0) };
}

function patientFrom(msg: Hl7Message, pid: Hl7Segment): PatientFacts {
  const ids: PatientIdentifier[] = [];
  const add = (fieldNo: number, label: string) => {
    for (const cx of repetitions(msg, pid, fieldNo)) {
      const id = (cx[0] ?? '').trim();
      if (!id) continue;
      const authority = (cx[3] ?? '').split(msg.delimiters.subcomponent)[0]?.trim();
      const type = cx[4]?.trim();
      ids.push({ id, field: label, ...(authority ? { authority } : {}), ...(type ? { type } : {}) });
    }
  };
  add(3, 'PID-3');
  add(2, 'PID-2');
  add(4, 'PID-4');
  const facts: PatientFacts = { ids, ...personName(components(msg, pid, 5).map((p) => p.split(msg.delimiters.subcomponent)[0]!)) };
  const birth = comp(msg, pid, 7);
  if (birth) facts.birthDate = birth;
  const sex = comp(msg, pid, 8);
  if (sex) facts.sex = sex;
  return facts;
}

function specimenOf(msg: Hl7Message, obr: Hl7Segment | undefined): { id: string; parts?: string[] } {
  const filler = components(msg, obr, 3);
  const placer = components(msg, obr, 2);
  const parts = filler.some((c) => c.trim()) ? filler : placer;
  const id = (parts[0] ?? '').trim() || (parts.find((c) => c.trim()) ?? '').trim();
  return parts.length > 1 ? { id, parts } : { id };
}

function reportFrom(msg: Hl7Message, obr: Hl7Segment, patient: PatientFacts, opts: Hl7ResultOptions, qc: boolean, group: number): LabReport {
  const specimen = specimenOf(msg, obr);
  const report: LabReport = {
    device: opts.device,
    protocol: 'hl7',
    group,
    specimenId: specimen.id,
    results: [],
    qc,
    timezone: opts.timezone,
    receivedAt: opts.receivedAt,
    ...patientFieldsOf(patient),
  };
  if (specimen.parts) report.specimenIdParts = specimen.parts;
  const placer = comp(msg, obr, 2);
  if (placer) report.placerOrderId = placer;
  const service = components(msg, obr, 4);
  if (service.length) report.serviceId = service;
  const observed = comp(msg, obr, 7);
  if (observed) report.observedRaw = observed;
  const type = comp(msg, obr, 15, 1);
  if (type) report.specimenType = type;
  return report;
}

function resultFrom(
  msg: Hl7Message,
  seg: Hl7Segment,
  obr: Hl7Segment | undefined,
  patient: PatientFacts,
  opts: Hl7ResultOptions,
  qc: boolean,
  valueType: string,
  valueText: string,
): LabResult {
  const observationId = components(msg, seg, 3);
  // A blood-gas analyzer leaves the code empty and names the test (`^pCO2(T)^M`): the name is its code.
  const deviceTestCode = (observationId[0] ?? '').trim() || (observationId[1] ?? '').trim();
  const specimen = specimenOf(msg, obr);
  const completedRaw = comp(msg, seg, 14) || comp(msg, obr, 7);
  const r: LabResult = {
    device: opts.device,
    protocol: 'hl7',
    specimenId: specimen.id,
    deviceTestCode,
    testCode: opts.testCodes?.[deviceTestCode] ?? deviceTestCode,
    observationId,
    occurrence: 1,
    valueText,
    flags: repetitions(msg, seg, 8)
      .map((parts) => (parts[0] ?? '').trim())
      .filter(Boolean),
    status: field(seg, 11) || 'F',
    timezone: opts.timezone,
    receivedAt: opts.receivedAt,
    qc,
    ...patientFieldsOf(patient),
  };
  if (specimen.parts) r.specimenIdParts = specimen.parts;
  if (valueType) r.valueType = valueType;
  const subId = field(seg, 4);
  if (subId) r.subId = subId;
  const testName = (observationId[1] ?? '').trim();
  if (testName) r.testName = testName;
  if (isNotMeasured(valueText)) r.notMeasured = true;
  else {
    const num = parseNumber(valueText);
    if (num !== undefined) r.valueNumber = num;
  }
  const units = comp(msg, seg, 6);
  if (units) r.units = units;
  const range = comp(msg, seg, 7);
  if (range) r.referenceRange = range;
  const type = comp(msg, obr, 15, 1);
  if (type) r.specimenType = type;
  if (completedRaw) {
    r.completedRaw = completedRaw;
    const iso = deviceTimeToIso(completedRaw, opts.timezone);
    if (iso) r.completedAt = iso;
  }
  return r;
}
