/** Time source for everything that schedules; tests use a manual clock to compress a day. */
export interface Clock {
  now(): number;
  /** Calls fn after ms; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
};

/** ISO 8601 local time with the zone's offset, e.g. 2026-11-22T17:05:00.000+07:00. */
export function isoWithOffset(ms: number, timeZone = 'Asia/Ho_Chi_Minh'): string {
  const offsetMin = zoneOffsetMinutes(ms, timeZone);
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
  const sign = offsetMin >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();
// formatToParts is slow and offsets only change on quarter-hour boundaries: remember the last one.
const lastOffset = new Map<string, { bucket: number; minutes: number }>();
const QUARTER_HOUR_MS = 900_000;

/** Offset of `timeZone` from UTC at instant `ms`, in minutes (420 for Asia/Ho_Chi_Minh). */
export function zoneOffsetMinutes(ms: number, timeZone: string): number {
  const bucket = Math.floor(ms / QUARTER_HOUR_MS);
  const last = lastOffset.get(timeZone);
  if (last?.bucket === bucket) return last.minutes;
  const minutes = computeOffsetMinutes(ms, timeZone);
  lastOffset.set(timeZone, { bucket, minutes });
  return minutes;
}

function computeOffsetMinutes(ms: number, timeZone: string): number {
  let fmt = offsetFormatters.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    offsetFormatters.set(timeZone, fmt);
  }
  const name = fmt.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  if (!m) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
  return m[1] === '-' ? -minutes : minutes;
}
