// The fuzz harness itself (test/fuzz/lib): inputs are rebuilt from (seed, target, iteration),
// and each failure class is told apart. A fuzzer that cannot see a crash, a hang or a huge
// allocation would pass for ever, so each is provoked here with a target made to fail.
import { afterAll, describe, expect, it } from 'vitest';
import { installAllocGuard } from './lib/allocGuard.ts';
import { DEFAULT_LIMITS, execute, inputFor, runRngFor, signatureOf } from './lib/execute.ts';
import { FailureLog } from './lib/failures.ts';
import { Rng } from './lib/rng.ts';
import { oracle, type FuzzTarget } from './lib/target.ts';
import { TARGETS } from './targets/index.ts';
import { tempDir } from '../helpers/tmp.ts';

class OwnError extends Error {}

function target(run: FuzzTarget['run']): FuzzTarget {
  return { name: 'test.target', about: '', seeds: () => [Buffer.from('seed')], expected: (e) => e instanceof OwnError, run };
}

const limits = { ...DEFAULT_LIMITS, slowMs: 30, asyncTimeoutMs: 200 };
const rng = () => new Rng('t');
const { dir, cleanup } = tempDir('fuzz-harness-');
afterAll(cleanup);
installAllocGuard();

describe('fuzz harness', () => {
  it('rebuilds an input from its seed, target and iteration alone', () => {
    const t = TARGETS.find((x) => x.name === 'hl7.message')!;
    const seeds = t.seeds();
    const a = inputFor(t, seeds, 's1', 123);
    expect(inputFor(t, seeds, 's1', 123).equals(a)).toBe(true);
    expect(inputFor(t, seeds, 's1', 124).equals(a)).toBe(false);
    expect(inputFor(t, seeds, 's2', 123).equals(a)).toBe(false);
    expect(runRngFor(t, 's1', 5).next()).toBe(runRngFor(t, 's1', 5).next());
  });

  it("tells the target's own errors from crashes, oracle violations, allocations, hangs and slow inputs", async () => {
    const input = Buffer.from('x');
    expect(
      (
        await execute(
          target(() => 1),
          input,
          rng,
          limits,
        )
      ).kind,
    ).toBe('ok');
    expect(
      (
        await execute(
          target(() => {
            throw new OwnError('bad input');
          }),
          input,
          rng,
          limits,
        )
      ).kind,
    ).toBe('expected');
    const crash = await execute(
      target(() => (undefined as unknown as { a: number }).a),
      input,
      rng,
      limits,
    );
    expect(crash.kind).toBe('crash');
    expect(crash.errorName).toBe('TypeError');
    expect(
      (
        await execute(
          target(() => oracle(false, 'wrong answer')),
          input,
          rng,
          limits,
        )
      ).kind,
    ).toBe('oracle');
    const alloc = await execute(
      target(() => Buffer.alloc(2 ** 31)),
      input,
      rng,
      limits,
    );
    expect(alloc.kind).toBe('alloc');
    // Caught by the code under test: still reported.
    const swallowed = await execute(
      target(() => {
        try {
          Buffer.allocUnsafe(2 ** 30);
        } catch {
          /* a parser hiding it */
        }
      }),
      input,
      rng,
      limits,
    );
    expect(swallowed.kind).toBe('alloc');
    expect(
      (
        await execute(
          target(() => new Promise(() => undefined)),
          input,
          rng,
          limits,
        )
      ).kind,
    ).toBe('hang');
    const slow = await execute(
      target(() => {
        // 60 ms of CPU, not of wall time: on a loaded machine a wall-clock loop may get less CPU than the bound.
        const start = process.cpuUsage();
        while (true) {
          const used = process.cpuUsage(start);
          if ((used.user + used.system) / 1000 >= 60) break;
        }
      }),
      input,
      rng,
      limits,
    );
    expect(slow.kind).toBe('slow');
  });

  it('records each failure once, by kind, error and place, with its input and the command that replays it', () => {
    const log = new FailureLog(dir);
    const outcome = {
      kind: 'crash' as const,
      ms: 1,
      cpuMs: 1,
      largestAlloc: 0,
      errorName: 'TypeError',
      message: 'x of 12 is undefined',
      stack: 'TypeError: x\n    at f (/w/modules/astm/records.ts:10:5)',
    };
    log.add('astm.records', 's', 1, outcome, Buffer.from('a'), 'cmd');
    log.add(
      'astm.records',
      's',
      2,
      { ...outcome, message: 'x of 99 is undefined', stack: 'TypeError: x\n    at f (/w/modules/astm/records.ts:11:5)' },
      Buffer.from('b'),
      'cmd',
    );
    expect(log.failures.size).toBe(1);
    expect([...log.failures.values()][0]!.occurrences).toBe(2);
    expect(signatureOf('astm.records', { ...outcome, stack: 'TypeError: x\n    at g (/w/modules/hl7/message.ts:3:1)' })).not.toBe(
      signatureOf('astm.records', outcome),
    );
  });

  it('every target takes its own seeds without a failure (a broken target or seed would hide every bug)', async () => {
    for (const t of TARGETS) {
      for (const [i, seed] of t.seeds().entries()) {
        const o = await execute(t, seed, () => new Rng('seeds', t.name, i), { ...DEFAULT_LIMITS, slowMs: 10_000 });
        expect(['ok', 'expected'], `${t.name} seed ${i}: ${o.kind} ${o.errorName}: ${o.message}`).toContain(o.kind);
      }
    }
  }, 120_000);
});
