import { isoWithOffset, zoneOffsetMinutes } from '../../core/contract/clock.ts';

/**
 * Device time (ASTM, HL7 TS/DTM) `YYYYMMDD[HHMM[SS]]` with an optional `+HHMM`; without an offset it is local time in
 * the device's zone (never UTC). Returns ISO 8601 with the offset, or undefined if unreadable.
 */
export function deviceTimeToIso(raw: string, timeZone: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(?:\.\d+)?([+-]\d{4})?$/.exec(raw.trim());
  if (!m) return undefined;
  const [y, mo, d, h = '0', mi = '0', s = '0'] = [m[1]!, m[2]!, m[3]!, m[4], m[5], m[6]];
  const naive = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  if (Number.isNaN(naive) || +mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 23 || +mi > 59 || +s > 59) return undefined;
  if (m[7]) {
    const sign = m[7][0] === '-' ? -1 : 1;
    const offsetMin = sign * (Number(m[7].slice(1, 3)) * 60 + Number(m[7].slice(3, 5)));
    return isoWithOffset(naive - offsetMin * 60_000, timeZone);
  }
  // Local wall time → instant: subtract the zone's offset (twice for zones with DST edges).
  let ms = naive - zoneOffsetMinutes(naive, timeZone) * 60_000;
  ms = naive - zoneOffsetMinutes(ms, timeZone) * 60_000;
  return isoWithOffset(ms, timeZone);
}

/** A plain number, decimal point or comma ('5,2' → 5.2); censored values ('>8', '-----') give undefined. */
export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (!/^[+-]?(\d+([.,]\d*)?|[.,]\d+)$/.test(t)) return undefined;
  const n = Number(t.replace(',', '.'));
  return Number.isFinite(n) ? n : undefined;
}
