import type { PrintResult } from '../../drivers/printer/escposPrinter.ts';
import type { PrintTarget } from '../../drivers/printer/printerPool.ts';
import type { TicketPrint } from '../../drivers/printer/ticketLayout.ts';
import { ticketPrintFor } from './ticketPrint.ts';
import type { TicketQueue } from './ticketQueue.ts';

/** Anything that prints a ticket (the printers service from drivers/printer). */
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
  ) {}

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
    const result = await p
      .print(ticketPrintFor(this.queue, ticket, this.queue.peopleAhead(ticket), this.options.qr !== false), { ...target, service: ticket.service })
      .catch((err: unknown): PrintResult => ({ ok: false, printer: target.printer ?? '', ticketId, attempts: 0, error: err instanceof Error ? err.message : String(err) }));
    const info = this.queue.db
      .prepare('INSERT INTO queue_prints (at, ticket_id, printer, ok, error, reprint) VALUES (?, ?, ?, ?, ?, ?)')
      .run(Date.now(), ticketId, result.printer, result.ok ? 1 : 0, result.error ?? null, reprint ? 1 : 0);
    const record = this.recent({ id: Number(info.lastInsertRowid) })[0] ?? null;
    for (const l of this.listeners) l(result, record);
    return result;
  }

  /**
   * Print outcomes of today's tickets, newest first. `failed`: only tickets whose LAST print
   * failed and that still wait or are being called (those staff should reprint).
   */
  recent(filter: { failed?: boolean; limit?: number; id?: number } = {}): PrintRecord[] {
    const where = filter.id !== undefined ? 'p.id = @id' : filter.failed
      ? "t.day = @day AND p.ok = 0 AND p.id = (SELECT MAX(id) FROM queue_prints WHERE ticket_id = p.ticket_id) AND t.state IN ('waiting','called','serving','skipped')"
      : 't.day = @day';
    const rows = this.queue.db
      .prepare(
        `SELECT p.id, p.at, p.ticket_id AS ticketId, t.number, t.service, t.state, p.printer, p.ok, p.error, p.reprint
         FROM queue_prints p JOIN queue_tickets t ON t.id = p.ticket_id WHERE ${where} ORDER BY p.id DESC LIMIT @limit`,
      )
      .all({ day: this.queue.today(), limit: filter.limit ?? 50, ...(filter.id !== undefined ? { id: filter.id } : {}) }) as Array<Omit<PrintRecord, 'ok' | 'reprint'> & { ok: number; reprint: number }>;
    return rows.map((r) => ({ ...r, ok: r.ok === 1, reprint: r.reprint === 1 }));
  }
}
