import { zoneOffsetMinutes } from "../clock.js";
/** Local calendar day 'YYYY-MM-DD' of instant `ms` in `timeZone` (ticket numbers restart at local midnight). */
export function localDay(ms, timeZone) {
    return new Date(ms + zoneOffsetMinutes(ms, timeZone) * 60_000).toISOString().slice(0, 10);
}
/** Local hour 0–23 of instant `ms` (statistics per hour). */
export function localHour(ms, timeZone) {
    return new Date(ms + zoneOffsetMinutes(ms, timeZone) * 60_000).getUTCHours();
}
/** Local time 'HH:MM' for tickets and screens. */
export function localTime(ms, timeZone) {
    return new Date(ms + zoneOffsetMinutes(ms, timeZone) * 60_000).toISOString().slice(11, 16);
}
/** Age in whole years on `onDay` ('YYYY-MM-DD') for a birth date 'YYYY-MM-DD' (or 'YYYY' when only the year is known). */
export function ageOn(birthDate, onDay) {
    const [by, bm = 1, bd = 1] = birthDate.split('-').map(Number);
    const [y, m, d] = onDay.split('-').map(Number);
    let age = y - by;
    if (m < bm || (m === bm && d < bd))
        age -= 1;
    return age;
}
