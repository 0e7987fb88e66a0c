import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../helpers/browser.ts';
import { startQueueApp, type QueueApp } from '../../integration/queue/queueApp.ts';
import { generateClips } from '../../../kiosk/audio/generate.ts';
import { phraseClips } from '../../../kiosk/call-screen/phrase.js';

let q: QueueApp;
let chromium: { browser: Browser; close: () => Promise<void> };
let page: Page;

beforeAll(async () => {
  await generateClips();
  q = await startQueueApp({ printer: false });
  chromium = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
  page = await chromium.browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(`${q.url}/call-screen/`);
  await page.waitForSelector('#link.up', { state: 'attached' });
});
afterAll(async () => {
  await chromium?.close();
  await q?.close();
});

type Log = {
  calls: Array<{ number: string; service: string; counter: number; clips: string[] }>;
  played: Array<{ id: string; ok: boolean; started: number; ended: number; playedRanges: number }>;
  ended: number;
};
const log = (): Promise<Log> => page.evaluate(() => (window as unknown as { __callScreen: Log }).__callScreen);

describe('call screen in Chromium', () => {
  it('phrase: digits one by one, counter as a number, "ưu tiên" for priority', () => {
    expect(phraseClips('0123', 2, false)).toEqual(['chime', 'moi-so', 'digit-0', 'digit-1', 'digit-2', 'digit-3', 'den-quay', 'num-2']);
    expect(phraseClips('X042', 12, true)).toEqual(['chime', 'moi-so', 'uu-tien', 'letter-x', 'digit-0', 'digit-4', 'digit-2', 'den-quay', 'num-12']);
  });

  it('shows the call on the counter tile, flashes it, and speaks it through the audio element', async () => {
    await q.queue.issue({ service: 'noi' });
    await q.queue.issue({ service: 'noi', birthDate: '1940-02-02' });
    await q.queue.callNext('q2'); // the 75+ ticket 0002 goes first (strict)
    const tile = page.locator('.counter[data-counter="q2"]');
    await expect.poll(() => tile.locator('.number').textContent()).toBe('0002');
    expect(await tile.getAttribute('class')).toMatch(/flash/);
    expect(await tile.getAttribute('class')).toMatch(/prio/);
    const expected = phraseClips('0002', 2, true);
    await expect.poll(async () => (await log()).played.length, { timeout: 30_000 }).toBe(expected.length);
    const l = await log();
    expect(l.played.map((p) => p.id)).toEqual(expected);
    expect(l.played.every((p) => p.ok && p.playedRanges > 0)).toBe(true);
    expect(l.ended).toBe(expected.length);
    expect(await page.locator('#recent li').first().textContent()).toContain('0002');
    expect(await page.locator('#waiting').textContent()).toContain('Khám Nội: 1 đang chờ');
  });

  it('two calls in a row are spoken one after the other, never overlapping', async () => {
    const before = (await log()).played.length;
    await q.queue.issue({ service: 'xn' });
    await q.queue.callNext('q1'); // 0001 at counter 1
    await q.queue.callNext('q3'); // X001 at counter 3
    const a = phraseClips('0001', 1, false);
    const b = phraseClips('X001', 3, false);
    await expect.poll(async () => (await log()).played.length - before, { timeout: 40_000 }).toBe(a.length + b.length);
    const played = (await log()).played.slice(before);
    expect(played.map((p) => p.id)).toEqual([...a, ...b]);
    for (let i = 1; i < played.length; i++) expect(played[i]!.started).toBeGreaterThanOrEqual(played[i - 1]!.ended);
    await expect.poll(() => page.locator('.counter[data-counter="q3"] .number').textContent()).toBe('X001');
  });

  it('shows no personal data and reconnects to a fresh snapshot', async () => {
    const text = await page.locator('body').innerText();
    expect(text).not.toMatch(/\d{12}/); // no CCCD numbers
    await page.reload();
    await page.waitForSelector('#link.up', { state: 'attached' });
    await expect.poll(() => page.locator('.counter[data-counter="q3"] .number').textContent()).toBe('X001');
  });
});

describe('two services numbered alike at one counter (issue 17)', () => {
  it('shows the service with each called number, on the tile and in the recent calls', async () => {
    // Khám Nội and Khám Nhi both number from 0001 and Quầy 2 calls both.
    const nhi = await q.queue.issue({ service: 'nhi' });
    expect(nhi.ticket.number).toBe('0001');
    await q.queue.callNext('q2');
    const tile = page.locator('.counter[data-counter="q2"]');
    await expect.poll(() => tile.locator('.number').textContent()).toBe('0001');
    expect(await tile.locator('.service').textContent()).toBe('Khám Nhi');
    const recent = page.locator('#recent li');
    await expect.poll(() => recent.first().innerText()).toMatch(/^0001\s+Khám Nhi\s+Quầy 2$/);
    // The earlier 0001 of Khám Nội, called at Quầy 1, says its own service.
    expect(await recent.allInnerTexts()).toContainEqual(expect.stringMatching(/^0001\s+Khám Nội\s+Quầy 1$/));
    expect((await log()).calls.at(-1)).toMatchObject({ number: '0001', service: 'Khám Nhi', counter: 2 });
    // Each text fits its row on a 1280×720 screen: the service name is cut with an ellipsis, never the number.
    const overflow = await page.$$eval('#recent li', (lis) => lis.some((li) => li.scrollWidth > li.clientWidth + 1));
    expect(overflow).toBe(false);
  });
});
