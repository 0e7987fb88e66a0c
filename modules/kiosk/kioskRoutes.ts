import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EventBus } from '../../core/contract/events.ts';
import type { Journal } from '../../core/contract/driver.ts';
import { parseCccdQr } from '../cccd/index.ts';
import { identityFromQr, identityFromTypedId, type CccdIdentity } from '../cccd/index.ts';
import { CardError, patientMessageOf, QR_UNREADABLE_MESSAGE } from '../cccd/index.ts';
import { CccdNumberError, isValidCccdNumber } from '../cccd/index.ts';
import type { CardIdentityEvent, CardStatusEvent } from '../cccd/index.ts';
import { isoWithOffset } from '../../core/contract/clock.ts';
import type { CheckInRegistrar } from '../his/index.ts';
import type { HisCheckIn, HisLookup } from '../his/index.ts';
import { HIS_UNREACHABLE_MESSAGE, HIS_UNREACHABLE_NEXT_STEP } from '../his/index.ts';
import type { Principal } from '../../core/contract/http.ts';
import { errorResponses, errorSchema } from '../../core/contract/http.ts';
import type { TicketQueue } from '../queue/index.ts';
import type { TicketPrinting } from '../queue/index.ts';
import { PRIORITY_CLASSES, type PriorityClass } from '../queue/index.ts';
import { birthDateIsRead, IdentitySessions, type KioskIdentity } from './identitySessions.ts';
import { originGuard } from './originCheck.ts';
import { greetingView, lookupView } from './patientViews.ts';
import { RateLimiter } from './rateLimit.ts';
import { kioskSettings, type KioskSettings } from './settings.ts';
import { CARD_KEY } from '../cccd/index.ts';
import { TICKET_PRINT } from '../queue/index.ts';

type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** What the kiosk's routes need; each service is optional so a station can run without a HIS. */
export interface KioskDeps {
  bus: EventBus;
  timezone: string;
  /** The kiosk credential (ConsoleAuth.requireKiosk): the unit's token, or loopback when allowed. */
  requireKiosk: Guard;
  /** The `kiosk` configuration block (limits, origins, identity lifetime); defaults when absent. */
  settings?: Partial<KioskSettings>;
  queue?: TicketQueue;
  lookup?: HisLookup;
  registrar?: CheckInRegistrar;
  /** Journal for the patients' feedback ("Góp ý"), routed as configured. */
  feedback: Journal;
  /** The queue's print log and printers (shared with the counter page), when a queue is configured. */
  printing?: Pick<TicketPrinting, 'available' | 'print'>;
  now?: () => number;
}

/** Every kiosk body is a few hundred bytes; 4 KB leaves room for a long QR and nothing more. */
export const KIOSK_BODY_LIMIT = 4096;

const REF = { type: 'string', pattern: '^[A-Za-z0-9_-]{16,64}$', description: 'identityRef from identify or the live socket' } as const;
/** A card status without a sentence of its own: the patient never reads the driver's English. */
const CARD_STATUS_FALLBACK = 'Chưa đọc được thẻ. Xin đặt lại thẻ, quét mã QR hoặc nhập số CCCD.';
/**
 * identify's refusals: `error` is the patient's Vietnamese sentence (the page shows it), `code`
 * says which refusal for the page and for scripts, `reason` keeps the parser's English for IT staff.
 */
const IDENTIFY_ERRORS = {
  '4xx': {
    ...errorSchema,
    properties: {
      ...errorSchema.properties,
      code: { type: 'string', enum: ['QR_UNREADABLE', 'CCCD_NUMBER_INVALID', 'BAD_REQUEST'] },
      reason: { type: 'string' },
    },
  },
  '5xx': errorSchema,
} as const;
const SESSION_GONE = 'Thông tin thẻ trên máy đã hết hạn. Xin đặt lại thẻ, quét mã QR hoặc nhập lại số CCCD.';
const WAIT = (s: number) =>
  `Vui lòng chờ khoảng ${s < 60 ? `${s} giây` : `${Math.ceil(s / 60)} phút`} rồi thử lại. Bạn vẫn lấy số bình thường; quầy tiếp đón sẽ kiểm tra thẻ BHYT giúp bạn.`;

/**
 * The kiosk page's API. Every route needs the kiosk credential and, from a browser, the box's
 * own origin. Identities stay on the box: `identify` and the chip reader's events store them
 * behind an opaque `identityRef` (IdentitySessions); look-ups and check-ins take the reference,
 * so the priority class comes from the birth date the box read, never from the client. Answers
 * carry only what the patient screen shows (patientViews.ts); nothing personal is logged.
 */
export async function registerKioskRoutes(app: FastifyInstance, deps: KioskDeps): Promise<void> {
  const settings = kioskSettings(deps.settings);
  const now = deps.now ?? Date.now;
  const sessions = new IdentitySessions({ ttlMs: settings.identityTtlSeconds * 1000, now });
  const stopSweeping = sessions.sweepEvery(30_000);
  const ll = settings.lookupLimits;
  const perKiosk = new RateLimiter({ capacity: ll.perKioskBurst, refillMs: 60_000 / ll.perKioskPerMinute, now });
  const perIdNumber = new RateLimiter({ capacity: ll.perIdNumber, refillMs: (ll.perIdNumberWindowMinutes * 60_000) / ll.perIdNumber, now });
  const checkins = new RateLimiter({ capacity: Math.max(1, Math.ceil(settings.checkinPerMinute / 2)), refillMs: 60_000 / settings.checkinPerMinute, now });
  const feedbacks = new RateLimiter({ capacity: Math.max(1, Math.ceil(settings.feedbackPerMinute / 2)), refillMs: 60_000 / settings.feedbackPerMinute, now });
  // Per-number buckets are keyed by a keyed hash: the limiter's memory holds no CCCD numbers.
  const numberKey = randomBytes(32);
  const idKey = (idNumber: string) => createHmac('sha256', numberKey).update(idNumber).digest('base64url');
  const refusals = new LogOnce(now);

  await app.register(async (scope) => {
    scope.addHook('onRequest', originGuard(settings.allowedOrigins));
    scope.addHook('onRequest', credentialLogged(deps.requireKiosk));
    scope.addHook('onClose', async () => stopSweeping());

    const kioskOf = (req: FastifyRequest): string => kioskIdOf(req.principal);
    const tooMany = (req: FastifyRequest, reply: FastifyReply, limit: string, retryAfterSeconds: number) => {
      const kiosk = kioskOf(req);
      const n = refusals.count(`${kiosk}:${limit}`);
      if (n === 1) req.log.warn({ kiosk, limit, retryAfterSeconds }, 'kiosk request over its rate limit refused (logged once a minute per kiosk and limit)');
      return reply
        .code(429)
        .header('retry-after', String(retryAfterSeconds))
        .send({ error: WAIT(retryAfterSeconds), retryAfterSeconds });
    };

    // Live card events for the page: status sentences, and identities the box read, as a greeting
    // view with a fresh identityRef of this kiosk (the identity itself never leaves the box).
    scope.get(
      '/api/kiosk/live',
      {
        websocket: true,
        schema: {
          tags: ['kiosk'],
          summary: 'WebSocket (?token=…): card/status, card/identity (greeting view with identityRef) and ticket/print events for the kiosk page',
        },
      },
      (socket, req) => {
        const kioskId = kioskOf(req);
        const owner = `kiosk-ws-${randomBytes(6).toString('hex')}`;
        const send = (type: string, body: unknown) => socket.readyState === 1 && socket.send(JSON.stringify({ type, body }));
        deps.bus.on(owner, 'domain.event', (e) => {
          if (e.topic === 'card/status') {
            const s = e.body as CardStatusEvent;
            send('card/status', { state: s.state, message: s.patientMessage ?? CARD_STATUS_FALLBACK, ...(s.code ? { code: s.code } : {}) });
          } else if (e.topic === 'card/identity') {
            const identity = (e.body as CardIdentityEvent).identity;
            if (!identity || !isValidCccdNumber(identity.idNumber)) return;
            // A typed number or QR the reader echoes back was stored by the kiosk that sent it.
            if (identity.source === 'typed' || (identity.source === 'qr' && sessions.holds(identity.idNumber, 'qr'))) return;
            const { entry, reused, replaced } = sessions.put(kioskId, identity);
            if (!reused) send('card/identity', greetingView(entry, replaced));
          } else if (e.topic === 'ticket/print') {
            send('ticket/print', e.body);
          }
        });
        socket.on('close', () => deps.bus.removeListeners(owner));
        socket.on('error', () => deps.bus.removeListeners(owner));
      },
    );

    // A QR scan (keyboard-wedge scanner on the page) or a typed 12-digit number: stored on the box,
    // answered as a greeting view; the reader gets the key so it can open the chip.
    scope.post(
      '/api/kiosk/identify',
      {
        bodyLimit: KIOSK_BODY_LIMIT,
        schema: {
          tags: ['kiosk'],
          summary: 'Identity from a QR text or a typed CCCD number, kept on the box; answers the greeting and an identityRef',
          body: {
            type: 'object',
            additionalProperties: false,
            properties: { qr: { type: 'string', minLength: 20, maxLength: 1000 }, digits: { type: 'string', maxLength: 20 } },
          },
          response: IDENTIFY_ERRORS,
        },
      },
      async (req, reply) => {
        const body = req.body as { qr?: string; digits?: string };
        let identity: CccdIdentity;
        try {
          if (body.qr) identity = identityFromQr(parseCccdQr(body.qr));
          else if (body.digits) identity = identityFromTypedId(body.digits.replace(/\D/g, ''));
          else return await reply.code(400).send({ error: 'Xin quét mã QR hoặc nhập số CCCD.', code: 'BAD_REQUEST', reason: 'send qr or digits' });
        } catch (err) {
          // The patient reads Vietnamese; the parser's English reason goes to the log (masked
          // by the logger's policy) and to `reason`. A truncated scan is the common case.
          const numberWrong = err instanceof CccdNumberError;
          const code = numberWrong ? 'CCCD_NUMBER_INVALID' : body.qr ? 'QR_UNREADABLE' : 'CCCD_NUMBER_INVALID';
          const reason = err instanceof CardError ? err.message : 'identity not understood';
          req.log.info({ kiosk: kioskOf(req), code, reason, ...(body.qr ? { qrLength: body.qr.length } : {}) }, 'kiosk identify refused');
          return reply.code(400).send({ error: numberWrong || !body.qr ? patientMessageOf(err) : QR_UNREADABLE_MESSAGE, code, reason });
        }
        // Stored before the key goes out, so the reader's echo of this QR is known as ours.
        const { entry, replaced } = sessions.put(kioskOf(req), identity);
        deps.bus.publish(CARD_KEY, body.qr ? { qr: body.qr } : { digits: identity.idNumber });
        return greetingView(entry, replaced);
      },
    );

    scope.post(
      '/api/kiosk/lookup',
      {
        bodyLimit: KIOSK_BODY_LIMIT,
        schema: {
          tags: ['kiosk'],
          summary: 'Booked appointment and insurance (BHYT) verdict for an identity the box holds; rate-limited per kiosk and per CCCD number',
          body: { type: 'object', additionalProperties: false, required: ['identityRef'], properties: { identityRef: REF } },
          response: errorResponses,
        },
      },
      async (req, reply) => {
        const entry = sessions.get(kioskOf(req), (req.body as { identityRef: string }).identityRef);
        if (!entry) return reply.code(410).send({ error: SESSION_GONE });
        const unreachable = { message: HIS_UNREACHABLE_MESSAGE, nextStep: HIS_UNREACHABLE_NEXT_STEP };
        if (entry.lookup) return lookupView(entry.lookup.appointments, entry.lookup.insurance, true, unreachable);
        if (entry.lookupInFlight) {
          const r = await entry.lookupInFlight;
          return lookupView(r.appointments, r.insurance, r.reachable, unreachable);
        }
        const lookup = deps.lookup;
        if (!lookup) return lookupView([], null, false, unreachable);
        // Both limits checked before either is spent: each look-up runs on a staff member's
        // personal gateway account, so no request beyond them reaches the HIS or the gateway.
        const kioskKey = kioskOf(req);
        const numberBucket = idKey(entry.identity.idNumber);
        const k = perKiosk.peek(kioskKey);
        if (!k.ok) return tooMany(req, reply, 'lookup-per-kiosk', k.retryAfterSeconds);
        const n = perIdNumber.peek(numberBucket);
        if (!n.ok) return tooMany(req, reply, 'lookup-per-cccd', n.retryAfterSeconds);
        perKiosk.take(kioskKey);
        perIdNumber.take(numberBucket);
        const today = isoWithOffset(now(), deps.timezone).slice(0, 10);
        const signal = AbortSignal.timeout(4_000);
        entry.lookupInFlight = (async () => {
          const [appointments, insurance] = await Promise.all([
            lookup.findAppointments(entry.identity.idNumber, today, signal),
            lookup.getInsuranceStatus(entry.identity, signal),
          ]);
          const found = {
            reachable: appointments.ok || insurance.ok,
            appointments: appointments.ok ? appointments.value : [],
            insurance: insurance.ok ? insurance.value : null,
          };
          if (found.reachable) entry.lookup = { appointments: found.appointments, insurance: found.insurance };
          return found;
        })().finally(() => delete entry.lookupInFlight);
        const found = await entry.lookupInFlight;
        return lookupView(found.appointments, found.insurance, found.reachable, unreachable);
      },
    );

    scope.get('/api/kiosk/services', { schema: { tags: ['kiosk'], summary: 'Services a patient can pick' } }, async () => ({
      services: (deps.queue?.config.services ?? []).map((s) => ({ id: s.id, name: s.name })),
    }));

    scope.post(
      '/api/kiosk/checkin',
      {
        bodyLimit: KIOSK_BODY_LIMIT,
        schema: {
          tags: ['kiosk'],
          summary:
            'Issue a ticket (durable before the answer) and register the check-in with the HIS through the outbox; priority from the birth date the box read',
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['service'],
            properties: {
              identityRef: REF,
              service: { type: 'string', maxLength: 64 },
              claim: { type: 'string', enum: [...PRIORITY_CLASSES], description: 'A class the patient claims; staff confirm it at the counter' },
              appointment: { type: 'boolean', description: 'The patient takes the booked appointment the look-up showed' },
            },
          },
          response: errorResponses,
        },
      },
      async (req, reply) => {
        if (!deps.queue) return reply.code(503).send({ error: 'no queue is configured on this box' });
        const body = req.body as { identityRef?: string; service: string; claim?: PriorityClass; appointment?: boolean };
        const kioskId = kioskOf(req);
        let entry: KioskIdentity | undefined;
        if (body.identityRef) {
          entry = sessions.get(kioskId, body.identityRef);
          if (!entry) return reply.code(410).send({ error: SESSION_GONE });
        }
        const limit = checkins.take(kioskId);
        if (!limit.ok) return tooMany(req, reply, 'checkin', limit.retryAfterSeconds);
        // Only a birth date the box read itself (chip, QR) gives an automatic class; a typed
        // number has none, so any class it claims waits for staff confirmation.
        const birthDate = entry && birthDateIsRead(entry.identity) ? entry.identity.dateOfBirth : undefined;
        let issued;
        try {
          // With a printer, the pending print is written in the ticket's own commit: after a crash
          // the ticket is listed for reprint instead of silently never printed.
          const print = deps.printing?.available === true;
          issued = await deps.queue.issue({
            service: body.service,
            ...(birthDate ? { birthDate } : {}),
            ...(body.claim ? { claim: body.claim } : {}),
            ...(print ? { print } : {}),
          });
        } catch (err) {
          return reply.code(400).send({ error: (err as Error).message });
        }
        const { ticket, ahead } = issued;
        const service = deps.queue.config.services.find((s) => s.id === ticket.service);
        let registration: 'queued' | 'not-configured' | 'failed' = 'not-configured';
        if (deps.registrar && entry) {
          try {
            await deps.registrar.registerCheckIn(
              checkInOf(
                entry,
                body.appointment === true,
                kioskId,
                { code: ticket.service, ...(service?.name ? { name: service.name } : {}) },
                { number: ticket.number, issuedAt: isoWithOffset(ticket.issuedAt, deps.timezone) },
                ticket.priority,
              ),
            );
            registration = 'queued';
          } catch (err) {
            // The ticket stands: staff register the patient by hand at the counter.
            req.log.warn({ err: (err as Error).message }, 'check-in registration could not be journaled');
            registration = 'failed';
          }
        }
        // One identity, one ticket: what the box held for this patient goes now.
        if (entry) sessions.delete(entry.ref);
        // The answer does not wait for the printer: the page learns the outcome over the live socket.
        if (deps.printing) {
          const printed = (outcome: { ok: boolean; error?: string; none?: boolean }) =>
            deps.bus.publish(TICKET_PRINT, { ticketId: ticket.id, number: ticket.number, ...outcome });
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
        return {
          ticket: {
            id: ticket.id,
            number: ticket.number,
            priority: ticket.priority,
            priorityStatus: ticket.priorityStatus,
            issuedAt: isoWithOffset(ticket.issuedAt, deps.timezone),
          },
          ahead,
          serviceName: service?.name ?? ticket.service,
          registration,
          print: deps.printing ? 'queued' : 'none',
        };
      },
    );

    // The page's idle reset, "Xong" and "Về đầu": every identity this kiosk holds is forgotten.
    scope.post(
      '/api/kiosk/reset',
      {
        bodyLimit: KIOSK_BODY_LIMIT,
        schema: {
          tags: ['kiosk'],
          summary: "Forget every identity this kiosk holds (the page's idle reset)",
          body: { type: ['object', 'null'], additionalProperties: false, properties: {} },
        },
      },
      async (req) => ({
        wiped: sessions.wipe(kioskOf(req)),
      }),
    );

    scope.post(
      '/api/kiosk/feedback',
      {
        bodyLimit: KIOSK_BODY_LIMIT,
        schema: {
          tags: ['kiosk'],
          summary: 'A patient\'s feedback ("Góp ý"): a rating and a few chosen reasons',
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['rating'],
            properties: {
              rating: { type: 'integer', minimum: 1, maximum: 5 },
              reasons: { type: 'array', maxItems: 10, items: { type: 'string', maxLength: 60 } },
            },
          },
          response: errorResponses,
        },
      },
      async (req, reply) => {
        const kioskId = kioskOf(req);
        const limit = feedbacks.take(kioskId);
        if (!limit.ok) return tooMany(req, reply, 'feedback', limit.retryAfterSeconds);
        const body = req.body as { rating: number; reasons?: string[] };
        const at = now();
        const result = await deps.feedback.append({
          stream: 'kiosk.feedback',
          kind: 'feedback',
          idempotencyKey: `feedback:${at}:${randomBytes(4).toString('hex')}`,
          parsed: { rating: body.rating, reasons: body.reasons ?? [], kiosk: kioskId, at: isoWithOffset(at, deps.timezone) },
        });
        return { stored: true, id: result.id };
      },
    );
  });
}

/** The kiosk a request acts for ('local': a browser on the box itself). */
function kioskIdOf(principal: Principal | undefined): string {
  return principal?.kind === 'kiosk' ? principal.kioskId : 'local';
}

/** The check-in the HIS gets: the identity and insurance answer the box holds, never the page's. */
function checkInOf(
  entry: KioskIdentity,
  tookAppointment: boolean,
  kioskId: string,
  service: HisCheckIn['service'],
  ticket: HisCheckIn['ticket'],
  priority: string | null,
): HisCheckIn {
  const i = entry.identity;
  const insurance = entry.lookup?.insurance;
  const appointment = tookAppointment ? entry.lookup?.appointments[0] : undefined;
  return {
    identity: { idNumber: i.idNumber, fullName: i.fullName, dateOfBirth: i.dateOfBirth, sex: i.sex, permanentAddress: i.permanentAddress },
    service,
    ticket,
    ...(appointment?.id ? { appointmentId: appointment.id } : {}),
    ...(priority ? { priority } : {}),
    ...(insurance
      ? {
          insurance: {
            code: insurance.code,
            ...(insurance.cardNumber ? { cardNumber: insurance.cardNumber } : {}),
            ...(insurance.validFrom ? { validFrom: insurance.validFrom } : {}),
            ...(insurance.validTo ? { validTo: insurance.validTo } : {}),
          },
        }
      : {}),
    kioskId,
  };
}

/** The kiosk credential check, with one log line per refused address and minute (no token in it). */
function credentialLogged(requireKiosk: Guard): Guard {
  const once = new LogOnce(Date.now);
  return async (req, reply) => {
    await requireKiosk(req, reply);
    if (reply.sent && once.count(req.ip) === 1)
      req.log.warn(
        { peer: req.ip, route: req.routeOptions.url, status: reply.statusCode },
        'kiosk route refused: no valid kiosk token (logged once a minute per address)',
      );
  };
}

/** Counts events per key within a minute: the first of each minute is logged, a flood is not. */
class LogOnce {
  private readonly seen = new Map<string, { at: number; n: number }>();
  constructor(private readonly now: () => number) {}
  count(key: string): number {
    const t = this.now();
    const s = this.seen.get(key);
    if (!s || t - s.at > 60_000) {
      if (this.seen.size > 1000) this.seen.clear();
      this.seen.set(key, { at: t, n: 1 });
      return 1;
    }
    return ++s.n;
  }
}
