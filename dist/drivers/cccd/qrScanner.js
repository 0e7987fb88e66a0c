import { maskCccd } from "../../agent/mask.js";
import { parseCccdQr } from "./qr.js";
import { identityFromQr } from "./identity.js";
import { CardError } from "./errors.js";
/**
 * A 2D barcode scanner in serial (USB-CDC) mode reading the CCCD QR code. Each line is
 * parsed and published as a 'qr' identity (the cccd-reader uses it as the chip key).
 */
export class QrScannerDriver {
    ctx;
    config;
    port = null;
    state = { state: 'starting', since: new Date().toISOString() };
    counters = { scans: 0, rejected: 0 };
    reopenTimer = null;
    stopped = false;
    constructor(ctx, config) {
        this.ctx = ctx;
        this.config = config;
    }
    set(state, detail, error) {
        this.state = { state, detail, since: new Date().toISOString() };
        this.ctx.setStatus(state, detail, error);
    }
    /** Handles one scanned text (also used by tests and by a keyboard-wedge kiosk page). */
    onText(text) {
        try {
            const qr = parseCccdQr(text);
            this.counters.scans++;
            this.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/identity', body: { identity: identityFromQr(qr) } });
            if (qr.mangled)
                this.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/status', body: { state: 'error', code: 'QR_MANGLED', message: qr.warnings.join(' ') } });
            this.ctx.log.info({ id: maskCccd(qr.idNumber), mangled: qr.mangled }, 'QR scanned');
        }
        catch (err) {
            this.counters.rejected++;
            const message = err instanceof CardError ? `${err.message}. Scan the QR code on the citizen ID card.` : 'QR code not understood';
            this.ctx.bus.emit('domain.event', { visibility: 'local', topic: 'card/status', body: { state: 'error', code: 'QR_NOT_CCCD', message } });
            this.ctx.log.info({ length: text.length }, 'QR code rejected');
        }
    }
    async start() {
        this.stopped = false;
        await this.open();
    }
    async open() {
        const { SerialPort } = await import('serialport');
        const { ReadlineParser } = await import('@serialport/parser-readline');
        const delimiter = this.config.suffix === 'LF' ? '\n' : this.config.suffix === 'CRLF' ? '\r\n' : '\r';
        const port = new SerialPort({ path: this.config.path, baudRate: this.config.baudRate ?? 9600, autoOpen: false });
        this.port = port;
        const parser = port.pipe(new ReadlineParser({ delimiter, encoding: 'utf8' }));
        parser.on('data', (line) => {
            const text = line.replace(/^[\r\n]+|[\r\n]+$/g, '');
            if (text)
                this.onText(text);
        });
        port.on('close', () => {
            if (!this.stopped) {
                this.set('degraded', `scanner ${this.config.path} disconnected; retrying`);
                this.scheduleReopen();
            }
        });
        await new Promise((resolve) => {
            port.open((err) => {
                if (err) {
                    this.set('degraded', `scanner ${this.config.path} not available: ${err.message}; retrying`);
                    this.scheduleReopen();
                }
                else
                    this.set('running', `scanner on ${this.config.path}`);
                resolve();
            });
        });
    }
    scheduleReopen() {
        if (this.stopped || this.reopenTimer)
            return;
        this.reopenTimer = setTimeout(() => {
            this.reopenTimer = null;
            void this.open();
        }, 2000);
    }
    async stop() {
        this.stopped = true;
        if (this.reopenTimer)
            clearTimeout(this.reopenTimer);
        const port = this.port;
        this.port = null;
        if (port?.isOpen)
            await new Promise((resolve) => port.close(() => resolve()));
        this.set('stopped', 'stopped');
    }
    status() {
        return { ...this.state, counters: { ...this.counters } };
    }
}
