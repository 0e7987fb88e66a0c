import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ACCOUNTS, KIOSK_TOKEN, startQueueApp, type QueueApp } from './queueApp.ts';
import { recogniseNumber, splitLines, startPrinter } from '../../sim/printer.ts';
import { EscposPrinter } from '../../../modules/printer/escposPrinter.ts';
import { stylesFor, ticketLines } from '../../../modules/printer/ticketLayout.ts';
import { ticketPrintFor } from '../../../modules/queue/ticketPrint.ts';

let q: QueueApp;
let STAFF: Record<string, string>;
beforeAll(async () => {
  q = await startQueueApp();
  STAFF = { cookie: await q.login(ACCOUNTS.admin), origin: q.url };
});
afterAll(async () => q.close());

/** Calls the API as logged-in staff unless `headers` says otherwise ({} = anonymous). */
async function api(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = STAFF,
): Promise<{ status: number; json: any; text: string; type: string }> {
  const res = await fetch(`${q.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
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

  it('a reprint of a ticket that does not exist is 404 before any printer is looked at (the fuzz campaign got a 503)', async () => {
    const unknown = await api('POST', '/api/queue/tickets/q1/reprint', { printer: 'vrtxujq', counter: 'q1' });
    expect({ status: unknown.status, code: unknown.json.code }).toEqual({ status: 404, code: 'QUEUE_UNKNOWN_TICKET' });
  });

  it('rejects bad input with a 400/404/409 that says why', async () => {
    expect((await api('POST', '/api/queue/tickets', { service: 'noi', claim: 'vip' })).status).toBe(400);
    // The local API's one error handler answers the queue's errors: the status the error carries, its message and code.
    const unknown = await api('POST', '/api/queue/tickets', { service: 'nope' });
    expect({ status: unknown.status, json: unknown.json }).toEqual({ status: 404, json: { error: expect.any(String), code: 'QUEUE_UNKNOWN_SERVICE' } });
    const skip = await api('POST', '/api/queue/counters/q3/skip', {});
    expect({ status: skip.status, json: skip.json }).toEqual({ status: 409, json: { error: expect.any(String), code: expect.stringMatching(/^QUEUE_/) } });
    expect((await api('POST', '/api/queue/counters/q9/next', {})).status).toBe(404);
    expect((await api('POST', '/api/queue/tickets/none/priority', { accept: 'perhaps' })).status).toBe(400);
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
    const called = await api('POST', '/api/queue/counters/q2/next', {});
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
    // Who confirmed is the logged-in account, not a name the client sends.
    expect((await api('POST', `/api/queue/tickets/${t.id}/priority`, {})).json.ticket).toMatchObject({
      priorityStatus: 'confirmed',
      priorityConfirmedBy: ACCOUNTS.admin,
    });
    expect((await api('POST', `/api/queue/tickets/${t.id}/transfer`, { service: 'noi', counter: 'q1', position: 'front' })).json.ticket).toMatchObject({
      service: 'noi',
      targetCounter: 'q1',
    });
    expect((await api('POST', '/api/queue/counters/q1/next', {})).json.ticket.id).toBe(t.id);
    expect((await api('POST', '/api/queue/counters/q1/serve', {})).json.ticket.state).toBe('serving');
    expect((await api('POST', '/api/queue/counters/q1/finish', {})).json.ticket.state).toBe('done');
    expect((await api('GET', '/api/queue/stats', undefined, {})).status).toBe(401);
    const stats = await api('GET', '/api/queue/stats');
    expect(stats.json.rows.find((r: any) => r.dimension === 'all')).toMatchObject({ issued: 3 });
    const csv = await api('GET', '/api/queue/stats?format=csv');
    expect(csv.type).toContain('text/csv');
    expect(csv.text.split('\r\n')[0]).toMatch(/^dimension,key,issued/);
    expect(csv.text).toContain('priority,pregnant,1,1,1,0,0,0');
    const state = await api('GET', '/api/queue/state');
    expect(state.json.snapshot.facility).toBe('Trung tâm Y tế huyện Đông Anh');
  });

  it('staff actions need the console login; the kiosk issues tickets and screens read the state without one', async () => {
    const anon = {};
    const issued = await api('POST', '/api/queue/tickets', { service: 'xn', claim: 'merit', print: 'no' }, anon);
    expect(issued.status).toBe(201);
    const id = issued.json.ticket.id as string;
    for (const [path, body] of [
      ['/api/queue/counters/q3/next', {}],
      ['/api/queue/counters/q3/recall', {}],
      ['/api/queue/counters/q3/skip', {}],
      ['/api/queue/counters/q3/finish', {}],
      [`/api/queue/tickets/${id}/transfer`, { position: 'end', service: 'noi' }],
      [`/api/queue/tickets/${id}/priority`, {}],
      [`/api/queue/tickets/${id}/cancel`, {}],
      [`/api/queue/tickets/${id}/reprint`, {}],
    ] as const) {
      expect({ path, status: (await api('POST', path, body, anon)).status }).toEqual({ path, status: 401 });
    }
    expect((await api('GET', '/api/queue/prints', undefined, anon)).status).toBe(401);
    expect((await api('GET', '/api/queue/printers', undefined, anon)).status).toBe(401);
    expect((await api('GET', `/api/queue/tickets/${id}`, undefined, anon)).status).toBe(401);
    // Nothing changed while refused.
    expect(q.queue.get(id)).toMatchObject({ state: 'waiting', priorityStatus: 'claimed', service: 'xn', calls: 0 });
    expect((await api('GET', '/api/queue/state', undefined, anon)).status).toBe(200);
    // Logged in, the same call works.
    expect((await api('POST', `/api/queue/tickets/${id}/cancel`, {})).json.ticket.state).toBe('cancelled');
  });

  it('every print is logged; a failed one is listed until a reprint succeeds; the console previews the last ticket', async () => {
    q.printerSim.setState({ coverOpen: true });
    const r = await api('POST', '/api/queue/tickets', { service: 'noi', print: 'wait' }, {});
    expect(r.json.print).toMatchObject({ ok: false, error: 'printer cover is open', printer: 'kiosk-printer' });
    let failed = (await api('GET', '/api/queue/prints?failed=true')).json.prints;
    expect(failed.map((p: any) => p.ticketId)).toContain(r.json.ticket.id);
    expect(failed.find((p: any) => p.ticketId === r.json.ticket.id)).toMatchObject({
      number: r.json.ticket.number,
      ok: false,
      error: 'printer cover is open',
      reprint: false,
    });
    const printers = (await api('GET', '/api/queue/printers')).json.printers;
    expect(printers[0]).toMatchObject({ id: 'kiosk-printer', status: { coverOpen: true } });
    q.printerSim.setState({ coverOpen: false });
    const jobP = q.printerSim.nextJob();
    expect((await api('POST', `/api/queue/tickets/${r.json.ticket.id}/reprint`, {})).json.print.ok).toBe(true);
    await jobP;
    failed = (await api('GET', '/api/queue/prints?failed=true')).json.prints;
    expect(failed.map((p: any) => p.ticketId)).not.toContain(r.json.ticket.id);
    const all = (await api('GET', `/api/queue/prints`)).json.prints.filter((p: any) => p.ticketId === r.json.ticket.id);
    expect(all.map((p: any) => [p.ok, p.reprint])).toEqual([
      [true, true],
      [false, false],
    ]);
    const png = await fetch(`${q.url}/api/queue/printers/kiosk-printer/last.png`, { headers: STAFF });
    expect(png.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await png.arrayBuffer());
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect((await fetch(`${q.url}/api/queue/printers/kiosk-printer/last.png`)).status).toBe(401);
    expect((await api('GET', '/api/queue/printers/nope/last.png')).status).toBe(404);
  });

  it("routes tickets to the service's printer and reprints to the counter's printer", async () => {
    const labSim = await startPrinter();
    q.pool.add(new EscposPrinter('lab-printer', { transport: 'tcp', host: '127.0.0.1', port: labSim.port, retries: 0, services: ['xn'], counters: ['q3'] }));
    try {
      const kioskJobs = q.printerSim.jobs.length;
      const xn = await api('POST', '/api/queue/tickets', { service: 'xn', print: 'wait' }, {});
      expect(xn.json.print).toMatchObject({ ok: true, printer: 'lab-printer' });
      expect(labSim.jobs.map((j) => j.qr[0])).toEqual([xn.json.ticket.id]);
      const noi = await api('POST', '/api/queue/tickets', { service: 'noi', print: 'wait' }, {});
      expect(noi.json.print).toMatchObject({ ok: true, printer: 'kiosk-printer' });
      // A reprint asked from counter q3 comes out at q3's printer, whatever the service.
      expect((await api('POST', `/api/queue/tickets/${noi.json.ticket.id}/reprint`, { counter: 'q3' })).json.print).toMatchObject({
        ok: true,
        printer: 'lab-printer',
      });
      expect((await api('POST', `/api/queue/tickets/${noi.json.ticket.id}/reprint`, { counter: 'q1' })).json.print).toMatchObject({
        ok: true,
        printer: 'kiosk-printer',
      });
      expect((await api('POST', `/api/queue/tickets/${xn.json.ticket.id}/reprint`, { printer: 'kiosk-printer' })).json.print).toMatchObject({
        ok: true,
        printer: 'kiosk-printer',
      });
      expect(labSim.jobs.length).toBe(2);
      expect(q.printerSim.jobs.length - kioskJobs).toBe(3);
    } finally {
      q.pool.remove('lab-printer');
      await labSim.stop();
    }
  });

  it('the open state and live feed carry numbers only: no priority class, no staff name', async () => {
    const ws = new WebSocket(`${q.url.replace('http', 'ws')}/api/queue/live`);
    const frames: string[] = [];
    ws.on('message', (d) => frames.push(String(d)));
    await new Promise((r) => ws.once('open', r));
    const lan: string[] = [];
    q.bus.on('test-lan', 'domain.event', (e) => e.visibility === 'lan' && lan.push(JSON.stringify(e.body)));
    try {
      const t = (await api('POST', '/api/queue/tickets', { service: 'noi', claim: 'disability', print: 'no' })).json.ticket;
      const staff = { cookie: await q.login(ACCOUNTS.staff), origin: q.url };
      await api('POST', `/api/queue/tickets/${t.id}/transfer`, { service: 'noi', counter: 'q4', position: 'front' }, staff);
      const called = (await api('POST', '/api/queue/counters/q4/next', {}, staff)).json.ticket;
      expect(called.id).toBe(t.id);
      await api('POST', `/api/queue/tickets/${t.id}/priority`, {}, staff);
      for (let i = 0; i < 200 && !frames.some((f) => f.includes('"priority-confirmed"')); i++) await new Promise((r) => setTimeout(r, 10));
      const state = await api('GET', '/api/queue/state', undefined, {});
      const current = state.json.snapshot.counters.find((c: any) => c.id === 'q4').current;
      expect(current).toEqual({ id: t.id, number: t.number, service: 'noi', state: 'called', counter: 'q4', priority: true });
      // The configuration names the classes; the snapshot and the feed must not say who has one.
      for (const text of [JSON.stringify(state.json.snapshot), ...frames, ...lan]) {
        expect(text).not.toContain('disability');
        expect(text).not.toContain('priorityConfirmedBy');
        expect(text).not.toContain(`"${ACCOUNTS.staff}"`);
      }
      expect(frames.some((f) => f.includes('"priority-confirmed"'))).toBe(true);
      // Staff read the ticket in full, with who confirmed it.
      expect((await api('GET', '/api/queue/counters/q4', undefined, staff)).json.current).toMatchObject({
        priority: 'disability',
        priorityStatus: 'confirmed',
        priorityConfirmedBy: ACCOUNTS.staff,
      });
    } finally {
      q.bus.removeListeners('test-lan');
      ws.close();
    }
  });

  it('a counter account for q1 may not act for q3 nor read the statistics; nothing changes', async () => {
    const q1 = { cookie: await q.login(ACCOUNTS.staffQ1), origin: q.url };
    const t = (await api('POST', '/api/queue/tickets', { service: 'xn', claim: 'merit', print: 'no' })).json.ticket;
    const before = q.queue.get(t.id);
    const events = (q.store.db.prepare('SELECT COUNT(*) AS n FROM queue_events').get() as { n: number }).n;
    const next = await api('POST', '/api/queue/counters/q3/next', {}, q1);
    expect(next.status).toBe(403);
    expect(next.json).toMatchObject({ code: 'QUEUE_NOT_YOUR_COUNTER', error: expect.stringMatching(/"quay1" may act only for counter q1, not q3/) });
    expect((await api('POST', `/api/queue/tickets/${t.id}/priority`, {}, q1)).status).toBe(403);
    expect((await api('POST', `/api/queue/tickets/${t.id}/reprint`, { counter: 'q3' }, q1)).status).toBe(403);
    expect((await api('GET', '/api/queue/stats', undefined, q1)).status).toBe(403);
    expect(q.queue.get(t.id)).toEqual(before);
    expect((q.store.db.prepare('SELECT COUNT(*) AS n FROM queue_events').get() as { n: number }).n).toBe(events);
    expect((await api('GET', '/api/queue/me', undefined, q1)).json).toEqual({ user: 'quay1', role: 'staff', counters: ['q1'] });
  });

  it('a birth date (priority by age) is taken from staff only; a kiosk unit issues through its own route; no ticket either way', async () => {
    const count = () => (q.store.db.prepare('SELECT COUNT(*) AS n FROM queue_tickets').get() as { n: number }).n;
    const before = count();
    const r = await api('POST', '/api/queue/tickets', { service: 'noi', birthDate: '1940-01-01', print: 'no' }, { 'x-kiosk-token': KIOSK_TOKEN });
    expect(r.status).toBe(403);
    expect(count()).toBe(before);
    // A kiosk unit's tickets go through /api/kiosk/checkin (rate-limited), not around it.
    expect((await api('POST', '/api/queue/tickets', { service: 'noi', print: 'no' }, { 'x-kiosk-token': KIOSK_TOKEN })).json.error).toMatch(
      /through POST \/api\/kiosk\/checkin/,
    );
    expect((await api('POST', '/api/queue/tickets', { service: 'noi', print: 'no' }, { 'x-kiosk-token': 'not-the-kiosk-token-at-all' })).status).toBe(401);
    expect(count()).toBe(before);
  });
});
