import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../helpers/browser.ts';
import { startKioskApp, type KioskApp } from '../../helpers/kioskApp.ts';
import { CCCD_WITH_APPOINTMENT } from '../../sim/his.ts';
import { waitFor } from '../../helpers/wait.ts';

let kiosk: KioskApp;
let browser: Browser;
let closeBrowser: () => Promise<void>;
const SHOTS = 'test-artifacts/screenshots';

beforeAll(async () => {
  kiosk = await startKioskApp();
  ({ browser, close: closeBrowser } = await launchChromium());
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await closeBrowser?.();
  await kiosk?.close();
});

async function typeId(page: Page, id: string): Promise<void> {
  await page.click('#go-typed');
  for (const d of id) await page.click(`#keypad button[aria-label="${d}"]`);
  await page.click('#keypad button[aria-label="OK"]');
}

describe('patient kiosk in Chromium (touch only)', () => {
  it('typed ID → greeting with the booked appointment → ticket on screen → registration reaches the HIS', async () => {
    const page = await browser.newPage({ viewport: { width: 1080, height: 1920 }, hasTouch: true });
    await page.goto(`${kiosk.url}/kiosk/`);
    await page.screenshot({ path: `${SHOTS}/kiosk-attract.png` });
    await typeId(page, CCCD_WITH_APPOINTMENT);
    await page.waitForSelector('#greeting:not([hidden])');
    expect(await page.textContent('#greeting-name')).toBe('Xin chào số CCCD …234');
    await page.waitForSelector('#appointment-box:not([hidden])');
    expect(await page.textContent('#appointment-text')).toBe('Bạn có lịch hẹn: Khám Nội lúc 08:30');
    await page.screenshot({ path: `${SHOTS}/kiosk-greeting.png` });
    await page.click('#take-appointment');
    await page.waitForSelector('#priority:not([hidden])');
    await page.click('[data-claim=""]');
    await page.waitForSelector('#ticket:not([hidden])');
    const number = await page.textContent('#ticket-number');
    expect(number).toMatch(/^\d{4}$/);
    expect(await page.textContent('#ticket-service')).toBe('Khám Nội');
    await page.screenshot({ path: `${SHOTS}/kiosk-ticket.png` });
    await waitFor(() => kiosk.his.registrations.some((r) => JSON.stringify(r.body).includes(number!)), 'the check-in registered at the HIS', 15_000);
    await page.close();
  });

  it('wipes every personal datum from the page after the idle countdown', async () => {
    const page = await browser.newPage({ viewport: { width: 1080, height: 1920 }, hasTouch: true });
    await page.goto(`${kiosk.url}/kiosk/?idle=4`);
    await typeId(page, CCCD_WITH_APPOINTMENT);
    await page.waitForSelector('#appointment-box:not([hidden])');
    expect(await page.content()).toContain('…234');
    await page.waitForSelector('#attract:not([hidden])', { timeout: 10_000 });
    const html = await page.content();
    expect(html).not.toContain('…234');
    expect(html).not.toContain(CCCD_WITH_APPOINTMENT);
    expect(html).not.toContain('Khám Nội lúc');
    expect(await page.evaluate(() => sessionStorage.length + localStorage.length)).toBe(0);
    await page.close();
  });

  it('refuses a number that is not 12 digits, in plain words', async () => {
    const page = await browser.newPage({ viewport: { width: 1080, height: 1920 }, hasTouch: true });
    await page.goto(`${kiosk.url}/kiosk/`);
    await typeId(page, '12345');
    expect(await page.textContent('#typed-error')).toBe('Số CCCD có đúng 12 chữ số.');
    await page.close();
  });
});
