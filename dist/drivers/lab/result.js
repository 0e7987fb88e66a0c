import { createHash } from 'node:crypto';
const PLACEHOLDER = /^(\.{2,}|-{2,}|\*{2,}(\.\*+)?)$/;
/** A value text that is the analyzer's "not measured" placeholder ('.....', '-----', '***', '***.**'). */
export function isNotMeasured(valueText) {
    return PLACEHOLDER.test(valueText.trim());
}
/**
 * The result's identity: device, specimen, the whole observation identifier and sub-id, its
 * occurrence within the message, completed time, value, units, status. Two different tests
 * never share one (whatever their codes, names and values); reruns (new time or value) and
 * corrections (status C) get a new one; a resend of the same message gets the same ones.
 */
export function resultIdentity(r) {
    const parts = [r.device, r.specimenId, r.observationId.join('\u001e'), r.subId ?? '', String(r.occurrence), r.completedRaw ?? '', r.valueText, r.units ?? '', r.status];
    return 'res2:' + createHash('sha256').update(parts.join('\u001f')).digest('hex').slice(0, 32);
}
/** The identity results had before observation ids and occurrences counted (kept to recover what it merged). */
export function legacyResultIdentity(r) {
    // The code the old rule took: HL7 OBX-3.1 (empty for a blood-gas `^pH^M`), ASTM's device code.
    const code = r.protocol === 'hl7' ? (r.observationId[0] ?? '') : r.deviceTestCode;
    const parts = [r.device, r.specimenId, code, r.completedRaw ?? '', r.valueText, r.units ?? '', r.status];
    return 'res:' + createHash('sha256').update(parts.join('\u001f')).digest('hex').slice(0, 32);
}
/** A report's identity: its device, specimen and its results' identities (a resend gets the same). */
export function reportIdentity(report) {
    const h = createHash('sha256').update(report.device).update('\u001f').update(report.specimenId);
    for (const r of report.results)
        h.update('\u001f').update(resultIdentity(r));
    return 'rep:' + h.digest('hex').slice(0, 32);
}
/** Each result's report identity (the order it was sent in), for results listed with their report's forwarding state. */
export function reportKeysOf(reports) {
    const keys = new Map();
    for (const report of reports) {
        const key = reportIdentity(report);
        for (const r of report.results)
            keys.set(r, key);
    }
    return keys;
}
/** Counts each (observation id, sub-id) in message order: sets `occurrence` on every result. */
export function numberOccurrences(results) {
    const seen = new Map();
    for (const r of results) {
        const key = `${r.specimenId}\u001f${r.observationId.join('\u001e')}\u001f${r.subId ?? ''}`;
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        r.occurrence = n;
    }
}
