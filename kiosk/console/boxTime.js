// Every time on the console is shown in the box's time zone (GET /api/box), whatever the zone
// of the PC the page runs on: the journal, results, orders, studies, audit, logs and charts
// agree with each other and with what the devices and the HIS say.
let zone = null;
let offsetMinutes = null;

export function setBoxZone(timeZone, utcOffsetMinutes) {
  zone = timeZone;
  offsetMinutes = utcOffsetMinutes;
}

/** "Asia/Ho_Chi_Minh (UTC+07:00)". */
export function zoneLabel() {
  if (!zone) return '';
  const m = Math.abs(offsetMinutes ?? 0);
  const sign = (offsetMinutes ?? 0) < 0 ? '−' : '+';
  return `${zone} (UTC${sign}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')})`;
}

const locale = (lang) => (lang === 'en' ? 'en-GB' : 'vi-VN');

/** Date and time of an ISO time (or ms) in the box's zone. */
export function boxTime(value, lang) {
  if (value === null || value === undefined || value === '') return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(locale(lang), { timeZone: zone ?? undefined });
}

/** Hour and minute in the box's zone (chart axes). */
export function boxClock(ms, lang) {
  return new Date(ms).toLocaleTimeString(locale(lang), { timeZone: zone ?? undefined, hour: '2-digit', minute: '2-digit', hour12: false });
}
