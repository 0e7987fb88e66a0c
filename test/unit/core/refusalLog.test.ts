import { describe, expect, it } from 'vitest';
import { RefusalLog } from '../../../core/net/refusalLog.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { capturingLogger } from '../../integration/his/logCapture.ts';

function refusalLog(windowMs = 60_000) {
  const clock = new ManualClock();
  const { log, lines } = capturingLogger();
  const parsed = () =>
    lines.map((l) => JSON.parse(l) as { msg: string; refusedSinceLastLine?: number; windowSeconds?: number; sourcesOverLimit?: boolean; peer?: string });
  return { clock, refusals: new RefusalLog(log, windowMs, clock), parsed };
}

describe('RefusalLog', () => {
  it('without a summary text, sums a key up in the words of its first line, once per window', () => {
    const { clock, refusals, parsed } = refusalLog(600_000);
    for (let i = 0; i < 6; i++) refusals.warn('framing 10.0.0.9', { peer: '10.0.0.9' }, 'MLLP framing problem; the sender will resend');
    expect(parsed()).toHaveLength(1);
    clock.advance(600_000);
    expect(parsed()[1]).toMatchObject({
      peer: '10.0.0.9',
      refusedSinceLastLine: 5,
      windowSeconds: 600,
      msg: 'MLLP framing problem; the sender will resend: 5 more in the last 600 s',
    });
    clock.advance(600_000);
    expect(parsed()).toHaveLength(2);
    expect(clock.nextTimerAt()).toBeNull(); // nothing left to sum up: no timer
  });

  it('sums up sources past 1,000 at once in one line instead of one line each', () => {
    const { clock, refusals, parsed } = refusalLog();
    for (let i = 0; i < 1_500; i++)
      refusals.warn(`not-allowed 10.1.${i >> 8}.${i & 255}`, { peer: `10.1.${i >> 8}.${i & 255}` }, 'connection refused', (n) => `refused ${n}`);
    expect(parsed()).toHaveLength(1_001);
    expect(parsed()[1_000]).toMatchObject({ peer: '10.1.3.232', sourcesOverLimit: true });
    clock.advance(60_000);
    expect(parsed().slice(1_001)).toEqual([
      expect.objectContaining({ msg: '499 more refusals from other sources in the last 60 s (more than 1000 sources at once)' }),
    ]);
  });

  it('close() writes what the window counted so far and leaves no timer', () => {
    const { clock, refusals, parsed } = refusalLog();
    for (let i = 0; i < 3; i++) refusals.warn('k', {}, 'refused', (n, window) => `refused ${n} in the last ${window}`);
    clock.advance(20_000);
    refusals.close();
    expect(parsed().map((l) => l.msg)).toEqual(['refused', 'refused 2 in the last 20 s']);
    expect(clock.nextTimerAt()).toBeNull();
  });
});
