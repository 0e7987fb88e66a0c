import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { EventBus } from '../../../core/contract/events.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import type { DeliveryOutcome, Destination, OutboxItem } from '../../../core/contract/destination.ts';
import { openStore } from '../../../core/store/store.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups
    .splice(0)
    .reverse()
    .forEach((c) => c());
});

describe('forwarder batch path (deliverBatch, batchSize > 1)', () => {
  it('sends batches of at most batchSize grouped by study, window batches at once, and records each outcome', async () => {
    const { dir, cleanup } = tempDir();
    const clock = new ManualClock();
    const store = await openStore({ dir, clock });
    cleanups.push(cleanup, () => store.close());
    // 3 studies interleaved as a modality might send them: 25 instances.
    for (let i = 0; i < 25; i++) {
      const study = `study-${i % 3}`;
      await store
        .journalFor('us01', ['pacs'])
        .append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: `sop-${i}`, raw: Buffer.alloc(100), orderKey: study });
    }
    const batches: string[][] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const release: Array<() => void> = [];
    const dest: Destination = {
      id: 'pacs',
      deliver: async () => ({ result: 'retry', reason: 'deliver() must not be used' }),
      async deliverBatch(items: OutboxItem[]): Promise<DeliveryOutcome[]> {
        batches.push(items.map((i) => `${i.orderKey}/${i.idempotencyKey}`));
        maxConcurrent = Math.max(maxConcurrent, ++concurrent);
        await new Promise<void>((r) => release.push(r));
        concurrent--;
        // One refused, one to try again: the rest of the batch is still delivered.
        return items.map(
          (i): DeliveryOutcome =>
            i.idempotencyKey === 'sop-4'
              ? { result: 'permanent', reason: '0xC000' }
              : i.idempotencyKey === 'sop-5'
                ? { result: 'retry', reason: '0xA700' }
                : { result: 'ok' },
        );
      },
    };
    const f = new OutboxForwarder(dest, store.outbox, clock, pino({ level: 'silent' }), new EventBus(), {
      window: 2,
      ordered: false,
      attemptTimeoutMs: 60_000,
      backoff: { initialMs: 1_000, maxMs: 1_000, jitter: 0 },
      batchSize: 10,
      batchMaxBytes: 1_000,
    });
    cleanups.push(() => void f.stop());
    f.start();
    // Window 2: two requests at once; the byte cap (1000 B = 10 items of 100 B) and batchSize both hold.
    await waitFor(() => release.length === 2, 'two batches in flight at once (window 2)');
    while (store.outbox.status(['pacs'])[0]!.pending > 1 || release.length > 0) {
      await waitFor(() => release.length > 0, 'a batch in flight');
      await new Promise((r) => setTimeout(r, 10));
      release.splice(0).forEach((r) => r());
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(maxConcurrent).toBe(2);
    expect(batches.every((b) => b.length <= 10)).toBe(true);
    const sent = batches.flat();
    expect(new Set(sent).size).toBe(25);
    // Grouped by study: a batch changes study at most where one study's items run out.
    for (const b of batches) {
      const studies = b.map((s) => s.split('/')[0]);
      const changes = studies.filter((s, i) => i > 0 && s !== studies[i - 1]).length;
      expect(changes, b.join(' ')).toBeLessThanOrEqual(new Set(studies).size - 1);
    }
    await waitFor(() => store.outbox.status(['pacs'])[0]!.delivered === 23, 'outcomes recorded');
    expect(store.outbox.status(['pacs'])[0]).toMatchObject({ pending: 1, parked: 1, delivered: 23 });
    const retried = store.outbox.list({ destination: 'pacs', state: 'pending' });
    expect(retried.map((r) => [r.idempotencyKey, r.lastError])).toEqual([['sop-5', '0xA700']]);
  });
});
