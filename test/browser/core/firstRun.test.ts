// Issue #17: a box out of its carton, set up by IT staff from a browser on the department's
// network: the one-time code from the box's screen, the facility, the admin password, an
// analyzer with its test button, a mistake the page explains in Vietnamese, then the console.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { killAgentProcesses, setupCodes, startAgentProcess } from '../../helpers/agentProcess.ts';
import { launchChromium } from '../../helpers/browser.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

const SHOTS = 'test-artifacts/screenshots';
const PASSWORD = 'mat-khau-quan-tri-1';
const { dir, cleanup } = tempDir('edge-first-run-');
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ browser, close: closeBrowser } = await launchChromium());
});
afterAll(async () => {
  await closeBrowser?.();
  killAgentProcesses();
  cleanup();
});

describe('the first-run setup page', () => {
  it('takes IT staff from the one-time code to a running agent and its console', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const agent = startAgentProcess(join(dir, 'etc', 'config.yaml'), port);
    await waitFor(() => setupCodes(agent.out.stderr).length === 1, 'the one-time code', 20_000);
    const errors: string[] = [];
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);

    await page.fill('input[name=code]', '1111-2222');
    await page.click('#unlock button[type=submit]');
    await expect.poll(() => page.textContent('#unlock-error')).toContain('Mã dùng một lần không đúng');
    await page.fill('input[name=code]', setupCodes(agent.out.stderr)[0]!);
    await page.click('#unlock button[type=submit]');
    await page.waitForSelector('#setup:not([hidden])');
    expect(await page.inputValue('select[name="box.timezone"]')).toBe('Asia/Ho_Chi_Minh');

    await page.fill('input[name="box.id"]', 'xn-01');
    await page.fill('input[name="box.facility"]', 'bv huyen x'); // a space: not a facility code
    await page.fill('input[name="box.name"]', 'Bệnh viện Đa khoa huyện X');
    await page.fill('input[name=adminPassword]', PASSWORD);
    await page.fill('input[name=adminPassword2]', PASSWORD);

    // An HL7 analyzer on a port something else already holds: the test button says so.
    const holder: Server = createServer().listen(0, '0.0.0.0');
    await new Promise((r) => holder.once('listening', r));
    const heldPort = (holder.address() as { port: number }).port;
    await page.selectOption('#add-kind', 'lab-hl7');
    const device = page.locator('#device-list .device').first();
    await device.locator('[data-field=port]').fill(String(heldPort));
    await device.locator('[data-field=analyzer]').fill('127.0.0.1');
    await device.locator('button.test').click();
    await expect.poll(() => device.locator('.test-result').textContent()).toBe(`Cổng ${heldPort} đang được chương trình khác dùng.`);
    holder.close();
    const analyzerPort = await freePort();
    await device.locator('[data-field=port]').fill(String(analyzerPort));
    await device.locator('button.test').click();
    await expect.poll(() => device.locator('.test-result').textContent()).toContain('còn trống');

    // The bad facility code: the page's own check lets it through (pattern on a text field is
    // advisory), the agent's rules do not, and the page says why in Vietnamese.
    await page.click('#check');
    await expect.poll(() => page.textContent('#outcome')).toContain('không đúng dạng quy định');
    expect(await page.textContent('#outcome')).toContain('box.facility');
    await page.screenshot({ path: `${SHOTS}/first-run-problem.png`, fullPage: true });

    await page.fill('input[name="box.facility"]', 'bv-huyen-x');
    await page.click('#check');
    await expect.poll(() => page.textContent('#outcome')).toContain('Cấu hình hợp lệ');
    expect(await page.textContent('#preview')).toContain('profile: mindray-bc');
    await page.click('#save');
    await page.waitForURL(`${base}/console/`, { timeout: 30_000 });
    await page.fill('input[name=password]', PASSWORD);
    await page.click('form#login button[type=submit]');
    await page.waitForSelector('#app:not([hidden])');
    await page.screenshot({ path: `${SHOTS}/first-run-console.png` });
    expect(errors).toEqual([]);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });
});
