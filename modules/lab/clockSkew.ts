import type { DriverContext } from '../../core/contract/driver.ts';
import { deviceTimeToIso } from './values.ts';
import { DEVICE_ALARM } from '../../core/contract/events.ts';

/** Device message time (ASTM H.14, HL7 MSH-7, in the device's zone) minus the box clock, in seconds. */
export function clockSkewSeconds(messageTime: string | undefined, timeZone: string, nowMs: number): number | undefined {
  if (!messageTime) return undefined;
  const iso = deviceTimeToIso(messageTime, timeZone);
  return iso ? Math.round((Date.parse(iso) - nowMs) / 1000) : undefined;
}

/**
 * Raises a per-device alarm when an analyzer's clock is off (its result times would be wrong in
 * the LIS) and clears it when the clock is right again: a warning in the log and a retained
 * `dev/<id>/alarm/clock-skew` message on the LAN broker for the console and the operations centre.
 * Only changes are reported, however many messages arrive.
 */
export class ClockSkewAlarm {
  private active = false;

  constructor(
    private readonly ctx: Pick<DriverContext, 'id' | 'log' | 'bus'>,
    private readonly thresholdSeconds = 300,
  ) {}

  get raised(): boolean {
    return this.active;
  }

  observe(skewSeconds: number | undefined, atMs: number): void {
    if (skewSeconds === undefined) return;
    const off = Math.abs(skewSeconds) > this.thresholdSeconds;
    if (off === this.active) return;
    this.active = off;
    if (off) this.ctx.log.warn({ skewSeconds }, 'analyzer clock differs from the box clock; its result times are kept as sent (alarm raised)');
    else this.ctx.log.info({ skewSeconds }, 'analyzer clock agrees with the box clock again (alarm cleared)');
    this.ctx.bus.publish(
      DEVICE_ALARM,
      { active: off, skewSeconds, thresholdSeconds: this.thresholdSeconds, at: new Date(atMs).toISOString() },
      { topic: `dev/${this.ctx.id}/alarm/clock-skew`, retain: true },
    );
  }
}

const alarms = new WeakMap<object, ClockSkewAlarm>();

/** One alarm per device, shared by all its connections. */
export function clockSkewAlarmFor(ctx: Pick<DriverContext, 'id' | 'log' | 'bus'>, thresholdSeconds?: number): ClockSkewAlarm {
  let alarm = alarms.get(ctx);
  if (!alarm) alarms.set(ctx, (alarm = new ClockSkewAlarm(ctx, thresholdSeconds)));
  return alarm;
}
