import type Database from 'better-sqlite3';
import { extractResults, parseMessage } from '../astm/index.ts';
import { parseHl7 } from '../hl7/index.ts';
import { extractHl7Results } from '../hl7/index.ts';
import { decodeText, isLabTextEncoding, type LabTextEncoding } from './encoding.ts';
import { labProfile } from './profiles.ts';
import { legacyResultIdentity, reportIdentity, resultIdentity, type LabReport, type LabResult } from './result.ts';

/** A result a box acknowledged and, under the identity rule before issue #16, never stored. */
export interface UnsentResult {
  messageJournalId: number;
  device: string;
  specimenId: string;
  test: string;
  valueText: string;
  units?: string;
  receivedAt: string;
  result: LabResult;
  /** The order it was sent in, holding only the results that were never stored. */
  report: LabReport;
}

interface DeviceSettings {
  encoding?: LabTextEncoding;
  testCodes: Record<string, string>;
  timezone: string;
}

/** What the parser needs of a device's configuration block (profile, encoding, test codes). */
export function deviceParseSettings(
  device: { profile?: unknown; encoding?: unknown; testCodes?: unknown; timezone: string } | undefined,
  fallbackZone: string,
): DeviceSettings {
  let profile: { encoding?: LabTextEncoding; testCodes?: Record<string, string> } = {};
  try {
    if (typeof device?.profile === 'string') profile = labProfile(device.profile);
  } catch {
    // An unknown profile: parse with the defaults.
  }
  const encoding = typeof device?.encoding === 'string' && isLabTextEncoding(device.encoding) ? device.encoding : profile.encoding;
  return {
    ...(encoding ? { encoding } : {}),
    testCodes: { ...profile.testCodes, ...((device?.testCodes as Record<string, string> | undefined) ?? {}) },
    timezone: device?.timezone ?? fallbackZone,
  };
}

function hl7Charset(raw: Buffer, fallback: LabTextEncoding | undefined): LabTextEncoding {
  const msh = raw.subarray(0, 512).toString('latin1').split(/\r|\n/)[0] ?? '';
  const charset = (msh.split(msh[3] ?? '|')[17] ?? '').trim().toUpperCase();
  if (/UNICODE|UTF-?8/.test(charset)) return 'utf-8';
  if (charset === '8859/1') return 'latin1';
  return fallback ?? 'utf-8';
}

/**
 * Re-parses the raw messages still in the journal by today's rules and lists the results the
 * old identity (device, specimen, OBX-3.1 code, time, value, units, status, and a first-seen
 * filter inside each message) merged into another or dropped: results stored = results sent
 * now, so whatever the journal lacks was acknowledged to the analyzer and never forwarded.
 * Messages whose raw bytes the personal-data retention already scrubbed cannot be re-read.
 */
export function findUnsentResults(db: Database.Database, settingsOf: (device: string) => DeviceSettings): UnsentResult[] {
  const stored = new Set((db.prepare(`SELECT idem_key AS k FROM journal WHERE stream = 'lab.result'`).all() as Array<{ k: string }>).map((r) => r.k));
  const messages = db
    .prepare(
      `SELECT id, source, kind, raw, received_at AS receivedAt FROM journal WHERE stream = 'lab.message' AND raw IS NOT NULL AND kind NOT IN ('astm.query', 'astm.unparsed') ORDER BY id`,
    )
    .iterate() as IterableIterator<{ id: number; source: string; kind: string; raw: Buffer; receivedAt: string }>;
  const unsent: UnsentResult[] = [];
  for (const m of messages) {
    const s = settingsOf(m.source);
    const opts = { device: m.source, timezone: s.timezone, receivedAt: m.receivedAt, testCodes: s.testCodes };
    let extraction: { results: LabResult[]; reports: LabReport[] };
    try {
      extraction = m.kind.startsWith('astm')
        ? extractResults(parseMessage(m.raw.toString('utf8')), opts)
        : extractHl7Results(parseHl7(decodeText(m.raw, hl7Charset(m.raw, s.encoding))), opts);
    } catch {
      continue; // not readable by today's parser either: nothing to compare
    }
    // The old rule kept the first result of each legacy identity; a later one was merged into it.
    const claimed = new Set<string>();
    const lost = new Set<LabResult>();
    for (const r of extraction.results) {
      if (stored.has(resultIdentity(r))) continue;
      const legacy = legacyResultIdentity(r);
      if (stored.has(legacy) && !claimed.has(legacy)) {
        claimed.add(legacy);
        continue;
      }
      lost.add(r);
    }
    for (const report of extraction.reports) {
      const missing = report.results.filter((r) => lost.has(r));
      if (missing.length === 0) continue;
      const partial: LabReport = { ...report, results: missing };
      for (const r of missing)
        unsent.push({
          messageJournalId: m.id,
          device: m.source,
          specimenId: r.specimenId,
          test: r.testName ?? r.deviceTestCode,
          valueText: r.valueText,
          ...(r.units ? { units: r.units } : {}),
          receivedAt: m.receivedAt,
          result: r,
          report: partial,
        });
    }
  }
  return unsent;
}

/** The journal entries that forward what findUnsentResults listed: each result, and per order a report of them. */
export function recoveryEntries(
  unsent: UnsentResult[],
): Array<{ source: string; stream: 'lab.result' | 'lab.report'; kind: string; idempotencyKey: string; parsed: unknown }> {
  const entries: Array<{ source: string; stream: 'lab.result' | 'lab.report'; kind: string; idempotencyKey: string; parsed: unknown }> = [];
  const reports = new Map<LabReport, string>();
  for (const u of unsent) {
    if (!reports.has(u.report)) {
      const key = reportIdentity(u.report);
      reports.set(u.report, key);
      entries.push({
        source: u.device,
        stream: 'lab.report',
        kind: `${u.result.protocol}.report`,
        idempotencyKey: key,
        parsed: { ...u.report, recoveredFrom: u.messageJournalId },
      });
    }
    entries.push({
      source: u.device,
      stream: 'lab.result',
      kind: `${u.result.protocol}.result`,
      idempotencyKey: resultIdentity(u.result),
      parsed: { ...u.result, reportKey: reports.get(u.report), recoveredFrom: u.messageJournalId },
    });
  }
  return entries;
}
