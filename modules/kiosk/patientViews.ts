import type { HisAppointment, InsuranceStatus } from '../his/index.ts';
import type { KioskIdentity } from './identitySessions.ts';

/**
 * What the patient's screen shows, and nothing more: the kiosk's answers are cut to these views
 * so a page (or anyone holding a kiosk token) never receives the card number, the address, the
 * insurance card number or the staff notes the box keeps for the check-in.
 */

/** The greeting: the name read from the chip or QR ("Xin chào ông/bà …"); none for a typed number ("Xin chào quý khách"). */
export interface GreetingView {
  identityRef: string;
  /** '' for a typed number: the page then greets "quý khách", never by the number. */
  name: string;
  /** Kept for API clients; the page no longer shows it (a number is no salutation). */
  idLast3: string;
  source: 'chip' | 'qr' | 'typed';
  /** The earlier reference (typed or QR) this chip read replaces. */
  replaces?: string;
}

export function greetingView(entry: KioskIdentity, replaces?: string): GreetingView {
  const s = entry.identity.source;
  return {
    identityRef: entry.ref,
    name: s === 'typed' ? '' : entry.identity.fullName.slice(0, 120),
    idLast3: entry.identity.idNumber.slice(-3),
    source: s === 'typed' ? 'typed' : s === 'qr' ? 'qr' : 'chip',
    ...(replaces ? { replaces } : {}),
  };
}

export interface LookupView {
  insurance: { verdict: InsuranceStatus['verdict']; patientMessage: string; nextStep: string } | null;
  /** The first booked appointment today: its time (HH:MM) and service, to offer "Khám theo lịch hẹn". */
  appointment: { time: string; serviceCode: string; serviceName?: string } | null;
  hisReachable: boolean;
  message: string | null;
  nextStep: string | null;
}

export function lookupView(
  appointments: HisAppointment[],
  insurance: InsuranceStatus | null,
  reachable: boolean,
  unreachable: { message: string; nextStep: string },
): LookupView {
  const a = appointments[0];
  return {
    insurance: insurance ? { verdict: insurance.verdict, patientMessage: insurance.patientMessage, nextStep: insurance.nextStep } : null,
    appointment: a
      ? { time: timeOfDay(a.time), serviceCode: a.serviceCode.slice(0, 64), ...(a.serviceName ? { serviceName: a.serviceName.slice(0, 120) } : {}) }
      : null,
    hisReachable: reachable,
    message: reachable ? null : unreachable.message,
    nextStep: reachable ? null : unreachable.nextStep,
  };
}

/** "2026-11-22T08:30:00+07:00" → "08:30" (the HIS gives local times); a bare "08:30" stays. */
export function timeOfDay(time: string): string {
  return /T(\d{2}:\d{2})/.exec(time)?.[1] ?? /^(\d{2}:\d{2})/.exec(time)?.[1] ?? '';
}
