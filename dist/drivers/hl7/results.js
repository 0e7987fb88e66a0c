import { isNotMeasured, numberOccurrences } from "../lab/result.js";
import { deviceTimeToIso, parseNumber } from "../lab/values.js";
import { comp, components, field, repetitions } from "./message.js";
/**
 * Maps PID/OBR/OBX/NTE groups to LabResults and, per OBR, a LabReport. Specimen id: OBR-3
 * (filler, what Mindray and most analyzers put the sample barcode in), else OBR-2, else SPM-2.
 * Every OBX with a value is a result, even when another OBX of the message has the same code,
 * name and value; OBX rows without a value (Mindray's empty BAS#, histogram lines…) and ED rows
 * (Base64 images) are not results. NTE segments attach to the OBX (or OBR) before them.
 * QC: MSH-11 'Q' (Mindray's QC messages).
 */
export function extractHl7Results(msg, opts) {
    const results = [];
    const reports = [];
    const qc = comp(msg, msg.segments[0], 11) === 'Q';
    let patient = { ids: [] };
    let report = null;
    let obr;
    /** What the next NTE comments on: the last OBX's result, else the order. */
    let commentTarget = null;
    const orphanResults = [];
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
                    if (type && !report.specimenType)
                        report.specimenType = type;
                    if (!report.specimenId && id)
                        report.specimenId = id;
                    for (const r of report.results) {
                        if (type && !r.specimenType)
                            r.specimenType = type;
                        if (!r.specimenId && id)
                            r.specimenId = id;
                    }
                }
                break;
            }
            case 'NTE': {
                const text = repetitions(msg, seg, 3).map((parts) => parts.join(msg.delimiters.component)).join('\n');
                if (commentTarget && text !== '')
                    (commentTarget.comments ??= []).push(text);
                break;
            }
            case 'OBX': {
                commentTarget = null;
                const valueType = field(seg, 2);
                // A structured value (SN `<^5`, CE `code^text`) keeps its components; plain text as sent.
                const valueParts = components(msg, seg, 5);
                const valueText = valueParts.join(msg.delimiters.component).trim();
                if (valueType === 'ED' || valueText === '')
                    break;
                const r = resultFrom(msg, seg, obr, patient, opts, qc, valueType, valueText);
                if (valueParts.length > 1)
                    r.valueParts = valueParts;
                results.push(r);
                if (report)
                    report.results.push(r);
                else
                    orphanResults.push(r);
                commentTarget = r;
                break;
            }
            default:
                break;
        }
    }
    // OBX without an OBR (seen in minimal senders): one report holds them.
    if (orphanResults.length) {
        const first = orphanResults[0];
        reports.push({ device: opts.device, protocol: 'hl7', group: reports.length + 1, specimenId: first.specimenId, results: orphanResults, qc, timezone: opts.timezone, receivedAt: opts.receivedAt, ...patientFields(patient) });
    }
    numberOccurrences(results);
    return { results, reports: reports.filter((r) => r.results.length > 0 || (r.comments?.length ?? 0) > 0) };
}
function patientFrom(msg, pid) {
    const ids = [];
    const add = (fieldNo, label) => {
        for (const cx of repetitions(msg, pid, fieldNo)) {
            const id = (cx[0] ?? '').trim();
            if (!id)
                continue;
            const authority = (cx[3] ?? '').split(msg.delimiters.subcomponent)[0]?.trim();
            const type = cx[4]?.trim();
            ids.push({ id, field: label, ...(authority ? { authority } : {}), ...(type ? { type } : {}) });
        }
    };
    add(3, 'PID-3');
    add(2, 'PID-2');
    add(4, 'PID-4');
    const xpn = components(msg, pid, 5);
    const name = {};
    const [family, given, middle, suffix, prefix] = xpn.map((p) => p.split(msg.delimiters.subcomponent)[0].trim());
    if (family)
        name.family = family;
    if (given)
        name.given = given;
    if (middle)
        name.middle = middle;
    if (suffix)
        name.suffix = suffix;
    if (prefix)
        name.prefix = prefix;
    const nameText = [family, middle, given].filter(Boolean).join(' ');
    const facts = { ids };
    if (Object.keys(name).length)
        facts.name = name;
    if (nameText)
        facts.nameText = nameText;
    const birth = comp(msg, pid, 7);
    if (birth)
        facts.birthDate = birth;
    const sex = comp(msg, pid, 8);
    if (sex)
        facts.sex = sex;
    return facts;
}
function patientFields(p) {
    const out = {};
    if (p.ids.length) {
        out.patientId = p.ids[0].id;
        out.patientIds = p.ids;
    }
    if (p.nameText)
        out.patientName = p.nameText;
    if (p.name)
        out.patientNameParts = p.name;
    if (p.birthDate)
        out.patientBirthDate = p.birthDate;
    if (p.sex)
        out.patientSex = p.sex;
    return out;
}
function specimenOf(msg, obr) {
    const filler = components(msg, obr, 3);
    const placer = components(msg, obr, 2);
    const parts = filler.some((c) => c.trim()) ? filler : placer;
    const id = (parts[0] ?? '').trim() || (parts.find((c) => c.trim()) ?? '').trim();
    return parts.length > 1 ? { id, parts } : { id };
}
function reportFrom(msg, obr, patient, opts, qc, group) {
    const specimen = specimenOf(msg, obr);
    const report = { device: opts.device, protocol: 'hl7', group, specimenId: specimen.id, results: [], qc, timezone: opts.timezone, receivedAt: opts.receivedAt, ...patientFields(patient) };
    if (specimen.parts)
        report.specimenIdParts = specimen.parts;
    const placer = comp(msg, obr, 2);
    if (placer)
        report.placerOrderId = placer;
    const service = components(msg, obr, 4);
    if (service.length)
        report.serviceId = service;
    const observed = comp(msg, obr, 7);
    if (observed)
        report.observedRaw = observed;
    const type = comp(msg, obr, 15, 1);
    if (type)
        report.specimenType = type;
    return report;
}
function resultFrom(msg, seg, obr, patient, opts, qc, valueType, valueText) {
    const observationId = components(msg, seg, 3);
    // A blood-gas analyzer leaves the code empty and names the test (`^pCO2(T)^M`): the name is its code.
    const deviceTestCode = (observationId[0] ?? '').trim() || (observationId[1] ?? '').trim();
    const specimen = specimenOf(msg, obr);
    const completedRaw = comp(msg, seg, 14) || comp(msg, obr, 7);
    const r = {
        device: opts.device,
        protocol: 'hl7',
        specimenId: specimen.id,
        deviceTestCode,
        testCode: opts.testCodes?.[deviceTestCode] ?? deviceTestCode,
        observationId,
        occurrence: 1,
        valueText,
        flags: repetitions(msg, seg, 8).map((parts) => (parts[0] ?? '').trim()).filter(Boolean),
        status: field(seg, 11) || 'F',
        timezone: opts.timezone,
        receivedAt: opts.receivedAt,
        qc,
        ...patientFields(patient),
    };
    if (specimen.parts)
        r.specimenIdParts = specimen.parts;
    if (valueType)
        r.valueType = valueType;
    const subId = field(seg, 4);
    if (subId)
        r.subId = subId;
    const testName = (observationId[1] ?? '').trim();
    if (testName)
        r.testName = testName;
    if (isNotMeasured(valueText))
        r.notMeasured = true;
    else {
        const num = parseNumber(valueText);
        if (num !== undefined)
            r.valueNumber = num;
    }
    const units = comp(msg, seg, 6);
    if (units)
        r.units = units;
    const range = comp(msg, seg, 7);
    if (range)
        r.referenceRange = range;
    const type = comp(msg, obr, 15, 1);
    if (type)
        r.specimenType = type;
    if (completedRaw) {
        r.completedRaw = completedRaw;
        const iso = deviceTimeToIso(completedRaw, opts.timezone);
        if (iso)
            r.completedAt = iso;
    }
    return r;
}
