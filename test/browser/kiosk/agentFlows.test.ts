// The kiosk against the running agent: the chip card simulator behind the real pcscd, the HIS
// simulator for appointments, insurance and check-ins, Chromium driven by touch.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { launchChromium } from '../../helpers/browser.ts';
import { KIOSK_TOKEN, startKioskAgent, type KioskAgent } from '../../helpers/kioskAgent.ts';
import { waitFor } from '../../helpers/wait.ts';
import { DEFAULT_CITIZEN } from '../../sim/card/files.ts';
import { startCardSimulator, type CardSimulator } from '../../sim/cardSimulator.ts';
import { syntheticCccdFor } from '../../sim/vssGateway.ts';
import { lineDifference, recogniseNumber, splitLines } from '../../sim/printer.ts';
import { stylesFor, ticketLines } from '../../../modules/printer/ticketLayout.ts';

const SHOTS = 'test-artifacts/screenshots';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
let kiosk: KioskAgent;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let card: CardSimulator | null = null;

beforeAll(async () => {
  // A kiosk unit as on the LAN: no loopback exception, the page works only with its token.
  kiosk = await startKioskAgent({ card: true, printer: true, allowLoopback: false });
  ({ browser, close: closeBrowser } = await launchChromium());
  mkdirSync(SHOTS, { recursive: true });
});
afterEach(async () => {
  await card?.stop();
  card = null;
});
afterAll(async () => {
  await closeBrowser?.();
  await kiosk?.close();
});

/** The kiosk page as systemd/kiosk.service starts it: with the unit's token in the URL. */
async function openKiosk(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1080, height: 1920 }, hasTouch: true });
  await page.goto(`${kiosk.url}/kiosk/?voice=0&token=${KIOSK_TOKEN}`);
  return page;
}

async function typeId(page: Page, id: string): Promise<void> {
  await page.click('#go-typed');
  for (const d of id) await page.click(`#keypad button[aria-label="${d}"]`);
  await page.click('#keypad button[aria-label="OK"]');
}

/** A patient's card, put on the reader (vpcd behind the real pcscd). */
async function tap(idNumber: string, fullName = DEFAULT_CITIZEN.fullName): Promise<CardSimulator> {
  card = await startCardSimulator({ port: kiosk.pcscd!.port, citizen: { ...DEFAULT_CITIZEN, idNumber, fullName } });
  return card;
}

/** axe-core in the page: serious and critical violations, with what and where. */
async function accessibilityProblems(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP (no inline script) does not apply to it.
  await page.evaluate(AXE);
  const result = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as {
    violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>;
  };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function chooseServiceAndTicket(page: Page, serviceName: string): Promise<string> {
  await page.click('#choose-service');
  await page.click(`#service-list button:has-text("${serviceName}")`);
  await page.waitForSelector('#priority:not([hidden])');
  await page.click('[data-claim=""]');
  await page.waitForSelector('#ticket:not([hidden])');
  return (await page.textContent('#ticket-number'))!;
}

describe('kiosk against the running agent (chip card behind the real pcscd)', () => {
  it('card tapped first: asks for the number, then the chip greets by name, insurance valid, service, ticket, check-in at the HIS', async () => {
    const page = await openKiosk();
    // The token left the address bar at once and lives in sessionStorage for the page's reloads.
    expect(page.url()).toBe(`${kiosk.url}/kiosk/?voice=0`);
    expect(await page.evaluate(() => sessionStorage.getItem('kiosk-token'))).toBe(KIOSK_TOKEN);
    const id = syntheticCccdFor('000');
    await tap(id, 'Trần Thị Bích Ngọc');
    // No key yet (the chip opens with the last 6 digits of the number): the page asks for it.
    await page.waitForSelector('#message:not([hidden])');
    await page.screenshot({ path: `${SHOTS}/kiosk-need-number.png` });
    await page.click('#message-typed');
    for (const d of id) await page.click(`#keypad button[aria-label="${d}"]`);
    await page.click('#keypad button[aria-label="OK"]');
    // The card still lies on the reader: with the number the chip is read and its name replaces the number.
    await page.waitForFunction(() => document.getElementById('greeting-name')?.textContent === 'Xin chào ông/bà Trần Thị Bích Ngọc', null, { timeout: 15_000 });
    await page.waitForFunction(() => document.getElementById('insurance')?.textContent === 'Thẻ BHYT của bạn còn giá trị sử dụng.');
    expect(await page.getAttribute('#insurance', 'class')).toContain('ok');
    await page.screenshot({ path: `${SHOTS}/kiosk-chip-greeting.png` });
    expect(await accessibilityProblems(page)).toEqual([]);
    const number = await chooseServiceAndTicket(page, 'Khám Nhi');
    expect(number).toMatch(/^\d{4}$/);
    expect(await page.textContent('#ticket-service')).toBe('Khám Nhi');
    // The printer got that ticket: its number read back from the raster dots, the QR is the ticket id.
    await page.waitForFunction(() => document.getElementById('ticket-print')?.textContent === 'Đã in phiếu. Mời bạn nhận phiếu.');
    const job = kiosk.printer!.jobs.at(-1)!;
    const expected = ticketLines(
      { facility: 'Bệnh viện Thử nghiệm', service: 'Khám Nhi', number, priority: null, issuedAtLocal: 'x', ahead: 0, ticketId: 'x', qr: 'x' },
      576,
    );
    const lines = splitLines(job.image);
    expect(lines).toHaveLength(expected.length);
    expect(recogniseNumber(lines[expected.findIndex((e) => e.role === 'number')]!, stylesFor(576).number).text).toBe(number);
    expect(lineDifference(lines[expected.findIndex((e) => e.role === 'service')]!, 'Khám Nhi', stylesFor(576).service)).toBeLessThan(0.02);
    expect(job.cut).toBe(true);
    // One print-log row for the ticket (written with the ticket, then completed by the print).
    const basic = { authorization: `Basic ${Buffer.from(`admin:${TEST_PASSWORD}`).toString('base64')}` };
    const { prints } = (await (await fetch(`${kiosk.url}/api/queue/prints`, { headers: basic })).json()) as {
      prints: Array<{ number: string; ok: boolean; reprint: boolean }>;
    };
    expect(prints.filter((p) => p.number === number)).toMatchObject([{ ok: true, reprint: false }]);
    await page.screenshot({ path: `${SHOTS}/kiosk-chip-ticket.png` });
    expect(await accessibilityProblems(page)).toEqual([]);
    await waitFor(() => kiosk.his.registrations.some((r) => JSON.stringify(r.body).includes(number)), 'the check-in registered at the HIS', 15_000);
    const reg = kiosk.his.registrations.find((r) => JSON.stringify(r.body).includes(number))!;
    expect(JSON.stringify(reg.body)).toContain(id);
    await page.close();
  });

  it('QR scanned by a keyboard-wedge scanner: greeting by name from the QR, then the ticket', async () => {
    const page = await openKiosk();
    const sim = await startCardSimulator({ port: kiosk.pcscd!.port, citizen: { ...DEFAULT_CITIZEN, idNumber: syntheticCccdFor('004') }, insert: false });
    card = sim;
    await page.keyboard.type(sim.qr, { delay: 5 });
    await page.keyboard.press('Enter');
    await page.waitForSelector('#greeting:not([hidden])');
    expect(await page.textContent('#greeting-name')).toBe(`Xin chào ông/bà ${DEFAULT_CITIZEN.fullName}`);
    await page.waitForFunction(() => /còn giá trị/.test(document.getElementById('insurance')?.textContent ?? ''));
    await page.screenshot({ path: `${SHOTS}/kiosk-qr-greeting.png` });
    expect(await chooseServiceAndTicket(page, 'Khám Nội')).toMatch(/^\d{4}$/);
    await page.close();
  });

  it('expired and not-found insurance are said in plain words with what to do next', async () => {
    for (const [code, text, next] of [
      ['010', 'Thẻ BHYT của bạn đã hết hạn sử dụng.', /gia hạn thẻ BHYT/],
      ['051', 'Không tìm thấy thẻ BHYT theo số CCCD của bạn.', /đưa thẻ cho quầy tiếp đón/],
    ] as const) {
      const page = await openKiosk();
      await typeId(page, syntheticCccdFor(code));
      await page.waitForFunction((t) => document.getElementById('insurance')?.textContent === t, text);
      expect(await page.getAttribute('#insurance', 'class')).toContain('warn');
      expect(await page.textContent('#insurance-next')).toMatch(next);
      await page.screenshot({ path: `${SHOTS}/kiosk-insurance-${code}.png` });
      expect(await accessibilityProblems(page)).toEqual([]);
      await page.close();
    }
  });

  it('with the HIS down the ticket is still issued, and the check-in reaches the HIS when it returns', async () => {
    await kiosk.his.down();
    const page = await openKiosk();
    await typeId(page, syntheticCccdFor('000'));
    await page.waitForFunction(() => /Hiện chưa kết nối được/.test(document.getElementById('insurance')?.textContent ?? ''), null, { timeout: 15_000 });
    await page.screenshot({ path: `${SHOTS}/kiosk-his-down.png` });
    const number = await chooseServiceAndTicket(page, 'Xét nghiệm');
    expect(number).toMatch(/^X\d{3}$/);
    // The registration waits in the outbox, marked pending, while the HIS is away.
    const pending = async () => {
      const res = await fetch(`${kiosk.url}/api/outbox`, { headers: { authorization: `Basic ${Buffer.from(`admin:${TEST_PASSWORD}`).toString('base64')}` } });
      const body = (await res.json()) as { destinations: Array<{ destination: string; pending: number; lastError: string | null }> };
      return body.destinations.find((d) => d.destination === 'his-checkin')!;
    };
    await waitFor(async () => (await pending()).lastError !== null, 'a failed delivery attempt to the HIS');
    expect((await pending()).pending).toBe(1);
    expect(kiosk.his.registrations.some((r) => JSON.stringify(r.body).includes(number))).toBe(false);
    await kiosk.his.up();
    await waitFor(
      () => kiosk.his.registrations.some((r) => JSON.stringify(r.body).includes(number)),
      'the registration delivered after the HIS returned',
      20_000,
    );
    await waitFor(async () => (await pending()).pending === 0, 'the outbox emptied');
    await page.close();
  });

  it('the console\'s "read a card" test waits for the next card and shows it masked', async () => {
    const auth = { authorization: `Basic ${Buffer.from(`admin:${TEST_PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' };
    const test = fetch(`${kiosk.url}/api/devices/card/test`, { method: 'POST', headers: auth, body: '{}' }).then(
      (r) => r.json() as Promise<{ ok: boolean; detail: string }>,
    );
    const id = syntheticCccdFor('003');
    await fetch(`${kiosk.url}/api/kiosk/identify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-kiosk-token': KIOSK_TOKEN },
      body: JSON.stringify({ digits: id }),
    });
    await tap(id);
    const result = await test;
    expect(result.ok).toBe(true);
    expect(result.detail).toMatch(/^card 0790\*{5}003 read by PACE in \d+ ms \(14 APDUs\)/);
    expect(result.detail).not.toContain(id);
  });

  it("the console's printer test prints a test ticket the printer really got", async () => {
    const auth = { authorization: `Basic ${Buffer.from(`admin:${TEST_PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' };
    const jobs = kiosk.printer!.jobs.length;
    const result = (await (await fetch(`${kiosk.url}/api/devices/ticket-printer/test`, { method: 'POST', headers: auth, body: '{}' })).json()) as {
      ok: boolean;
      detail: string;
    };
    expect(result).toMatchObject({ ok: true, detail: expect.stringMatching(/^test ticket printed on tcp 127\.0\.0\.1:\d+/) });
    expect(kiosk.printer!.jobs).toHaveLength(jobs + 1);
    const lines = splitLines(kiosk.printer!.jobs.at(-1)!.image);
    expect(lineDifference(lines[0]!, 'KIỂM TRA MÁY IN', stylesFor(576).facility)).toBeLessThan(0.02);
  });

  it('the attract screen has no serious accessibility problems and every target is at least 44 px', async () => {
    const page = await openKiosk();
    expect(await accessibilityProblems(page)).toEqual([]);
    const small = await page.evaluate(
      () =>
        Array.from(document.querySelectorAll('button'))
          .filter((b) => b.offsetParent !== null)
          .map((b) => b.getBoundingClientRect())
          .filter((r) => r.width < 44 || r.height < 44).length,
    );
    expect(small).toBe(0);
    await page.close();
  });
});
