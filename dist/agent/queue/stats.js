import { localHour } from "./localDay.js";
const round = (n) => Math.round(n * 100) / 100;
function summarise(dimension, key, tickets) {
    const waits = tickets.filter((t) => t.firstCalledAt !== null).map((t) => (t.firstCalledAt - t.issuedAt) / 60_000).sort((a, b) => a - b);
    const services = tickets.filter((t) => t.state === 'done' && t.doneAt !== null && t.servingAt !== null).map((t) => (t.doneAt - t.servingAt) / 60_000);
    const called = waits.length;
    const noShows = tickets.filter((t) => t.state === 'skipped').length;
    const avg = (xs) => (xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
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
        p90WaitMin: waits.length ? round(waits[Math.min(waits.length - 1, Math.ceil(waits.length * 0.9) - 1)]) : null,
        maxWaitMin: waits.length ? round(waits[waits.length - 1]) : null,
        avgServiceMin: avg(services),
    };
}
function groupBy(tickets, key) {
    const groups = new Map();
    for (const t of tickets) {
        const k = key(t);
        const list = groups.get(k) ?? [];
        list.push(t);
        groups.set(k, list);
    }
    return new Map([...groups.entries()].sort(([a], [b]) => a.localeCompare(b)));
}
/** Statistics over local days [fromDay, toDay]: overall, per service, per priority class, per hour of issue. */
export function queueStats(queue, fromDay, toDay) {
    const tickets = queue.ticketsBetween(fromDay, toDay);
    const services = new Map(queue.config.services.map((s) => [s.id, s]));
    const rows = [summarise('all', 'all', tickets)];
    for (const [k, list] of groupBy(tickets, (t) => t.service))
        rows.push(summarise('service', k, list));
    const prio = (t) => {
        const svc = services.get(t.service);
        return svc && queue.isPriority(svc, t) ? t.priority : 'none';
    };
    for (const [k, list] of groupBy(tickets, prio))
        rows.push(summarise('priority', k, list));
    for (const [k, list] of groupBy(tickets, (t) => String(localHour(t.issuedAt, queue.timezone)).padStart(2, '0')))
        rows.push(summarise('hour', k, list));
    return { fromDay, toDay, rows };
}
const COLUMNS = ['dimension', 'key', 'issued', 'called', 'served', 'noShows', 'cancelled', 'noShowRate', 'avgWaitMin', 'p90WaitMin', 'maxWaitMin', 'avgServiceMin'];
/** RFC 4180 CSV of the statistics rows. */
export function statsCsv(stats) {
    const cell = (v) => {
        const s = v === null || v === undefined ? '' : String(v);
        return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
    };
    return [COLUMNS.join(','), ...stats.rows.map((r) => COLUMNS.map((c) => cell(r[c])).join(','))].join('\r\n') + '\r\n';
}
