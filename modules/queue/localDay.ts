import { zoneOffsetMinutes } from '../../core/contract/clock.ts';

/** Local calendar day 'YYYY-MM-DD' of instant `ms` in `timeZone` (ticket numbers restart at local midnight). */
export function localDay(ms: number, timeZone: string): string {
  return new Date(ms + zoneOffsetMinutes(ms, timeZone) * 60_000).toISOString().slice(0, 10);
}

/** Local hour 0–23 of instant `ms` (statistics per hour). */
export function localHour(ms: number, timeZone: string): number {
  return new Date(ms + zoneOffsetMinutes(ms, timeZone) * 60_000).getUTCHours();
}

/** Local time 'HH:MM' for tickets and screens. */
export function localTime(ms: number, timeZone: string): string {
  return new Date(ms + zoneOffsetMinutes(ms, timeZone) * 60_000).toISOString().slice(11, 16);
}

/** Age in whole years on `onDay` ('YYYY-MM-DD') for a birth date 'YYYY-MM-DD' (or 'YYYY' when only the year is known). */
export function ageOn(birthDate: string, onDay: string): number {
  const [by, bm = 1, bd = 1] = birthDate.split('-').map(Number) as [number, number?, number?];
  const [y, m, d] = onDay.split('-').map(Number) as [number, number, number];
  let age = y - by;
  if (m < bm || (m === bm && d < bd)) age -= 1;
  return age;
}
