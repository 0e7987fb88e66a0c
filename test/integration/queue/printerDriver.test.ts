import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../core/store/store.ts';
import { printerDriverFactory, PRINTERS_SERVICE } from '../../../modules/printer/index.ts';
import type { EscposPrinterConfig } from '../../../modules/printer/escposPrinter.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { startPrinter } from '../../sim/printer.ts';

// The escpos-printer device driver as the agent runs it: registers into the printers service,
// polls the printer's status and reports paper out, cover open and offline as device status.
let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(config: Partial<EscposPrinterConfig> = {}) {
  const tmp = tempDir('printer-driver-');
  const store = await openStore({ dir: tmp.dir });
  cleanups.push(() => {
    store.close();
    tmp.cleanup();
  });
  const sim = await startPrinter();
  cleanups.push(() => sim.stop());
  const ctx = makeDriverContext(store, { id: 'kiosk-printer' });
  const driver = printerDriverFactory.create(
    ctx as never,
    { transport: 'tcp', host: '127.0.0.1', port: sim.port, statusPollMs: 50, retries: 0, ...config } as never,
  );
  await driver.start();
  cleanups.push(() => driver.stop());
  const last = () => ctx.statuses.at(-1)!;
  return { ctx, sim, driver, last };
}

describe('escpos-printer driver', () => {
  it('provides the printers service; paper out, cover open and offline become its status, and it recovers', async () => {
    const { ctx, sim, last } = await setup();
    const pool = ctx.services.get(PRINTERS_SERVICE)!;
    expect(pool.ids()).toEqual(['kiosk-printer']);
    expect(last().state).toBe('running');
    sim.setState({ paperOut: true });
    await waitFor(() => last().state === 'degraded' && /hết giấy/.test(last().detail ?? ''), 'paper out reported', 5_000);
    sim.setState({ paperOut: false, coverOpen: true });
    await waitFor(() => /nắp máy in mở/.test(last().detail ?? ''), 'cover open reported', 5_000);
    sim.setState({ coverOpen: false });
    await waitFor(() => last().state === 'running', 'ready again', 5_000);
    await sim.stop();
    await waitFor(() => last().state === 'degraded' && /cannot reach/.test(last().detail ?? ''), 'offline reported', 5_000);
  });

  it('the console test prints a test ticket through the same path; stop leaves the service', async () => {
    const { ctx, sim, driver } = await setup({ statusPollMs: 0 });
    const job = sim.nextJob();
    const r = await driver.selfTest!(new AbortController().signal);
    expect(r.ok).toBe(true);
    expect(r.detail).toMatch(/test ticket printed on tcp 127\.0\.0\.1/);
    expect((await job).cut).toBe(true);
    sim.setState({ paperOut: true });
    const failed = await driver.selfTest!(new AbortController().signal);
    expect(failed).toMatchObject({ ok: false });
    expect(failed.detail).toContain('out of paper');
    expect(driver.status().counters).toMatchObject({ printed: 1, failed: 1 });
    await driver.stop();
    expect(ctx.services.get(PRINTERS_SERVICE)!.ids()).toEqual([]);
  });
});
