import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { openStore, type Store } from '../../../core/store/store.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { cccdReaderDriverFactory, qrScannerDriverFactory } from '../../../modules/cccd/index.ts';
import type { CardIdentityEvent, CardStatusEvent } from '../../../modules/cccd/readerDriver.ts';
import type { Driver } from '../../../core/contract/driver.ts';
import { startCardSimulator, type CardSimulator } from '../../sim/cardSimulator.ts';
import { generateTestPki, type TestPki } from '../../sim/card/pki.ts';
import { qrOf } from '../../sim/card/card.ts';
import { startPcscd, type PcscdHandle } from './pcscd.ts';

let pcscd: PcscdHandle;
let pki: TestPki;
let store: Store;
let tmp: ReturnType<typeof tempDir>;
const running: Array<Driver | CardSimulator> = [];

beforeAll(async () => {
  pki = generateTestPki();
  pcscd = await startPcscd();
  tmp = tempDir('cccd-driver-');
  store = await openStore({ dir: join(tmp.dir, 'store') });
});
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});
afterAll(async () => {
  await pcscd?.stop();
  pki?.remove();
  await store?.close();
  tmp?.cleanup();
});

function setup(config: Record<string, unknown>) {
  let logged = '';
  const ctx = makeDriverContext(store, { id: 'kiosk-card' });
  ctx.log = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => ((logged += c.toString()), cb()) }));
  const events: Array<{ topic: string; body: unknown }> = [];
  ctx.bus.on('test', 'domain.event', (e) => events.push(e));
  const driver = cccdReaderDriverFactory.create(ctx, config as never);
  running.push(driver);
  const waitFor = async <T>(pred: (e: { topic: string; body: any }) => boolean, what: string, ms = 15_000): Promise<T> => {
    const until = Date.now() + ms;
    for (;;) {
      const hit = events.find(pred);
      if (hit) {
        events.splice(events.indexOf(hit), 1);
        return hit.body as T;
      }
      if (Date.now() > until)
        throw new Error(
          `timed out waiting for ${what}; got ${JSON.stringify(events.map((e) => [e.topic, (e.body as any)?.state ?? (e.body as any)?.identity?.source]))}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { ctx, driver, events, waitFor, logged: () => logged };
}

const status = (state: CardStatusEvent['state']) => (e: { topic: string; body: any }) => e.topic === 'card/status' && e.body.state === state;
const identity = (source: string) => (e: { topic: string; body: any }) => e.topic === 'card/identity' && e.body.identity.source === source;

async function insert(slot: 0 | 1, opts: Parameters<typeof startCardSimulator>[0] = {}) {
  const sim = await startCardSimulator({ pki, port: pcscd.port + slot, ...opts });
  running.push(sim);
  return sim;
}

async function removeCard(sim: CardSimulator, slot: 0 | 1) {
  const before = pcscd.removals(slot);
  await sim.remove();
  await pcscd.waitRemoved(slot, before);
}

describe('cccd-reader driver over the real pcscd', () => {
  it('asks for a key, reads after the QR scan, publishes a verified identity, logs nothing personal', async () => {
    const cscaFile = join(tmp.dir, 'csca.pem');
    writeFileSync(cscaFile, pki.cscaPem);
    const t = setup({ readerName: 'Virtual PCD 00 00', allowVirtualReader: true, cscaFile });
    await t.driver.start();
    await t.waitFor(status('ready'), 'reader ready');
    const sim = await insert(0);
    await t.waitFor(status('need-key'), 'need-key');
    t.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/key', body: { qr: sim.qr } });
    const qr = await t.waitFor<CardIdentityEvent>(identity('qr'), 'QR identity');
    expect(qr.identity.idNumber).toBe('001099012345');
    const chip = await t.waitFor<CardIdentityEvent>(identity('chip-verified'), 'chip identity');
    expect(chip.identity.fullName).toBe('Nguyễn Văn Thử');
    expect(chip.access).toBe('PACE');
    expect(chip.verification?.signature).toBe('verified');
    await t.waitFor(status('done'), 'done');
    // The key is used once: the next card waits for the next scan.
    await removeCard(sim, 0);
    const sim2 = await insert(0, { pace: false });
    await t.waitFor(status('need-key'), 'need-key for the second card');
    t.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/key', body: { digits: '001099012345' } });
    const typed = await t.waitFor<CardIdentityEvent>(identity('typed'), 'typed identity');
    expect(typed.identity.idNumber).toBe('001099012345');
    // A typed number opens only PACE; this card is BAC-only: plain error.
    const err = await t.waitFor<CardStatusEvent>(status('error'), 'error for BAC-only card with a typed number');
    expect(err.code).toBe('CARD_NO_KEY');
    await removeCard(sim2, 0);
    expect(t.logged()).toContain('card read');
    expect(t.logged()).not.toContain('001099012345');
    expect(t.logged()).not.toContain('Nguy');
    expect(t.driver.status().counters).toMatchObject({ reads: 1, failures: 1 });
  });

  it('reads a card tapped after the QR scan, and a QR identity from the bus is a key', async () => {
    const t = setup({ readerName: 'Virtual PCD 00 01', allowVirtualReader: true });
    await t.driver.start();
    await t.waitFor(status('ready'), 'reader ready');
    t.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/key', body: { qr: qrOf() } });
    await insert(1, { pace: false });
    const chip = await t.waitFor<CardIdentityEvent>(identity('chip-unverified'), 'chip identity by BAC');
    expect(chip.access).toBe('BAC');
    expect(chip.verification?.detail).toBe('signature not checked: no CSCA certificate configured');
  });

  it('ignores readers outside its filter and vsmartcard readers unless allowed', async () => {
    const t = setup({});
    await t.driver.start();
    await new Promise((r) => setTimeout(r, 1500));
    expect(t.events.filter((e) => e.topic === 'card/status' && (e.body as CardStatusEvent).state === 'ready')).toEqual([]);
    expect(t.driver.status().state).toBe('degraded');
  });

  it('survives pcscd stopping and starting again', async () => {
    const t = setup({ readerName: 'Virtual PCD', allowVirtualReader: true });
    await t.driver.start();
    await t.waitFor(status('ready'), 'reader ready');
    await pcscd.stop();
    await t.waitFor(status('service-down'), 'service-down');
    // A driver started while pcscd is absent reports it, and the event loop keeps running.
    const late = setup({ allowVirtualReader: true });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    await late.driver.start();
    await late.waitFor(status('service-down'), 'service-down at start');
    await new Promise((r) => setTimeout(r, 1000));
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(50);
    expect(late.driver.status().state).toBe('degraded');
    pcscd = await startPcscd();
    await t.waitFor(status('ready'), 'reader ready after restart', 30_000);
    t.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/key', body: { digits: '001099012345' } });
    await insert(0);
    const chip = await t.waitFor<CardIdentityEvent>(identity('chip-unverified'), 'chip identity after restart');
    expect(chip.identity.idNumber).toBe('001099012345');
  });
});

describe('qr-scanner driver', () => {
  it('publishes a QR identity and flags a mangled scan', () => {
    const ctx = makeDriverContext(store, { id: 'qr' });
    const events: Array<{ topic: string; body: any }> = [];
    ctx.bus.on('test', 'domain.event', (e) => events.push(e));
    const d = qrScannerDriverFactory.create(ctx, { path: '/dev/null-none' }) as unknown as { onText(t: string): void };
    d.onText(qrOf());
    d.onText('001099012345|012345678|Nguyen Van Thu|01011999|Nam|So 1 Duong Kiem Thu, Ha Noi|15042021');
    d.onText('https://example.com/not-a-card');
    expect(events[0]).toMatchObject({ topic: 'card/identity', body: { identity: { idNumber: '001099012345', source: 'qr' } } });
    expect(events[2]).toMatchObject({ topic: 'card/status', body: { code: 'QR_MANGLED' } });
    expect(events[3]).toMatchObject({ topic: 'card/status', body: { code: 'QR_NOT_CCCD' } });
  });
});
