import type { DeliveryOutcome, Destination, DestinationContext, DestinationFactory, OutboxItem } from '../../core/contract/destination.ts';
import {
  HIS_UNREACHABLE_MESSAGE,
  type HisAppointment,
  type HisCheckIn,
  type HisIdentity,
  type HisLookup,
  type InsuranceStatus,
  type LookupResult,
} from './contract.ts';
import { getPath, isoDate, mapRequest, mapResponse, setPath } from './fieldMap.ts';
import { describeInsuranceCode } from './insuranceOutcome.ts';
import { scrubPersonal } from './scrub.ts';

/** Configuration of a HIS reached over HTTPS with JSON bodies; every field name on the HIS side is configurable. */
export interface HisHttpConfig {
  baseUrl: string;
  /** Extra headers (e.g. Authorization via a !secret). */
  headers?: Record<string, string>;
  /** Per registration attempt. */
  timeoutMs?: number;
  /** Appointment and insurance look-ups: the patient is waiting at the kiosk. */
  lookupTimeoutMs?: number;
  register?: {
    path?: string;
    /** { "<HIS field path>": "<check-in path>[|format]" }; "=text" is a literal. */
    fields?: Record<string, string>;
    /** Where the idempotency key goes in the body (also sent as the Idempotency-Key header). */
    idempotencyField?: string;
    /** Response path that must echo the idempotency key for the registration to count as done. */
    ackField?: string;
  };
  appointments?: {
    /** `{cccd}` and `{day}` (yyyy-mm-dd) are substituted. */
    path?: string;
    /** Response path of the list. */
    listField?: string;
    /** { "<our field>": "<HIS field path within one appointment>" }. */
    fields?: Partial<Record<keyof HisAppointment, string>>;
  };
  insurance?: {
    path?: string;
    /** Request mapping from the identity ({ "<HIS field>": "<identity path>[|format]" }). */
    request?: Record<string, string>;
    /** { code, cardNumber, validFrom, validTo, registeredFacility, newCardNumber } → HIS response paths. */
    response?: Partial<Record<'code' | 'cardNumber' | 'validFrom' | 'validTo' | 'registeredFacility' | 'newCardNumber', string>>;
  };
}

export const DEFAULT_REGISTER_FIELDS: Record<string, string> = {
  'patient.cccd': 'identity.idNumber',
  'patient.name': 'identity.fullName',
  'patient.birthDate': 'identity.dateOfBirth',
  'patient.sex': 'identity.sex',
  'patient.address': 'identity.permanentAddress',
  'visit.serviceCode': 'service.code',
  'visit.ticketNumber': 'ticket.number',
  'visit.issuedAt': 'ticket.issuedAt',
  'visit.appointmentId': 'appointmentId',
};
export const DEFAULT_APPOINTMENT_FIELDS: Record<keyof HisAppointment, string> = {
  id: 'id',
  time: 'time',
  serviceCode: 'serviceCode',
  serviceName: 'serviceName',
  doctor: 'doctor',
  room: 'room',
};
export const DEFAULT_INSURANCE_REQUEST: Record<string, string> = {
  cccd: 'idNumber',
  name: 'fullName',
  birthDate: 'dateOfBirth',
};
export const DEFAULT_INSURANCE_RESPONSE = {
  code: 'maKetQua',
  cardNumber: 'maThe',
  validFrom: 'gtTheTu',
  validTo: 'gtTheDen',
  registeredFacility: 'maDKBD',
  newCardNumber: 'maTheMoi',
};

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

function transportReason(url: string, err: unknown): string {
  const cause = (err as { cause?: { code?: string } }).cause?.code;
  if ((err as Error).name === 'TimeoutError') return `${url}: no answer in time`;
  return `${url}: ${cause ?? (err as Error).message}`;
}

/**
 * Registration of a check-in (stream 'his.checkin') with a HIS over HTTPS/JSON. 2xx (with the
 * echoed key when `ackField` is set) is done; timeouts, transport errors, 408/425/429 and 5xx are
 * retried with the same key; other 4xx are permanent refusals (parked with the HIS's reason).
 */
export class HisHttpDestination implements Destination {
  constructor(
    readonly id: string,
    private readonly config: HisHttpConfig,
  ) {}

  async deliver(item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome> {
    const checkIn = item.parsed as HisCheckIn | null;
    if (!checkIn || typeof checkIn !== 'object' || !checkIn.identity || !checkIn.ticket) {
      return { result: 'permanent', reason: `item ${item.idempotencyKey} is not a HIS check-in (stream ${item.stream})` };
    }
    const reg = this.config.register ?? {};
    const url = joinUrl(this.config.baseUrl, reg.path ?? '/api/checkin');
    let body: Record<string, unknown>;
    try {
      body = mapRequest(checkIn, reg.fields ?? DEFAULT_REGISTER_FIELDS);
      const idField = reg.idempotencyField ?? 'requestId';
      setPath(body, idField, item.idempotencyKey);
    } catch (err) {
      return { result: 'permanent', reason: `field mapping: ${(err as Error).message}` };
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': item.idempotencyKey, ...this.config.headers },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.config.timeoutMs ?? 15_000)]),
      });
    } catch (err) {
      return { result: 'retry', reason: transportReason(url, err) };
    }
    const text = await res.text().catch(() => '');
    const shown = scrubPersonal(text, checkIn.identity);
    if (res.ok) {
      if (reg.ackField) {
        let echoed: unknown;
        try {
          echoed = getPath(JSON.parse(text), reg.ackField);
        } catch {
          echoed = undefined;
        }
        // 2xx without our key: we cannot tell it was registered, so the outcome is unknown.
        if (echoed !== item.idempotencyKey) return { result: 'retry', reason: `HTTP ${res.status} without the echoed id in ${reg.ackField}` };
      }
      return { result: 'ok', detail: `HTTP ${res.status}` };
    }
    const retryable = res.status >= 500 || [408, 425, 429].includes(res.status);
    const reason = `HTTP ${res.status}${shown ? `: ${shown}` : ''}`;
    return retryable ? { result: 'retry', reason } : { result: 'permanent', reason };
  }
}

function unreachable<T>(message: string): LookupResult<T> {
  return { ok: false, reason: 'unreachable', message, patientMessage: HIS_UNREACHABLE_MESSAGE };
}

/** Look-ups against the same HIS: short timeouts, and a clear "unreachable" outcome. */
export class HttpHisLookup implements HisLookup {
  constructor(private readonly config: HisHttpConfig) {}

  private async call(
    path: string,
    init: { method: 'GET' | 'POST'; body?: unknown },
    identity: Partial<HisIdentity>,
    signal?: AbortSignal,
  ): Promise<LookupResult<unknown>> {
    const url = joinUrl(this.config.baseUrl, path);
    const timeout = AbortSignal.timeout(this.config.lookupTimeoutMs ?? 3_000);
    let res: Response;
    try {
      res = await fetch(url, {
        method: init.method,
        headers: { accept: 'application/json', ...(init.body ? { 'content-type': 'application/json' } : {}), ...this.config.headers },
        body: init.body ? JSON.stringify(init.body) : undefined,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      // The URL may carry the CCCD in its query: report the path's base only.
      return unreachable(transportReason(joinUrl(this.config.baseUrl, path.split('?')[0]!), err));
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 500 || [408, 429].includes(res.status)) return unreachable(`HIS answered HTTP ${res.status}`);
    if (!res.ok)
      return {
        ok: false,
        reason: 'refused',
        message: `HIS refused: HTTP ${res.status} ${scrubPersonal(text, identity)}`,
        patientMessage: HIS_UNREACHABLE_MESSAGE,
      };
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch {
      return { ok: false, reason: 'refused', message: 'HIS answered with a body that is not JSON', patientMessage: HIS_UNREACHABLE_MESSAGE };
    }
  }

  async findAppointments(cccd: string, day: string, signal?: AbortSignal): Promise<LookupResult<HisAppointment[]>> {
    const cfg = this.config.appointments ?? {};
    const path = (cfg.path ?? '/api/appointments?cccd={cccd}&date={day}').replace('{cccd}', encodeURIComponent(cccd)).replace('{day}', encodeURIComponent(day));
    const answer = await this.call(path, { method: 'GET' }, { idNumber: cccd }, signal);
    if (!answer.ok) return answer;
    const list = getPath(answer.value, cfg.listField ?? 'appointments');
    if (!Array.isArray(list)) return { ok: true, value: [] };
    const fields = { ...DEFAULT_APPOINTMENT_FIELDS, ...cfg.fields };
    const value = list.map((raw) => {
      const m = mapResponse(raw, fields as Record<string, string>);
      const a: HisAppointment = { id: String(m.id ?? ''), time: String(m.time ?? ''), serviceCode: String(m.serviceCode ?? '') };
      if (m.serviceName !== undefined) a.serviceName = String(m.serviceName);
      if (m.doctor !== undefined) a.doctor = String(m.doctor);
      if (m.room !== undefined) a.room = String(m.room);
      return a;
    });
    return { ok: true, value };
  }

  async getInsuranceStatus(identity: HisIdentity, signal?: AbortSignal): Promise<LookupResult<InsuranceStatus>> {
    const cfg = this.config.insurance ?? {};
    const answer = await this.call(
      cfg.path ?? '/api/insurance',
      { method: 'POST', body: mapRequest(identity, cfg.request ?? DEFAULT_INSURANCE_REQUEST) },
      identity,
      signal,
    );
    if (!answer.ok) return answer;
    return { ok: true, value: insuranceStatusFrom(mapResponse(answer.value, { ...DEFAULT_INSURANCE_RESPONSE, ...cfg.response })) };
  }
}

/** Our InsuranceStatus from mapped gateway-style fields (code = maKetQua, dates dd/mm/yyyy or ISO). */
export function insuranceStatusFrom(m: Record<string, unknown>): InsuranceStatus {
  const outcome = describeInsuranceCode(String(m.code ?? ''));
  const status: InsuranceStatus = {
    code: outcome.code,
    verdict: outcome.verdict,
    patientMessage: outcome.patientMessage,
    nextStep: outcome.nextStep,
    staffNote: outcome.staffNote,
  };
  if (m.cardNumber !== undefined) status.cardNumber = String(m.cardNumber);
  const from = isoDate(m.validFrom);
  const to = isoDate(m.validTo);
  if (from) status.validFrom = from;
  if (to) status.validTo = to;
  if (m.registeredFacility !== undefined) status.registeredFacility = String(m.registeredFacility);
  if (m.newCardNumber !== undefined) status.newCardNumber = String(m.newCardNumber);
  return status;
}

export const hisHttpDestinationFactory: DestinationFactory<HisHttpConfig> = {
  type: 'his-http',
  create: (ctx: DestinationContext, config: HisHttpConfig) => new HisHttpDestination(ctx.id, config),
};
