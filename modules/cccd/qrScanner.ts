import type { Driver, DriverContext, DriverStatus, DriverState } from '../../core/contract/driver.ts';
import { maskCccd } from '../../core/contract/mask.ts';
import { parseCccdQr } from './qr.ts';
import { identityFromQr } from './identity.ts';
import { CardError, QR_UNREADABLE_MESSAGE } from './errors.ts';
import { CARD_IDENTITY, CARD_STATUS } from './events.ts';

/** The scanner dropped the Vietnamese letters: the number still works, staff check the name. */
const QR_MANGLED_MESSAGE = 'Máy quét chưa đọc đúng chữ có dấu trên mã QR. Bạn vẫn lấy số bình thường; nhân viên quầy sẽ kiểm tra họ tên giúp bạn.';

export interface QrScannerConfig {
  /** Serial device of a scanner in serial / USB-CDC mode, e.g. /dev/ttyACM0. */
  path: string;
  baudRate?: number;
  /** What the scanner appends after each code. */
  suffix?: 'CR' | 'LF' | 'CRLF';
}

/**
 * A 2D barcode scanner in serial (USB-CDC) mode reading the CCCD QR code. Each line is
 * parsed and published as a 'qr' identity (the cccd-reader uses it as the chip key).
 */
export class QrScannerDriver implements Driver {
  private port: import('serialport').SerialPort | null = null;
  private state: DriverStatus = { state: 'starting', since: new Date().toISOString() };
  private readonly counters = { scans: 0, rejected: 0 };
  private reopenTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly ctx: DriverContext,
    private readonly config: QrScannerConfig,
  ) {}

  private set(state: DriverState, detail: string, error?: unknown): void {
    this.state = { state, detail, since: new Date().toISOString() };
    this.ctx.setStatus(state, detail, error);
  }

  /** Handles one scanned text (also used by tests and by a keyboard-wedge kiosk page). */
  onText(text: string): void {
    try {
      const qr = parseCccdQr(text);
      this.counters.scans++;
      this.ctx.bus.publish(CARD_IDENTITY, { identity: identityFromQr(qr) });
      if (qr.mangled)
        this.ctx.bus.publish(CARD_STATUS, { state: 'error', code: 'QR_MANGLED', message: qr.warnings.join(' '), patientMessage: QR_MANGLED_MESSAGE });
      this.ctx.log.info({ id: maskCccd(qr.idNumber), mangled: qr.mangled }, 'QR scanned');
    } catch (err) {
      this.counters.rejected++;
      const message = err instanceof CardError ? `${err.message}. Scan the QR code on the citizen ID card.` : 'QR code not understood';
      const patientMessage = err instanceof CardError && err.patientMessage ? err.patientMessage : QR_UNREADABLE_MESSAGE;
      this.ctx.bus.publish(CARD_STATUS, { state: 'error', code: 'QR_NOT_CCCD', message, patientMessage });
      this.ctx.log.info({ length: text.length }, 'QR code rejected');
    }
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.open();
  }

  private async open(): Promise<void> {
    const { SerialPort } = await import('serialport');
    const { ReadlineParser } = await import('@serialport/parser-readline');
    const delimiter = this.config.suffix === 'LF' ? '\n' : this.config.suffix === 'CRLF' ? '\r\n' : '\r';
    const port = new SerialPort({ path: this.config.path, baudRate: this.config.baudRate ?? 9600, autoOpen: false });
    this.port = port;
    const parser = port.pipe(new ReadlineParser({ delimiter, encoding: 'utf8' }));
    parser.on('data', (line: string) => {
      const text = line.replace(/^[\r\n]+|[\r\n]+$/g, '');
      if (text) this.onText(text);
    });
    port.on('close', () => {
      if (!this.stopped) {
        this.set('degraded', `scanner ${this.config.path} disconnected; retrying`);
        this.scheduleReopen();
      }
    });
    await new Promise<void>((resolve) => {
      port.open((err) => {
        if (err) {
          this.set('degraded', `scanner ${this.config.path} not available: ${err.message}; retrying`);
          this.scheduleReopen();
        } else this.set('running', `scanner on ${this.config.path}`);
        resolve();
      });
    });
  }

  private scheduleReopen(): void {
    if (this.stopped || this.reopenTimer) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      void this.open();
    }, 2000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    this.set('stopped', 'stopped');
  }

  status(): DriverStatus {
    return { ...this.state, counters: { ...this.counters } };
  }
}
