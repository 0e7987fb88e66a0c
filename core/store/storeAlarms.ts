import type { Logger } from 'pino';
import type { EventBus } from '../contract/events.ts';
import type { CaptureStop, CaptureUsage } from './capture.ts';
import type { PersonalDataAge } from './retention.ts';
import { DEVICE_ALARM } from '../contract/events.ts';

/** Names of the device-style alarms the store raises (`dev/<id>/alarm/<name>`). */
export const PERSONAL_DATA_AGE_ALARM = 'personal-data-age';
export const CAPTURE_QUOTA_ALARM = 'capture-quota';

/**
 * The store's alarms, raised like a device's own (`dev/<source>/alarm/<name>` domain events):
 * `DeviceAlarms` keeps them for `/api/devices` and the console, the LAN broker carries them
 * (counts and ages only, nothing personal), and each change is logged once.
 */
export class StoreAlarms {
  private personalActive = new Set<string>();

  constructor(
    private readonly bus: Pick<EventBus, 'publish'>,
    private readonly log: Logger,
    private readonly policy: { personalMaxDays: number; personalAlarmPercent: number },
  ) {}

  /** Raises, updates or clears the personal-data-age alarm of each source (after retention). */
  personalDataAge(report: PersonalDataAge[], nowMs: number): void {
    const bySource = new Map<string, PersonalDataAge[]>();
    for (const r of report) bySource.set(r.source, [...(bySource.get(r.source) ?? []), r]);
    const maxDays = this.policy.personalMaxDays;
    const alarmDays = Math.round(maxDays * this.policy.personalAlarmPercent) / 100;
    for (const [source, rows] of bySource) {
      const critical = rows.some((r) => r.level === 'critical');
      const body = {
        active: true,
        level: critical ? 'critical' : 'warn',
        pending: rows.find((r) => r.state === 'pending')?.entries ?? 0,
        parked: rows.find((r) => r.state === 'parked')?.entries ?? 0,
        oldestDays: Math.max(...rows.map((r) => r.ageDays)),
        alarmDays,
        maxDays,
        at: new Date(nowMs).toISOString(),
      };
      this.emit(source, PERSONAL_DATA_AGE_ALARM, body);
      const text = critical
        ? `personal data older than retention.personalMaxDays (${maxDays} d) is still pending: it is kept until delivered; deliver or park it`
        : `personal data in pending or parked entries nears retention.personalMaxDays (${maxDays} d): parked entries are scrubbed then`;
      this.log[critical ? 'error' : 'warn']({ source, ...body }, text);
    }
    for (const source of this.personalActive) {
      if (!bySource.has(source)) {
        this.emit(source, PERSONAL_DATA_AGE_ALARM, { active: false, at: new Date(nowMs).toISOString() });
        this.log.info({ source }, 'personal-data-age alarm cleared');
      }
    }
    this.personalActive = new Set(bySource.keys());
  }

  /** A device's raw captures stopped (quota or disk) or resumed; the store logged it already. */
  captureStop(device: string, stopped: CaptureStop, usage: CaptureUsage, nowMs: number): void {
    this.emit(
      device,
      CAPTURE_QUOTA_ALARM,
      stopped
        ? { active: true, reason: stopped, usedBytes: usage.usedBytes, quotaBytes: usage.quotaBytes, at: new Date(nowMs).toISOString() }
        : { active: false, at: new Date(nowMs).toISOString() },
    );
  }

  private emit(source: string, name: string, body: Record<string, unknown>): void {
    this.bus.publish(DEVICE_ALARM, { active: true, ...body }, { topic: `dev/${source}/alarm/${name}`, retain: true });
  }
}
