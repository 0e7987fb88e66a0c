// npm run bench:kiosk — in Debian's Chromium against the running agent: from the card put on the
// reader (simulated chip behind the real pcscd, 30 ms per APDU) to the greeting with the chip's
// name, and to the ticket number on screen (service and "no priority" tapped as soon as shown);
// the HIS simulator answers after 200 ms. Then the kiosk page's weight. Needs root (pcscd).
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.ts';
import { startKioskAgent } from '../test/helpers/kioskAgent.ts';
import { DEFAULT_CITIZEN } from '../test/sim/card/files.ts';
import { startCardSimulator } from '../test/sim/cardSimulator.ts';
import { syntheticCccdFor } from '../test/sim/vssGateway.ts';
import { fmt, machineLine, percentile } from './common.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const { browser, close } = await launchChromium();
process.on('exit', () => void close());

async function typeNumber(page: Page, id: string): Promise<void> {
  await page.click('#go-typed');
  for (const d of id) await page.click(`#keypad button[aria-label="${d}"]`);
  await page.click('#keypad button[aria-label="OK"]');
  await page.waitForSelector('#greeting:not([hidden])');
}

interface Run {
  label: string;
  reading: number[];
  greeting: number[];
  ticket: number[];
  apdus: number[];
}

/** ROUNDS patients on a kiosk agent whose reader uses `fileAccess`. */
async function patients(fileAccess: 'fid' | 'sfi', kiosk: Awaited<ReturnType<typeof startKioskAgent>>): Promise<Run> {
  const run: Run = { label: fileAccess === 'fid' ? 'SELECT by file id (default)' : 'READ BINARY by SFI (fileAccess: sfi)', reading: [], greeting: [], ticket: [], apdus: [] };
  const page = await browser.newPage({ viewport: { width: 1080, height: 1920 }, hasTouch: true });
  await page.goto(`${kiosk.url}/kiosk/?voice=0`);
  for (let i = 0; i < ROUNDS; i++) {
    const id = syntheticCccdFor(String(i % 5));
    const name = `Nguyễn Thị Bench ${i}`;
    await typeNumber(page, id);
    // The card goes down: the clock starts when the chip is on the reader.
    const t0 = performance.now();
    const card = await startCardSimulator({ port: kiosk.pcscd!.port, latencyMs: 30, citizen: { ...DEFAULT_CITIZEN, idNumber: id, fullName: name } });
    await page.waitForSelector('#reading:not([hidden])', { timeout: 15_000 });
    run.reading.push(performance.now() - t0);
    await page.waitForFunction((n) => document.getElementById('greeting-name')?.textContent === `Xin chào ${n}`, name, { timeout: 15_000 });
    run.greeting.push(performance.now() - t0);
    await page.click('#choose-service');
    await page.click('#service-list button[data-service="noi"]');
    await page.click('[data-claim=""]');
    await page.waitForSelector('#ticket:not([hidden])');
    run.ticket.push(performance.now() - t0);
    run.apdus.push(card.apduCount);
    const removed = kiosk.pcscd!.removals(0);
    await card.stop();
    await kiosk.pcscd!.waitRemoved(0, removed).catch(() => undefined);
    await page.click('#done');
  }
  await page.close();
  return run;
}

const runs: Run[] = [];
let kiosk = await startKioskAgent({ card: true, hisDelayMs: 200 });
try {
  runs.push(await patients('fid', kiosk));
} finally {
  await kiosk.close();
}
kiosk = await startKioskAgent({ card: true, hisDelayMs: 200, cardSettings: { fileAccess: 'sfi' } });
try {
  runs.push(await patients('sfi', kiosk));
  // Page weight: every response of a fresh load, and where it came from.
  const fresh = await browser.newPage();
  const resources: Array<{ url: string; bytes: number; gzip: number; encoding: string }> = [];
  fresh.on('response', async (r) => {
    const body = await r.body().catch(() => Buffer.alloc(0));
    resources.push({ url: r.url(), bytes: body.length, gzip: gzipSync(body).length, encoding: r.headers()['content-encoding'] ?? 'identity' });
  });
  await fresh.goto(`${kiosk.url}/kiosk/?voice=0`, { waitUntil: 'networkidle' });
  await fresh.close();
  const external = resources.filter((r) => !r.url.startsWith(kiosk.url));

  console.log(`\nKiosk in Chromium against the running agent (${ROUNDS} patients per row; card 30 ms per APDU behind the real pcscd + vpcd; HIS 200 ms)\n`);
  console.log(`Machine: ${machineLine()}\n`);
  console.log('| chip files read by | APDUs | card → "reading" shown p50 | card → greeting with the chip\'s name p50 / p95 / max (goal < 1500) | card → ticket number p50 / p95 / max (goal < 3000) |');
  console.log('|---|---|---|---|---|');
  for (const r of runs) {
    const stats = (v: number[]) => `${fmt(percentile(v, 50), 0)} / ${fmt(percentile(v, 95), 0)} / ${fmt(Math.max(...v), 0)}`;
    console.log(`| ${r.label} | ${[...new Set(r.apdus)].join(', ')} | ${fmt(percentile(r.reading, 50), 0)} | ${stats(r.greeting)} | ${stats(r.ticket)} |`);
  }
  console.log('');
  console.log('| resource | bytes | gzip bytes | served as |');
  console.log('|---|---|---|---|');
  for (const r of resources) console.log(`| ${r.url.replace(kiosk.url, '')} | ${r.bytes} | ${r.gzip} | ${r.encoding} |`);
  const total = resources.reduce((a, r) => a + r.bytes, 0);
  const totalGzip = resources.reduce((a, r) => a + r.gzip, 0);
  console.log(`| **total** | ${total} | ${totalGzip} | goal < 150 KB compressed; ${external.length} request(s) outside the box |`);
} finally {
  await close();
  await kiosk.close();
}
process.exit(0);
