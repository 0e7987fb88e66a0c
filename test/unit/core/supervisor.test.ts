import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Supervisor } from '../../../core/supervisor.ts';
import type { DriverStatus } from '../../../core/contract/driver.ts';
import { ManualClock } from '../../helpers/manualClock.ts';

describe('Supervisor', () => {
  it('isolates a failing component: status error, restarts with growing backoff, then running', async () => {
    const clock = new ManualClock();
    const statuses: DriverStatus[] = [];
    let attempts = 0;
    const sup = new Supervisor(
      'device flaky',
      () => ({
        start: async () => {
          attempts++;
          if (attempts < 3) throw new Error(`port busy (${attempts})`);
        },
        stop: async () => undefined,
      }),
      pino({ level: 'silent' }),
      clock,
      (s) => statuses.push(s),
    );
    await sup.start();
    expect(sup.getStatus()).toMatchObject({ state: 'error', lastError: 'port busy (1)' });
    const first = clock.nextTimerAt()! - clock.now();
    clock.advance(first);
    await new Promise((r) => setImmediate(r));
    expect(sup.getStatus().state).toBe('error');
    const second = clock.nextTimerAt()! - clock.now();
    expect(second).toBe(2 * first);
    clock.advance(second);
    await new Promise((r) => setImmediate(r));
    expect(sup.getStatus().state).toBe('running');
    expect(sup.restartCount).toBe(2);
    expect(statuses.map((s) => s.state)).toEqual(['starting', 'error', 'starting', 'error', 'starting', 'running']);
  });

  it('restarts a running component that reports an error, and not after stop()', async () => {
    const clock = new ManualClock();
    let starts = 0;
    const sup = new Supervisor(
      'destination lis',
      () => ({ start: async () => void starts++, stop: async () => undefined }),
      pino({ level: 'silent' }),
      clock,
      () => undefined,
    );
    await sup.start();
    sup.report('error', 'socket closed', new Error('ECONNRESET'));
    clock.advance(1_000);
    await new Promise((r) => setImmediate(r));
    expect(starts).toBe(2);
    await sup.stop();
    sup.report('error', 'late error');
    clock.advance(60_000);
    await new Promise((r) => setImmediate(r));
    expect(starts).toBe(2);
  });
});
