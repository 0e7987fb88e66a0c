import { pathHold, type Driver, type DriverContext, type DriverFactory, type DriverStatus, type SelfTestResult } from '../../core/contract/driver.ts';
import { EscposPrinter, type EscposPrinterConfig } from './escposPrinter.ts';
import { PRINTERS_SERVICE, PrinterPool } from './printerPool.ts';
import type { EdgeModule } from '../../core/contract/module.ts';

export { EscposPrinter, encodeTicket, type EscposPrinterConfig, type PrintResult } from './escposPrinter.ts';
export { PrinterPool, PRINTERS_SERVICE, type PrintTarget } from './printerPool.ts';
export { renderTicket, ticketLines, type TicketPrint, type TicketWidth } from './ticketLayout.ts';

/** The shared printers service: created by the first printer driver, found by the others. */
export function printersService(ctx: DriverContext): PrinterPool {
  let pool = ctx.services.get(PRINTERS_SERVICE);
  if (!pool) {
    pool = new PrinterPool();
    ctx.services.provide(PRINTERS_SERVICE, pool);
  }
  return pool;
}

class EscposPrinterDriver implements Driver {
  private readonly printer: EscposPrinter;
  private current: DriverStatus = { state: 'stopped', since: new Date().toISOString() };
  private poll: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: DriverContext,
    private readonly config: EscposPrinterConfig,
  ) {
    this.printer = new EscposPrinter(ctx.id, config, undefined, () => this.report());
  }

  async start(): Promise<void> {
    printersService(this.ctx).add(this.printer);
    this.set('running', `ready (${this.describe()})`);
    const every = this.config.statusPollMs ?? 30_000;
    if (every > 0 && this.config.transport !== 'device') {
      this.poll = setInterval(() => {
        this.printer.queryStatus().then(
          () => this.report(),
          (err: unknown) => this.set('degraded', `cannot reach the printer (${this.describe()})`, err),
        );
      }, every);
      this.poll.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    printersService(this.ctx).remove(this.ctx.id);
    this.set('stopped');
  }

  /** Prints a test ticket (marked as such) through the same path as a patient's. */
  async selfTest(): Promise<SelfTestResult> {
    const now = new Date();
    const r = await this.printer.print({
      facility: 'KIỂM TRA MÁY IN',
      service: 'Phiếu thử — không dùng',
      number: 'TEST',
      priority: null,
      issuedAtLocal: now.toLocaleString('vi-VN', { timeZone: this.ctx.timezone }),
      ahead: 0,
      ticketId: `test-${now.getTime()}`,
    });
    return r.ok
      ? { ok: true, detail: `test ticket printed on ${this.describe()}${r.timings ? ` in ${Math.round(r.timings.lastByteMs)} ms` : ''}` }
      : { ok: false, detail: `test ticket not printed on ${this.describe()}: ${r.error ?? 'unknown error'}` };
  }

  status(): DriverStatus {
    return { ...this.current, counters: { printed: this.printer.info().printed, failed: this.printer.info().failed, pending: this.printer.info().pending } };
  }

  private describe(): string {
    const c = this.config;
    return c.transport === 'tcp' ? `tcp ${c.host}:${c.port ?? 9100}` : `${c.transport} ${c.path}`;
  }

  /** Device status in the console: paper out and cover open are what staff can fix. */
  private report(): void {
    const info = this.printer.info();
    const s = info.status;
    if (s?.paperOut) this.set('degraded', 'hết giấy / out of paper', info.lastError ?? undefined);
    else if (s?.coverOpen) this.set('degraded', 'nắp máy in mở / cover open', info.lastError ?? undefined);
    else if (info.lastError) this.set('degraded', `last print failed (${this.describe()})`, info.lastError);
    else this.set('running', `ready (${this.describe()}), ${info.printed} printed`);
  }

  private set(state: DriverStatus['state'], detail?: string, error?: unknown): void {
    this.current = {
      state,
      since: new Date().toISOString(),
      ...(detail ? { detail } : {}),
      ...(error ? { lastError: error instanceof Error ? error.message : String(error) } : {}),
    };
    this.ctx.setStatus(state, detail, error);
  }
}

/** ESC/POS receipt printer for queue tickets (raster printing: Vietnamese in any printer). */
export const printerDriverFactory: DriverFactory<EscposPrinterConfig> = {
  type: 'escpos-printer',
  create: (ctx, config) => new EscposPrinterDriver(ctx, config),
  holds: (d) => (d.transport === 'device' || d.transport === 'serial' ? pathHold(d.path) : []),
};

/** ESC/POS ticket printers; the first printer driver provides PRINTERS_SERVICE for the queue. */
export const printerModule: EdgeModule = {
  name: 'printer',
  drivers: [printerDriverFactory],
  provides: [PRINTERS_SERVICE],
  schema: { devices: [{ type: 'escpos-printer', file: new URL('./schema.json', import.meta.url), wrap: true }] },
};
