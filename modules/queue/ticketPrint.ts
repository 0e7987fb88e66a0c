import type { TicketPrint } from '../printer/index.ts';
import { localDay, localTime } from './localDay.ts';
import type { TicketQueue } from './ticketQueue.ts';
import { PRIORITY_LABELS_VI, type Ticket } from './types.ts';

/** What goes on paper for a ticket: no personal data, the number, the priority mark, time, people ahead. */
export function ticketPrintFor(queue: TicketQueue, ticket: Ticket, ahead: number, qr = true): TicketPrint {
  const svc = queue.config.services.find((s) => s.id === ticket.service);
  const day = localDay(ticket.issuedAt, queue.timezone);
  const [y, m, d] = day.split('-');
  return {
    facility: queue.config.facility,
    service: svc?.name ?? ticket.service,
    number: ticket.number,
    priority: svc && ticket.priority && queue.isPriority(svc, ticket) ? PRIORITY_LABELS_VI[ticket.priority] : null,
    issuedAtLocal: `${localTime(ticket.issuedAt, queue.timezone)} ${d}/${m}/${y}`,
    ahead,
    ticketId: ticket.id,
    ...(qr ? { qr: ticket.id } : {}),
  };
}
