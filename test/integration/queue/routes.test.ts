import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN_TOKEN, startQueueApp, type QueueApp } from './queueApp.ts';
import { recogniseNumber, splitLines } from '../../sim/printer.ts';
import { stylesFor, ticketLines } from '../../../drivers/printer/ticketLayout.ts';
import { ticketPrintFor } from '../../../agent/queue/ticketPrint.ts';

let q: QueueApp;
beforeAll(async () => {
  q = await startQueueApp();
});
afterAll(async () => q.close());

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string; type: string }> {
  const res = await fetch(`${q.url}${path}`, { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, body: body !== undefined ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, type: res.headers.get('content-type') ?? '' };
}

describe('queue API', () => {
  it('issues a ticket durable in the store and prints it; the printed number is read back from the raster', async () => {
    const jobP = q.printerSim.nextJob();
    const r = await api('POST', '/api/queue/tickets', { service: 'noi', birthDate: '1945-03-02' });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ ticket: { number: '0001', priority: 'age75', state: 'waiting' }, ahead: 0, serviceName: 'Khám Nội', printing: 'queued' });
    const row = q.store.db.prepare('SELECT number, state FROM queue_tickets WHERE id = ?').get(r.json.ticket.id);
    expect(row).toEqual({ number: '0001', state: 'waiting' });
    const job = await jobP;
    const lines = splitLines(job.image);
    const expected = ticketLines(ticketPrintFor(q.queue, q.queue.get(r.json.ticket.id), 0), 576);
    expect(recogniseNumber(lines[expected.findIndex((l) => l.role === 'number')]!, stylesFor(576).number).text).toBe('0001');
    expect(job.qr).toEqual([r.json.ticket.id]);
    // Journaled for the province (stream queue.event)
    const j = q.store.db.prepare("SELECT COUNT(*) AS n FROM journal WHERE stream = 'queue.event'").get() as { n: number };
    expect(j.n).toBeGreaterThanOrEqual(1);
  });

  it('a printer failure keeps the ticket; reprint works when the printer is back', async () => {
    q.printerSim.setState({ paperOut: true });
    const r = await api('POST', '/api/queue/tickets', { service: 'xn', print: 'wait' });
    expect(r.status).toBe(201);
    expect(r.json.print).toMatchObject({ ok: false, error: 'printer is out of paper' });
    expect(q.queue.get(r.json.ticket.id).state).toBe('waiting');
    q.printerSim.setState({ paperOut: false });
    const again = await api('POST', `/api/queue/tickets/${r.json.ticket.id}/reprint`, {});
    expect(again.status).toBe(200);
    expect(again.json.print.ok).toBe(true);
  });

  it('rejects bad input with a 400/404/409 that says why', async () => {
    expect((await api('POST', '/api/queue/tickets', { service: 'noi', claim: 'vip' })).status).toBe(400);
    expect((await api('POST', '/api/queue/tickets', { service: 'nope' })).json).toMatchObject({ code: 'QUEUE_UNKNOWN_SERVICE' });
    expect((await api('POST', '/api/queue/counters/q3/skip', {})).status).toBe(409);
    expect((await api('POST', '/api/queue/counters/q9/next', {})).status).toBe(404);
    expect((await api('POST', '/api/queue/tickets/none/priority', { by: '' })).status).toBe(400);
  });

  it('live feed: snapshot on connect, then every change with the call to announce', async () => {
    const ws = new WebSocket(`${q.url.replace('http', 'ws')}/api/queue/live`);
    const messages: any[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    const wait = async (pred: (m: any) => boolean): Promise<any> => {
      for (let i = 0; i < 200; i++) {
        const m = messages.find(pred);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('message not received');
    };
    const snap = await wait((m) => m.type === 'snapshot');
    expect(snap.snapshot.services.find((s: any) => s.service === 'noi').waiting).toBe(1);
    const called = await api('POST', '/api/queue/counters/q2/next', { by: 'ĐD. Lan' });
    expect(called.json.ticket.number).toBe('0001');
    const change = await wait((m) => m.type === 'change' && m.event.type === 'called');
    expect(change.call).toMatchObject({ number: '0001', counterNumber: 2, priority: true, type: 'called' });
    expect(change.snapshot.counters.find((c: any) => c.id === 'q2').current.number).toBe('0001');
    await api('POST', '/api/queue/counters/q2/recall', {});
    expect((await wait((m) => m.type === 'change' && m.event.type === 'recalled')).call.counterNumber).toBe(2);
    ws.close();
  });

  it('counter actions and transfer over HTTP; statistics need an admin, CSV export', async () => {
    const t = (await api('POST', '/api/queue/tickets', { service: 'nhi', claim: 'pregnant', print: 'no' })).json.ticket;
    expect((await api('POST', `/api/queue/tickets/${t.id}/priority`, { by: 'BS. Minh' })).json.ticket).toMatchObject({ priorityStatus: 'confirmed', priorityConfirmedBy: 'BS. Minh' });
    expect((await api('POST', `/api/queue/tickets/${t.id}/transfer`, { service: 'noi', counter: 'q1', position: 'front' })).json.ticket).toMatchObject({ service: 'noi', targetCounter: 'q1' });
    expect((await api('POST', '/api/queue/counters/q1/next', {})).json.ticket.id).toBe(t.id);
    expect((await api('POST', '/api/queue/counters/q1/serve', {})).json.ticket.state).toBe('serving');
    expect((await api('POST', '/api/queue/counters/q1/finish', {})).json.ticket.state).toBe('done');
    expect((await api('GET', '/api/queue/stats')).status).toBe(401);
    const stats = await api('GET', '/api/queue/stats', undefined, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(stats.json.rows.find((r: any) => r.dimension === 'all')).toMatchObject({ issued: 3 });
    const csv = await api('GET', '/api/queue/stats?format=csv', undefined, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(csv.type).toContain('text/csv');
    expect(csv.text.split('\r\n')[0]).toMatch(/^dimension,key,issued/);
    expect(csv.text).toContain('priority,pregnant,1,1,1,0,0,0');
    const state = await api('GET', '/api/queue/state');
    expect(state.json.snapshot.facility).toBe('Trung tâm Y tế huyện Đông Anh');
  });
});
