import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../helpers/browser.ts';
import { generateClips } from '../../../kiosk/audio/generate.ts';
import { phraseClips } from '../../../kiosk/call-screen/phrase.js';
import { startQueueAgent, STAFF_ALL, STAFF_Q1, TEST_PASSWORD, type QueueAgent } from './queueAgent.ts';

// The counter page against a running agent (real store, login, printer driver and simulator),
// with the call screen open next to it: every staff action is checked through the API and on the TV.
let a: QueueAgent;
let chromium: { browser: Browser; close: () => Promise<void> };
let counter: Page;
let screen: Page;
let cookie: string;

beforeAll(async () => {
  await generateClips();
  a = await startQueueAgent();
  cookie = await a.login();
  chromium = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
  screen = await chromium.browser.newPage({ viewport: { width: 1280, height: 720 } });
  await screen.goto(`${a.url}/call-screen/`);
  await screen.waitForSelector('#link.up', { state: 'attached' });
  counter = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
}, 60_000);
afterAll(async () => {
  await chromium?.close();
  await a?.close();
});

async function api(method: string, path: string, body?: unknown, auth = true): Promise<any> {
  const res = await fetch(`${a.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(auth ? { cookie, origin: a.url } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
const issue = async (body: Record<string, unknown>) => (await api('POST', '/api/queue/tickets', body, false)).ticket as { id: string; number: string };
const ticket = async (id: string) => (await api('GET', `/api/queue/tickets/${id}`)).ticket;
const tile = (c: string) => screen.locator(`.counter[data-counter="${c}"] .number`);
type ScreenLog = {
  calls: Array<{ number: string; counter: number; clips: string[] }>;
  played: Array<{ id: string; ok: boolean; started: number; ended: number; playedRanges: number }>;
};
const screenLog = (): Promise<ScreenLog> => screen.evaluate(() => (window as unknown as { __callScreen: ScreenLog }).__callScreen);

describe('counter page in Chromium against the agent', () => {
  let normal: { id: string; number: string };
  let claimed: { id: string; number: string };

  it('asks for the staff login before any action; a wrong password is refused', async () => {
    normal = await issue({ service: 'noi', print: 'no' });
    claimed = await issue({ service: 'noi', claim: 'pregnant', print: 'no' });
    await counter.goto(`${a.url}/counter/`);
    await counter.waitForSelector('#login', { state: 'visible' });
    expect(await counter.locator('#app').isHidden()).toBe(true);
    // The counter's own staff account, not the admin's.
    await counter.fill('#login [name=user]', STAFF_ALL);
    await counter.fill('#login [name=password]', 'wrong');
    await counter.click('#login button[type=submit]');
    await expect.poll(() => counter.locator('#login-error').textContent(), { timeout: 10_000 }).toBe('Sai tài khoản hoặc mật khẩu');
    await counter.fill('#login [name=password]', TEST_PASSWORD);
    await counter.click('#login button[type=submit]');
    await counter.waitForSelector('#app', { state: 'visible' });
    await counter.waitForSelector('#link.up', { state: 'attached' });
    expect(await counter.textContent('#whoami')).toBe(`Nhân viên: ${STAFF_ALL}`);
  });

  it('pick a counter and call next: the claimed priority goes first, the call screen shows and speaks it', async () => {
    await counter.selectOption('#counter', 'q1');
    await counter.click('#next');
    await expect.poll(() => counter.locator('#number').textContent()).toBe(claimed.number);
    expect(await ticket(claimed.id)).toMatchObject({ state: 'called', counter: 'q1', calls: 1 });
    await expect.poll(() => tile('q1').textContent()).toBe(claimed.number);
    const expected = phraseClips(claimed.number, 1, true);
    await expect.poll(async () => (await screenLog()).played.length, { timeout: 30_000 }).toBe(expected.length);
    const played = (await screenLog()).played;
    expect(played.map((p) => p.id)).toEqual(expected);
    expect(played.every((p) => p.ok && p.playedRanges > 0)).toBe(true);
  });

  it('confirms the priority claim, recording the logged-in account', async () => {
    await expect.poll(() => counter.locator('#claim').isVisible()).toBe(true);
    expect(await counter.locator('#priority').textContent()).toContain('chưa xác nhận');
    await counter.click('#confirm');
    await expect.poll(async () => (await ticket(claimed.id)).priorityStatus).toBe('confirmed');
    expect((await ticket(claimed.id)).priorityConfirmedBy).toBe(STAFF_ALL);
    await expect.poll(() => counter.locator('#priority').textContent()).toContain(`xác nhận: ${STAFF_ALL}`);
    expect(await counter.locator('#claim').isHidden()).toBe(true);
  });

  it('recall calls the same ticket again on the call screen', async () => {
    const before = (await screenLog()).calls.length;
    await counter.click('#recall');
    await expect.poll(async () => (await ticket(claimed.id)).calls).toBe(2);
    await expect.poll(async () => (await screenLog()).calls.length).toBe(before + 1);
    expect((await screenLog()).calls.at(-1)).toMatchObject({ number: claimed.number, counter: 1 });
  });

  it('skip, call the next, finish it, then recall the skipped ticket from the list', async () => {
    await counter.click('#skip');
    await expect.poll(async () => (await ticket(claimed.id)).state).toBe('skipped');
    await expect.poll(() => counter.locator(`#recallable button[data-ticket="${claimed.id}"]`).count()).toBe(1);
    await counter.click('#next');
    await expect.poll(() => counter.locator('#number').textContent()).toBe(normal.number);
    await expect.poll(() => tile('q1').textContent()).toBe(normal.number);
    await counter.click('#finish');
    await expect.poll(async () => (await ticket(normal.id)).state).toBe('done');
    await expect.poll(() => tile('q1').textContent()).toBe('—');
    await counter.click(`#recallable button[data-ticket="${claimed.id}"]`);
    await expect.poll(async () => (await ticket(claimed.id)).state).toBe('called');
    await expect.poll(() => tile('q1').textContent()).toBe(claimed.number);
    expect(await counter.locator('#number').textContent()).toBe(claimed.number);
  });

  it('transfers the ticket to the front of another service at a given counter', async () => {
    await issue({ service: 'nhi', print: 'no' });
    await counter.selectOption('#t-service', 'nhi');
    await counter.selectOption('#t-counter', 'q2');
    await counter.selectOption('#t-position', 'front');
    await counter.click('#transfer-go');
    await expect.poll(async () => (await ticket(claimed.id)).state).toBe('waiting');
    expect(await ticket(claimed.id)).toMatchObject({ service: 'nhi', targetCounter: 'q2', transfers: 1, number: claimed.number });
    await expect.poll(() => tile('q1').textContent()).toBe('—');
    // At counter 2 the transferred patient is called first.
    await counter.selectOption('#counter', 'q2');
    await counter.click('#next');
    await expect.poll(() => tile('q2').textContent()).toBe(claimed.number);
    expect(await ticket(claimed.id)).toMatchObject({ state: 'called', counter: 'q2' });
  });

  it('a ticket the printer failed is listed with the printer status; reprint from the list and of the current ticket', async () => {
    a.printer.setState({ paperOut: true });
    const t = await issue({ service: 'noi' });
    await expect.poll(() => counter.locator(`#failed-prints li[data-ticket="${t.id}"]`).count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => counter.locator('#printers li[data-printer="ticket-printer"]').textContent()).toContain('hết giấy');
    // The printer driver reports paper out as its device status in the console.
    const devices = await api('GET', '/api/devices');
    expect(JSON.stringify(devices)).toContain('hết giấy');
    a.printer.setState({ paperOut: false });
    const jobs = a.printer.jobs.length;
    await counter.click(`#failed-prints li[data-ticket="${t.id}"] button`);
    await expect.poll(() => a.printer.jobs.length, { timeout: 20_000 }).toBe(jobs + 1);
    expect(a.printer.jobs.at(-1)!.qr).toEqual([t.id]);
    await expect.poll(() => counter.locator('#failed-prints li').count()).toBe(0);
    // Reprint of the ticket at the counter (q2 is serving the transferred one).
    await counter.click('#reprint');
    await expect.poll(() => a.printer.jobs.length, { timeout: 20_000 }).toBe(jobs + 2);
    expect(a.printer.jobs.at(-1)!.qr).toEqual([claimed.id]);
    const prints = (await api('GET', '/api/queue/prints')).prints.filter((p: any) => p.ticketId === t.id);
    expect(prints.map((p: any) => [p.ok, p.reprint])).toEqual([
      [true, true],
      [false, false],
    ]);
  });

  it('an account for counter q1 sees only q1, and the box refuses it q2 and the admin routes; nothing changes', async () => {
    const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${a.url}/counter/`);
    await page.waitForSelector('#login', { state: 'visible' });
    await page.fill('#login [name=user]', STAFF_Q1);
    await page.fill('#login [name=password]', TEST_PASSWORD);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#app', { state: 'visible' });
    expect(await page.locator('#counter option').evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual(['q1']);
    await page.screenshot({ path: 'test-artifacts/screenshots/counter-staff-q1.png' });
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    // What the page would not offer, sent by hand with the q1 account's session.
    const waiting = await issue({ service: 'nhi', print: 'no' });
    const before = await ticket(waiting.id);
    const asQ1 = (method: string, path: string, body?: unknown) =>
      fetch(`${a.url}${path}`, {
        method,
        headers: { cookie, origin: a.url, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      }).then(async (r) => ({ status: r.status, json: (await r.json().catch(() => null)) as { error?: string } | null }));
    const next = await asQ1('POST', '/api/queue/counters/q2/next', {});
    expect(next.status).toBe(403);
    expect(next.json?.error).toMatch(/may act only for counter q1, not q2/);
    expect((await asQ1('POST', `/api/queue/tickets/${waiting.id}/transfer`, { position: 'front', service: 'noi' })).status).toBe(403);
    expect((await asQ1('POST', `/api/queue/tickets/${waiting.id}/cancel`, {})).status).toBe(403);
    expect((await asQ1('GET', '/api/queue/counters/q2')).status).toBe(403);
    expect(await ticket(waiting.id)).toEqual(before);
    // A staff account is not an admin: configuration, journal, statistics and restart are refused.
    for (const [method, path] of [
      ['GET', '/api/config'],
      ['GET', '/api/journal'],
      ['GET', '/api/queue/stats'],
      ['POST', '/api/restart'],
    ] as const) {
      const r = await asQ1(method, path, method === 'POST' ? {} : undefined);
      expect({ path, status: r.status }).toEqual({ path, status: 403 });
      expect(r.json?.error).toMatch(/may not do this; it needs admin/);
    }
    await page.close();
  });
});
