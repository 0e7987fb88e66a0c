import { DEVICE_ALARM, type EventBus } from './contract/events.ts';

/** An alarm a device raised and has not cleared (e.g. its clock is off). */
export interface DeviceAlarm {
  name: string;
  /** The alarm's own fields as published (clock-skew: skewSeconds, thresholdSeconds, at). */
  [field: string]: unknown;
}

/**
 * The active alarms per device, from the `dev/<id>/alarm/<name>` domain events drivers publish
 * (the same retained messages the LAN broker carries), so the console can show them next to the
 * device's status.
 */
export class DeviceAlarms {
  private readonly active = new Map<string, Map<string, Record<string, unknown>>>();

  constructor(bus: Pick<EventBus, 'subscribe'>) {
    bus.subscribe('device-alarms', DEVICE_ALARM, (body, topic) => {
      const [, device, , name] = topic.split('/') as [string, string, string, string];
      const fields = (body ?? {}) as Record<string, unknown>;
      const alarms = this.active.get(device) ?? new Map<string, Record<string, unknown>>();
      if (fields.active === false) alarms.delete(name);
      else alarms.set(name, fields);
      this.active.set(device, alarms);
    });
  }

  for(device: string): DeviceAlarm[] {
    return [...(this.active.get(device) ?? new Map<string, Record<string, unknown>>())].map(([name, fields]) => ({ ...fields, name }));
  }
}
