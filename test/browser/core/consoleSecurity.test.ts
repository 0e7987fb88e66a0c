// The console and status pages in Chromium under the box's Content-Security-Policy, a staff
// account at the console, the console over HTTPS showing the box CA's fingerprint, and a page
// of another origin on the same site trying to write with the logged-in session (CSRF).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { initBoxCertificates, type BoxCertificates } from '../../../core/net/certs.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { launchChromium } from '../../helpers/browser.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { basic, call, STAFF_PASSWORD, startHttpTestAgent, type HttpTestAgent } from '../../integration/core/httpTestAgent.ts';

const SHOTS = 'test-artifacts/screenshots';
const certsTmp = tempDir('edge-console-certs-');
let box: HttpTestAgent;
let secure: HttpTestAgent;
let certs: BoxCertificates;
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  box = await startHttpTestAgent();
  await call(box.url, 'POST', '/api/ingest/monitor', { json: { pulse: 70 }, headers: { authorization: 'Bearer tok-123', 'idempotency-key': 'csp-1' } });
  certs = initBoxCertificates({ dir: join(certsTmp.dir, 'certs'), boxId: 'http-box', names: ['localhost', '127.0.0.1'] });
  secure = await startHttpTestAgent({ scheme: 'https', httpLines: `  tls: { cert: ${certs.serverCert}, key: ${certs.serverKey} }` });
  ({ browser, close: closeBrowser } = await launchChromium());
});
afterAll(async () => {
  await closeBrowser?.();
  await box?.close();
  await secure?.close();
  certsTmp.cleanup();
});

/** Every CSP violation and console error of a page, seen by the page itself and by Chromium's console. */
async function watched(context: BrowserContext): Promise<{ page: Page; problems: () => Promise<string[]> }> {
  const page = await context.newPage();
  const logged: string[] = [];
  // Resource failures are answers the page expects (401 of the first "am I logged in?" probe,
  // no favicon); what counts is a script error or anything the CSP blocked.
  page.on(
    'console',
    (m) => (/Content Security Policy/i.test(m.text()) || (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))) && logged.push(m.text()),
  );
  page.on('pageerror', (e) => logged.push(e.message));
  await page.addInitScript(() => {
    const seen: string[] = ((window as unknown as { cspViolations: string[] }).cspViolations = []);
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, problems: async () => [...logged, ...(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations))] };
}

describe('pages under the Content-Security-Policy', () => {
  it("the status page and every console tab work with no CSP violation and no console error; the console's own writes pass the Origin check", async () => {
    const context = await browser.newContext({ timezoneId: 'Asia/Ho_Chi_Minh' });
    const { page, problems } = await watched(context);
    await page.goto(`${box.url}/`);
    await page.waitForFunction(() => /ready|not ready/.test(document.getElementById('summary')!.textContent!));
    expect(await page.textContent('#devices')).toContain('monitor');
    expect(await page.evaluate(() => getComputedStyle(document.body).fontSize)).toBe('18px'); // status.css applied

    await page.goto(`${box.url}/console/`);
    await page.fill('input[name=password]', TEST_PASSWORD);
    await page.click('form#login button[type=submit]');
    await page.waitForSelector('#devices tr:has-text("monitor")');
    for (const tab of ['journal', 'outbox', 'studies', 'orders', 'logs', 'charts', 'audit', 'config']) {
      await page.click(`[data-tab=${tab}]`);
      await page.waitForSelector(`#tab-${tab}:not([hidden])`);
      if (tab === 'logs') await page.waitForSelector('#logs-held:not(:empty)');
      if (tab === 'charts') await page.waitForSelector('#chart-outbox svg.chart'); // drawn with classes only, under style-src 'self'
    }
    await page.waitForFunction(() => (document.getElementById('config-text') as HTMLTextAreaElement).value.includes('version: 1'));
    await page.click('#config-validate');
    await page.waitForSelector('#config-problems li');
    expect(await page.textContent('#config-problems')).toBe('Cấu hình hợp lệ.');
    await page.click('[data-tab=audit]');
    await page.waitForSelector('#audit tr:has-text("config.validate")');
    const auditText = await page.textContent('#audit');
    expect(auditText).toMatch(/admin \(admin\)127\.0\.0\.1login/);
    await page.screenshot({ path: `${SHOTS}/console-audit.png` });
    expect(await problems()).toEqual([]);
    await context.close();
  });

  it('a staff account is told it may use the counter page only', async () => {
    const context = await browser.newContext();
    const { page, problems } = await watched(context);
    await page.goto(`${box.url}/console/`);
    await page.fill('input[name=user]', 'quay1');
    await page.fill('input[name=password]', STAFF_PASSWORD);
    await page.click('form#login button[type=submit]');
    await page.waitForSelector('#staff-only:not([hidden])');
    expect(await page.textContent('#staff-only')).toContain('Tài khoản này là tài khoản nhân viên: chỉ dùng được trang quầy');
    expect(await page.isHidden('#app')).toBe(true);
    expect(await page.getAttribute('#staff-only a', 'href')).toBe('/counter/');
    // Reloaded with the staff session: the same message, not a half-working console.
    await page.reload();
    await page.waitForSelector('#staff-only:not([hidden])');
    await page.screenshot({ path: `${SHOTS}/console-staff-only.png` });
    expect(await problems()).toEqual([]);
    await context.close();
  });
});

describe('HTTPS', () => {
  it('the login page shows the box CA fingerprint, and the console works over HTTPS', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const { page, problems } = await watched(context);
    await page.goto(`${secure.url}/console/`);
    await page.waitForSelector('#ca-fingerprint:not([hidden])');
    expect(await page.textContent('#ca-fingerprint')).toBe(certs.caFingerprint);
    expect(await page.textContent('#transport-text')).toMatch(/Dấu vân tay CA của hộp \(SHA-256\)/);
    await page.screenshot({ path: `${SHOTS}/console-https-fingerprint.png` });
    await page.fill('input[name=password]', TEST_PASSWORD);
    await page.click('form#login button[type=submit]');
    await page.waitForSelector('#devices tr:has-text("monitor")');
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'edge_session')).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict' });
    expect(await problems()).toEqual([]);
    await context.close();
  });
});

describe('cross-origin writes from a browser', () => {
  let evil: Server;
  afterAll(() => new Promise<void>((r) => (evil ? evil.close(() => r()) : r())));

  it('a page on another port of the same host (same site: the session cookie goes along) cannot restart or retry; the audit log says who was refused', async () => {
    const target = box.url;
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><body>
<form id="f" method="POST" action="${target}/api/outbox/central/retry" enctype="text/plain"><input name="x" value="1"></form>
<script>
  fetch('${target}/api/restart', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{}' }).catch(() => undefined).finally(() => document.getElementById('f').submit());
</script></body>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    const evilUrl = `http://127.0.0.1:${(evil.address() as { port: number }).port}/`;
    const context = await browser.newContext();
    // IT staff are logged in to the console in this browser…
    const consoleTab = await context.newPage();
    await consoleTab.goto(`${box.url}/console/`);
    await consoleTab.fill('input[name=password]', TEST_PASSWORD);
    await consoleTab.click('form#login button[type=submit]');
    await consoleTab.waitForSelector('#app:not([hidden])');
    const deniedBefore = await originRefusals();
    // …and opens the other page.
    const page = await context.newPage();
    await page.goto(evilUrl);
    await waitFor(async () => (await originRefusals()) >= deniedBefore + 2, 'both forged writes refused', 10_000, 50);
    expect(box.restartRequests).toBe(0);
    const entries = (await call(box.url, 'GET', '/api/audit?action=access.denied', { headers: basic('admin', TEST_PASSWORD) })).json<{
      entries: Array<{ actor: string; target: { route: string } }>;
    }>().entries;
    expect(
      entries
        .slice(0, 2)
        .map((e) => e.target.route)
        .sort(),
    ).toEqual(['POST /api/outbox/:destination/retry', 'POST /api/restart']);
    expect(entries[0]!.actor).toBe('admin');
    await context.close();
  });
});

async function originRefusals(): Promise<number> {
  const r = await call(box.url, 'GET', '/api/audit?action=access.denied&limit=1000', { headers: basic('admin', TEST_PASSWORD) });
  return r.json<{ entries: Array<{ detail?: { why?: string } }> }>().entries.filter((e) => e.detail?.why === 'origin').length;
}
