// Logins, roles, CSRF and sessions, tried from outside as a person on the LAN would: real HTTP
// against a started agent, every refusal checked together with what it must not have changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { ConsoleAuth } from '../../../core/http/auth.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { basic, call, OPS_PASSWORD, STAFF_PASSWORD, startHttpTestAgent, type HttpTestAgent } from './httpTestAgent.ts';

let box: HttpTestAgent;

// A route added later by a plugin, the way the queue and kiosk modules add theirs: its guard
// is a preHandler in its own file, and must still run before its body is looked at.
const plugin = (app: FastifyInstance, auth: ConsoleAuth) => {
  app.post(
    '/api/plugin-probe',
    { preHandler: auth.requireAdmin, schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } } },
    async (req) => ({ n: (req.body as { n: number }).n }),
  );
};

beforeAll(async () => {
  // Short backoff so the test reaches the lockout in a second; the thresholds are the defaults (5, 10; 10, 30).
  box = await startHttpTestAgent({ httpLines: '  login: { backoffSeconds: 0.05 }', plugins: [plugin] });
  const posted = await call(box.url, 'POST', '/api/ingest/monitor', {
    json: { spo2: 97 },
    headers: { authorization: 'Bearer tok-123', 'idempotency-key': 'r-1' },
  });
  expect(posted.status).toBe(200);
});
afterAll(async () => {
  await box?.close();
});

const audit = async (action: string) =>
  (await call(box.url, 'GET', `/api/audit?action=${action}&limit=1000`, { headers: basic('admin', TEST_PASSWORD) })).json<{
    entries: Array<{ action: string; actor: string; ip: string; outcome: string; detail?: Record<string, unknown> }>;
  }>().entries;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wrong passwords until `failures` of them were really checked (waiting out each 429's backoff). */
async function guess(
  failures: number,
  attempt: () => Promise<{ status: number; headers: Record<string, unknown>; text: string }>,
): Promise<Array<{ status: number; retryAfter: unknown; text: string }>> {
  const answers: Array<{ status: number; retryAfter: unknown; text: string }> = [];
  let checked = 0;
  while (checked < failures) {
    const r = await attempt();
    answers.push({ status: r.status, retryAfter: r.headers['retry-after'], text: r.text });
    if (r.status === 401) checked++;
    else if (r.status === 429) await sleep(60);
    else throw new Error(`unexpected ${r.status} ${r.text}`);
  }
  return answers;
}

describe('brute-force login', () => {
  it('form: after 5 failures each try waits (429 with Retry-After), at 10 the account is locked for everyone, the right password included', async () => {
    const from = '127.0.0.3';
    const answers = await guess(10, () => call(box.url, 'POST', '/api/login', { from, json: { user: 'ops', password: 'guess' } }));
    const refusals = answers.filter((a) => a.status === 429);
    expect(refusals.length).toBeGreaterThan(0);
    for (const r of refusals) {
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(r.text).error).toMatch(/too many failed logins for this account; wait \d+ s/);
    }
    // Locked: the right password is refused, from this PC (which waits out its own address backoff too)…
    expect((await call(box.url, 'POST', '/api/login', { from, json: { user: 'ops', password: OPS_PASSWORD } })).status).toBe(429);
    // …and from any other.
    for (const who of ['127.0.0.1', '127.0.0.5']) {
      const right = await call(box.url, 'POST', '/api/login', { from: who, json: { user: 'ops', password: OPS_PASSWORD } });
      expect(right.status).toBe(429);
      expect(Number(right.headers['retry-after'])).toBeGreaterThan(800);
      expect(right.json().error).toMatch(/the account "ops" is locked for 15 min after 10 failed logins/);
      expect(right.headers['set-cookie']).toBeUndefined();
    }
    // HTTP Basic is the same account: locked too.
    expect((await call(box.url, 'GET', '/api/devices', { headers: basic('ops', OPS_PASSWORD) })).status).toBe(429);

    const failed = (await audit('login.failed')).filter((e) => e.actor === 'ops');
    expect(failed).toHaveLength(10);
    expect(failed.every((e) => e.ip === from && e.outcome === 'refused' && e.detail?.via === 'form')).toBe(true);
    const locked = (await audit('login.locked')).filter((e) => e.actor === 'ops');
    expect(locked).toEqual([expect.objectContaining({ ip: from, detail: expect.objectContaining({ scope: 'account', failures: 10 }) })]);
    // Nothing of the password reached the audit log.
    expect(JSON.stringify(await audit('login'))).not.toContain('guess');
  });

  it('HTTP Basic: the same backoff and lockout, the right password refused while locked, a success elsewhere unaffected', async () => {
    const from = '127.0.0.4';
    const answers = await guess(10, () => call(box.url, 'GET', '/api/outbox', { from, headers: basic('ops2', 'guess') }));
    expect(answers.some((a) => a.status === 429 && Number(a.retryAfter) >= 1)).toBe(true);
    const right = await call(box.url, 'GET', '/api/outbox', { from, headers: basic('ops2', OPS_PASSWORD) });
    expect(right.status).toBe(429);
    expect(right.json().error).toMatch(/the account "ops2" is locked/);
    // The form is the same account: locked too.
    expect((await call(box.url, 'POST', '/api/login', { json: { user: 'ops2', password: OPS_PASSWORD } })).status).toBe(429);
    const failed = (await audit('login.failed')).filter((e) => e.actor === 'ops2');
    expect(failed).toHaveLength(10);
    expect(failed.every((e) => e.ip === from && e.detail?.via === 'basic')).toBe(true);
    // The staff account, from another PC, still logs in.
    expect((await call(box.url, 'POST', '/api/login', { from: '127.0.0.6', json: { user: 'quay1', password: STAFF_PASSWORD } })).status).toBe(200);
  });

  it('one address guessing many names is stopped after 10 failures, without locking those names for others', async () => {
    const from = '127.0.0.7';
    for (let i = 0; i < 10; i++) expect((await call(box.url, 'POST', '/api/login', { from, json: { user: `nobody${i}`, password: 'x' } })).status).toBe(401);
    const next = await call(box.url, 'POST', '/api/login', { from, json: { user: 'quay1', password: STAFF_PASSWORD } });
    expect(next.status).toBe(429);
    expect(next.json().error).toMatch(/too many failed logins from this address/);
    expect((await call(box.url, 'POST', '/api/login', { from: '127.0.0.8', json: { user: 'quay1', password: STAFF_PASSWORD } })).status).toBe(200);
    // Unknown names are not recorded (a name field sometimes holds a password).
    expect(JSON.stringify(await audit('login.failed'))).not.toMatch(/nobody/);
  });

  it('a login body larger than 4 KB is refused with 413 before it is read', async () => {
    const res = await call(box.url, 'POST', '/api/login', { from: '127.0.0.9', json: { user: 'quay1', password: 'x'.repeat(5000) } });
    expect(res.status).toBe(413);
    expect(res.json().error).toMatch(/too large/i);
  });
});

describe('a staff (counter) account on admin routes', () => {
  it('gets 403 on every admin route, by cookie or Basic, and nothing changes', async () => {
    const cookie = await box.login('quay1', STAFF_PASSWORD);
    const own = { cookie, origin: box.url };
    const item = (box.agent.store.db.prepare('SELECT id FROM outbox LIMIT 1').get() as { id: number }).id;
    const entry = (box.agent.store.db.prepare('SELECT id FROM journal LIMIT 1').get() as { id: number }).id;
    const configBefore = readFileSync(box.configFile);
    const outboxBefore = JSON.stringify(box.agent.store.db.prepare('SELECT * FROM outbox ORDER BY id').all());
    const journalBefore = JSON.stringify(box.agent.store.db.prepare('SELECT id, idem_key FROM journal ORDER BY id').all());
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/config'],
      ['POST', '/api/config/validate', { text: 'version: 1' }],
      ['PUT', '/api/config', { text: configBefore.toString().replace('http-box', 'taken-over') }],
      ['POST', '/api/restart', {}],
      ['GET', '/api/diagnostics'],
      ['GET', '/api/journal'],
      ['GET', `/api/journal/${entry}`],
      ['POST', `/api/journal/${entry}/resend`, { destination: 'central' }],
      ['GET', '/api/captures'],
      ['GET', '/api/captures/1'],
      ['GET', '/api/outbox'],
      ['GET', '/api/outbox/central/items'],
      ['POST', '/api/outbox/central/retry', {}],
      ['POST', `/api/outbox/items/${item}/park`, { reason: 'taken over' }],
      ['POST', `/api/outbox/items/${item}/requeue`, {}],
      ['GET', '/api/devices'],
      ['POST', '/api/devices/monitor/test', {}],
      ['GET', '/api/results'],
      ['GET', '/api/orders'],
      ['POST', '/api/orders', { orderId: 'X1', action: 'new', patient: { fullName: 'A' }, items: [{ code: 'GLU' }] }],
      ['GET', '/api/studies'],
      ['GET', '/api/audit'],
      ['GET', '/metrics'],
      ['GET', '/openapi.json'],
    ];
    for (const [method, path, json] of routes) {
      for (const headers of [own, basic('quay1', STAFF_PASSWORD)]) {
        const res = await call(box.url, method, path, { headers, ...(json !== undefined ? { json } : {}) });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.json().error, `${method} ${path}`).toBe('the account "quay1" (staff) may not do this; it needs admin');
      }
    }
    expect(readFileSync(box.configFile).equals(configBefore)).toBe(true);
    expect(JSON.stringify(box.agent.store.db.prepare('SELECT * FROM outbox ORDER BY id').all())).toBe(outboxBefore);
    expect(JSON.stringify(box.agent.store.db.prepare('SELECT id, idem_key FROM journal ORDER BY id').all())).toBe(journalBefore);
    expect(box.restartRequests).toBe(0);
    const denied = (await audit('access.denied')).filter((e) => e.actor === 'quay1');
    expect(denied.length).toBe(routes.length * 2);
  });

  it('the login answer says the account is staff', async () => {
    const res = await call(box.url, 'POST', '/api/login', { json: { user: 'quay1', password: STAFF_PASSWORD } });
    expect(res.json()).toMatchObject({ user: 'quay1', role: 'staff', counters: ['q1'] });
  });
});

describe('authentication before the body', () => {
  it('answers 401, not 400, to an unauthenticated request with an invalid body, on core and plugin routes', async () => {
    for (const [method, path, body] of [
      ['PUT', '/api/config', '{"text": 5}'],
      ['PUT', '/api/config', '{"text": '],
      ['POST', '/api/outbox/items/1/park', '{}'],
      ['POST', '/api/journal/1/resend', '{"destination": 7, "extra": true}'],
      ['POST', '/api/plugin-probe', '{"n": "not a number"}'],
      ['POST', '/api/plugin-probe', 'not json at all'],
    ] as const) {
      const res = await call(box.url, method, path, { body, headers: { 'content-type': 'application/json' } });
      expect(res.status, `${method} ${path} ${body}`).toBe(401);
      expect(res.json().error).toBe('log in first (POST /api/login)');
    }
    // Logged in, the same plugin route validates its body.
    const cookie = await box.login();
    expect(
      (await call(box.url, 'POST', '/api/plugin-probe', { body: '{"n": "x"}', headers: { cookie, origin: box.url, 'content-type': 'application/json' } }))
        .status,
    ).toBe(400);
    expect((await call(box.url, 'POST', '/api/plugin-probe', { json: { n: 3 }, headers: { cookie, origin: box.url } })).json()).toEqual({ n: 3 });
  });
});

describe('cross-origin writes (CSRF)', () => {
  it("refuses a write with a valid cookie from another origin or with no Origin, and nothing changes; the same write from the box's own page works", async () => {
    const a = box;
    const cookie = await a.login();
    const item = (a.agent.store.db.prepare('SELECT id FROM outbox LIMIT 1').get() as { id: number }).id;
    const configBefore = readFileSync(a.configFile);
    const outboxBefore = JSON.stringify(a.agent.store.db.prepare('SELECT * FROM outbox ORDER BY id').all());
    const newText = configBefore.toString().replace('http-box', 'renamed-box');
    const forged: Array<Record<string, string>> = [
      { cookie, origin: 'http://evil.example' },
      { cookie, origin: 'null' },
      { cookie, origin: a.url.replace('127.0.0.1', 'localhost') },
      { cookie, referer: 'http://evil.example/page' },
      { cookie },
    ];
    for (const headers of forged) {
      const put = await call(a.url, 'PUT', '/api/config', { headers, json: { text: newText } });
      expect(put.status, JSON.stringify(headers)).toBe(403);
      expect(put.json().error).toMatch(/^refused: .*; changes are made from the console page itself$/);
      const park = await call(a.url, 'POST', `/api/outbox/items/${item}/park`, { headers, json: { reason: 'forged' } });
      expect(park.status).toBe(403);
      expect((await call(a.url, 'POST', '/api/restart', { headers, json: {} })).status).toBe(403);
    }
    // HTTP Basic from a foreign page is refused too (a browser may hold Basic credentials); a script without Origin is not.
    expect(
      (
        await call(a.url, 'POST', `/api/outbox/items/${item}/park`, {
          headers: { ...basic('admin', TEST_PASSWORD), origin: 'http://evil.example' },
          json: { reason: 'forged' },
        })
      ).status,
    ).toBe(403);
    expect(readFileSync(a.configFile).equals(configBefore)).toBe(true);
    expect(JSON.stringify(a.agent.store.db.prepare('SELECT * FROM outbox ORDER BY id').all())).toBe(outboxBefore);
    expect(a.restartRequests).toBe(0);
    // A cross-origin page may not even log someone in (and the login is not attempted at all).
    const logins = (await audit('login')).filter((e) => e.action === 'login').length;
    const crossLogin = await call(a.url, 'POST', '/api/login', {
      headers: { origin: 'http://evil.example' },
      json: { user: 'admin', password: TEST_PASSWORD },
    });
    expect(crossLogin.status).toBe(403);
    expect(crossLogin.headers['set-cookie']).toBeUndefined();
    await new Promise((r) => setTimeout(r, 200));
    expect((await audit('login')).filter((e) => e.action === 'login').length).toBe(logins);

    // The box's own page (Origin or Referer of the box) writes.
    const put = await call(a.url, 'PUT', '/api/config', { headers: { cookie, origin: a.url }, json: { text: newText } });
    expect(put.status).toBe(200);
    expect(readFileSync(a.configFile, 'utf8')).toBe(newText);
    expect(
      (await call(a.url, 'POST', `/api/outbox/items/${item}/park`, { headers: { cookie, referer: `${a.url}/console/` }, json: { reason: 'by hand' } })).status,
    ).toBe(200);
    expect((await call(a.url, 'POST', `/api/outbox/items/${item}/requeue`, { headers: basic('admin', TEST_PASSWORD), json: {} })).status).toBe(200);
    const entries = (await call(a.url, 'GET', '/api/audit', { headers: { cookie } })).json<{
      entries: Array<{ action: string; actor: string; ip: string; outcome: string; target?: Record<string, unknown>; detail?: Record<string, unknown> }>;
    }>().entries;
    expect(entries.find((e) => e.action === 'config.apply' && e.outcome === 'ok')).toMatchObject({
      actor: 'admin',
      ip: '127.0.0.1',
      detail: { problems: 0, before: expect.stringMatching(/^[0-9a-f]{16}$/), after: expect.stringMatching(/^[0-9a-f]{16}$/) },
    });
    expect(entries.find((e) => e.action === 'outbox.park')).toMatchObject({ actor: 'admin', target: { id: item }, outcome: 'ok' });
    expect(entries.find((e) => e.action === 'outbox.requeue')).toMatchObject({ actor: 'admin', target: { id: item } });
    expect(entries.filter((e) => e.action === 'access.denied' && e.detail?.why === 'origin').length).toBeGreaterThanOrEqual(16);
    // The park reason (free text, may name a patient) is not in the audit log.
    expect(JSON.stringify(entries)).not.toContain('by hand');
  });
});

describe('session expiry', () => {
  it('ends a login after the idle time without use (page refreshes do not count) and after the absolute time', async () => {
    const a = await startHttpTestAgent({ httpLines: '  sessionIdleMinutes: 0.02\n  sessionHours: 0.002' });
    try {
      const cookie = await a.login();
      // Used every 0.4 s for 1.6 s: stays (idle is 1.2 s).
      for (let i = 0; i < 4; i++) {
        await sleep(400);
        expect((await call(a.url, 'GET', '/api/devices', { headers: { cookie } })).status).toBe(200);
      }
      // Only the page's own refreshes from now on: the login ends 1.2 s after its last use.
      const lastUse = Date.now();
      let ended: { status: number; json(): Record<string, unknown> } | undefined;
      while (!ended && Date.now() - lastUse < 5000) {
        await sleep(200);
        const r = await call(a.url, 'GET', '/api/devices', { headers: { cookie, 'x-edge-background': '1' } });
        if (r.status !== 200) ended = r;
      }
      expect(Date.now() - lastUse).toBeGreaterThan(1000);
      expect(ended?.status).toBe(401);
      expect(ended?.json().error).toMatch(/the login ended after 0\.02 min without use; log in again/);
      expect((await call(a.url, 'GET', '/api/devices', { headers: { cookie } })).status).toBe(401);
      // Absolute: 7.2 s however busy.
      const second = await a.login();
      const started = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - started < 12_000) {
        await sleep(300);
        status = (await call(a.url, 'GET', '/api/devices', { headers: { cookie: second } })).status;
      }
      expect(status).toBe(401);
      expect(Date.now() - started).toBeGreaterThan(6500);
    } finally {
      await a.close();
    }
  });
});
