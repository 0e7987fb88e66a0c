import type { PrintResult } from '../printer/index.ts';
import type { PrintTarget } from '../printer/index.ts';
import type { TicketPrint } from '../printer/index.ts';
import { ticketPrintFor } from './ticketPrint.ts';
import type { TicketQueue } from './ticketQueue.ts';

/** Anything that prints a ticket (the printers service from modules/printer). */
export interface TicketPrinter {
  print(ticket: TicketPrint, target?: string | PrintTarget): Promise<PrintResult>;
}

export interface PrintRecord {
  id: number;
  at: number;
  ticketId: string;
  number: string;
  service: string;
  state: string;
  printer: string;
  ok: boolean;
  /** Still being printed. */
  printing: boolean;
  error: string | null;
  reprint: boolean;
}

/**
 * Prints queue tickets through the printers service and records every outcome in SQLite, so a
 * ticket whose print failed is listed for a reprint (the ticket itself is already durable).
 * One instance serves the kiosk, the counter page and the console.
 */
export class TicketPrinting {
  private readonly listeners = new Set<(result: PrintResult, record: PrintRecord | null) => void>();

  constructor(
    private readonly queue: TicketQueue,
    private readonly printers: () => TicketPrinter | undefined,
    private readonly options: { qr?: boolean } = {},
  ) {
    // Prints a crash or power cut interrupted: the tickets are safe but maybe not on paper.
    queue.db.prepare("UPDATE queue_prints SET ok = 0, error = 'interrupted: the agent stopped while printing' WHERE ok IS NULL").run();
  }

  get available(): boolean {
    return this.printers() !== undefined;
  }

  onPrint(listener: (result: PrintResult, record: PrintRecord | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Prints a ticket on the printer of `target` (a printer id, or the counter asking), else the
   * printer of the ticket's service. Null when no printer is configured. Never throws.
   */
  async print(ticketId: string, target: { printer?: string; counter?: string } = {}, reprint = false): Promise<PrintResult | null> {
    const p = this.printers();
    if (!p) return null;
    const ticket = this.queue.get(ticketId);
    // A pending row exists before the print starts (issue({ print: true }) writes it in the
    // ticket's own transaction; otherwise it is written here, synchronously, before the caller
    // answers), so a crash before the paper leaves the ticket listed for a reprint.
    const pending = reprint
      ? undefined
      : (this.queue.db.prepare("SELECT id FROM queue_prints WHERE ticket_id = ? AND ok IS NULL AND reprint = 0 AND printer = ''").get(ticketId) as
          | { id: number }
          | undefined);
    const rowId =
      pending?.id ??
      this.queue.db
        .prepare('INSERT INTO queue_prints (at, ticket_id, printer, ok, error, reprint) VALUES (?, ?, ?, NULL, NULL, ?)')
        .run(Date.now(), ticketId, target.printer ?? '', reprint ? 1 : 0).lastInsertRowid;
    const result = await p
      .print(ticketPrintFor(this.queue, ticket, this.queue.peopleAhead(ticket), this.options.qr !== false), { ...target, service: ticket.service })
      .catch(
        (err: unknown): PrintResult => ({
          ok: false,
          printer: target.printer ?? '',
          ticketId,
          attempts: 0,
          error: err instanceof Error ? err.message : String(err),
        }),
      );
    this.queue.db
      .prepare('UPDATE queue_prints SET printer = ?, ok = ?, error = ? WHERE id = ?')
      .run(result.printer, result.ok ? 1 : 0, result.error ?? null, rowId);
    const record = this.recent({ id: Number(rowId) })[0] ?? null;
    for (const l of this.listeners) l(result, record);
    return result;
  }

  /**
   * Print outcomes of today's tickets, newest first (ok false with no error: still printing).
   * `failed`: only tickets whose LAST print failed (or was cut short by a crash) and that still
   * wait or are being called (those staff should reprint).
   */
  recent(filter: { failed?: boolean; limit?: number; id?: number } = {}): PrintRecord[] {
    const where =
      filter.id !== undefined
        ? 'p.id = @id'
        : filter.failed
          ? "t.day = @day AND p.ok = 0 AND p.id = (SELECT MAX(id) FROM queue_prints WHERE ticket_id = p.ticket_id) AND t.state IN ('waiting','called','serving','skipped')"
          : 't.day = @day';
    const rows = this.queue.db
      .prepare(
        `SELECT p.id, p.at, p.ticket_id AS ticketId, t.number, t.service, t.state, p.printer, p.ok, p.error, p.reprint
         FROM queue_prints p JOIN queue_tickets t ON t.id = p.ticket_id WHERE ${where} ORDER BY p.id DESC LIMIT @limit`,
      )
      .all({ day: this.queue.today(), limit: filter.limit ?? 50, ...(filter.id !== undefined ? { id: filter.id } : {}) }) as Array<
      Omit<PrintRecord, 'ok' | 'printing' | 'reprint'> & { ok: number | null; reprint: number }
    >;
    return rows.map((r) => ({ ...r, ok: r.ok === 1, printing: r.ok === null, reprint: r.reprint === 1 }));
  }
}
