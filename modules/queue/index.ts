import { serviceKey } from '../../core/contract/driver.ts';
import type { EdgeModule } from '../../core/contract/module.ts';
import { kioskSettings } from '../kiosk/index.ts';
import { PRINTERS_SERVICE } from '../printer/index.ts';
import { QUEUE_EVENT, QUEUE_SNAPSHOT, TICKET_PRINT } from './events.ts';
import { queueNumberingWarnings } from './numbering.ts';
import { queueRoutes } from './routes.ts';
import { migrateQueue } from './schema.ts';
import { TicketPrinting } from './ticketPrinting.ts';
import { TicketQueue } from './ticketQueue.ts';
import type { QueueConfig } from './types.ts';
import type { KioskCredential } from '../../core/contract/http.ts';

export { TicketQueue, TicketPrinting };
export { QUEUE_EVENT, QUEUE_SNAPSHOT, TICKET_PRINT } from './events.ts';
/** Today's tickets, counters and calls (absent without a `queue:` block). */
export const QUEUE_SERVICE = serviceKey<TicketQueue>('queue.tickets');
/** One print log for the kiosk, the counter page and the console (failed prints are reprinted). */
export const TICKET_PRINTING_SERVICE = serviceKey<TicketPrinting>('queue.printing');

/** The queue: tickets durable before the answer, counters, the call screens' feed and voice. */
export const queueModule: EdgeModule = {
  name: 'queue',
  provides: [QUEUE_SERVICE, TICKET_PRINTING_SERVICE],
  events: [QUEUE_EVENT, QUEUE_SNAPSHOT, TICKET_PRINT],
  configWarnings: queueNumberingWarnings,
  // The queue's block and the kiosk's (the kiosk serves the queue's tickets).
  schema: { defs: [{ file: new URL('./schema.json', import.meta.url), properties: { queue: { $ref: '#/$defs/queue' }, kiosk: { $ref: '#/$defs/kiosk' } } }] },
  // Step 1 is the tables as the box has had them (created in place if absent).
  migrations: [{ version: 1, description: 'tickets, counters, events, prints', up: migrateQueue }],
  async start(ctx) {
    const c = ctx.config;
    if (!c.queue) return undefined;
    // Tickets are durable before the API answers; a power cut keeps today's numbers.
    const queue = new TicketQueue({
      db: ctx.db,
      config: { ...c.queue, facility: c.queue.facility ?? c.box.name ?? c.box.facility },
      bus: ctx.bus,
      journal: ctx.journalFor('queue', c.queue.routes),
      clock: ctx.clock,
      timezone: c.box.timezone,
      log: ctx.log.child({ module: 'queue' }),
    });
    await queue.start();
    ctx.services.provide(QUEUE_SERVICE, queue);
    // Printer drivers start after the modules: looked up when a ticket prints.
    const printers = () => ctx.services.get(PRINTERS_SERVICE);
    const printing = new TicketPrinting(queue, printers);
    ctx.services.provide(TICKET_PRINTING_SERVICE, printing);
    // The call screen's voice: generated once with espeak-ng (or recorded clips), in the background.
    void import('../../kiosk/audio/generate.ts')
      .then(({ generateClips }) => generateClips())
      .catch((err: Error) => ctx.log.warn({ reason: err.message }, 'call-screen voice clips not generated; calls are shown without sound'));
    return {
      async routes(app, api) {
        await app.register(queueRoutes, {
          queue,
          printers,
          printing,
          requireAdmin: api.requireAdmin,
          requireStaff: api.requireStaff,
          requireKiosk: api.requireKiosk,
          allowedOrigins: kioskSettings(c.kiosk).allowedOrigins,
        });
      },
    };
  },
};

// For the other modules (they import this index only).
export { PRIORITY_CLASSES } from './types.ts';
export type { PriorityClass } from './types.ts';

declare module '../../core/config/types.ts' {
  interface ModuleConfigBlocks {
    /** Queue tickets (schema $defs.queue). */
    queue?: Omit<QueueConfig, 'facility'> & { facility?: string; routes: string[] };
    /** The kiosk units and where feedback goes (schema $defs.kiosk). */
    kiosk?: { feedbackRoutes: string[]; units?: KioskCredential[]; allowLoopback?: boolean };
  }
}
