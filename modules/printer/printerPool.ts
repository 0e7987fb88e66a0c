import type { EscposPrinter, PrintResult } from './escposPrinter.ts';
import type { TicketPrint } from './ticketLayout.ts';
import { serviceKey } from '../../core/contract/driver.ts';

/** Where a ticket should print: a printer by id, or the printer of a counter or a service. */
export interface PrintTarget {
  printer?: string;
  counter?: string;
  service?: string;
}

/** Service name under which the pool is registered in ctx.services. */
export const PRINTERS_SERVICE = serviceKey<PrinterPool>('printers');

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

  /**
   * The printer for a job: the one named; else the one at the counter (its `counters`); else
   * one that prints the ticket's service (its `services`); else one with no such list; else the first.
   */
  pick(target: PrintTarget = {}): EscposPrinter | undefined {
    if (target.printer) return this.printers.get(target.printer);
    const all = [...this.printers.values()];
    return (
      (target.counter ? all.find((p) => p.routing.counters.includes(target.counter!)) : undefined) ??
      (target.service ? all.find((p) => p.routing.services.includes(target.service!)) : undefined) ??
      all.find((p) => p.routing.services.length === 0 && p.routing.counters.length === 0) ??
      all[0]
    );
  }

  /** Prints on the printer `target` picks (a string: the printer id). Never throws. */
  async print(ticket: TicketPrint, target?: string | PrintTarget): Promise<PrintResult> {
    const t: PrintTarget = typeof target === 'string' ? { printer: target } : (target ?? {});
    const printer = this.pick(t);
    if (!printer)
      return {
        ok: false,
        printer: t.printer ?? '',
        ticketId: ticket.ticketId,
        attempts: 0,
        error: t.printer ? `no printer ${t.printer}` : 'no printer configured',
      };
    return printer.print(ticket);
  }

  list(): Array<ReturnType<EscposPrinter['info']>> {
    return [...this.printers.values()].map((p) => p.info());
  }
}
