import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../helpers/browser.ts';
import { generateClips } from '../../../kiosk/audio/generate.ts';
import { phraseClips } from '../../../kiosk/call-screen/phrase.js';
import { startQueueAgent, TEST_PASSWORD, type QueueAgent } from './queueAgent.ts';

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
  const res = await fetch(`${a.url}${path}`, { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(auth ? { cookie, origin: a.url } : {}) }, body: body !== undefined ? JSON.stringify(body) : undefined });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
const issue = async (body: Record<string, unknown>) => (await api('POST', '/api/queue/tickets', body, false)).ticket as { id: string; number: string };
const ticket = async (id: string) => (await api('GET', `/api/queue/tickets/${id}`, undefined, false)).ticket;
const tile = (c: string) => screen.locator(`.counter[data-counter="${c}"] .number`);
type ScreenLog = { calls: Array<{ number: string; counter: number; clips: string[] }>; played: Array<{ id: string; ok: boolean; started: number; ended: number; playedRanges: number }> };
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
    await counter.fill('#login [name=user]', 'admin');
    await counter.fill('#login [name=password]', 'wrong');
    await counter.click('#login button[type=submit]');
    await expect.poll(() => counter.locator('#login-error').textContent(), { timeout: 10_000 }).toBe('Sai tài khoản hoặc mật khẩu');
    await counter.fill('#login [name=password]', TEST_PASSWORD);
    await counter.click('#login button[type=submit]');
    await counter.waitForSelector('#app', { state: 'visible' });
    await counter.waitForSelector('#link.up', { state: 'attached' });
  });

  it('pick a counter and call next: the claimed priority goes first, the call screen shows and speaks it', async () => {
    await counter.selectOption('#counter', 'q1');
    await counter.fill('#staff', 'ĐD. Lan');
    await counter.locator('#staff').dispatchEvent('change');
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

  it('confirms the priority claim, recording who', async () => {
    await expect.poll(() => counter.locator('#claim').isVisible()).toBe(true);
    expect(await counter.locator('#priority').textContent()).toContain('chưa xác nhận');
    await counter.click('#confirm');
    await expect.poll(async () => (await ticket(claimed.id)).priorityStatus).toBe('confirmed');
    expect((await ticket(claimed.id)).priorityConfirmedBy).toBe('ĐD. Lan');
    await expect.poll(() => counter.locator('#priority').textContent()).toContain('xác nhận: ĐD. Lan');
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
    expect(prints.map((p: any) => [p.ok, p.reprint])).toEqual([[true, true], [false, false]]);
  });
});
