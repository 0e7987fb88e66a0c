import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import type { DeliveryOutcome, Destination, OutboxItem } from '../../../core/contract/destination.ts';
import { openStore, type Store } from '../../../core/store/store.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

async function storeWithOneItem(): Promise<Store> {
  const { dir, cleanup } = tempDir();
  const store = await openStore({ dir });
  cleanups.push(() => {
    store.close();
    cleanup();
  });
  await store.journalFor('modality', ['pacs']).append({ stream: 'dicom.instance', kind: 'instance', idempotencyKey: 'sop-1', raw: Buffer.from('x') });
  return store;
}

/** A destination whose delivery takes `ms` unless aborted (a slow PACS). */
function slowDestination(ms: number): Destination & { started: number } {
  const d = {
    id: 'pacs',
    started: 0,
    deliver(_item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome> {
      d.started++;
      return new Promise((resolve) => {
        const t = setTimeout(() => resolve({ result: 'ok' }), ms);
        signal.addEventListener('abort', () => clearTimeout(t), { once: true });
      });
    },
  };
  return d;
}

const options = { window: 4, ordered: false, attemptTimeoutMs: 60_000, backoff: { initialMs: 1_000, maxMs: 1_000, jitter: 0 } };

describe('forwarder stop', () => {
  it('cuts off a delivery that outlasts the grace and leaves the item pending for the next start', async () => {
    const store = await storeWithOneItem();
    const dest = slowDestination(30_000);
    const forwarder = new OutboxForwarder(dest, store.outbox, systemClock, pino({ level: 'silent' }), new EventBus(), { ...options, stopGraceMs: 100 });
    forwarder.start();
    await waitFor(() => dest.started === 1, 'the delivery to start');
    const t0 = Date.now();
    await forwarder.stop();
    expect(Date.now() - t0).toBeLessThan(10_000);
    const [row] = store.outbox.list({ destination: 'pacs' });
    expect(row!.state).toBe('pending');
    expect(row!.lastError).toMatch(/cut off by agent stop/);
  });

  it('lets a delivery that finishes within the grace record its success', async () => {
    const store = await storeWithOneItem();
    const dest = slowDestination(50);
    const forwarder = new OutboxForwarder(dest, store.outbox, systemClock, pino({ level: 'silent' }), new EventBus(), { ...options, stopGraceMs: 5_000 });
    forwarder.start();
    await waitFor(() => dest.started === 1, 'the delivery to start');
    await forwarder.stop();
    expect(store.outbox.list({ destination: 'pacs' })[0]!.state).toBe('done');
  });
});
