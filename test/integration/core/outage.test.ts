import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { EventBus } from '../../../core/contract/events.ts';
import { openStore, type Store } from '../../../core/store/store.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { HttpJsonDestination } from '../../../core/forward/httpJson.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { runForwarderUntil as runUntil } from '../../helpers/simulatedTime.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

const DAY = 86_400_000;
let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('destination outage of a simulated day', () => {
  it('delivers every item once, in order per source, after the destination returns; a poison item is parked without blocking', async () => {
    const { dir, cleanup: rmDir } = tempDir();
    const clock = new ManualClock();
    const store: Store = await openStore({ dir, clock });
    const sink: HttpSink = await startHttpSink({ refuseWhenBodyContains: 'POISON' });
    cleanup.push(
      rmDir,
      () => store.close(),
      () => sink.stop(),
    );

    const bus = new EventBus();
    const dest = new HttpJsonDestination('central', { url: sink.url, timeoutMs: 5_000 });
    const forwarder = new OutboxForwarder(dest, store.outbox, clock, pino({ level: 'silent' }), bus, {
      window: 8,
      ordered: true,
      attemptTimeoutMs: 10_000,
      backoff: { initialMs: 5_000, maxMs: 600_000, jitter: 0.5 },
    });
    store.onEnqueued(() => forwarder.wake());
    await sink.down();
    forwarder.start();
    cleanup.push(() => forwarder.stop());

    // Three analyzers produce 1,000 results each during the outage, interleaved.
    const sources = ['xn1', 'cobas1', 'bc5380'];
    const journals = sources.map((s) => store.journalFor(s, ['central']));
    const perSource = 1000;
    for (let i = 0; i < perSource; i++) {
      await Promise.all(
        journals.map((j, s) =>
          j.append({
            stream: 'lab.result',
            kind: 'result',
            idempotencyKey: `${sources[s]}-${i}`,
            parsed: { n: i, text: s === 1 && i === 500 ? 'POISON' : 'ok' },
          }),
        ),
      );
      if (i % 100 === 0) clock.advance(60_000);
    }

    // A day passes with the destination down: retries back off to the cap and never give up.
    await runUntil(clock, forwarder, clock.now() + DAY);
    expect(sink.received).toHaveLength(0);
    const during = store.outbox.status(['central'])[0]!;
    expect(during.pending).toBe(3 * perSource);
    expect(during.lastError).toMatch(/ECONNREFUSED/);
    const heads = store.outbox.list({ destination: 'central', state: 'pending', limit: 1000 }).filter((o) => o.attempts > 0);
    // Backoff capped at 10 min (±jitter) over 24 h: each head tried well over 100 times, no give-up.
    expect(Math.min(...heads.map((h) => h.attempts))).toBeGreaterThan(100);

    await sink.up();
    const back = clock.now();
    await runUntil(clock, forwarder, back + 15 * 60_000);
    await waitFor(() => store.outbox.status(['central'])[0]!.pending === 0, 'outbox to drain', 60_000);

    const keys = sink.received.map((r) => r.idempotencyKey!);
    expect(new Set(keys).size).toBe(keys.length); // once per idempotency key
    expect(keys).toHaveLength(3 * perSource - 1);
    for (const s of sources) {
      const order = sink.received.filter((r) => r.idempotencyKey!.startsWith(`${s}-`)).map((r) => Number(r.idempotencyKey!.split('-')[1]));
      const expected = Array.from({ length: perSource }, (_, i) => i).filter((i) => !(s === 'cobas1' && i === 500));
      expect(order).toEqual(expected);
    }
    const parked = store.outbox.list({ destination: 'central', state: 'parked' });
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({ idempotencyKey: 'cobas1-500', deadLetterReason: 'HTTP 422: refused: item marked as poison' });

    // The parked item can be requeued by hand and is then tried again (and refused again).
    expect(await store.outbox.requeue(parked[0]!.outboxId)).toBe(true);
    forwarder.wake();
    await waitFor(() => store.outbox.list({ destination: 'central', state: 'parked' }).length === 1, 'requeued poison to be parked again');
  });
});
