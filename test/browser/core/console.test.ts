import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { Agent } from '../../../core/controller.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { writeAgentConfig } from '../../helpers/agentConfig.ts';
import { consolePage, launchChromium } from '../../helpers/browser.ts';
import { freePort } from '../../helpers/ports.ts';
import { waitFor } from '../../helpers/wait.ts';
import { msa, TestMllpClient } from '../../helpers/mllpClient.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { MODULES } from '../../../modules/index.ts';

const { dir, cleanup } = tempDir('edge-console-');
let agent: Agent;
let sink: HttpSink;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let base: string;
let hl7Port: number;
const SHOTS = 'test-artifacts/screenshots';

beforeAll(async () => {
  sink = await startHttpSink();
  hl7Port = await freePort();
  agent = new Agent({
    modules: MODULES,
    configFile: await writeAgentConfig(dir, {
      sinkUrl: sink.url,
      extra: `  bc5380:\n    driver: hl7-mllp\n    host: 127.0.0.1\n    port: ${hl7Port}\n    routes: [central]`,
    }),
    log: pino({ level: 'silent' }),
  });
  await agent.start();
  base = `http://127.0.0.1:${agent.httpPort}`;
  await fetch(`${base}/api/ingest/monitor`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tok-123', 'idempotency-key': 'console-1' },
    body: '{"pulse":72}',
  });
  ({ browser, close: closeBrowser } = await launchChromium());
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await closeBrowser?.();
  await agent?.stop();
  await sink?.stop();
  cleanup();
});

const loggedIn = (): Promise<Page> => consolePage(browser, base);

describe('IT console in Chromium', () => {
  it('asks for a login first and refuses a wrong password', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/console/`);
    await page.waitForSelector('form#login:not([hidden])');
    expect(await page.isHidden('#app')).toBe(true);
    await page.fill('input[name=password]', 'wrong-password');
    await page.click('form#login button[type=submit]');
    await page.waitForFunction(() => document.getElementById('login-error')!.textContent!.length > 0);
    expect(await page.textContent('#login-error')).toBe('Sai tên đăng nhập hoặc mật khẩu.');
    await page.screenshot({ path: `${SHOTS}/console-login.png` });
    await page.close();
  });

  it('shows devices with live status, the journal with raw and parsed views, and the outbox', async () => {
    const page = await loggedIn();
    await page.waitForSelector('#devices tr');
    expect(await page.textContent('#devices')).toContain('monitor');
    expect(await page.textContent('#devices')).toContain('Đang chạy');
    await page.screenshot({ path: `${SHOTS}/console-devices.png` });
    await page.click('[data-tab=journal]');
    await page.waitForSelector('#journal tr');
    await page.click('#journal tr:has-text("console-1")');
    await page.waitForSelector('#entry:not([hidden])');
    expect(await page.textContent('#entry-raw')).toBe('{"pulse":72}');
    expect(await page.textContent('#entry-parsed')).toContain('"pulse": 72');
    await page.click('[data-tab=outbox]');
    await page.waitForSelector('#outbox tr');
    expect(await page.textContent('#outbox')).toContain('central');
    await page.click('#lang');
    expect(await page.textContent('[data-tab=outbox]')).toBe('Outbox');
    await page.close();
  });

  it('tests a device from its row, and sends a journal entry again to a destination', async () => {
    const page = await loggedIn();
    await page.waitForSelector('#devices tr:has-text("bc5380")');
    await page.click('#devices tr:has-text("bc5380") button');
    await page.waitForFunction(() => /✓|✗/.test(document.getElementById('device-test')!.textContent!));
    // In Vietnamese on the page, the agent's own sentence in the tooltip.
    expect(await page.textContent('#device-test')).toMatch(/^bc5380: ✓ cổng \d+ nhận kết nối \(\d+ ms\); 0 kết nối đang mở, đã lưu 0 tin nhắn và 0 kết quả/);
    expect(await page.getAttribute('#device-test span', 'title')).toMatch(/^port \d+ accepts connections \(\d+ ms\); 0 connection\(s\) now, 0 message\(s\)/);
    await page.click('#devices tr:has-text("monitor") button');
    await page.waitForFunction(() => document.getElementById('device-test')!.textContent!.startsWith('monitor: ✓'));
    expect(await page.textContent('#device-test')).toMatch(
      /đang chạy: nhận POST \/api\/ingest\/monitor.*\(loại thiết bị này không có phép kiểm tra chủ động\)/,
    );
    expect(await page.getAttribute('#device-test span', 'title')).toMatch(/running.*no active test/);
    await page.screenshot({ path: `${SHOTS}/console-device-test.png` });

    await waitFor(() => sink.received.length >= 1, 'the first delivery');
    const before = sink.received.length;
    await page.click('[data-tab=journal]');
    await page.click('#journal tr:has-text("console-1")');
    await page.click('#entry-resend button:has-text("central")');
    await page.waitForFunction(() => document.getElementById('entry-resend-result')!.textContent === 'central: đã đưa lại vào hàng đợi');
    await waitFor(() => sink.received.length === before + 1, 'the entry delivered again');
    expect(sink.received.at(-1)!.idempotencyKey).toBe(sink.received[0]!.idempotencyKey);
    await page.close();
  });

  it('validates a configuration edit and lists the problem with its line', async () => {
    const page = await loggedIn();
    await page.click('[data-tab=config]');
    await page.waitForFunction(() => (document.getElementById('config-text') as HTMLTextAreaElement).value.includes('version: 1'));
    const text = await page.inputValue('#config-text');
    await page.fill('#config-text', text.replace('port: 0, admin', 'port: 123456, admin'));
    await page.click('#config-validate');
    await page.waitForSelector('#config-problems li');
    expect(await page.textContent('#config-problems')).toMatch(/^dòng 3, cột \d+ · http\.port: phải ≤ 65535$/);
    expect(await page.getAttribute('#config-problems button', 'title')).toMatch(/agent\.yaml:3:\d+ http\.port: must be <= 65535/);
    await page.screenshot({ path: `${SHOTS}/console-config.png` });
    await page.close();
  });

  it("shows an analyzer's clock-skew alarm next to its status, and clears it when the clock is right", async () => {
    const vnTime = (ms: number) => new Date(ms + 7 * 3_600_000).toISOString().replace(/\D/g, '').slice(0, 14);
    const oru = (id: string, at: number) =>
      `MSH|^~\\&|BC5380|LAB|||${vnTime(at)}||ORU^R01|${id}|P|2.3.1\rPID|1||P1\rOBR|1||S-SKEW\rOBX|1|NM|WBC^WBC||6.1|10*9/L|||||F\r`;
    const analyzer = await TestMllpClient.open(hl7Port);
    expect(msa(await analyzer.send(oru('SKEW-1', Date.now() + 10 * 60_000))).code).toBe('AA');
    const page = await loggedIn();
    const row = page.locator('#devices tr', { hasText: 'bc5380' });
    await row.locator('.bad', { hasText: '⚠' }).waitFor();
    expect(await row.textContent()).toMatch(/⚠ đồng hồ máy lệch so với hộp: \+(59\d|60\d) s \(> 300 s\)/);
    await page.screenshot({ path: `${SHOTS}/console-clock-skew.png` });
    expect(msa(await analyzer.send(oru('SKEW-2', Date.now()))).code).toBe('AA');
    analyzer.close();
    await page.waitForFunction(
      () => !Array.from(document.querySelectorAll('#devices tr')).some((r) => r.textContent!.includes('bc5380') && r.textContent!.includes('⚠')),
      undefined,
      { timeout: 10_000 },
    );
    await page.close();
  });
});
