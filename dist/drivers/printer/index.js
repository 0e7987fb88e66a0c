import { EscposPrinter } from "./escposPrinter.js";
import { PRINTERS_SERVICE, PrinterPool } from "./printerPool.js";
export { EscposPrinter, encodeTicket } from "./escposPrinter.js";
export { PrinterPool, PRINTERS_SERVICE } from "./printerPool.js";
export { renderTicket, ticketLines } from "./ticketLayout.js";
/** The shared printers service: created by the first printer driver, found by the others. */
export function printersService(ctx) {
    let pool = ctx.services.get(PRINTERS_SERVICE);
    if (!pool) {
        pool = new PrinterPool();
        ctx.services.provide(PRINTERS_SERVICE, pool);
    }
    return pool;
}
class EscposPrinterDriver {
    ctx;
    config;
    printer;
    current = { state: 'stopped', since: new Date().toISOString() };
    poll = null;
    constructor(ctx, config) {
        this.ctx = ctx;
        this.config = config;
        this.printer = new EscposPrinter(ctx.id, config, undefined, () => this.report());
    }
    async start() {
        printersService(this.ctx).add(this.printer);
        this.set('running', `ready (${this.describe()})`);
        const every = this.config.statusPollMs ?? 30_000;
        if (every > 0 && this.config.transport !== 'device') {
            this.poll = setInterval(() => {
                this.printer.queryStatus().then(() => this.report(), (err) => this.set('degraded', `cannot reach the printer (${this.describe()})`, err));
            }, every);
            this.poll.unref();
        }
    }
    async stop() {
        if (this.poll)
            clearInterval(this.poll);
        this.poll = null;
        printersService(this.ctx).remove(this.ctx.id);
        this.set('stopped');
    }
    /** Prints a test ticket (marked as such) through the same path as a patient's. */
    async selfTest() {
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
    status() {
        return { ...this.current, counters: { printed: this.printer.info().printed, failed: this.printer.info().failed, pending: this.printer.info().pending } };
    }
    describe() {
        const c = this.config;
        return c.transport === 'tcp' ? `tcp ${c.host}:${c.port ?? 9100}` : `${c.transport} ${c.path}`;
    }
    /** Device status in the console: paper out and cover open are what staff can fix. */
    report() {
        const info = this.printer.info();
        const s = info.status;
        if (s?.paperOut)
            this.set('degraded', 'hết giấy / out of paper', info.lastError ?? undefined);
        else if (s?.coverOpen)
            this.set('degraded', 'nắp máy in mở / cover open', info.lastError ?? undefined);
        else if (info.lastError)
            this.set('degraded', `last print failed (${this.describe()})`, info.lastError);
        else
            this.set('running', `ready (${this.describe()}), ${info.printed} printed`);
    }
    set(state, detail, error) {
        this.current = { state, since: new Date().toISOString(), ...(detail ? { detail } : {}), ...(error ? { lastError: error instanceof Error ? error.message : String(error) } : {}) };
        this.ctx.setStatus(state, detail, error);
    }
}
/** ESC/POS receipt printer for queue tickets (raster printing: Vietnamese in any printer). */
export const printerDriverFactory = {
    type: 'escpos-printer',
    create: (ctx, config) => new EscposPrinterDriver(ctx, config),
};
