import type { EscposPrinter, PrintResult } from './escposPrinter.ts';
import type { TicketPrint } from './ticketLayout.ts';

/** Service name under which the pool is registered in ctx.services. */
export const PRINTERS_SERVICE = 'printers';

/** The printers service other modules call (the queue's API prints and reprints through it). */
export class PrinterPool {
  private readonly printers = new Map<string, EscposPrinter>();

  add(printer: EscposPrinter): void {
    this.printers.set(printer.id, printer);
  }

  remove(id: string): void {
    this.printers.delete(id);
  }

  ids(): string[] {
    return [...this.printers.keys()];
  }

  get(id: string): EscposPrinter | undefined {
    return this.printers.get(id);
  }

  /** Prints on `printerId`, or on the first configured printer. Never throws. */
  async print(ticket: TicketPrint, printerId?: string): Promise<PrintResult> {
    const printer = printerId ? this.printers.get(printerId) : this.printers.values().next().value;
    if (!printer) return { ok: false, printer: printerId ?? '', ticketId: ticket.ticketId, attempts: 0, error: printerId ? `no printer ${printerId}` : 'no printer configured' };
    return printer.print(ticket);
  }

  list(): Array<ReturnType<EscposPrinter['info']>> {
    return [...this.printers.values()].map((p) => p.info());
  }
}
