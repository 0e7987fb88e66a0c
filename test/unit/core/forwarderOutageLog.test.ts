import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import type { DeliveryOutcome, Destination } from '../../../core/contract/destination.ts';
import { openStore } from '../../../core/store/store.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

// A destination down for a while (the province over a district hospital's uplink) with many
// items waiting: one warning for the outage, one line when it is back, not one per item and try.
describe('forwarder during an outage', () => {
  it('warns once, retries quietly, and says when deliveries go through again', async () => {
    const { dir, cleanup } = tempDir();
    const store = await openStore({ dir });
    cleanups.push(() => {
      store.close();
      cleanup();
    });
    const journal = store.journalFor('monitor', ['central']);
    for (let i = 0; i < 20; i++) await journal.append({ stream: 'vitals', kind: 'reading', idempotencyKey: `r-${i}`, raw: Buffer.from(`{"i":${i}}`) });
    let up = false;
    let attempts = 0;
    const dest: Destination = {
      id: 'central',
      async deliver(): Promise<DeliveryOutcome> {
        attempts++;
        return up ? { result: 'ok' } : { result: 'retry', reason: 'connect ECONNREFUSED 10.0.0.1:1883' };
      },
    };
    const lines: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
    const forwarder = new OutboxForwarder(dest, store.outbox, systemClock, log, new EventBus(), {
      window: 8,
      ordered: false,
      attemptTimeoutMs: 5_000,
      backoff: { initialMs: 5, maxMs: 20, jitter: 0 },
    });
    forwarder.start();
    await waitFor(() => attempts >= 200, 'many failed attempts');
    up = true;
    await waitFor(
      () => store.outbox.list({ destination: 'central' }).every((r) => r.state === 'done'),
      'every item delivered once the destination is back',
      10_000,
    );
    await forwarder.stop();
    const failed = lines.filter((l) => l.msg.startsWith('delivery failed'));
    expect(failed).toHaveLength(1);
    expect(failed[0]!.level).toBe(40);
    expect(lines.filter((l) => l.msg.startsWith('delivering again after'))).toHaveLength(1);
  });
});
