import { localHour } from './localDay.ts';
import type { TicketQueue } from './ticketQueue.ts';
import type { Ticket } from './types.ts';

/** One row of queue statistics (QĐ 1313/QĐ-BYT makes waiting time the headline figure). */
export interface StatsRow {
  dimension: 'all' | 'service' | 'priority' | 'hour';
  key: string;
  issued: number;
  called: number;
  served: number;
  noShows: number;
  cancelled: number;
  /** no-shows / called tickets */
  noShowRate: number;
  /** first call − issue, minutes */
  avgWaitMin: number | null;
  p90WaitMin: number | null;
  maxWaitMin: number | null;
  /** finish − start of service (or last call), minutes */
  avgServiceMin: number | null;
}

export interface QueueStats {
  fromDay: string;
  toDay: string;
  rows: StatsRow[];
}

const round = (n: number): number => Math.round(n * 100) / 100;

function summarise(dimension: StatsRow['dimension'], key: string, tickets: Ticket[]): StatsRow {
  const waits = tickets
    .filter((t) => t.firstCalledAt !== null)
    .map((t) => (t.firstCalledAt! - t.issuedAt) / 60_000)
    .sort((a, b) => a - b);
  const services = tickets.filter((t) => t.state === 'done' && t.doneAt !== null && t.servingAt !== null).map((t) => (t.doneAt! - t.servingAt!) / 60_000);
  const called = waits.length;
  const noShows = tickets.filter((t) => t.state === 'skipped').length;
  const avg = (xs: number[]): number | null => (xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
  return {
    dimension,
    key,
    issued: tickets.length,
    called,
    served: tickets.filter((t) => t.state === 'done').length,
    noShows,
    cancelled: tickets.filter((t) => t.state === 'cancelled').length,
    noShowRate: called ? round(noShows / called) : 0,
    avgWaitMin: avg(waits),
    p90WaitMin: waits.length ? round(waits[Math.min(waits.length - 1, Math.ceil(waits.length * 0.9) - 1)]!) : null,
    maxWaitMin: waits.length ? round(waits[waits.length - 1]!) : null,
    avgServiceMin: avg(services),
  };
}

function groupBy(tickets: Ticket[], key: (t: Ticket) => string): Map<string, Ticket[]> {
  const groups = new Map<string, Ticket[]>();
  for (const t of tickets) {
    const k = key(t);
    const list = groups.get(k) ?? [];
    list.push(t);
    groups.set(k, list);
  }
  return new Map([...groups.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** Statistics over local days [fromDay, toDay]: overall, per service, per priority class, per hour of issue. */
export function queueStats(queue: TicketQueue, fromDay: string, toDay: string): QueueStats {
  const tickets = queue.ticketsBetween(fromDay, toDay);
  const services = new Map(queue.config.services.map((s) => [s.id, s]));
  const rows: StatsRow[] = [summarise('all', 'all', tickets)];
  for (const [k, list] of groupBy(tickets, (t) => t.service)) rows.push(summarise('service', k, list));
  const prio = (t: Ticket): string => {
    const svc = services.get(t.service);
    return svc && queue.isPriority(svc, t) ? t.priority! : 'none';
  };
  for (const [k, list] of groupBy(tickets, prio)) rows.push(summarise('priority', k, list));
  for (const [k, list] of groupBy(tickets, (t) => String(localHour(t.issuedAt, queue.timezone)).padStart(2, '0'))) rows.push(summarise('hour', k, list));
  return { fromDay, toDay, rows };
}

const COLUMNS: Array<keyof StatsRow> = [
  'dimension',
  'key',
  'issued',
  'called',
  'served',
  'noShows',
  'cancelled',
  'noShowRate',
  'avgWaitMin',
  'p90WaitMin',
  'maxWaitMin',
  'avgServiceMin',
];

/** RFC 4180 CSV of the statistics rows. */
export function statsCsv(stats: QueueStats): string {
  const cell = (v: unknown): string => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [COLUMNS.join(','), ...stats.rows.map((r) => COLUMNS.map((c) => cell(r[c])).join(','))].join('\r\n') + '\r\n';
}
