import type { CccdIdentity } from '../cccd/index.ts';
import type { JournalInput } from '../../core/contract/driver.ts';
import type { ScheduledStep } from '../lab/index.ts';

/**
 * The HIS adapter contract. Vietnamese HIS products differ (VNPT HIS, Viettel, FPT eHospital,
 * local vendors), so the kiosk only sees this: register a check-in (through the outbox), look up
 * appointments and insurance (synchronous, short timeout), receive orders pushed by the HIS.
 */

/** The part of a card identity a HIS needs. Dates are ISO (yyyy-mm-dd, or yyyy when only the year is printed). */
export type HisIdentity = Pick<CccdIdentity, 'idNumber' | 'fullName' | 'dateOfBirth' | 'sex' | 'permanentAddress'>;

/** One check-in at the kiosk: who, for which service, with which ticket. Journaled as stream 'his.checkin'. */
export interface HisCheckIn {
  identity: HisIdentity;
  service: { code: string; name?: string };
  ticket: {
    /** The printed number, e.g. 'A012'. Unique per service and local day. */
    number: string;
    /** Issue time, ISO 8601 with the box's offset (2026-11-22T07:31:05.120+07:00). */
    issuedAt: string;
  };
  /** Set when the patient accepted a booked appointment. */
  appointmentId?: string;
  /** Priority class claimed or derived at the kiosk (law 15/2023 art. 3.2), when any. */
  priority?: string;
  /** The insurance look-up the kiosk showed, when it answered. */
  insurance?: { code: string; cardNumber?: string; validFrom?: string; validTo?: string };
  kioskId?: string;
}

export const HIS_CHECKIN_STREAM = 'his.checkin';
export const HIS_CHECKIN_KIND = 'checkin';

/**
 * The idempotency key of a check-in: the ticket is unique per service and local day, so a retry
 * after an unknown outcome (or a kiosk that journals twice) never registers the patient twice.
 */
export function checkInKey(checkIn: HisCheckIn): string {
  return `checkin:${checkIn.ticket.issuedAt.slice(0, 10)}:${checkIn.service.code}:${checkIn.ticket.number}`;
}

/** The journal entry the kiosk appends; the HIS destination (`routes`) delivers it later if the HIS is down. */
export function checkInJournalInput(checkIn: HisCheckIn, hisDestination: string): JournalInput {
  return {
    stream: HIS_CHECKIN_STREAM,
    kind: HIS_CHECKIN_KIND,
    idempotencyKey: checkInKey(checkIn),
    parsed: checkIn,
    personal: true,
    routes: [hisDestination],
    // One ordered lane: registrations reach the HIS in issue order.
    orderKey: HIS_CHECKIN_STREAM,
    priority: 'clinical',
  };
}

/** A booked appointment (online booking, follow-up visit). */
export interface HisAppointment {
  id: string;
  /** ISO date-time or time of day as the HIS gives it. */
  time: string;
  serviceCode: string;
  serviceName?: string;
  doctor?: string;
  room?: string;
}

/** What the kiosk shows after an insurance (BHYT) look-up. */
export interface InsuranceStatus {
  /** The gateway's maKetQua (or the HIS's equivalent code mapped to it). */
  code: string;
  /** valid: the card can be used today; invalid: it cannot; unknown: ask at the desk. */
  verdict: 'valid' | 'invalid' | 'unknown';
  /** One short plain-Vietnamese sentence for the patient. */
  patientMessage: string;
  /** What to do next, in plain Vietnamese. */
  nextStep: string;
  cardNumber?: string;
  /** ISO dates (gtTheTu…gtTheDen). */
  validFrom?: string;
  validTo?: string;
  /** Initial registration facility (maDKBD), when given. */
  registeredFacility?: string;
  /** The replacement card for codes 003/004. */
  newCardNumber?: string;
  /** For the desk and the console (never shown to the patient): what the code means technically. */
  staffNote: string;
}

/**
 * A look-up outcome. 'unreachable' (timeout, connection refused, 5xx) is the clear "HIS
 * unreachable" case the kiosk shows as "the desk will check"; 'refused' means the HIS answered
 * but rejected the request (4xx, bad parameters, authentication).
 */
export type LookupResult<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'unreachable' | 'refused' | 'not-supported'; message: string; patientMessage: string };

export interface HisLookup {
  findAppointments(cccd: string, day: string, signal?: AbortSignal): Promise<LookupResult<HisAppointment[]>>;
  getInsuranceStatus(identity: HisIdentity, signal?: AbortSignal): Promise<LookupResult<InsuranceStatus>>;
  close?(): Promise<void>;
}

/** An order pushed by the HIS (for modality worklists and the analyzers' order cache). */
export interface HisOrder {
  /** The HIS's order number (placer order number, ORC-2). */
  orderId: string;
  /** new: place; cancel: withdraw an earlier order with the same orderId. */
  action: 'new' | 'cancel';
  patient: { cccd?: string; hisPatientId?: string; fullName?: string; dateOfBirth?: string; sex?: HisIdentity['sex'] };
  /** Requested items (a lab test code, an imaging procedure). */
  items: Array<{ code: string; name?: string; modality?: string }>;
  /** Specimen or accession number the device will see. */
  accessionNumber?: string;
  serviceCode?: string;
  orderedAt?: string;
  priority?: 'routine' | 'urgent';
  /** Imaging: when and on which modality the procedure is scheduled. */
  scheduled?: ScheduledStep;
  referringPhysician?: string;
}

export type HisOrderListener = (orders: HisOrder[]) => void | Promise<void>;

/** Orders pushed by the HIS reach the box through an adapter that delivers them to listeners. */
export interface HisOrderReceiver {
  /** Registers a listener; returns a function that removes it. */
  receiveOrders(listener: HisOrderListener): () => void;
}

/** Plain-Vietnamese texts for the kiosk when the HIS cannot be asked. */
export const HIS_UNREACHABLE_MESSAGE = 'Hiện chưa kết nối được với hệ thống của bệnh viện.';
export const HIS_UNREACHABLE_NEXT_STEP = 'Bạn vẫn lấy số bình thường; nhân viên quầy tiếp đón sẽ kiểm tra giúp bạn.';
