// Issue #17, what IT staff tripped on in the console: a journal entry's detail far below the
// table, "send again" offering every destination, "Thư chết", English states, details, test
// results and configuration problems, times in the PC's zone, studies without a date, an
// editor without line numbers, no log viewer and no charts. One agent with an analyzer over
// ASTM (the real simulator), one over HL7, a modality (DICOM), a monitor (HTTP) and a queue;
// Chromium looks at every tab (screenshots in test-artifacts/screenshots).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Browser, Page } from 'playwright-core';
import { Agent } from '../../../core/controller.ts';
import { hashPassword } from '../../../core/http/password.ts';
import { createLogger } from '../../../core/log.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { consolePage, launchChromium } from '../../helpers/browser.ts';
import { hl7Fixture } from '../../helpers/hl7Fixtures.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { loadAstmFixture, restampResults, startAstmAnalyzer, type AstmAnalyzer } from '../../sim/astmAnalyzer.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { generateStudy, modalityDateTime, startModality } from '../../sim/modality.ts';
import { MODULES } from '../../../modules/index.ts';

const SHOTS = 'test-artifacts/screenshots';
const CCCD = '079190001234';
const { dir, cleanup } = tempDir('edge-console-ux-');
const log = createLogger('info', new Writable({ write: (_c, _e, cb) => cb() }));
let agent: Agent;
let sink: HttpSink;
let analyzer: AstmAnalyzer;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let base: string;
let cookie: string;
let studyDate: { date: string; time: string };

/** Words of the agent's English sentences: none may be left on a Vietnamese page. */
const ENGLISH =
  /\b(listening|connections?|accepts?|stored|messages?|results?|refused|rejected|running|degraded|stopped|starting|the|and|port|failed|succeeded|ready|queries|answered|now|from|not|no|instances?|duplicates?|associations?|connect|connected|reconnecting|retrying|test|active|kind|device)\b/i;

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { cookie, origin: base, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return res.json() as Promise<Record<string, unknown>>;
};

beforeAll(async () => {
  sink = await startHttpSink();
  const [hl7Port, astmPort, scpPort, deadPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(join(dir, 'secrets.yaml'), `admin_hash: "${await hashPassword(TEST_PASSWORD)}"\ningest_token: tok-123\n`);
  const configFile = join(dir, 'agent.yaml');
  writeFileSync(
    configFile,
    `version: 1
box: { id: khoa-xn-01, facility: bv-huyen-test, dataDir: ./data, timezone: Asia/Ho_Chi_Minh }
http: { host: 127.0.0.1, port: 0, admin: { user: admin, passwordHash: !secret admin_hash } }
lanBroker: { enabled: false }
log: { level: info }
destinations:
  central: { type: http-json, url: "${sink.url}", backoff: { initialSeconds: 0.05, maxSeconds: 0.2 } }
  lis: { type: hl7-mllp-lis, host: 127.0.0.1, port: ${deadPort}, backoff: { initialSeconds: 60, maxSeconds: 600 } }
  pacs: { type: dicom-cstore, host: 127.0.0.1, port: ${deadPort}, calledAe: PACS, backoff: { initialSeconds: 60, maxSeconds: 600 } }
devices:
  monitor: { driver: http-ingest, routes: [central], token: !secret ingest_token }
  xn1: { driver: astm, name: Sysmex XN, profile: generic-astm, transport: tcp-server, host: 127.0.0.1, port: ${astmPort}, routes: [lis] }
  bc5380: { driver: hl7-mllp, host: 127.0.0.1, port: ${hl7Port}, routes: [lis, central] }
  ct1: { driver: dicom-scp, host: 127.0.0.1, port: ${scpPort}, aeTitle: EDGE, allowedCallers: [{ aeTitle: MODALITY, addresses: [127.0.0.1] }], routes: [pacs] }
queue:
  services:
    - { id: noi, name: Khám Nội }
    - { id: xn, name: Xét nghiệm, prefix: X, digits: 3 }
  counters:
    - { id: q1, number: 1, name: Quầy 1, services: [noi, xn] }
`,
  );
  agent = new Agent({ modules: MODULES, configFile, log });
  await agent.start();
  base = `http://127.0.0.1:${agent.httpPort}`;
  const login = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base },
    body: JSON.stringify({ user: 'admin', password: TEST_PASSWORD }),
  });
  cookie = login.headers.get('set-cookie')!.split(';')[0]!;

  // A hundred and thirty monitor readings: the journal's first page is a long table.
  for (let i = 0; i < 130; i++) {
    const res = await fetch(`${base}/api/ingest/monitor`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tok-123', 'idempotency-key': `ux-${i}` },
      body: JSON.stringify({ pulse: 60 + (i % 30) }),
    });
    expect(res.status).toBe(200);
  }
  const hl7 = await TestMllpClient.open(hl7Port);
  expect(msa(await hl7.send(hl7Fixture('synthetic_bloodgas_v22.hl7'))).code).toBe('AA');
  hl7.close();
  analyzer = await startAstmAnalyzer({ mode: 'client', port: astmPort });
  await analyzer.ready();
  const now = modalityDateTime(); // the analyzer's clock in Việt Nam (no clock-skew alarm)
  await analyzer.send(restampResults(loadAstmFixture('fixtures/lab/go-astm_galileo_result.astm'), `${now.date}${now.time}`));
  const modality = await startModality({ port: scpPort, callingAe: 'MODALITY' });
  studyDate = modalityDateTime();
  expect(
    (
      await modality.sendGenerated(
        generateStudy({ instances: 2, pixelBytes: 2048, patientName: 'Trần^Thị Bình', patientId: 'BN0042', accessionNumber: 'CT-42' }),
      )
    ).failed,
  ).toEqual([]);
  await modality.stop();
  await api('POST', '/api/orders', {
    orderId: 'HIS-77',
    accessionNumber: 'CT-77',
    patient: { hisPatientId: 'BN0077', fullName: 'Lê Thị Mai' },
    items: [{ code: 'CT01', name: 'CT sọ não', modality: 'CT' }],
    scheduled: { at: '2026-12-03T09:10:00+07:00', stationAeTitle: 'CT_KHOA_A', location: 'P.012' },
  });
  // The queue: three tickets, two called, one of them skipped (a no-show).
  for (const service of ['noi', 'noi', 'xn'])
    expect(
      (
        await fetch(`${base}/api/queue/tickets`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ service, print: 'no' }),
        })
      ).status,
    ).toBe(201);
  await api('POST', '/api/queue/counters/q1/next', {});
  await api('POST', '/api/queue/counters/q1/skip', {});
  await api('POST', '/api/queue/counters/q1/next', {});
  // A line with personal data, as a careless module might log it.
  log.child({ module: 'kiosk' }).warn({ cccd: CCCD, fullName: 'Nguyễn Văn An' }, `no appointment found for ${CCCD}`);
  log.child({ device: 'bc5380' }).error('ux-test: an error line');
  await waitFor(
    async () =>
      Array.isArray((await api('GET', '/api/journal?source=ct1')).entries) && ((await api('GET', '/api/journal?source=ct1')).entries as unknown[]).length === 2,
    'the images journaled',
  );
  ({ browser, close: closeBrowser } = await launchChromium());
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await closeBrowser?.();
  await analyzer?.stop();
  await agent?.stop();
  await sink?.stop();
  cleanup();
});

async function page(): Promise<Page> {
  const p = await consolePage(browser, base);
  await p.setViewportSize({ width: 1280, height: 800 });
  return p;
}
type JournalEntry = { id: number; source: string; stream: string; receivedAt: string };
const entries = async () => (await api('GET', '/api/journal?limit=1000')).entries as JournalEntry[];

describe('journal entry detail and sending again', () => {
  it('shows the detail right under the row that was clicked, in view, also after the table is redrawn', async () => {
    const p = await page();
    await p.click('[data-tab=journal]');
    await p.waitForFunction(() => document.querySelectorAll('#journal tr').length === 100);
    const inView = () =>
      p.evaluate(() => {
        const r = document.getElementById('entry')!.getBoundingClientRect();
        return r.height > 0 && r.top >= 0 && r.top < window.innerHeight;
      });
    const detailFollows = (id: number) =>
      p.evaluate(
        (key) => (document.querySelector('#journal tr.detail-row') as HTMLElement | null)?.previousElementSibling?.getAttribute('data-key') === String(key),
        id,
      );
    const rows = await p.$$eval('#journal tr[data-key]', (trs) => trs.map((tr) => Number(tr.getAttribute('data-key'))));
    await p.click(`#journal tr[data-key="${rows[0]}"]`);
    await p.waitForSelector('#entry:not([hidden])');
    expect(await detailFollows(rows[0]!)).toBe(true);
    expect(await inView()).toBe(true);
    // The hundredth row, 3,000 px down: its detail comes under it, not under the table.
    const last = rows.at(-1)!;
    await p.locator(`#journal tr[data-key="${last}"]`).click();
    await p.waitForFunction((key) => document.getElementById('entry-id')!.textContent!.startsWith(`#${key} `), last);
    expect(await detailFollows(last)).toBe(true);
    expect(await inView()).toBe(true);
    expect(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true); // nothing wider than the window
    await p.locator(`#journal tr[data-key="${rows[40]}"]`).click();
    await p.waitForFunction((key) => document.getElementById('entry-id')!.textContent!.startsWith(`#${key} `), rows[40]);
    expect(await inView()).toBe(true);
    await p.screenshot({ path: `${SHOTS}/console-tab-journal.png` });
    await p.click('#journal-filter button[type=submit]');
    await p.waitForFunction(
      (key) => (document.querySelector('#journal tr.detail-row') as HTMLElement | null)?.previousElementSibling?.getAttribute('data-key') === String(key),
      rows[40],
    );
    await p.click('#entry-close');
    expect(await p.isHidden('#entry')).toBe(true);
    await p.close();
  });

  it('offers to send again only to the destinations the device routes that take the stream: no PACS for an ASTM frame', async () => {
    const all = await entries();
    const of = (source: string, stream: string) => all.find((e) => e.source === source && e.stream === stream)!;
    const p = await page();
    await p.click('[data-tab=journal]');
    await p.fill('#journal-filter input[name=source]', 'xn1');
    await p.click('#journal-filter button[type=submit]');
    const offered = async (e: JournalEntry) => {
      await p.click(`#journal tr[data-key="${e.id}"]`);
      await p.waitForFunction((key) => document.getElementById('entry-id')!.textContent!.startsWith(`#${key} `), e.id);
      return p.$$eval('#entry-resend button', (bs) => bs.map((b) => b.textContent));
    };
    const frame = of('xn1', 'lab.astm.frame');
    expect(await offered(frame)).toEqual([]);
    expect(await p.textContent('#entry-resend')).toBe(
      'Không đích gửi nào nhận loại bản ghi này từ thiết bị này (luồng lab.astm.frame): không có gì để gửi lại.',
    );
    await p.screenshot({ path: `${SHOTS}/console-journal-astm-frame.png` });
    expect(await offered(of('xn1', 'lab.report'))).toEqual(['Gửi lại tới lis']);
    for (const [source, stream, expected] of [
      ['monitor', 'device.json', ['Gửi lại tới central']],
      ['bc5380', 'lab.result', ['Gửi lại tới central']],
      ['bc5380', 'lab.report', ['Gửi lại tới lis']],
      ['ct1', 'dicom.instance', ['Gửi lại tới pacs']],
    ] as const) {
      await p.fill('#journal-filter input[name=source]', source);
      await p.click('#journal-filter button[type=submit]');
      await p.waitForFunction(
        (s) => Array.from(document.querySelectorAll('#journal tr[data-key] td:nth-child(3)')).every((td) => td.textContent === s),
        source,
      );
      expect(await offered(of(source, stream)), `${source} ${stream}`).toEqual(expected);
    }
    await p.close();
  });

  it('calls refused items "Bị từ chối (chờ xử lý)" with what to do, never "Thư chết"; "Refused (needs action)" in English', async () => {
    const item = ((await api('GET', '/api/outbox/lis/items?state=pending')).items as Array<{ outboxId: number }>)[0]!;
    await api('POST', `/api/outbox/items/${item.outboxId}/park`, { reason: 'LIS answered AR: unknown test code GLU2' });
    const p = await page();
    await p.click('[data-tab=outbox]');
    await p.waitForSelector('#parked tr');
    const text = await p.evaluate(() => document.body.innerText);
    expect(text).not.toMatch(/thư chết/i);
    expect(await p.textContent('#tab-outbox thead')).toContain('Bị từ chối (chờ xử lý)');
    expect(await p.textContent('#tab-outbox h3')).toBe('Mục bị đích gửi từ chối (chờ xử lý)');
    expect(await p.textContent('#tab-outbox')).toContain('Sửa nguyên nhân');
    expect(await p.textContent('#parked')).toContain('LIS answered AR: unknown test code GLU2');
    await p.screenshot({ path: `${SHOTS}/console-tab-outbox.png`, fullPage: true });
    await p.click('#lang');
    expect(await p.textContent('#tab-outbox thead')).toContain('Refused (needs action)');
    expect(await p.textContent('#tab-outbox h3')).toBe('Items a destination refused (needs action)');
    await p.click('#lang');
    await p.close();
  });
});

describe('Vietnamese for what the agent says in English', () => {
  it("device states, details, alarms and every device's test result are Vietnamese, the original in the tooltip", async () => {
    await waitFor(
      async () =>
        ((await api('GET', '/api/devices')).destinations as Array<{ id: string; stats: { lastError: string | null } }>).find((d) => d.id === 'lis')!.stats
          .lastError !== null,
      'the LIS refused a connection',
    );
    const p = await page();
    await p.waitForSelector('#devices tr:has-text("ct1")');
    const deviceText = await p.textContent('#devices');
    expect(deviceText).toContain('Đang chạy');
    for (const id of ['monitor', 'xn1', 'bc5380', 'ct1']) {
      const cells = await p.locator('#devices tr', { hasText: id }).locator('td').allTextContents();
      expect(cells[2], id).toMatch(/^(Đang chạy|Có sự cố)$/);
      expect(cells[3], `${id}: ${cells[3]}`).not.toMatch(ENGLISH);
    }
    expect(await p.locator('#devices tr', { hasText: 'xn1' }).locator('td').nth(3).textContent()).toMatch(/^đang chờ kết nối tại 127\.0\.0\.1:\d+, 1 kết nối$/);
    expect(await p.locator('#devices tr', { hasText: 'ct1' }).locator('td').nth(3).textContent()).toMatch(
      /^AE EDGE đang chờ kết nối tại 127\.0\.0\.1:\d+, 0 liên kết$/,
    );
    expect(await p.locator('#devices tr', { hasText: 'xn1' }).locator('td span[title]').first().getAttribute('title')).toMatch(
      /^listening on 127\.0\.0\.1:\d+, 1 connection$/,
    );
    const lisError = await p.locator('#destinations tr', { hasText: 'lis' }).locator('td').nth(4).textContent();
    expect(lisError).toMatch(/^LIS 127\.0\.0\.1:\d+: không kết nối được \(bị từ chối: không có dịch vụ nghe ở cổng đó\)$/);
    expect(await p.textContent('#destinations')).not.toMatch(ENGLISH);
    await p.screenshot({ path: `${SHOTS}/console-tab-devices.png`, fullPage: true });
    for (const id of ['monitor', 'xn1', 'bc5380', 'ct1']) {
      await p.evaluate(() => (document.getElementById('device-test')!.textContent = ''));
      await p.locator('#devices tr', { hasText: id }).locator('button').click();
      await p.waitForFunction((d) => new RegExp(`^${d}: [✓✗] `).test(document.getElementById('device-test')!.textContent!), id);
      const result = await p.textContent('#device-test');
      expect(result, result!).not.toMatch(ENGLISH);
      expect(await p.getAttribute('#device-test span', 'title'), id).toMatch(/[a-z]{4,}/); // the agent's sentence, kept
      if (id === 'ct1')
        expect(result).toMatch(
          /^ct1: ✓ C-ECHO tới EDGE ở cổng \d+ thành công \(\d+ ms\); đã lưu 2 ảnh, 0 ảnh trùng, 0 lỗi, từ chối 0 liên kết, từ chối 0 kết nối$/,
        );
    }
    await p.screenshot({ path: `${SHOTS}/console-tab-device-test.png` });
    await p.close();
  });
});

describe("times in the box's zone", () => {
  it("a PC in another zone sees the journal, orders and studies in the box's local time, and the page says which", async () => {
    const context = await browser.newContext({ timezoneId: 'America/New_York', viewport: { width: 1280, height: 800 } });
    const p = await context.newPage();
    await p.goto(`${base}/console/`);
    await p.fill('input[name=password]', TEST_PASSWORD);
    await p.click('form#login button[type=submit]');
    await p.waitForSelector('#devices tr');
    expect(await p.textContent('#zone-note')).toBe('Mọi thời gian trên trang này là giờ địa phương của hộp: Asia/Ho_Chi_Minh (UTC+07:00)');
    await p.click('[data-tab=orders]');
    const order = p.locator('#orders tr', { hasText: 'BN0077' });
    await order.waitFor();
    expect((await order.locator('td').allTextContents())[5]).toBe('09:10:00 3/12/2026 · CT_KHOA_A · P.012'); // 21:10 the day before in New York
    // The journal's time: the box's local time the API wrote with its offset.
    const first = (await entries())[0]!;
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})\.\d{3}\+07:00$/.exec(first.receivedAt)!;
    await p.click('[data-tab=journal]');
    await p.waitForSelector(`#journal tr[data-key="${first.id}"]`);
    expect(await p.locator(`#journal tr[data-key="${first.id}"] td`).nth(1).textContent()).toBe(`${m[4]} ${Number(m[3])}/${Number(m[2])}/${m[1]}`);
    // The studies tab: the study has the date and time the modality stamped (the demo's had none).
    await p.click('[data-tab=studies]');
    const study = p.locator('#studies tr', { hasText: 'BN0042' });
    await study.waitFor();
    const d = studyDate.date;
    expect((await study.locator('td').first().textContent())!).toMatch(new RegExp(`^${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)} \\d{2}:\\d{2}$`));
    await study.click();
    await p.waitForSelector('#study-instances tr');
    expect(await p.evaluate(() => (document.querySelector('#studies tr.detail-row') as HTMLElement).previousElementSibling!.textContent)).toContain('BN0042');
    const instanceTime = await p.locator('#study-instances tr').first().locator('td').nth(4).textContent();
    const ct = (await entries()).find((e) => e.source === 'ct1')!;
    const n = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})/.exec(ct.receivedAt)!;
    expect(instanceTime).toBe(`${n[4]} ${Number(n[3])}/${Number(n[2])}/${n[1]}`);
    await p.screenshot({ path: `${SHOTS}/console-tab-studies.png`, fullPage: true });
    await context.close();
  });
});

describe('configuration editor', () => {
  it("numbers the lines, marks those with a problem, lists problems in Vietnamese and jumps to a problem's line when clicked", async () => {
    const p = await page();
    await p.click('[data-tab=config]');
    await p.waitForFunction(() => (document.getElementById('config-text') as HTMLTextAreaElement).value.includes('version: 1'));
    const original = await p.inputValue('#config-text');
    // Sixty comment lines first: the problems are far below what the editor shows.
    const padding = Array.from({ length: 60 }, (_v, i) => `# ghi chú ${i + 1}`).join('\n');
    const edited = `${padding}\n${original.replace('log: { level: info }', 'log: { level: info, colour: true }').replace('routes: [pacs]', 'routes: [pacs-tinh]')}`;
    await p.fill('#config-text', edited);
    const lineCount = edited.split('\n').length;
    expect(await p.locator('.gutter > div:not(.gutter-end)').count()).toBe(lineCount);
    await p.click('#config-validate');
    await p.waitForSelector('#config-problems li button');
    const problems = await p.$$eval('#config-problems li', (lis) => lis.map((li) => li.textContent));
    const lineOf = (needle: string) => edited.split('\n').findIndex((l) => l.includes(needle)) + 1;
    expect(problems).toContain(
      `dòng ${lineOf('colour')}, cột ${edited.split('\n')[lineOf('colour') - 1]!.indexOf('colour') + 1} · log.colour: trường "colour" không có trong lược đồ (kiểm tra chính tả; lược đồ liệt kê các trường được phép)`,
    );
    expect(
      problems.some((t) =>
        new RegExp(
          `^dòng ${lineOf('pacs-tinh')}, cột \\d+ · devices\\.ct1\\.routes\\.0: tuyến "pacs-tinh" không phải là đích gửi trong tệp này \\(các đích có: central, lis, pacs\\)$`,
        ).test(t!),
      ),
    ).toBe(true);
    expect(await p.textContent('#config-summary')).toBe(`${problems.length} vấn đề — bấm vào một vấn đề để tới dòng đó.`);
    expect(await p.getAttribute('#config-problems li button', 'title')).toMatch(/agent\.yaml:\d+:\d+ /); // the loader's own text
    const marked = await p.$$eval('.gutter > div.bad', (ds) => ds.map((d) => Number(d.textContent)));
    expect(marked).toEqual(expect.arrayContaining([lineOf('colour'), lineOf('pacs-tinh')]));
    expect(await p.evaluate(() => document.getElementById('config-text')!.scrollTop)).toBe(0);

    await p.locator('#config-problems li button', { hasText: 'pacs-tinh' }).click();
    const target = lineOf('pacs-tinh');
    const view = await p.evaluate(() => {
      const ta = document.getElementById('config-text') as HTMLTextAreaElement;
      const before = ta.value.slice(0, ta.selectionStart);
      const gutter = document.querySelector('.gutter') as HTMLElement;
      const cw = (() => {
        const ctx = document.createElement('canvas').getContext('2d')!;
        ctx.font = getComputedStyle(ta).font;
        return ctx.measureText('0').width;
      })();
      const column = before.length - before.lastIndexOf('\n');
      return {
        line: before.split('\n').length,
        columnX: (column - 1) * cw,
        scrollLeft: ta.scrollLeft,
        width: ta.clientWidth,
        selected: ta.value.slice(ta.selectionStart, ta.selectionEnd),
        scrollTop: ta.scrollTop,
        height: ta.clientHeight,
        lineHeight: parseFloat(getComputedStyle(ta).lineHeight),
        gutterTop: gutter.scrollTop,
        focused: document.activeElement === ta,
      };
    });
    expect(view.line).toBe(target);
    expect(view.selected).toContain('pacs-tinh');
    expect(view.focused).toBe(true);
    const y = (target - 1) * view.lineHeight;
    expect(y).toBeGreaterThanOrEqual(view.scrollTop);
    expect(y + view.lineHeight).toBeLessThanOrEqual(view.scrollTop + view.height);
    expect(view.gutterTop).toBe(view.scrollTop); // the numbers scrolled with the text
    expect(view.columnX).toBeGreaterThanOrEqual(view.scrollLeft); // and the column is in view, not off to the right
    expect(view.columnX).toBeLessThan(view.scrollLeft + view.width);
    await p.screenshot({ path: `${SHOTS}/console-tab-config.png`, fullPage: true });
    await p.click('#lang');
    await p.click('#config-validate');
    await p.waitForFunction(() => document.getElementById('config-problems')!.textContent!.includes('line '));
    expect(await p.textContent('#config-problems')).toContain('unknown field "colour"');
    await p.click('#lang');
    await p.close();
  });
});

describe('log viewer', () => {
  it('shows the last lines newest first, masked, filtered by level, origin and text', async () => {
    const p = await page();
    await p.click('[data-tab=logs]');
    await p.waitForSelector('#logs tr');
    const all = await p.textContent('#logs');
    expect(all).toContain('no appointment found for 0791*****234');
    expect(all).toContain('"fullName":"N. V. A."');
    expect(all).not.toContain(CCCD);
    expect(await p.textContent('#logs-held')).toMatch(/^Đang hiện \d+ dòng; hộp giữ 2000 dòng gần nhất \(hiện có \d+\)\.$/);
    await p.selectOption('#logs-filter select[name=level]', 'error');
    await p.waitForFunction(() => Array.from(document.querySelectorAll('#logs tr td:nth-child(2)')).every((td) => td.textContent === 'lỗi'));
    expect(await p.textContent('#logs')).toContain('ux-test: an error line');
    await p.selectOption('#logs-filter select[name=level]', '');
    await p.selectOption('#logs-filter select[name=origin]', 'kiosk');
    await p.waitForFunction(() => Array.from(document.querySelectorAll('#logs tr td:nth-child(3)')).every((td) => td.textContent === 'kiosk'));
    await p.selectOption('#logs-filter select[name=origin]', '');
    await p.fill('#logs-filter input[name=q]', CCCD);
    await p.click('#logs-filter button[type=submit]');
    await p.waitForFunction(() => document.querySelectorAll('#logs tr').length === 0); // the number was never written
    await p.fill('#logs-filter input[name=q]', 'appointment');
    await p.click('#logs-filter button[type=submit]');
    await p.waitForFunction(() => document.querySelectorAll('#logs tr').length === 1);
    // New lines come in by themselves (auto-refresh every 5 s).
    await p.fill('#logs-filter input[name=q]', 'ux-test');
    await p.click('#logs-filter button[type=submit]');
    await p.waitForFunction(() => document.querySelectorAll('#logs tr').length === 1);
    log.child({ module: 'http' }).warn('ux-test: a later line');
    await p.waitForFunction(() => document.querySelector('#logs tr td:nth-child(4)')?.textContent === 'ux-test: a later line', undefined, { timeout: 10_000 });
    await p.fill('#logs-filter input[name=q]', '');
    await p.click('#logs-filter button[type=submit]');
    await p.waitForFunction(() => document.querySelectorAll('#logs tr').length > 2);
    await p.screenshot({ path: `${SHOTS}/console-tab-logs.png` });
    await p.close();
  });
});

describe('charts', () => {
  it("draws messages per device, outbox depth per destination and today's queue waiting times, with the figures in each bucket's tooltip", async () => {
    const p = await page();
    await p.click('[data-tab=charts]');
    await p.waitForSelector('#chart-received svg.chart');
    await p.waitForSelector('#chart-queue svg.chart');
    const legend = (id: string) => p.$$eval(`#${id} ul.legend li`, (lis) => lis.map((li) => li.textContent));
    expect(await legend('chart-received')).toEqual(['monitor', 'xn1', 'bc5380', 'ct1']);
    expect(await legend('chart-outbox')).toEqual(['central', 'lis', 'pacs']);
    const tooltips = (id: string) => p.$$eval(`#${id} svg title`, (ts) => ts.map((t) => t.textContent ?? ''));
    const sum = (titles: string[], name: string) => titles.reduce((a, t) => a + Number(new RegExp(`${name}: (\\d+)`).exec(t)?.[1] ?? 0), 0);
    const received = await tooltips('chart-received');
    expect(received).toHaveLength(24);
    expect(received.at(-1)).toMatch(/^\d{2}:00 — monitor: \d+, xn1: \d+, bc5380: \d+, ct1: \d+$/);
    expect(sum(received, 'monitor')).toBe(130);
    expect(sum(received, 'bc5380')).toBe(1);
    expect(sum(received, 'ct1')).toBe(2);
    const outbox = await tooltips('chart-outbox');
    const pendingNow = (await api('GET', '/api/outbox')).destinations as Array<{ destination: string; pending: number }>;
    expect(Number(/pacs: (\d+)/.exec(outbox.at(-1)!)![1])).toBe(pendingNow.find((d) => d.destination === 'pacs')!.pending);
    expect(Number(/lis: (\d+)/.exec(outbox.at(-1)!)![1])).toBe(pendingNow.find((d) => d.destination === 'lis')!.pending);
    expect(await p.locator('#chart-received svg rect.s0').count()).toBeGreaterThan(0); // bars drawn
    const queue = await p.$$eval('#queue-stats tr', (trs) => trs.map((tr) => Array.from(tr.children, (td) => td.textContent)));
    expect(queue.find((r) => r[0] === 'noi')!.slice(1, 6)).toEqual(['2', '2', '0', '1', '50 %']);
    expect(queue.find((r) => r[0] === 'xn')!.slice(1, 4)).toEqual(['1', '0', '0']);
    expect(await legend('chart-queue')).toEqual(['trung bình', '90% người chờ không quá']);
    await p.screenshot({ path: `${SHOTS}/console-tab-charts.png`, fullPage: true });
    // Ten-minute buckets: 144 of them.
    await p.selectOption('#charts-filter select[name=bucketMinutes]', '10');
    await p.waitForFunction(() => document.querySelectorAll('#chart-received svg title').length === 144);
    expect(sum(await tooltips('chart-received'), 'monitor')).toBe(130);
    await p.close();
  });

  it('the remaining tabs, for the record', async () => {
    const p = await page();
    for (const tab of ['results', 'orders', 'audit']) {
      await p.click(`[data-tab=${tab}]`);
      await p.waitForSelector(`#${tab} tr`);
      expect(await p.textContent(`#tab-${tab}`)).not.toMatch(/\bundefined\b/);
      await p.screenshot({ path: `${SHOTS}/console-tab-${tab}.png` });
    }
    expect(await p.textContent('#audit')).toContain('đăng nhập');
    await p.close();
  });
});
