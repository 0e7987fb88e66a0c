import { describe, expect, it } from 'vitest';
import { capturingLogger } from '../../integration/his/logCapture.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { DEFAULT_RECONNECT, formatDuration, Reconnector } from '../../../core/forward/backoff.ts';

const DAY = 86_400_000;

/** A link whose every attempt fails with ECONNREFUSED at once, on a manual clock. */
function deadLink(policy = DEFAULT_RECONNECT) {
  const clock = new ManualClock();
  const { log, lines } = capturingLogger();
  const attempts: number[] = [];
  let failing = true;
  const link: Reconnector = new Reconnector({
    what: 'uplink',
    log,
    clock,
    policy,
    attempt: () => {
      attempts.push(clock.now());
      if (!failing) return link.connected();
      link.error(new Error('connect ECONNREFUSED 10.8.0.1:8883'));
      link.closed();
    },
  });
  const parsed = () => lines.map((l) => JSON.parse(l) as { level: number; msg: string });
  return { clock, link, attempts, parsed, heal: () => void (failing = false) };
}

describe('Reconnector (province uplink reconnects)', () => {
  it('backs off 2 s doubling to 5 min with jitter, logs a day without the broker in a few lines, and says when it is back', () => {
    const { clock, link, attempts, parsed, heal } = deadLink();
    const start = clock.now();
    link.error(new Error('connect ECONNREFUSED 10.8.0.1:8883'));
    link.closed(); // the first connect failed
    while (clock.now() - start < DAY) clock.advanceTo(clock.nextTimerAt()!);

    const gaps = attempts.map((t, i) => t - (i === 0 ? start : attempts[i - 1]!));
    // Jitter takes up to half of each delay: attempt n waits between 2^(n-1) s and 2^n s, capped at 5 min.
    for (const [i, gap] of gaps.entries()) {
      const exp = Math.min(300_000, 2_000 * 2 ** i);
      expect(gap).toBeGreaterThanOrEqual(exp / 2);
      expect(gap).toBeLessThanOrEqual(exp);
    }
    expect(gaps.slice(0, 8).every((g, i) => i === 0 || g > gaps[i - 1]! / 2)).toBe(true);
    expect(attempts.length).toBeLessThan(700); // the old fixed 2 s period: 43,200
    expect(attempts.length).toBeGreaterThan(280);

    const lines = parsed();
    expect(lines[0]).toMatchObject({
      level: 40,
      msg: expect.stringMatching(/^uplink unreachable: connect ECONNREFUSED 10\.8\.0\.1:8883; retrying with backoff/),
    });
    const summaries = lines.filter((l) => l.msg.startsWith('uplink still unreachable for '));
    expect(summaries.length).toBe(lines.length - 1);
    // One summary per 10 min at most: ≤ 144 a day.
    expect(lines.length).toBeLessThanOrEqual(145);
    expect(summaries[0]!.msg).toMatch(
      /^uplink still unreachable for \d+ min, \d+ attempts, last error connect ECONNREFUSED 10\.8\.0\.1:8883, next try in \d+ (s|min)$/,
    );
    expect(link.state).toMatchObject({ state: 'unreachable', downSince: start, lastError: 'connect ECONNREFUSED 10.8.0.1:8883' });
    expect(link.state.attempts).toBe(attempts.length + 1);

    heal();
    clock.advanceTo(clock.nextTimerAt()!);
    expect(parsed().at(-1)).toMatchObject({
      level: 30,
      msg: expect.stringMatching(/^uplink connected again after 24 h( \d+ min)?$/),
      attempts: attempts.length,
    });
    expect(link.state).toMatchObject({ state: 'connected', downSince: null, attempts: 0, nextAttemptAt: null });
    expect(link.describe()).toBe('connected');
  });

  it('starts again at 2 s after a connection that stayed up 30 s; a connection that drops at once keeps backing off', () => {
    const policy = { ...DEFAULT_RECONNECT, jitter: 0 };
    const { clock, link, attempts, heal } = deadLink(policy);
    link.closed();
    for (let i = 0; i < 5; i++) clock.advanceTo(clock.nextTimerAt()!); // 2, 4, 8, 16, 32 s
    heal();
    clock.advanceTo(clock.nextTimerAt()!); // 64 s: connected
    link.closed(); // dropped at once
    expect(clock.nextTimerAt()! - clock.now()).toBe(128_000);
    clock.advanceTo(clock.nextTimerAt()!);
    clock.advance(30_000);
    link.closed(); // dropped after 30 s up
    expect(clock.nextTimerAt()! - clock.now()).toBe(2_000);
    expect(attempts.length).toBe(7);
  });

  it('stop() cancels the pending attempt: no timer left, no attempt, no line', () => {
    const { clock, link, attempts, parsed } = deadLink();
    link.closed();
    expect(clock.nextTimerAt()).not.toBeNull();
    link.stop();
    expect(clock.nextTimerAt()).toBeNull();
    link.closed(); // the client's own close after stop()
    clock.advance(DAY);
    expect(attempts).toEqual([]);
    expect(parsed()).toHaveLength(1);
    expect(link.state.nextAttemptAt).toBeNull();
  });

  it('formats durations as an operator reads them', () => {
    expect([850, 40_000, 12 * 60_000, 47 * 60_000, 3 * 3_600_000 + 5 * 60_000, 2 * 3_600_000].map(formatDuration)).toEqual([
      '850 ms',
      '40 s',
      '12 min',
      '47 min',
      '3 h 5 min',
      '2 h',
    ]);
  });
});
