import { INIT, align, cut, feedLines, parseStatus, qrCode, rasterBands, statusQuery, type PrinterStatusBits } from './escpos.ts';
import { rasterToPng } from './raster.ts';
import { renderTicket, type TicketPrint, type TicketWidth } from './ticketLayout.ts';
import { DeviceFileTransport, SerialTransport, TcpTransport, type PrinterTransport } from './transports.ts';

export interface EscposPrinterConfig {
  transport: 'tcp' | 'device' | 'serial';
  host?: string;
  port?: number;
  path?: string;
  baudRate?: number;
  width?: TicketWidth;
  bandRows?: number;
  bandDelayMs?: number;
  qr?: boolean;
  qrModuleSize?: number;
  cutFeedDots?: number;
  statusQuery?: boolean;
  statusTimeoutMs?: number;
  statusPollMs?: number;
  retries?: number;
  retryDelayMs?: number;
  fontDir?: string;
  /** Service ids whose tickets this printer prints (kiosk printers); none: any service. */
  services?: string[];
  /** Counter ids whose reprints this printer takes (a printer at the counter). */
  counters?: string[];
}

export interface PrintResult {
  ok: boolean;
  printer: string;
  ticketId: string;
  attempts: number;
  error?: string;
  status?: PrinterStatusBits | null;
  /** ms from the job's start: raster ready, first raster band written, last byte written */
  timings?: { renderedMs: number; firstBandMs: number; lastByteMs: number };
}

export class PrinterNotReadyError extends Error {
  constructor(
    message: string,
    readonly status: PrinterStatusBits,
  ) {
    super(message);
    this.name = 'PrinterNotReadyError';
  }
}

export function makeTransport(c: EscposPrinterConfig): PrinterTransport {
  if (c.transport === 'tcp') {
    if (!c.host) throw new Error('printer transport tcp needs host');
    return new TcpTransport(c.host, c.port ?? 9100);
  }
  if (!c.path) throw new Error(`printer transport ${c.transport} needs path`);
  return c.transport === 'device' ? new DeviceFileTransport(c.path) : new SerialTransport(c.path, c.baudRate ?? 9600);
}

/** The ESC/POS byte stream for one ticket (also used by the benchmark and the tests). */
export function encodeTicket(raster: ReturnType<typeof renderTicket>, t: TicketPrint, c: EscposPrinterConfig): { head: Buffer; bands: Buffer[]; tail: Buffer } {
  const tail: Buffer[] = [];
  if (c.qr !== false && t.qr) tail.push(align(1), qrCode(t.qr, c.qrModuleSize ?? 6), feedLines(1), align(0));
  tail.push(cut(c.cutFeedDots ?? 48));
  return { head: Buffer.concat([INIT, align(0)]), bands: rasterBands(raster, c.bandRows ?? 96), tail: Buffer.concat(tail) };
}

/**
 * One ESC/POS printer: renders tickets to a raster, sends them in paced bands, asks the printer
 * its status before each job (DLE EOT), and keeps one job at a time (a print queue per printer).
 */
export class EscposPrinter {
  private chain: Promise<unknown> = Promise.resolve();
  private lastStatus: PrinterStatusBits | null = null;
  private lastError: string | null = null;
  private printed = 0;
  private failed = 0;
  private pending = 0;
  /** The last ticket sent, kept as its raster so the console can preview it (PNG made on demand). */
  private last: { ticketId: string; at: number; raster: ReturnType<typeof renderTicket> } | null = null;

  constructor(
    readonly id: string,
    private readonly config: EscposPrinterConfig,
    private readonly transportFactory: () => PrinterTransport = () => makeTransport(config),
    private readonly onChange: () => void = () => undefined,
  ) {}

  get width(): TicketWidth {
    return this.config.width ?? 576;
  }

  /** Which tickets this printer takes: service ids and counter ids (empty: any). */
  get routing(): { services: string[]; counters: string[] } {
    return { services: this.config.services ?? [], counters: this.config.counters ?? [] };
  }

  info(): {
    id: string;
    printed: number;
    failed: number;
    pending: number;
    status: PrinterStatusBits | null;
    lastError: string | null;
    lastTicket: { ticketId: string; at: string } | null;
  } {
    return {
      id: this.id,
      printed: this.printed,
      failed: this.failed,
      pending: this.pending,
      status: this.lastStatus,
      lastError: this.lastError,
      lastTicket: this.last ? { ticketId: this.last.ticketId, at: new Date(this.last.at).toISOString() } : null,
    };
  }

  /** PNG of the last ticket sent to this printer (what the raster looked like), or null. */
  lastTicketPng(): Buffer | null {
    return this.last ? rasterToPng(this.last.raster) : null;
  }

  /** Queues a ticket; resolves with the outcome (never rejects: the ticket itself is already safe in the queue). */
  print(t: TicketPrint): Promise<PrintResult> {
    this.pending++;
    const run = this.chain.then(() => this.runJob(t));
    this.chain = run.catch(() => undefined);
    return run.finally(() => {
      this.pending--;
      this.onChange();
    });
  }

  /** Asks the printer's status now (the console's test button, the periodic poll). */
  async queryStatus(): Promise<PrinterStatusBits | null> {
    const job = this.chain.then(async () => {
      const tr = this.transportFactory();
      await tr.open();
      try {
        return await this.readStatus(tr);
      } finally {
        await tr.close();
      }
    });
    this.chain = job.catch(() => undefined);
    return job;
  }

  private async readStatus(tr: PrinterTransport): Promise<PrinterStatusBits | null> {
    if (this.config.statusQuery === false || this.config.transport === 'device') return null;
    const timeout = this.config.statusTimeoutMs ?? 500;
    await tr.write(statusQuery(2));
    const offline = await tr.read(1, timeout);
    if (!offline) return null; // no back channel: "sent" is all we can know
    await tr.write(statusQuery(4));
    const paper = await tr.read(1, timeout);
    this.lastStatus = parseStatus(offline[0]!, paper ? paper[0]! : null);
    return this.lastStatus;
  }

  private async runJob(t: TicketPrint): Promise<PrintResult> {
    const retries = this.config.retries ?? 2;
    let attempt = 0;
    let error = '';
    for (;;) {
      attempt++;
      try {
        const timings = await this.attempt(t);
        this.printed++;
        this.lastError = null;
        return { ok: true, printer: this.id, ticketId: t.ticketId, attempts: attempt, status: this.lastStatus, timings };
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
        this.lastError = error;
        // Paper out / cover open needs a person: retrying now would only print half a ticket.
        if (err instanceof PrinterNotReadyError || attempt > retries) break;
        await new Promise((r) => setTimeout(r, this.config.retryDelayMs ?? 500));
      }
    }
    this.failed++;
    return { ok: false, printer: this.id, ticketId: t.ticketId, attempts: attempt, error, status: this.lastStatus };
  }

  private async attempt(t: TicketPrint): Promise<PrintResult['timings']> {
    const started = performance.now();
    const raster = renderTicket(t, this.width, this.config.fontDir);
    const bytes = encodeTicket(raster, t, this.config);
    const renderedMs = performance.now() - started;
    const tr = this.transportFactory();
    await tr.open();
    try {
      const status = await this.readStatus(tr);
      if (status?.paperOut) throw new PrinterNotReadyError('printer is out of paper', status);
      if (status?.coverOpen) throw new PrinterNotReadyError('printer cover is open', status);
      await tr.write(bytes.head);
      let firstBandMs = 0;
      const delay = this.config.bandDelayMs ?? 0;
      for (let i = 0; i < bytes.bands.length; i++) {
        await tr.write(bytes.bands[i]!);
        if (i === 0) firstBandMs = performance.now() - started;
        // Some printers over TCP drop the end of a large image: give their buffer time to print.
        if (delay > 0 && i < bytes.bands.length - 1) await new Promise((r) => setTimeout(r, delay));
      }
      await tr.write(bytes.tail);
      this.last = { ticketId: t.ticketId, at: Date.now(), raster };
      return { renderedMs, firstBandMs, lastByteMs: performance.now() - started };
    } finally {
      await tr.close();
    }
  }
}
