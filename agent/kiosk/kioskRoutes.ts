import type { FastifyInstance } from 'fastify';
import type { EventBus } from '../bus.ts';
import type { Journal } from '../../drivers/contract.ts';
import { parseCccdQr } from '../../drivers/cccd/qr.ts';
import { identityFromQr, identityFromTypedId, type CccdIdentity } from '../../drivers/cccd/identity.ts';
import { isoWithOffset } from '../clock.ts';
import type { CheckInRegistrar } from '../his/checkInRegistrar.ts';
import type { HisLookup } from '../his/contract.ts';
import { HIS_UNREACHABLE_MESSAGE, HIS_UNREACHABLE_NEXT_STEP } from '../his/contract.ts';
import type { TicketQueue } from '../queue/ticketQueue.ts';
import type { TicketPrinting } from '../queue/ticketPrinting.ts';
import { errorResponses } from '../http/schemas.ts';

/** What the kiosk's routes need; each part is optional so a station can run without a HIS. */
export interface KioskDeps {
  bus: EventBus;
  timezone: string;
  queue?: TicketQueue;
  lookup?: HisLookup;
  registrar?: CheckInRegistrar;
  /** Journal for the patients' feedback ("Góp ý"), routed as configured. */
  feedback: Journal;
  /** The queue's print log and printers (shared with the counter page), when a queue is configured. */
  printing?: Pick<TicketPrinting, 'available' | 'print'>;
}

const identitySchema = {
  type: 'object',
  required: ['idNumber'],
  properties: {
    idNumber: { type: 'string', pattern: '^\\d{12}$' },
    fullName: { type: 'string' },
    dateOfBirth: { type: 'string' },
    sex: { type: 'string' },
    permanentAddress: { type: 'string' },
  },
} as const;

/**
 * The kiosk page's API. Identities pass through memory only: the page holds them until its
 * idle reset, the HIS gets them through the outbox, nothing personal is logged.
 */
export function registerKioskRoutes(app: FastifyInstance, deps: KioskDeps): void {
  // Live card events for the page (status sentences and identities from the chip reader).
  app.get('/api/kiosk/live', { websocket: true, schema: { tags: ['kiosk'], summary: 'WebSocket: card/status and card/identity events for the kiosk page' } }, (socket) => {
    const owner = `kiosk-ws-${Math.random().toString(36).slice(2)}`;
    deps.bus.on(owner, 'domain.event', (e) => {
      if (e.topic === 'card/status' || e.topic === 'card/identity' || e.topic === 'ticket/print') socket.send(JSON.stringify({ type: e.topic, body: e.body }));
    });
    socket.on('close', () => deps.bus.removeListeners(owner));
  });

  // A QR scan (keyboard-wedge scanner on the page) or a typed 12-digit number. The identity is
  // answered at once; the reader also gets the key so it can open the chip when the card is put down.
  app.post(
    '/api/kiosk/identify',
    {
      schema: {
        tags: ['kiosk'],
        summary: 'Identity from a QR text or a typed CCCD number',
        body: { type: 'object', properties: { qr: { type: 'string', maxLength: 2000 }, digits: { type: 'string', maxLength: 20 } } },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      const body = req.body as { qr?: string; digits?: string };
      try {
        let identity: CccdIdentity;
        if (body.qr) identity = identityFromQr(parseCccdQr(body.qr));
        else if (body.digits) identity = identityFromTypedId(body.digits.replace(/\D/g, ''));
        else return reply.code(400).send({ error: 'send qr or digits' });
        deps.bus.emit('domain.event', { visibility: 'local', topic: 'card/key', body: body.qr ? { qr: body.qr } : { digits: identity.idNumber } });
        return { identity };
      } catch (err) {
        return reply.code(400).send({ error: (err as Error).message });
      }
    },
  );

  app.post('/api/kiosk/lookup', { schema: { tags: ['kiosk'], summary: 'Booked appointments and insurance (BHYT) status for an identity', body: { type: 'object', required: ['identity'], properties: { identity: identitySchema } } } }, async (req) => {
    const identity = (req.body as { identity: CccdIdentity }).identity;
    const today = isoWithOffset(Date.now(), deps.timezone).slice(0, 10);
    const signal = AbortSignal.timeout(4_000);
    if (!deps.lookup) return { appointments: [], insurance: null, hisReachable: false, message: HIS_UNREACHABLE_MESSAGE, nextStep: HIS_UNREACHABLE_NEXT_STEP };
    const [appointments, insurance] = await Promise.all([deps.lookup.findAppointments(identity.idNumber, today, signal), deps.lookup.getInsuranceStatus(identity, signal)]);
    return {
      appointments: appointments.ok ? appointments.value : [],
      insurance: insurance.ok ? insurance.value : null,
      hisReachable: appointments.ok || insurance.ok,
      message: appointments.ok || insurance.ok ? null : HIS_UNREACHABLE_MESSAGE,
      nextStep: appointments.ok || insurance.ok ? null : HIS_UNREACHABLE_NEXT_STEP,
    };
  });

  app.get('/api/kiosk/services', { schema: { tags: ['kiosk'], summary: 'Services a patient can pick' } }, async () => ({
    services: (deps.queue?.config.services ?? []).map((s) => ({ id: s.id, name: s.name })),
  }));

  app.post(
    '/api/kiosk/checkin',
    {
      schema: {
        tags: ['kiosk'],
        summary: 'Issue a ticket (durable before the answer) and register the check-in with the HIS through the outbox',
        body: {
          type: 'object',
          required: ['service'],
          properties: { identity: identitySchema, service: { type: 'string' }, claim: { type: 'string' }, appointmentId: { type: 'string' }, insuranceCode: { type: 'string' } },
        },
        response: errorResponses,
      },
    },
    async (req, reply) => {
      if (!deps.queue) return reply.code(503).send({ error: 'no queue is configured on this box' });
      const body = req.body as { identity?: CccdIdentity; service: string; claim?: string; appointmentId?: string; insuranceCode?: string };
      let issued;
      try {
        // With a printer, the pending print is written in the ticket's own commit: after a crash
        // the ticket is listed for reprint instead of silently never printed.
        const print = deps.printing?.available === true;
        issued = await deps.queue.issue({ service: body.service, ...(body.identity?.dateOfBirth ? { birthDate: body.identity.dateOfBirth } : {}), ...(body.claim ? { claim: body.claim as never } : {}), ...(print ? { print } : {}) });
      } catch (err) {
        return reply.code(400).send({ error: (err as Error).message });
      }
      const { ticket, ahead } = issued;
      const service = deps.queue.config.services.find((s) => s.id === ticket.service);
      let registration: 'queued' | 'not-configured' | 'failed' = 'not-configured';
      if (deps.registrar && body.identity) {
        try {
          await deps.registrar.registerCheckIn({
            identity: body.identity,
            service: { code: ticket.service, ...(service?.name ? { name: service.name } : {}) },
            ticket: { number: ticket.number, issuedAt: isoWithOffset(ticket.issuedAt, deps.timezone) },
            ...(body.appointmentId ? { appointmentId: body.appointmentId } : {}),
            ...(ticket.priority ? { priority: ticket.priority } : {}),
            ...(body.insuranceCode ? { insurance: { code: body.insuranceCode } } : {}),
            kioskId: 'kiosk',
          });
          registration = 'queued';
        } catch (err) {
          // The ticket stands: staff register the patient by hand at the counter.
          req.log.warn({ err: (err as Error).message }, 'check-in registration could not be journaled');
          registration = 'failed';
        }
      }
      // The answer does not wait for the printer: the page learns the outcome over the live socket.
      if (deps.printing) {
        const printed = (outcome: { ok: boolean; error?: string; none?: boolean }) => deps.bus.emit('domain.event', { visibility: 'local', topic: 'ticket/print', body: { ticketId: ticket.id, number: ticket.number, ...outcome } });
        void deps.printing
          .print(ticket.id)
          .then((result) => {
            if (!result) return printed({ ok: false, none: true });
            if (!result.ok) req.log.warn({ ticket: ticket.number, reason: result.error }, 'ticket print failed; reprint from the counter page');
            printed({ ok: result.ok, ...(result.error ? { error: result.error } : {}) });
          })
          .catch((err: unknown) => {
            req.log.warn({ err }, 'ticket print failed; reprint from the counter page');
            printed({ ok: false, error: (err as Error).message });
          });
      }
      return { ticket: { id: ticket.id, number: ticket.number, priority: ticket.priority, issuedAt: isoWithOffset(ticket.issuedAt, deps.timezone) }, ahead, serviceName: service?.name ?? ticket.service, registration, print: deps.printing ? 'queued' : 'none' };
    },
  );

  app.post(
    '/api/kiosk/feedback',
    { schema: { tags: ['kiosk'], summary: 'A patient\'s feedback ("Góp ý"): a rating and a few chosen reasons', body: { type: 'object', required: ['rating'], properties: { rating: { type: 'integer', minimum: 1, maximum: 5 }, reasons: { type: 'array', maxItems: 10, items: { type: 'string', maxLength: 60 } } } } } },
    async (req) => {
      const body = req.body as { rating: number; reasons?: string[] };
      const at = Date.now();
      const result = await deps.feedback.append({ stream: 'kiosk.feedback', kind: 'feedback', idempotencyKey: `feedback:${at}:${Math.random().toString(36).slice(2, 8)}`, parsed: { rating: body.rating, reasons: body.reasons ?? [], at: isoWithOffset(at, deps.timezone) } });
      return { stored: true, id: result.id };
    },
  );
}
