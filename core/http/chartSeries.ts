import type Database from 'better-sqlite3';
import { zoneOffsetMinutes } from '../contract/clock.ts';

/**
 * Time series for the console's charts, computed from what the store already keeps (the
 * journal's received_ms, the outbox rows' created/done times and the dead letter's parked
 * time): no sampler, no table of its own. History reaches back as far as retention keeps
 * delivered rows (`retention.deliveredDays`, 30 days by default).
 */
export interface Buckets {
  /** Start of the first bucket (ms since the epoch). */
  fromMs: number;
  /** Now: the last bucket is the current, partial one. */
  toMs: number;
  bucketMs: number;
  count: number;
}

export interface Series {
  name: string;
  values: number[];
}

/**
 * `hours` of buckets of `bucketMinutes` ending with the current one, aligned to the box's
 * local clock (an hour bucket starts at :00 box time, even in a zone with a half-hour offset).
 */
export function bucketsEnding(nowMs: number, hours: number, bucketMinutes: number, timeZone: string): Buckets {
  const bucketMs = bucketMinutes * 60_000;
  const offsetMs = zoneOffsetMinutes(nowMs, timeZone) * 60_000;
  const currentStart = Math.floor((nowMs + offsetMs) / bucketMs) * bucketMs - offsetMs;
  const count = Math.max(1, Math.round((hours * 60) / bucketMinutes));
  return { fromMs: currentStart - (count - 1) * bucketMs, toMs: nowMs, bucketMs, count };
}

/**
 * What each source sent per bucket. "Messages" are what the device sent: the per-result and
 * per-order views of a message (lab.result, lab.report) and the ASTM frames a message is made
 * of are not counted again.
 */
export const DERIVED_STREAMS = ['lab.result', 'lab.report', 'lab.astm.frame'] as const;

// better-sqlite3 binds JS numbers as REAL: each bucket index is cast back to an integer in SQL.
export function receivedPerSource(db: Database.Database, b: Buckets, sources?: readonly string[]): Series[] {
  const rows = db
    .prepare(
      `SELECT source, CAST((received_ms - @from) / @bucket AS INTEGER) AS i, COUNT(*) AS n FROM journal
       WHERE received_ms >= @from AND received_ms <= @to AND stream NOT IN (${DERIVED_STREAMS.map(() => '?').join(', ')})
       GROUP BY source, i`,
    )
    .all(...DERIVED_STREAMS, { from: b.fromMs, to: b.toMs, bucket: b.bucketMs }) as Array<{ source: string; i: number; n: number }>;
  const bySource = new Map<string, number[]>();
  for (const s of sources ?? []) bySource.set(s, new Array<number>(b.count).fill(0));
  for (const r of rows) {
    if (sources && !sources.includes(r.source)) continue;
    let values = bySource.get(r.source);
    if (!values) bySource.set(r.source, (values = new Array<number>(b.count).fill(0)));
    if (r.i >= 0 && r.i < b.count) values[r.i]! += r.n;
  }
  return [...bySource.entries()].map(([name, values]) => ({ name, values }));
}

/**
 * Items waiting per destination at the end of each bucket (at now for the last): an item waits
 * from its creation until it is delivered (done_ms) or parked (the dead letter's parked_ms).
 * An item sent again (resend, requeue) counts as waiting since its first creation.
 */
export function outboxDepth(db: Database.Database, b: Buckets, destinations: readonly string[]): Series[] {
  const ended = `CASE o.state WHEN 'done' THEN o.done_ms WHEN 'parked' THEN COALESCE(d.parked_ms, o.updated_ms) END`;
  const params = { from: b.fromMs, to: b.toMs, bucket: b.bucketMs };
  const initial = db
    .prepare(
      `SELECT o.destination AS destination, COUNT(*) AS n FROM outbox o LEFT JOIN dead_letter d ON d.outbox_id = o.id WHERE o.created_ms < @from AND (${ended} IS NULL OR ${ended} >= @from) GROUP BY o.destination`,
    )
    .all(params) as Array<{ destination: string; n: number }>;
  const changes = db
    .prepare(
      `SELECT destination, i, SUM(delta) AS delta FROM (
         SELECT o.destination AS destination, CAST((o.created_ms - @from) / @bucket AS INTEGER) AS i, 1 AS delta FROM outbox o WHERE o.created_ms >= @from AND o.created_ms <= @to
         UNION ALL
         SELECT o.destination, CAST((${ended} - @from) / @bucket AS INTEGER), -1 FROM outbox o LEFT JOIN dead_letter d ON d.outbox_id = o.id WHERE ${ended} >= @from AND ${ended} <= @to
       ) GROUP BY destination, i`,
    )
    .all(params) as Array<{ destination: string; i: number; delta: number }>;
  return destinations.map((name) => {
    const deltas = new Array<number>(b.count).fill(0);
    for (const c of changes) if (c.destination === name && c.i >= 0 && c.i < b.count) deltas[c.i]! += c.delta;
    let depth = initial.find((r) => r.destination === name)?.n ?? 0;
    return { name, values: deltas.map((d) => (depth = Math.max(0, depth + d))) };
  });
}
