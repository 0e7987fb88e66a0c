import type { QueueSnapshot, TicketQueue } from './ticketQueue.ts';
import type { QueueEvent, Ticket } from './types.ts';

/**
 * What the LAN may see of the queue (call screens, LED boards, the open state and live feed):
 * numbers, services, counters and whether a ticket is called as priority. Not the priority
 * class (pregnant, disability… is health data tied to a number), not who confirmed it, not the
 * staff member behind an action. The counter page gets the full ticket from staff routes.
 */
export interface PublicTicket {
  id: string;
  number: string;
  service: string;
  state: Ticket['state'];
  counter: string | null;
  priority: boolean;
}

export function publicTicket(queue: Pick<TicketQueue, 'isPriority' | 'config'>, t: Ticket): PublicTicket {
  const svc = queue.config.services.find((s) => s.id === t.service);
  return { id: t.id, number: t.number, service: t.service, state: t.state, counter: t.counter, priority: svc ? queue.isPriority(svc, t) : t.priority !== null };
}

export type PublicEvent = Pick<QueueEvent, 'id' | 'at' | 'type' | 'service' | 'counter'> & { ticket: PublicTicket };

export function publicEvent(queue: Pick<TicketQueue, 'isPriority' | 'config'>, e: QueueEvent): PublicEvent {
  return { id: e.id, at: e.at, type: e.type, service: e.service, counter: e.counter, ticket: publicTicket(queue, e.ticket) };
}

export type PublicSnapshot = Omit<QueueSnapshot, 'counters'> & {
  counters: Array<Omit<QueueSnapshot['counters'][number], 'current'> & { current: PublicTicket | null }>;
};

export function publicSnapshot(queue: Pick<TicketQueue, 'isPriority' | 'config'>, s: QueueSnapshot): PublicSnapshot {
  return { ...s, counters: s.counters.map((c) => ({ ...c, current: c.current ? publicTicket(queue, c.current) : null })) };
}
