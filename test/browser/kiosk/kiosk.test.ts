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
const TOKEN = 'kiosk-page-token-0123456789abcdef';
// A second unit for the per-number limit test: the first unit's own per-minute budget is spent by
// the tests before it (the idle test polls the look-up), and that limit answers in seconds.
const TOKEN_2 = 'kiosk-page-token-2-0123456789abcd';

beforeAll(async () => {
  // Even the page on 127.0.0.1 needs its token: the kiosk unit's browser is started with it.
  kiosk = await startKioskApp({ units: [{ id: 'kiosk-1', token: TOKEN }, { id: 'kiosk-2', token: TOKEN_2 }], allowLoopback: false });
  ({ browser, close: closeBrowser } = await launchChromium());
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await closeBrowser?.();
  await kiosk?.close();
});

async function openKiosk(query = '', token = TOKEN): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1080, height: 1920 }, hasTouch: true });
  await page.goto(`${kiosk.url}/kiosk/?token=${token}${query}`);
  return page;
}

/** The kiosk API as the unit (its token). */
async function asKiosk(path: string, body: unknown, token = TOKEN): Promise<{ status: number; json: any }> {
  const res = await fetch(`${kiosk.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-kiosk-token': token }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json().catch(() => null) };
}

async function typeId(page: Page, id: string): Promise<void> {
  await page.click('#go-typed');
  for (const d of id) await page.click(`#keypad button[aria-label="${d}"]`);
  await page.click('#keypad button[aria-label="OK"]');
}

describe('patient kiosk in Chromium (touch only)', () => {
  it('typed ID → greeting with the booked appointment → ticket on screen → registration reaches the HIS', async () => {
    const page = await openKiosk();
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
    const page = await openKiosk('&idle=4');
    await typeId(page, CCCD_WITH_APPOINTMENT);
    await page.waitForSelector('#appointment-box:not([hidden])');
    expect(await page.content()).toContain('…234');
    // The page's top-level `session` (a script-scope let) holds only the box's reference.
    const ref = (await page.evaluate('session.identityRef')) as string;
    expect(ref).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    await page.waitForSelector('#attract:not([hidden])', { timeout: 10_000 });
    const html = await page.content();
    expect(html).not.toContain('…234');
    expect(html).not.toContain(CCCD_WITH_APPOINTMENT);
    expect(html).not.toContain('Khám Nội lúc');
    // Only the unit's token stays (for the page's own reloads); the box forgot the identity too.
    expect(await page.evaluate(() => [sessionStorage.length + localStorage.length, sessionStorage.getItem('kiosk-token')])).toEqual([1, TOKEN]);
    await expect.poll(async () => (await asKiosk('/api/kiosk/lookup', { identityRef: ref })).status).toBe(410);
    await page.close();
  });

  it('refuses a number that is not 12 digits, in plain words', async () => {
    const page = await openKiosk();
    await typeId(page, '12345');
    expect(await page.textContent('#typed-error')).toBe('Số CCCD có đúng 12 chữ số.');
    await page.close();
  });

  it('a QR of a patient born in 1940: the box gives the 75+ priority itself, and the ticket says so', async () => {
    const page = await openKiosk();
    await page.keyboard.type('079040001234|123456789|Phạm Văn Cụ|02021940|Nam|Số 9 Phố Cổ, Hà Nội|01012021', { delay: 2 });
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('greeting-name')?.textContent === 'Xin chào Phạm Văn Cụ');
    await page.click('#choose-service');
    await page.click('#service-list button:has-text("Khám Nội")');
    await page.click('[data-claim=""]');
    await page.waitForSelector('#ticket:not([hidden])');
    expect(await page.textContent('#ticket-priority')).toBe('Số ưu tiên: Người từ 75 tuổi');
    await page.screenshot({ path: `${SHOTS}/kiosk-qr-age75-ticket.png` });
    const number = (await page.textContent('#ticket-number'))!;
    const row = kiosk.store.db.prepare("SELECT priority, priority_status FROM queue_tickets WHERE number = ? AND service = 'noi' ORDER BY issued_at DESC LIMIT 1").get(number);
    expect(row).toEqual({ priority: 'age75', priority_status: 'auto' });
    await page.close();
  });

  it('a number looked up too often: the patient reads "Vui lòng chờ…" and still gets a ticket', async () => {
    const id = '079085009999';
    for (let i = 0; i < 3; i++) {
      const person = (await asKiosk('/api/kiosk/identify', { digits: id }, TOKEN_2)).json;
      expect((await asKiosk('/api/kiosk/lookup', { identityRef: person.identityRef }, TOKEN_2)).status).toBe(200);
      await asKiosk('/api/kiosk/reset', {}, TOKEN_2);
    }
    const page = await openKiosk('', TOKEN_2);
    await typeId(page, id);
    await page.waitForFunction(() => /^Vui lòng chờ khoảng \d+ phút rồi thử lại/.test(document.getElementById('insurance')?.textContent ?? ''));
    expect(await page.getAttribute('#insurance', 'class')).toContain('warn');
    await page.screenshot({ path: `${SHOTS}/kiosk-lookup-limit.png` });
    await page.click('#choose-service');
    await page.click('#service-list button:has-text("Khám Nhi")');
    await page.click('[data-claim="pregnant"]');
    await page.waitForSelector('#ticket:not([hidden])');
    expect(await page.textContent('#ticket-priority')).toBe('Ưu tiên: Phụ nữ có thai (nhân viên quầy sẽ xác nhận)');
    await page.close();
  });
});
