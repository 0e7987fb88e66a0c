// The console's read-only routes of issue #17: the log viewer (masked lines only, admin only),
// the charts' time series (computed from the journal and outbox rows), the box's time zone,
// and the destinations a journal entry may be sent again to (only those that take its stream).
import { Writable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../core/controller.ts';
import { bucketsEnding, outboxDepth, receivedPerSource } from '../../../core/http/chartSeries.ts';
import { hashPassword } from '../../../core/http/password.ts';
import { createLogger, recentLogLines } from '../../../core/log.ts';
import { openStore } from '../../../core/store/store.ts';
import { ConfigError, loadConfigText } from '../../../core/config/load.ts';
import { parseProblem, viProblemMessage } from '../../../kiosk/console/serverText.js';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { hl7Fixture } from '../../helpers/hl7Fixtures.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { MODULES } from '../../../modules/index.ts';

const STAFF_PASSWORD = 'counter-password-1';
const CCCD = '079190001234';
const NAME = 'Nguyễn Văn An';
const { dir, cleanup } = tempDir('edge-console-api-');
const nowhere = () => new Writable({ write: (_c, _e, cb) => cb() });
const log = createLogger('debug', nowhere());
let agent: Agent;
let base: string;
let admin: string;
let hl7Port: number;

async function login(user: string, password: string): Promise<string> {
  const res = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({ user, password }),
  });
  expect(res.status).toBe(200);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}
const get = (path: string, cookie = admin) => fetch(`${base}${path}`, { headers: { cookie } });
const json = async <T>(path: string, cookie = admin): Promise<T> => {
  const res = await get(path, cookie);
  expect(res.status, `${path}: ${res.status}`).toBe(200);
  return (await res.json()) as T;
};

beforeAll(async () => {
  hl7Port = await freePort();
  writeFileSync(
    join(dir, 'secrets.yaml'),
    `admin_hash: "${await hashPassword(TEST_PASSWORD)}"\nstaff_hash: "${await hashPassword(STAFF_PASSWORD)}"\ningest_token: tok-123\n`,
  );
  const configFile = join(dir, 'agent.yaml');
  writeFileSync(
    configFile,
    `version: 1
box: { id: api-box, facility: bv-test, dataDir: ./data, timezone: Asia/Ho_Chi_Minh }
http:
  host: 127.0.0.1
  port: 0
  admin: { user: admin, passwordHash: !secret admin_hash }
  accounts: [{ user: quay1, role: staff, passwordHash: !secret staff_hash, counters: [q1] }]
lanBroker: { enabled: false }
log: { level: debug }
destinations:
  central: { type: http-json, enabled: false, url: "http://127.0.0.1:9/ingest" }
  lis: { type: hl7-mllp-lis, enabled: false, host: 127.0.0.1, port: 9 }
  pacs: { type: dicom-cstore, enabled: false, host: 127.0.0.1, port: 9, calledAe: PACS }
devices:
  monitor: { driver: http-ingest, routes: [central], token: !secret ingest_token }
  bc5380: { driver: hl7-mllp, host: 127.0.0.1, port: ${hl7Port}, routes: [lis, central] }
`,
  );
  agent = new Agent({ modules: MODULES, configFile, log });
  await agent.start();
  base = `http://127.0.0.1:${agent.httpPort}`;
  admin = await login('admin', TEST_PASSWORD);
});
afterAll(async () => {
  await agent?.stop();
  cleanup();
});

interface LogsAnswer {
  capacity: number;
  held: number;
  origins: string[];
  lines: Array<{ time: string; level: string; origin: string | null; msg: string; fields: Record<string, unknown> }>;
}

describe('GET /api/logs', () => {
  it('shows a line logged with a CCCD number and a name masked, and a search for the number finds nothing', async () => {
    log.child({ module: 'kiosk' }).warn({ cccd: CCCD, fullName: NAME, err: new Error(`lookup of ${CCCD} failed`) }, `card ${CCCD} not found at the HIS`);
    const r = await json<LogsAnswer>('/api/logs?q=not%20found%20at%20the%20HIS');
    expect(r.lines).toHaveLength(1);
    const line = r.lines[0]!;
    expect(line).toMatchObject({ level: 'warn', origin: 'kiosk', msg: 'card 0791*****234 not found at the HIS' });
    expect(line.fields.cccd).toBe('0791*****234');
    expect(line.fields.fullName).toBe('N. V. A.');
    expect(JSON.stringify(line.fields.err)).toContain('lookup of 0791*****234 failed');
    // Nothing of the raw data anywhere in the answer, and the number is no search key.
    const everything = await (await get('/api/logs?limit=2000')).text();
    expect(everything).not.toContain(CCCD);
    expect(everything).not.toContain(NAME);
    expect((await json<LogsAnswer>(`/api/logs?q=${CCCD}`)).lines).toEqual([]);
    expect(recentLogLines.snapshot().join('')).not.toContain(CCCD);
  });

  it('filters by level (and above), origin and text, newest first, and bounds the limit', async () => {
    const device = log.child({ device: 'bc5380' });
    device.debug('filter-test debug line');
    device.info('filter-test first info line');
    device.error('filter-test error line');
    log.child({ module: 'http' }).info('filter-test line of another module');
    const all = await json<LogsAnswer>('/api/logs?q=filter-test');
    expect(all.lines.map((l) => l.msg)).toEqual([
      'filter-test line of another module',
      'filter-test error line',
      'filter-test first info line',
      'filter-test debug line',
    ]);
    expect((await json<LogsAnswer>('/api/logs?q=FILTER-TEST&level=info&origin=bc5380')).lines.map((l) => l.msg)).toEqual([
      'filter-test error line',
      'filter-test first info line',
    ]);
    expect((await json<LogsAnswer>('/api/logs?q=filter-test&level=error')).lines.map((l) => l.level)).toEqual(['error']);
    expect((await json<LogsAnswer>('/api/logs?q=filter-test&limit=1')).lines).toHaveLength(1);
    expect(all.origins).toEqual(expect.arrayContaining(['bc5380', 'http', 'kiosk']));
    expect(all.capacity).toBe(2000);
    expect((await get('/api/logs?limit=5000')).status).toBe(400);
    expect((await get('/api/logs?level=verbose')).status).toBe(400);
  });

  it('keeps only the last lines: the ring does not grow past its capacity', async () => {
    for (let i = 0; i < 2100; i++) log.info(`flood ${i}`);
    log.info('after the flood');
    const r = await json<LogsAnswer>('/api/logs?limit=2000');
    expect(r.held).toBe(2000);
    expect(r.lines[0]!.msg).toBe('after the flood');
    expect(r.lines.some((l) => l.msg === 'flood 0')).toBe(false);
  });

  it('refuses without a login (401) and a staff account (403)', async () => {
    expect((await fetch(`${base}/api/logs`)).status).toBe(401);
    const staff = await login('quay1', STAFF_PASSWORD);
    for (const path of ['/api/logs', '/api/charts/received', '/api/charts/outbox', '/api/box', '/api/journal/1/targets']) {
      expect((await get(path, staff)).status, path).toBe(403);
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
    }
  });
});

describe('chart series from the store', () => {
  it('counts messages per device per bucket, not their derived results, and the outbox depth per destination over time', async () => {
    const tmp = tempDir('edge-chart-series-');
    const clock = new ManualClock(Date.UTC(2026, 11, 3, 3, 0, 0)); // 10:00 in Hà Nội
    const store = await openStore({ dir: tmp.dir, clock, timezone: 'Asia/Ho_Chi_Minh' });
    try {
      const hour = 3_600_000;
      const at = async (ms: number, source: string, stream: string, routes: string[]) => {
        clock.advanceTo(ms);
        return store.journalFor(source, routes).append({ stream, kind: 'test', idempotencyKey: `${source}-${stream}-${ms}`, parsed: {}, routes });
      };
      const t0 = clock.now();
      await at(t0 + 10 * 60_000, 'xn1', 'lab.message', []);
      await at(t0 + 11 * 60_000, 'xn1', 'lab.result', ['lis']);
      await at(t0 + 12 * 60_000, 'xn1', 'lab.astm.frame', []);
      await at(t0 + 2 * hour + 5 * 60_000, 'xn1', 'lab.message', []);
      await at(t0 + 2 * hour + 6 * 60_000, 'us1', 'dicom.instance', ['pacs']);
      await at(t0 + 2 * hour + 7 * 60_000, 'us1', 'dicom.instance', ['pacs']);
      // The result is delivered at 12:30, one image parked at 13:10, the other still waiting.
      const items = store.outbox.list({});
      clock.advanceTo(t0 + 2 * hour + 30 * 60_000);
      await store.outbox.markDone(items.find((i) => i.destination === 'lis')!.outboxId);
      clock.advanceTo(t0 + 3 * hour + 10 * 60_000);
      await store.outbox.park(items.find((i) => i.destination === 'pacs')!.outboxId, 'pacs', 'refused');
      clock.advanceTo(t0 + 4 * hour + 1000);

      const b = bucketsEnding(clock.now(), 6, 60, 'Asia/Ho_Chi_Minh');
      expect(new Date(b.fromMs).toISOString()).toBe('2026-12-03T02:00:00.000Z'); // 09:00 local, six hour buckets to 14:00
      expect(receivedPerSource(store.db, b, ['xn1', 'us1', 'quiet'])).toEqual([
        { name: 'xn1', values: [0, 1, 0, 1, 0, 0] },
        { name: 'us1', values: [0, 0, 0, 2, 0, 0] },
        { name: 'quiet', values: [0, 0, 0, 0, 0, 0] },
      ]);
      expect(outboxDepth(store.db, b, ['lis', 'pacs'])).toEqual([
        { name: 'lis', values: [0, 1, 1, 0, 0, 0] },
        { name: 'pacs', values: [0, 0, 0, 2, 1, 1] },
      ]);
      // A window that starts after the result was created still counts it as waiting at its start.
      const later = bucketsEnding(clock.now(), 3, 60, 'Asia/Ho_Chi_Minh');
      expect(outboxDepth(store.db, later, ['lis', 'pacs'])).toEqual([
        { name: 'lis', values: [0, 0, 0] },
        { name: 'pacs', values: [2, 1, 1] },
      ]);
      // A zone with a half-hour offset gets buckets starting on its own full hours.
      expect(new Date(bucketsEnding(Date.UTC(2026, 11, 3, 3, 40), 1, 60, 'Asia/Kolkata').fromMs).toISOString()).toBe('2026-12-03T03:30:00.000Z');
    } finally {
      store.close();
      tmp.cleanup();
    }
  });
});

describe('chart routes, box and resend targets on a running agent', () => {
  it('answers the messages received and the items waiting in the current bucket', async () => {
    for (const key of ['c-1', 'c-2', 'c-3']) {
      const res = await fetch(`${base}/api/ingest/monitor`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer tok-123', 'idempotency-key': key },
        body: '{"pulse":70}',
      });
      expect(res.status).toBe(200);
    }
    type Chart = { timezone: string; bucketMinutes: number; fromMs: number; series: Array<{ name: string; values: number[] }> };
    const received = await json<Chart>('/api/charts/received?hours=24&bucketMinutes=10');
    expect(received.timezone).toBe('Asia/Ho_Chi_Minh');
    expect(received.bucketMinutes).toBe(10);
    const monitor = received.series.find((s) => s.name === 'monitor')!;
    expect(monitor.values).toHaveLength(144);
    expect(monitor.values.reduce((a, b) => a + b, 0)).toBe(3);
    expect(received.series.map((s) => s.name).sort()).toEqual(['bc5380', 'monitor']);
    const depth = await json<Chart>('/api/charts/outbox');
    expect(depth.series.find((s) => s.name === 'central')!.values.at(-1)).toBe(3); // disabled: nothing leaves
    expect(depth.series.find((s) => s.name === 'pacs')!.values.every((v) => v === 0)).toBe(true);
    expect((await get('/api/charts/received?bucketMinutes=7')).status).toBe(400);
  });

  it('GET /api/box gives the time zone the console shows every time in', async () => {
    const box = await json<{ id: string; timezone: string; utcOffsetMinutes: number; now: string }>('/api/box');
    expect(box).toMatchObject({ id: 'api-box', timezone: 'Asia/Ho_Chi_Minh', utcOffsetMinutes: 420 });
    expect(box.now).toMatch(/\+07:00$/);
  });

  it('offers to send an entry again only to destinations its device routes to and that take its stream', async () => {
    const client = await TestMllpClient.open(hl7Port);
    expect(msa(await client.send(hl7Fixture('synthetic_bloodgas_v22.hl7'))).code).toBe('AA');
    client.close();
    type Entry = { id: number; stream: string; source: string };
    const entries = (await json<{ entries: Entry[] }>('/api/journal?limit=1000')).entries;
    const targets = async (e: Entry) =>
      (await json<{ targets: Array<{ destination: string; state: string | null }> }>(`/api/journal/${e.id}/targets`)).targets.map((t) => t.destination);
    const of = (source: string, stream: string) => entries.find((e) => e.source === source && e.stream === stream)!;
    expect(await targets(of('monitor', 'device.json'))).toEqual(['central']);
    expect(await targets(of('bc5380', 'lab.result'))).toEqual(['central']);
    expect(await targets(of('bc5380', 'lab.report'))).toEqual(['lis']);
    expect(await targets(of('bc5380', 'lab.message'))).toEqual([]); // the raw message: neither takes it
    for (const e of entries) expect(await targets(e)).not.toContain('pacs');
    expect((await get('/api/journal/999999/targets')).status).toBe(404);
    // The resend itself refuses a destination the entry cannot go to (an HL7 result to the LIS that takes reports).
    const result = of('bc5380', 'lab.result');
    const wrong = await fetch(`${base}/api/journal/${result.id}/resend`, {
      method: 'POST',
      headers: { cookie: admin, origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ destination: 'lis' }),
    });
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as { error: string }).error).toContain('it takes: central');
  });
});

describe('configuration problems in Vietnamese', () => {
  it('every problem the loader finds in common mistakes has a Vietnamese rendering on the page', () => {
    const file = join(dir, 'agent.yaml');
    const base = `version: 1
box: { id: api-box, facility: bv-test, dataDir: ./data }
http: { host: 127.0.0.1, port: 0, admin: { user: admin, passwordHash: !secret admin_hash } }
destinations:
  central: { type: http-json, url: "http://127.0.0.1:9/ingest" }
devices:
  monitor: { driver: http-ingest, routes: [central], token: !secret ingest_token }
`;
    const mistakes = [
      base.replace('port: 0,', 'port: 123456,'), // must be <= 65535
      base.replace('port: 0,', 'port: "x",'), // must be integer
      base.replace('dataDir: ./data }', 'dataDir: ./data, colour: blue }'), // unknown field
      base.replace('box: { id: api-box, ', 'box: { '), // required field
      base.replace('routes: [central]', 'routes: [lis]'), // route not a destination
      base.replace('!secret ingest_token', '!secret no_such_secret'), // secret not in the file
      base.replace('!secret ingest_token', 'tok-inline'), // a secret written inline
      base.replace('type: http-json', 'type: http-jsn'), // enum
      base.replace('monitor:', 'Monitor 1:'), // property name
      base.replace('driver: http-ingest,', 'driver: http-ingest, allowedPeers: [10.0.0.0/99],'), // allowedPeers entry
      `${base}devices:\n  x: {}\n`, // YAML: duplicate key
      'version: 1\nbox: { id: [a, b }\n', // YAML: broken flow
      '- a\n- b\n', // not a mapping
    ];
    const untranslated: string[] = [];
    let seen = 0;
    for (const text of mistakes) {
      try {
        loadConfigText(text, file);
        throw new Error(`no problem found in:\n${text}`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const p of err.problems) {
          seen++;
          const formatted = `${p.file}:${p.line}:${p.column} ${p.field || '(top level)'}: ${p.message}`;
          expect(parseProblem(formatted)).toMatchObject({ line: p.line, column: p.column, message: p.message });
          // Translated, and no English sentence left around the names and patterns it quotes.
          const vi = viProblemMessage(p.message);
          if (
            vi === p.message ||
            /\b(must|is|are|not|the|field|missing|unknown|allowed|with|end|file|route|known|form|name|be)\b/i.test(vi.replace(/"[^"]*"/g, ''))
          )
            untranslated.push(`${p.message} → ${vi}`);
          if (process.env.SHOW_PROBLEMS) console.log(p.message, '→', viProblemMessage(p.message));
        }
      }
    }
    expect(seen).toBeGreaterThanOrEqual(mistakes.length);
    expect(untranslated).toEqual([]);
  });
});
