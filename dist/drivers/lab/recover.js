import { extractResults, parseMessage } from "../astm/records.js";
import { parseHl7 } from "../hl7/message.js";
import { extractHl7Results } from "../hl7/results.js";
import { decodeText, isLabTextEncoding } from "./encoding.js";
import { labProfile } from "./profiles.js";
import { legacyResultIdentity, reportIdentity, resultIdentity } from "./result.js";
/** What the parser needs of a device's configuration block (profile, encoding, test codes). */
export function deviceParseSettings(device, fallbackZone) {
    let profile = {};
    try {
        if (typeof device?.profile === 'string')
            profile = labProfile(device.profile);
    }
    catch {
        // An unknown profile: parse with the defaults.
    }
    const encoding = typeof device?.encoding === 'string' && isLabTextEncoding(device.encoding) ? device.encoding : profile.encoding;
    return { ...(encoding ? { encoding } : {}), testCodes: { ...profile.testCodes, ...(device?.testCodes ?? {}) }, timezone: device?.timezone ?? fallbackZone };
}
function hl7Charset(raw, fallback) {
    const msh = raw.subarray(0, 512).toString('latin1').split(/\r|\n/)[0] ?? '';
    const charset = (msh.split(msh[3] ?? '|')[17] ?? '').trim().toUpperCase();
    if (/UNICODE|UTF-?8/.test(charset))
        return 'utf-8';
    if (charset === '8859/1')
        return 'latin1';
    return fallback ?? 'utf-8';
}
/**
 * Re-parses the raw messages still in the journal by today's rules and lists the results the
 * old identity (device, specimen, OBX-3.1 code, time, value, units, status, and a first-seen
 * filter inside each message) merged into another or dropped: results stored = results sent
 * now, so whatever the journal lacks was acknowledged to the analyzer and never forwarded.
 * Messages whose raw bytes the personal-data retention already scrubbed cannot be re-read.
 */
export function findUnsentResults(db, settingsOf) {
    const stored = new Set(db.prepare(`SELECT idem_key AS k FROM journal WHERE stream = 'lab.result'`).all().map((r) => r.k));
    const messages = db.prepare(`SELECT id, source, kind, raw, received_at AS receivedAt FROM journal WHERE stream = 'lab.message' AND raw IS NOT NULL AND kind NOT IN ('astm.query', 'astm.unparsed') ORDER BY id`).iterate();
    const unsent = [];
    for (const m of messages) {
        const s = settingsOf(m.source);
        const opts = { device: m.source, timezone: s.timezone, receivedAt: m.receivedAt, testCodes: s.testCodes };
        let extraction;
        try {
            extraction = m.kind.startsWith('astm') ? extractResults(parseMessage(m.raw.toString('utf8')), opts) : extractHl7Results(parseHl7(decodeText(m.raw, hl7Charset(m.raw, s.encoding))), opts);
        }
        catch {
            continue; // not readable by today's parser either: nothing to compare
        }
        // The old rule kept the first result of each legacy identity; a later one was merged into it.
        const claimed = new Set();
        const lost = new Set();
        for (const r of extraction.results) {
            if (stored.has(resultIdentity(r)))
                continue;
            const legacy = legacyResultIdentity(r);
            if (stored.has(legacy) && !claimed.has(legacy)) {
                claimed.add(legacy);
                continue;
            }
            lost.add(r);
        }
        for (const report of extraction.reports) {
            const missing = report.results.filter((r) => lost.has(r));
            if (missing.length === 0)
                continue;
            const partial = { ...report, results: missing };
            for (const r of missing)
                unsent.push({ messageJournalId: m.id, device: m.source, specimenId: r.specimenId, test: r.testName ?? r.deviceTestCode, valueText: r.valueText, ...(r.units ? { units: r.units } : {}), receivedAt: m.receivedAt, result: r, report: partial });
        }
    }
    return unsent;
}
/** The journal entries that forward what findUnsentResults listed: each result, and per order a report of them. */
export function recoveryEntries(unsent) {
    const entries = [];
    const reports = new Map();
    for (const u of unsent) {
        if (!reports.has(u.report)) {
            const key = reportIdentity(u.report);
            reports.set(u.report, key);
            entries.push({ source: u.device, stream: 'lab.report', kind: `${u.result.protocol}.report`, idempotencyKey: key, parsed: { ...u.report, recoveredFrom: u.messageJournalId } });
        }
        entries.push({ source: u.device, stream: 'lab.result', kind: `${u.result.protocol}.result`, idempotencyKey: resultIdentity(u.result), parsed: { ...u.result, reportKey: reports.get(u.report), recoveredFrom: u.messageJournalId } });
    }
    return entries;
}
