import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../core/contract/events.ts';
import { ClockSkewAlarm, clockSkewSeconds } from '../../../modules/lab/clockSkew.ts';

describe('clock-skew alarm per device', () => {
  it('raises once when the analyzer clock is off by more than the threshold, clears once when it is right again', () => {
    const bus = new EventBus();
    const events: unknown[] = [];
    bus.on('test', 'domain.event', (e) => void events.push(e));
    const alarm = new ClockSkewAlarm({ id: 'xn1', log: pino({ level: 'silent' }), bus }, 300);
    const at = Date.parse('2026-11-22T03:00:00Z');
    alarm.observe(120, at);
    expect(events).toHaveLength(0);
    alarm.observe(-3600, at);
    alarm.observe(-3500, at);
    expect(alarm.raised).toBe(true);
    alarm.observe(undefined, at); // a message without a time says nothing
    alarm.observe(5, at);
    expect(events).toEqual([
      {
        visibility: 'lan',
        topic: 'dev/xn1/alarm/clock-skew',
        retain: true,
        body: { active: true, skewSeconds: -3600, thresholdSeconds: 300, at: '2026-11-22T03:00:00.000Z' },
      },
      {
        visibility: 'lan',
        topic: 'dev/xn1/alarm/clock-skew',
        retain: true,
        body: { active: false, skewSeconds: 5, thresholdSeconds: 300, at: '2026-11-22T03:00:00.000Z' },
      },
    ]);
  });

  it('reads the device time in the device zone (MSH-7, H.14), with an explicit offset honoured', () => {
    const box = Date.parse('2026-11-22T10:00:00+07:00');
    expect(clockSkewSeconds('20261122100500', 'Asia/Ho_Chi_Minh', box)).toBe(300);
    expect(clockSkewSeconds('20261122030000+0000', 'Asia/Ho_Chi_Minh', box)).toBe(0);
    expect(clockSkewSeconds('not a time', 'Asia/Ho_Chi_Minh', box)).toBeUndefined();
  });
});
