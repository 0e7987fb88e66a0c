import type { LabReport, LabResult, PatientIdentifier, PersonName } from '../lab/index.ts';
import { hl7Time } from './ack.ts';
import { escapeHl7 } from './message.ts';

/** What the LIS destination puts in MSH and which version it claims. */
export interface OruSettings {
  sendingApplication?: string;
  sendingFacility?: string;
  receivingApplication?: string;
  receivingFacility?: string;
  version?: string;
  timezone?: string;
}

const e = (v: string | number | undefined): string => escapeHl7(String(v ?? ''));
/** Components escaped one by one, joined by `^` (trailing empty ones dropped). */
const c = (parts: Array<string | undefined>): string => {
  const out = parts.map((p) => e(p));
  while (out.length && out[out.length - 1] === '') out.pop();
  return out.join('^');
};

function ts(iso?: string, raw?: string): string {
  return iso
    ? iso.slice(0, 19).replace(/[-T:]/g, '') +
        iso
          .slice(19)
          .replace(/^\.\d+/, '')
          .replace(':', '')
    : (raw ?? '');
}

function cx(id: PatientIdentifier): string {
  return c([id.id, '', '', id.authority, id.type]);
}

function xpn(name: PersonName | undefined, text: string | undefined): string {
  if (name) return c([name.family, name.given, name.middle, name.suffix, name.prefix]);
  return e(text);
}

/** PID-2, PID-3 (every repetition with its authority) and PID-4 as received; a lone id goes to PID-3. */
function pid(p: Pick<LabResult, 'patientId' | 'patientIds' | 'patientName' | 'patientNameParts' | 'patientBirthDate' | 'patientSex'>): string {
  const ids = p.patientIds ?? (p.patientId ? [{ id: p.patientId, field: 'PID-3' }] : []);
  const inField = (f: string) =>
    ids
      .filter((i) => i.field === f || (f === 'PID-3' && !i.field.startsWith('PID-')))
      .map(cx)
      .join('~');
  return `PID|1|${inField('PID-2')}|${inField('PID-3')}|${inField('PID-4')}|${xpn(p.patientNameParts, p.patientName)}||${e(p.patientBirthDate)}|${e(p.patientSex)}`;
}

/** OBX-3: as sent; when the profile maps the code, the LIS code first and the device's own as the alternate. */
function observationId(r: LabResult): string {
  if (r.testCode === r.deviceTestCode) return c(r.observationId.length ? r.observationId : [r.testCode, r.testName]);
  return c([r.testCode, r.testName, 'L', r.deviceTestCode, r.testName, '99DEV']);
}

function value(r: LabResult): string {
  return r.valueParts ? c(r.valueParts) : e(r.valueText);
}

function notes(comments: string[] | undefined): string[] {
  return (comments ?? []).map((text, i) => `NTE|${i + 1}|L|${e(text)}`);
}

function obx(r: LabResult, setId: number): string[] {
  const valueType = r.valueType ?? (r.valueNumber !== undefined ? 'NM' : 'ST');
  const completed = ts(r.completedAt, r.completedRaw);
  return [
    `OBX|${setId}|${e(valueType)}|${observationId(r)}|${e(r.subId)}|${value(r)}|${e(r.units)}|${e(r.referenceRange)}|${r.flags.map(e).join('~')}|||${e(r.status)}|||${completed}||||${e(r.device)}`,
    ...notes(r.comments),
  ];
}

/**
 * One ORU^R01 (UTF-8) for an order as the analyzer grouped it: PID with every identifier and
 * the name's components, OBR with the specimen id's components, the order's NTE, each OBX with
 * its NTE, and SPM with the specimen type. `results` defaults to the report's (the one-result
 * format passes one).
 */
export function buildOru(report: LabReport, controlId: string, cfg: OruSettings, nowMs: number, results: LabResult[] = report.results): string {
  const first = results[0];
  const completed = ts(first?.completedAt, first?.completedRaw);
  const specimen = report.specimenIdParts ? c(report.specimenIdParts) : e(report.specimenId);
  const service = report.serviceId ? c(report.serviceId) : results.length === 1 && first ? observationId(first) : '';
  const lines = [
    `MSH|^~\\&|${e(cfg.sendingApplication ?? 'EDGE')}|${e(cfg.sendingFacility ?? '')}|${e(cfg.receivingApplication ?? 'LIS')}|${e(cfg.receivingFacility ?? '')}|${hl7Time(nowMs, cfg.timezone ?? report.timezone)}||ORU^R01^ORU_R01|${controlId}|${report.qc ? 'Q' : 'P'}|${cfg.version ?? '2.5.1'}||||||UNICODE UTF-8`,
    pid(report),
    `OBR|1|${e(report.placerOrderId)}|${specimen}|${service}|||${e(report.observedRaw) || completed}||||||||${e(report.specimenType)}`,
    ...notes(report.comments),
    ...results.flatMap((r, i) => obx(r, i + 1)),
  ];
  if (report.specimenType || report.specimenIdParts) lines.push(`SPM|1|${specimen}||${e(report.specimenType)}`);
  return `${lines.join('\r')}\r`;
}

/** A report of one result, for a LIS that takes results one by one. */
export function reportOf(r: LabResult): LabReport {
  const report: LabReport = {
    device: r.device,
    protocol: r.protocol,
    group: 1,
    specimenId: r.specimenId,
    results: [r],
    qc: r.qc,
    timezone: r.timezone,
    receivedAt: r.receivedAt,
  };
  for (const k of [
    'specimenIdParts',
    'instrumentSpecimenId',
    'specimenType',
    'patientId',
    'patientIds',
    'patientName',
    'patientNameParts',
    'patientBirthDate',
    'patientSex',
  ] as const)
    if (r[k] !== undefined) (report as unknown as Record<string, unknown>)[k] = r[k];
  return report;
}
