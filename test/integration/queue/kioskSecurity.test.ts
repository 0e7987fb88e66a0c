// The kiosk's API as a person on the hospital LAN would try it, against the running agent (real
// HTTP, the HIS and social-security gateway simulators): foreign web pages, no token, a look-up
// flood, forged check-ins, oversized bodies. Each refusal is asserted with what stayed unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import WebSocket from 'ws';
import { KIOSK_TOKEN, OTHER_KIOSK_TOKEN, THIRD_KIOSK_TOKEN, startKioskAgent, type KioskAgent } from '../../helpers/kioskAgent.ts';
import { waitFor } from '../../helpers/wait.ts';
import { CCCD_WITH_APPOINTMENT } from '../../sim/his.ts';
import { syntheticCccdFor } from '../../sim/vssGateway.ts';
import { QUEUE_SERVICE } from '../../../modules/queue/index.ts';

let k: KioskAgent;
const logLines: string[] = [];
const K1 = { 'x-kiosk-token': KIOSK_TOKEN };
const K2 = { 'x-kiosk-token': OTHER_KIOSK_TOKEN };
const K3 = { 'x-kiosk-token': THIRD_KIOSK_TOKEN };
const EVIL = 'http://evil.example';

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  // No loopback exception: even 127.0.0.1 must show a kiosk token (a unit on the LAN). A kiosk
  // earns a look-up back every 2 minutes (burst 6), so the counts below do not depend on timing.
  k = await startKioskAgent({
    allowLoopback: false,
    gateway: true,
    log: pino({ level: 'info' }, sink),
    kioskSettings: '  lookupLimits: { perKioskPerMinute: 0.5 }',
  });
});
afterAll(async () => k?.close());

interface Answer {
  status: number;
  json: any;
  text: string;
}

/** One HTTP request, optionally from another local address (127.0.0.2 plays a PC on the LAN). */
function call(method: string, path: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string>; from?: string } = {}): Promise<Answer> {
  const url = new URL(path, k.url);
  const payload = opts.raw ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        ...(opts.from ? { localAddress: opts.from } : {}),
        headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

const tickets = () => (k.agent.services.get(QUEUE_SERVICE)!.db.prepare('SELECT COUNT(*) AS n FROM queue_tickets').get() as { n: number }).n;
const journalCount = (stream: string) => (k.agent.store.db.prepare('SELECT COUNT(*) AS n FROM journal WHERE stream = ?').get(stream) as { n: number }).n;

/** Opens a WebSocket; resolves with the HTTP status of a refused upgrade, or 101 when it opened. */
function upgrade(path: string, origin?: string): Promise<{ status: number; ws: WebSocket | null }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${k.url.replace('http', 'ws')}${path}`, origin ? { origin } : {});
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, ws: null });
      res.resume();
    });
    ws.once('error', () => undefined);
  });
}

/** Identifies a typed number (or a QR text) as kiosk `headers`; the greeting view with its identityRef. */
async function identify(body: { digits?: string; qr?: string }, headers = K1): Promise<{ identityRef: string; name: string; idLast3: string; source: string }> {
  const r = await call('POST', '/api/kiosk/identify', { body, headers });
  expect(r.status).toBe(200);
  return r.json;
}

describe("kiosk routes: only the kiosk unit, only from the box's own page", () => {
  it("a web page of another origin cannot open /api/kiosk/live, even with the token; the box's own page can", async () => {
    const foreign = await upgrade(`/api/kiosk/live?token=${KIOSK_TOKEN}`, EVIL);
    expect(foreign.status).toBe(403);
    const noToken = await upgrade('/api/kiosk/live', k.url);
    expect(noToken.status).toBe(401);
    const wrongToken = await upgrade('/api/kiosk/live?token=not-a-kiosk-token-at-all-000', k.url);
    expect(wrongToken.status).toBe(401);
    // The kiosk's own page (Origin = the box's address) with its token: connected, and it gets card events.
    const own = await upgrade(`/api/kiosk/live?token=${KIOSK_TOKEN}`, k.url);
    expect(own.status).toBe(101);
    const messages: any[] = [];
    own.ws!.on('message', (d) => messages.push(JSON.parse(String(d))));
    k.agent.bus.emit('domain.event', { visibility: 'local', topic: 'card/status', body: { state: 'reading', message: 'Reading…' } });
    await waitFor(() => messages.some((m) => m.type === 'card/status'), 'the card status on the kiosk socket');
    own.ws!.close();
    expect(logLines.some((l) => l.includes('request from a foreign web page refused') && l.includes('evil.example'))).toBe(true);
  });

  it('a foreign-Origin POST to /api/kiosk/identify is 403 and the reader gets no key', async () => {
    const keys: unknown[] = [];
    k.agent.bus.on('test-keys', 'domain.event', (e) => e.topic === 'card/key' && keys.push(e.body));
    try {
      const r = await call('POST', '/api/kiosk/identify', { body: { digits: CCCD_WITH_APPOINTMENT }, headers: { ...K1, origin: EVIL } });
      expect(r.status).toBe(403);
      expect(r.json.error).toMatch(/evil\.example.*not accepted/);
      expect(keys).toEqual([]);
      // The same request from the box's page goes through (and offers the key to the reader).
      const ok = await call('POST', '/api/kiosk/identify', { body: { digits: CCCD_WITH_APPOINTMENT }, headers: { ...K1, origin: k.url } });
      expect(ok.status).toBe(200);
      expect(keys).toEqual([{ digits: CCCD_WITH_APPOINTMENT }]);
    } finally {
      k.agent.bus.removeListeners('test-keys');
    }
  });

  it('from another PC (127.0.0.2) and from the box itself with allowLoopback off: no token, 401; the kiosk token works', async () => {
    for (const from of ['127.0.0.2', '127.0.0.1']) {
      expect((await call('GET', '/api/kiosk/services', { from })).status).toBe(401);
      expect((await call('POST', '/api/kiosk/identify', { from, body: { digits: CCCD_WITH_APPOINTMENT } })).status).toBe(401);
      expect((await call('GET', '/api/kiosk/services', { from, headers: { 'x-kiosk-token': 'x'.repeat(30) } })).status).toBe(401);
      const ok = await call('GET', '/api/kiosk/services', { from, headers: K1 });
      expect(ok.status).toBe(200);
      expect(ok.json.services.map((s: { id: string }) => s.id)).toEqual(['noi', 'nhi', 'xn']);
    }
    // The refused check-in issued nothing.
    const before = tickets();
    expect((await call('POST', '/api/kiosk/checkin', { from: '127.0.0.2', body: { service: 'noi' } })).status).toBe(401);
    expect(tickets()).toBe(before);
    expect(logLines.some((l) => l.includes('no valid kiosk token') && l.includes('127.0.0.2'))).toBe(true);
  });
});

describe('look-ups: only what the screen shows, within the limits', () => {
  it('answers the verdict, its sentences and the appointment time; no card number, address, code or staff note', async () => {
    const gatewayBefore = k.gateway!.lookups.length;
    const person = await identify({ qr: `${syntheticCccdFor('000')}|123456789|Lê Thị Hạnh|02021960|Nữ|Số 5 Ngõ Bí Mật, Hà Nội|01012021` }, K2);
    expect(person).toMatchObject({ name: 'Lê Thị Hạnh', idLast3: '000', source: 'qr' });
    expect(Object.keys(person).sort()).toEqual(['idLast3', 'identityRef', 'name', 'source']);
    const r = await call('POST', '/api/kiosk/lookup', { body: { identityRef: person.identityRef }, headers: K2 });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      insurance: { verdict: 'valid', patientMessage: 'Thẻ BHYT của bạn còn giá trị sử dụng.', nextStep: expect.any(String) },
      appointment: null,
      hisReachable: true,
      message: null,
      nextStep: null,
    });
    expect(k.gateway!.lookups.length).toBe(gatewayBefore + 1);
    const card = k.gateway!.lookups.at(-1)!;
    expect(card.maThe).toBe(syntheticCccdFor('000'));
    for (const secret of [syntheticCccdFor('000'), 'DN4', 'Ngõ Bí Mật', '1960', 'maThe', 'cardNumber', 'staffNote', 'code'])
      expect(r.text).not.toContain(secret);
    // A booked appointment: its time and service only (no doctor, room or HIS id).
    const booked = await identify({ digits: CCCD_WITH_APPOINTMENT }, K2);
    const a = await call('POST', '/api/kiosk/lookup', { body: { identityRef: booked.identityRef }, headers: K2 });
    expect(a.json.appointment).toEqual({ time: '08:30', serviceCode: 'KNOI', serviceName: 'Khám Nội' });
    for (const hidden of ['BS. Trần', 'P.105', 'LH-']) expect(a.text).not.toContain(hidden);
  });

  it('the same reference asked twice at once reaches the gateway once', async () => {
    const before = k.gateway!.lookups.length;
    const person = await identify({ digits: syntheticCccdFor('010') });
    const [a, b] = await Promise.all([1, 2].map(() => call('POST', '/api/kiosk/lookup', { body: { identityRef: person.identityRef }, headers: K1 })));
    expect([a!.status, b!.status]).toEqual([200, 200]);
    expect(a!.json).toEqual(b!.json);
    expect(k.gateway!.lookups.length - before).toBe(1);
  });

  it('one CCCD number is looked up at most 3 times in 10 minutes, whatever the kiosk does', async () => {
    const id = syntheticCccdFor('004');
    const gatewayBefore = k.gateway!.lookups.filter((l) => l.maThe === id).length;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      // A fresh identity each time (the page reset in between), so nothing is answered from memory.
      await call('POST', '/api/kiosk/reset', { body: {}, headers: K2 });
      const person = await identify({ digits: id }, K2);
      const r = await call('POST', '/api/kiosk/lookup', { body: { identityRef: person.identityRef }, headers: K2 });
      statuses.push(r.status);
      if (r.status === 429) expect(r.json.error).toMatch(/^Vui lòng chờ khoảng \d+ phút rồi thử lại/);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    expect(k.gateway!.lookups.filter((l) => l.maThe === id).length - gatewayBefore).toBe(3);
    const refusal = logLines.find((l) => l.includes('lookup-per-cccd'));
    expect(refusal).toBeDefined();
    expect(refusal).not.toContain(id);
  });
});

describe('check-in: the priority comes from what the box read', () => {
  it('a forged check-in carrying an identity and a 1940 birth date is refused; nothing is issued', async () => {
    const before = tickets();
    for (const body of [
      { service: 'noi', identity: { idNumber: '079040001234', fullName: 'Giả Mạo', dateOfBirth: '1940-01-01' } },
      { service: 'noi', birthDate: '1940-01-01' },
      { service: 'noi', identityRef: 'made-up-reference-0000000' },
    ]) {
      const r = await call('POST', '/api/kiosk/checkin', { body, headers: K1 });
      expect({ body, status: r.status }).toEqual({ body, status: body.identityRef ? 410 : 400 });
      expect(typeof r.json.error).toBe('string');
    }
    // The queue's own route does not take a birth date from a kiosk either.
    const q = await call('POST', '/api/queue/tickets', { body: { service: 'noi', birthDate: '1940-01-01' }, headers: K1 });
    expect(q.status).toBe(403);
    expect(q.json.error).toMatch(/birth date is accepted only from a logged-in staff member/);
    expect(tickets()).toBe(before);
  });

  it('a QR of a 1940 birth date read by the box gives age75, computed on the box; the HIS gets the identity and the insurance', async () => {
    const id = '079040001234';
    const person = await identify({ qr: `${id}|123456789|Phạm Văn Cụ|02021940|Nam|Số 9 Phố Cổ, Hà Nội|01012021` });
    await call('POST', '/api/kiosk/lookup', { body: { identityRef: person.identityRef }, headers: K1 });
    const r = await call('POST', '/api/kiosk/checkin', { body: { identityRef: person.identityRef, service: 'noi' }, headers: K1 });
    expect(r.status).toBe(200);
    expect(r.json.ticket).toMatchObject({ priority: 'age75', priorityStatus: 'auto' });
    expect(k.agent.services.get(QUEUE_SERVICE)!.get(r.json.ticket.id)).toMatchObject({ priority: 'age75', priorityStatus: 'auto' });
    await waitFor(
      () => k.his.registrations.some((x) => JSON.stringify(x.body).includes(r.json.ticket.number) && JSON.stringify(x.body).includes(id)),
      'the check-in registered at the HIS',
      15_000,
    );
    // The reference is spent: one identity, one ticket.
    expect((await call('POST', '/api/kiosk/checkin', { body: { identityRef: person.identityRef, service: 'noi' }, headers: K1 })).status).toBe(410);
  });

  it('a typed number has no verified birth date: a claimed class is unconfirmed, staff confirm it at the counter', async () => {
    for (const claim of ['age75', 'pregnant']) {
      const person = await identify({ digits: '079040005678' });
      const r = await call('POST', '/api/kiosk/checkin', { body: { identityRef: person.identityRef, service: 'noi', claim }, headers: K1 });
      expect(r.status).toBe(200);
      expect(r.json.ticket).toMatchObject({ priority: claim, priorityStatus: 'claimed' });
    }
    const plain = await identify({ digits: '079040005678' });
    const r = await call('POST', '/api/kiosk/checkin', { body: { identityRef: plain.identityRef, service: 'noi' }, headers: K1 });
    expect(r.json.ticket).toMatchObject({ priority: null, priorityStatus: null });
  });

  it("an identity belongs to the kiosk that read it and is gone after the page's reset", async () => {
    const person = await identify({ digits: CCCD_WITH_APPOINTMENT });
    expect((await call('POST', '/api/kiosk/lookup', { body: { identityRef: person.identityRef }, headers: K2 })).status).toBe(410);
    const before = tickets();
    expect((await call('POST', '/api/kiosk/checkin', { body: { identityRef: person.identityRef, service: 'noi' }, headers: K2 })).status).toBe(410);
    expect((await call('POST', '/api/kiosk/reset', { body: {}, headers: K1 })).json.wiped).toBeGreaterThanOrEqual(1);
    const gone = await call('POST', '/api/kiosk/checkin', { body: { identityRef: person.identityRef, service: 'noi' }, headers: K1 });
    expect(gone.status).toBe(410);
    expect(gone.json.error).toMatch(/hết hạn/);
    expect(tickets()).toBe(before);
  });
});

describe('sizes and the feedback route', () => {
  it('a 10 KB fullName or QR is refused with 413 and a message; a long field with 400; nothing is stored', async () => {
    const before = tickets();
    const big = 'Nguyễn '.repeat(1500);
    const checkin = await call('POST', '/api/kiosk/checkin', { body: { service: 'noi', identity: { idNumber: '079040001234', fullName: big } }, headers: K1 });
    expect(checkin.status).toBe(413);
    expect(checkin.json.error).toMatch(/too large/i);
    const qr = await call('POST', '/api/kiosk/identify', { body: { qr: `079040001234|123456789|${big}|02021940|Nam|x|01012021` }, headers: K1 });
    expect(qr.status).toBe(413);
    const digits = await call('POST', '/api/kiosk/identify', { body: { digits: '1'.repeat(200) }, headers: K1 });
    expect(digits.status).toBe(400);
    expect(digits.json.error).toMatch(/digits/);
    const service = await call('POST', '/api/kiosk/checkin', { body: { service: 'n'.repeat(65) }, headers: K1 });
    expect(service.status).toBe(400);
    expect(tickets()).toBe(before);
    const feedback = journalCount('kiosk.feedback');
    expect((await call('POST', '/api/kiosk/feedback', { body: { rating: 5, reasons: Array.from({ length: 11 }, () => 'nhanh') }, headers: K1 })).status).toBe(
      400,
    );
    expect((await call('POST', '/api/kiosk/feedback', { body: { rating: 5, reasons: ['x'.repeat(61)] }, headers: K1 })).status).toBe(400);
    expect((await call('POST', '/api/kiosk/feedback', { body: { rating: 5, comment: 'free text' }, headers: K1 })).status).toBe(400);
    expect(journalCount('kiosk.feedback')).toBe(feedback);
  });

  it("feedback needs the kiosk token and the box's origin, and is rate-limited per kiosk", async () => {
    const before = journalCount('kiosk.feedback');
    expect((await call('POST', '/api/kiosk/feedback', { body: { rating: 1 }, from: '127.0.0.2' })).status).toBe(401);
    expect((await call('POST', '/api/kiosk/feedback', { body: { rating: 1 }, headers: { ...K2, origin: EVIL } })).status).toBe(403);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await call('POST', '/api/kiosk/feedback', { body: { rating: 4 }, headers: K2 })).status);
    // 10 a minute, 5 at once.
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(journalCount('kiosk.feedback') - before).toBe(5);
  });
});

describe('a look-up flood', () => {
  it('a flood of 50 look-ups of different numbers from one kiosk: at most the burst reaches the HIS and the gateway', async () => {
    const gatewayBefore = k.gateway!.lookups.length;
    const hisBefore = k.his.appointmentLookups;
    // As the page would: a number typed, then its look-up, 50 times as fast as the box answers.
    const answers: Answer[] = [];
    for (let i = 0; i < 50; i++) {
      const { identityRef } = await identify({ digits: `0790990${String(10000 + i).slice(-5)}` }, K3);
      answers.push(await call('POST', '/api/kiosk/lookup', { body: { identityRef }, headers: K3 }));
    }
    const by = (s: number) => answers.filter((a) => a.status === s).length;
    expect(by(200)).toBe(6);
    expect(by(429)).toBe(44);
    expect(answers.find((a) => a.status === 429)!.json.error).toMatch(/^Vui lòng chờ khoảng \d+ (giây|phút) rồi thử lại/);
    expect(k.gateway!.lookups.length - gatewayBefore).toBe(6);
    expect(k.his.appointmentLookups - hisBefore).toBe(6);
    // One log line for the flood (not 44), without any of the numbers.
    const lines = logLines.filter((l) => l.includes('lookup-per-kiosk') && l.includes('kiosk-3'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(/0790990\d{5}/);
  });
});
