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
// A third unit for the scanner and wording tests, whose many greetings would spend the others' budgets.
const TOKEN_3 = 'kiosk-page-token-3-0123456789abcd';
/** A valid card of someone born in 1940 (province 079, century digit 0: 1900s). */
const QR_1940 = '079040001234|123456789|Phạm Văn Cụ|02021940|Nam|Số 9 Phố Cổ, Hà Nội|01012021';

beforeAll(async () => {
  // Even the page on 127.0.0.1 needs its token: the kiosk unit's browser is started with it.
  kiosk = await startKioskApp({
    units: [
      { id: 'kiosk-1', token: TOKEN },
      { id: 'kiosk-2', token: TOKEN_2 },
      { id: 'kiosk-3', token: TOKEN_3 },
    ],
    allowLoopback: false,
  });
  ({ browser, close: closeBrowser } = await launchChromium());
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(async () => {
  await closeBrowser?.();
  await kiosk?.close();
});

async function openKiosk(query = '', token = TOKEN): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1080, height: 1920 }, hasTouch: true });
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: kiosk.url });
  await page.goto(`${kiosk.url}/kiosk/?token=${token}${query}`);
  return page;
}

/** The kiosk API as the unit (its token). */
async function asKiosk(path: string, body: unknown, token = TOKEN): Promise<{ status: number; json: any }> {
  const res = await fetch(`${kiosk.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-kiosk-token': token },
    body: JSON.stringify(body),
  });
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
    // A typed number carries no name, and a number is never a salutation.
    expect(await page.textContent('#greeting-name')).toBe('Xin chào quý khách');
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
    expect(await page.content()).toContain('Khám Nội lúc 08:30');
    // The page's top-level `session` (a script-scope let) holds only the box's reference.
    const ref = (await page.evaluate('session.identityRef')) as string;
    expect(ref).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    await page.waitForSelector('#attract:not([hidden])', { timeout: 10_000 });
    const html = await page.content();
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
    await page.keyboard.type(QR_1940, { delay: 2 });
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('greeting-name')?.textContent === 'Xin chào ông/bà Phạm Văn Cụ');
    await page.click('#choose-service');
    await page.click('#service-list button:has-text("Khám Nội")');
    await page.click('[data-claim=""]');
    await page.waitForSelector('#ticket:not([hidden])');
    expect(await page.textContent('#ticket-priority')).toBe('Số ưu tiên: Người từ 75 tuổi');
    await page.screenshot({ path: `${SHOTS}/kiosk-qr-age75-ticket.png` });
    const number = (await page.textContent('#ticket-number'))!;
    const row = kiosk.store.db
      .prepare("SELECT priority, priority_status FROM queue_tickets WHERE number = ? AND service = 'noi' ORDER BY issued_at DESC LIMIT 1")
      .get(number);
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

/** The kiosk page with what reached the box from its scanner and any script error it threw. */
async function watchedKiosk(query = ''): Promise<{ page: Page; identified: Array<{ qr?: string; digits?: string }>; errors: string[] }> {
  const page = await openKiosk(`&voice=0${query}`, TOKEN_3);
  const identified: Array<{ qr?: string; digits?: string }> = [];
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('request', (r) => {
    if (r.url().endsWith('/api/kiosk/identify')) identified.push(r.postDataJSON() as { qr?: string; digits?: string });
  });
  return { page, identified, errors };
}

/** A USB scanner: the QR text at 2 ms a character, then Enter; the greeting must follow. */
async function scanQr(page: Page, qr = QR_1940): Promise<void> {
  await page.keyboard.type(qr, { delay: 2 });
  await page.keyboard.press('Enter');
}

const visibleButtons = (page: Page) =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll('button'))
      .filter((b) => b.offsetParent !== null)
      .map((b) => b.textContent ?? ''),
  );
const fontPx = (page: Page, selector: string) =>
  page.evaluate((sel) => Array.from(document.querySelectorAll(sel)).map((e) => parseFloat(getComputedStyle(e).fontSize)), selector);

describe('QR scanner (keyboard wedge) after the patient touched the screen', () => {
  for (const how of ['tap', 'click'] as const) {
    it(`after a ${how} on the start screen, on the keypad and on the priority screen, the whole QR reaches the box and greets the patient`, async () => {
      const { page, identified, errors } = await watchedKiosk();
      const press = (selector: string) => (how === 'tap' ? page.locator(selector).tap() : page.locator(selector).click());
      // Start screen → keypad; a digit key (a button that stays on screen with the focus it got).
      await press('#go-typed');
      await page.waitForSelector('#typed:not([hidden])');
      await press('#keypad button[aria-label="1"]');
      await scanQr(page);
      await page.waitForFunction(() => document.getElementById('greeting-name')?.textContent === 'Xin chào ông/bà Phạm Văn Cụ');
      expect(identified).toEqual([{ qr: QR_1940 }]);
      // Back to the start (footer button), no card: service, then the priority screen's buttons.
      await press('#home');
      await page.waitForSelector('#attract:not([hidden])');
      await press('#go-noid');
      await press('#service-list button:has-text("Khám Nội")');
      await page.waitForSelector('#priority:not([hidden])');
      await scanQr(page);
      await page.waitForFunction(() => document.getElementById('greeting-name')?.textContent === 'Xin chào ông/bà Phạm Văn Cụ');
      // The scan's spaces and Enter pressed no button: no ticket, no reset, one identify each time.
      expect(await page.isVisible('#greeting')).toBe(true);
      expect(identified).toEqual([{ qr: QR_1940 }, { qr: QR_1940 }]);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('wedge');
      expect(errors).toEqual([]);
      await page.close();
    });
  }

  it('a code entered as text (a scanner in Unicode mode, or a QR text pasted with Ctrl+V in the demo) is read too', async () => {
    const { page, identified, errors } = await watchedKiosk();
    await page.locator('#go-noid').tap();
    await page.waitForSelector('#services:not([hidden])');
    await page.evaluate((qr) => navigator.clipboard.writeText(qr), QR_1940);
    await page.keyboard.press('Control+V');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('greeting-name')?.textContent === 'Xin chào ông/bà Phạm Văn Cụ');
    expect(identified).toEqual([{ qr: QR_1940 }]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a button the patient just touched keeps no focus: Space and Enter alone press nothing', async () => {
    const { page, identified, errors } = await watchedKiosk();
    await page.locator('#go-typed').tap();
    await page.locator('#keypad button[aria-label="7"]').tap();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('wedge');
    await page.keyboard.press(' ');
    await page.keyboard.press('Enter');
    expect(await page.textContent('#typed-digits')).toBe('7' + '·'.repeat(11));
    expect(identified).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('what the patient reads when a scan or a number is wrong', () => {
  it('a QR that is not a CCCD code: Vietnamese on screen, the English reason only in the API body', async () => {
    const { page, errors } = await watchedKiosk();
    await scanQr(page, 'https://example.com/this-is-not-a-citizen-card');
    await page.waitForSelector('#message:not([hidden])');
    expect(await page.textContent('#message-text')).toBe('Không đọc được mã QR trên thẻ CCCD.');
    expect(await page.textContent('#message-next')).toBe('Xin quét lại mã QR, hoặc nhập số CCCD.');
    expect(await page.textContent('body')).not.toMatch(/not a CCCD|QR code|first field/);
    expect(errors).toEqual([]);
    await page.close();
    const api = await asKiosk('/api/kiosk/identify', { qr: 'https://example.com/this-is-not-a-citizen-card' }, TOKEN_3);
    expect(api.status).toBe(400);
    expect(api.json).toEqual({
      error: 'Không đọc được mã QR trên thẻ CCCD.',
      code: 'QR_UNREADABLE',
      reason: 'this is not a CCCD QR code: the first field is not a 12-digit number',
    });
    // A truncated scan (the old failure: a button took the rest of it) is told the same way.
    const cut = await asKiosk('/api/kiosk/identify', { qr: '079040001234|123456789|Phạm' }, TOKEN_3);
    expect(cut.json).toMatchObject({ error: 'Không đọc được mã QR trên thẻ CCCD.', code: 'QR_UNREADABLE', reason: expect.stringMatching(/incomplete/) });
  });

  it('123456789012 typed or scanned is refused: no province 123, said kindly in Vietnamese; the API answers 400', async () => {
    const { page, errors } = await watchedKiosk();
    await typeId(page, '123456789012');
    await page.waitForFunction(() => (document.getElementById('typed-error')?.textContent ?? '') !== '');
    expect(await page.textContent('#typed-error')).toBe(
      'Số CCCD không đúng: 3 số đầu là mã tỉnh nơi đăng ký khai sinh, không có mã 123. Xin xem lại số trên thẻ CCCD.',
    );
    expect(await page.isVisible('#typed')).toBe(true);
    await page.locator('#home').tap();
    await scanQr(page, '123456789012|123456789|Phạm Văn Cụ|02021940|Nam|Số 9 Phố Cổ, Hà Nội|01012021');
    await page.waitForSelector('#message:not([hidden])');
    expect(await page.textContent('#message-text')).toMatch(/^Số CCCD không đúng: 3 số đầu là mã tỉnh nơi đăng ký khai sinh/);
    expect(errors).toEqual([]);
    await page.close();
    const api = await asKiosk('/api/kiosk/identify', { digits: '123456789012' }, TOKEN_3);
    expect(api.status).toBe(400);
    expect(api.json).toMatchObject({
      code: 'CCCD_NUMBER_INVALID',
      error: expect.stringMatching(/^Số CCCD không đúng/),
      reason: expect.stringMatching(/province code of birth registration/),
    });
    expect((await asKiosk('/api/kiosk/identify', { digits: '079190001234' }, TOKEN_3)).status).toBe(200);
  });
});

describe('wording and sizes for elderly patients (1080×1920)', () => {
  it('start screen: "Góp ý" offered, no "Về màn hình đầu"; hints at least 40 px', async () => {
    const { page, errors } = await watchedKiosk();
    await page.screenshot({ path: '/tmp/kiosk-start.png' });
    const buttons = await visibleButtons(page);
    expect(buttons).toContain('Góp ý');
    expect(buttons.filter((b) => /Về (màn hình )?đầu/.test(b))).toEqual([]);
    for (const px of await fontPx(page, '#attract .hint')) expect(px).toBeGreaterThanOrEqual(40);
    // Feedback straight from the start screen; the thank-you offers only the way back.
    await page.locator('#attract-feedback').tap();
    await page.waitForSelector('#feedback:not([hidden])');
    await page.locator('[data-rating="5"]').tap();
    await page.waitForFunction(() => document.getElementById('message-text')?.textContent === 'Cảm ơn bạn đã góp ý!');
    expect(await visibleButtons(page)).toEqual(['Về màn hình đầu']);
    await page.locator('#message-home').tap();
    await page.waitForSelector('#attract:not([hidden])');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('greeting by name when the QR gave one, "quý khách" otherwise; ticket lines and hints at least 40 px', async () => {
    const { page, errors } = await watchedKiosk();
    // The patient with a booked appointment (HIS simulator), by QR: the fullest greeting screen.
    await scanQr(page, `${CCCD_WITH_APPOINTMENT}||Nguyễn Thị Minh Khai|07031985|Nữ|12 Lê Lợi, Phường Bến Nghé, Quận 1, TP Hồ Chí Minh|15082021`);
    await page.waitForFunction(() => document.getElementById('greeting-name')?.textContent === 'Xin chào ông/bà Nguyễn Thị Minh Khai');
    await page.waitForSelector('#appointment-box:not([hidden])');
    await page.waitForFunction(() => !/Đang kiểm tra/.test(document.getElementById('insurance')?.textContent ?? ''));
    await page.screenshot({ path: '/tmp/kiosk-greeting.png' });
    expect(await page.textContent('#greeting')).not.toMatch(/\d{3}/);
    // Nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1080);
    await page.locator('#take-appointment').tap();
    await page.waitForSelector('#priority:not([hidden])');
    for (const px of await fontPx(page, '#priority .hint')) expect(px).toBeGreaterThanOrEqual(40);
    await page.locator('[data-claim=""]').tap();
    await page.waitForSelector('#ticket:not([hidden])');
    await page.screenshot({ path: '/tmp/kiosk-ticket.png' });
    const sizes = await fontPx(page, '#ticket p');
    expect(sizes.length).toBeGreaterThanOrEqual(6);
    for (const px of sizes) expect(px).toBeGreaterThanOrEqual(40);
    expect(await visibleButtons(page)).toEqual(['Góp ý', 'Xong', 'Về màn hình đầu']);
    await page.locator('#done').tap();
    await typeId(page, '079190001234');
    await page.waitForSelector('#greeting:not([hidden])');
    expect(await page.textContent('#greeting-name')).toBe('Xin chào quý khách');
    expect(errors).toEqual([]);
    await page.close();
  });
});
