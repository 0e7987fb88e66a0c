// npm run bench:kiosk — in Debian's Chromium against the running agent: from the card put on the
// reader (simulated chip behind the real pcscd, 30 ms per APDU) to the greeting with the chip's
// name, and to the ticket number on screen (service and "no priority" tapped as soon as shown);
// the HIS simulator answers after 200 ms. Then the kiosk page's weight. Needs root (pcscd).
// A third row turns on quick ACKs for loopback routes while it runs: vpcd writes each APDU's
// length and body separately, and Nagle on its side plus delayed ACK on the simulator's stalls
// every APDU ~40 ms, which a USB reader never pays (docs/kiosk.md).
import { execFileSync } from 'node:child_process';
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
async function patients(label: string, kiosk: Awaited<ReturnType<typeof startKioskAgent>>): Promise<Run> {
  const run: Run = { label, reading: [], greeting: [], ticket: [], apdus: [] };
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
    await page.waitForFunction((n) => document.getElementById('greeting-name')?.textContent === `Xin chào ông/bà ${n}`, name, { timeout: 15_000 });
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

/** The loopback routes with `quickack` set or cleared (iproute2; the routes pcscd and vpcd use). */
function loopbackQuickAck(on: boolean): void {
  for (const prefix of ['127.0.0.0/8', '127.0.0.1']) {
    execFileSync('ip', [
      'route',
      'replace',
      'local',
      prefix,
      'dev',
      'lo',
      'proto',
      'kernel',
      'scope',
      'host',
      'src',
      '127.0.0.1',
      'table',
      'local',
      ...(on ? ['quickack', '1'] : []),
    ]);
  }
}

async function row(label: string, fileAccess: 'fid' | 'sfi', quickAck = false): Promise<Awaited<ReturnType<typeof startKioskAgent>>> {
  const kiosk = await startKioskAgent({ card: true, hisDelayMs: 200, ...(fileAccess === 'sfi' ? { cardSettings: { fileAccess } } : {}) });
  if (quickAck) loopbackQuickAck(true);
  try {
    runs.push(await patients(label, kiosk));
  } finally {
    if (quickAck) loopbackQuickAck(false);
  }
  return kiosk;
}

const runs: Run[] = [];
await (await row('SELECT by file id (default)', 'fid')).close();
let quickAckRow = true;
try {
  await (await row('SELECT by file id, loopback quick ACK (no vpcd stall)', 'fid', true)).close();
} catch (err) {
  quickAckRow = false;
  console.warn(`quick-ACK row skipped: ${(err as Error).message}`);
}
const kiosk = await row('READ BINARY by SFI (fileAccess: sfi)', 'sfi');
try {
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

  console.log(
    `\nKiosk in Chromium against the running agent (${ROUNDS} patients per row; card 30 ms per APDU behind the real pcscd + vpcd; HIS 200 ms${quickAckRow ? '' : '; quick-ACK row skipped'})\n`,
  );
  console.log(`Machine: ${machineLine()}\n`);
  console.log(
    '| chip files read by | APDUs | card → "reading" shown p50 | card → greeting with the chip\'s name p50 / p95 / max (goal < 1500) | card → ticket number p50 / p95 / max (goal < 3000) |',
  );
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
