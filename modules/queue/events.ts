import { domainEvent } from '../../core/contract/events.ts';

// The queue's events for the call screens on the LAN: numbers only (publicView.ts), no names.
/** One change (issued, called, served…) of a service's queue. */
export const QUEUE_EVENT = domainEvent<unknown>('queue/+/evt', 'lan');
/** A service's whole state now (retained: a screen that connects sees it at once). */
export const QUEUE_SNAPSHOT = domainEvent<unknown>('queue/+/snapshot', 'lan');
/** A ticket's print outcome for the kiosk that issued it (stays in the process). */
export const TICKET_PRINT = domainEvent<{ ticketId: string; number: string } & Record<string, unknown>>('ticket/print', 'local');
