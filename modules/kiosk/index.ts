import type { EdgeModule } from '../../core/contract/module.ts';
import { HIS_CHECKIN_SERVICE, HIS_LOOKUP_SERVICE } from '../his/index.ts';
import { QUEUE_SERVICE, TICKET_PRINTING_SERVICE } from '../queue/index.ts';
import { registerKioskRoutes } from './kioskRoutes.ts';
import { kioskSettings } from './settings.ts';

export { kioskSettings };

/** The patient kiosk's API: identify (QR, typed number, chip), look-ups, check-in, feedback. */
export const kioskModule: EdgeModule = {
  name: 'kiosk',
  start(ctx) {
    return {
      async routes(app, api) {
        const services = api.services;
        const queue = services.get(QUEUE_SERVICE);
        const lookup = services.get(HIS_LOOKUP_SERVICE);
        const registrar = services.get(HIS_CHECKIN_SERVICE);
        const printing = services.get(TICKET_PRINTING_SERVICE);
        await registerKioskRoutes(app, {
          bus: ctx.bus,
          timezone: ctx.config.box.timezone,
          requireKiosk: api.requireKiosk,
          settings: kioskSettings(ctx.config.kiosk),
          ...(queue ? { queue } : {}),
          ...(lookup ? { lookup } : {}),
          ...(registrar ? { registrar } : {}),
          feedback: ctx.journalFor('kiosk', ctx.config.kiosk?.feedbackRoutes ?? []),
          ...(printing ? { printing } : {}),
        });
      },
    };
  },
};

// For the other modules (they import this index only).
export { originGuard } from './originCheck.ts';
