import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { EventBus } from '../../../core/contract/events.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import type { DeliveryOutcome, Destination, OutboxItem } from '../../../core/contract/destination.ts';
import { openStore, type Store } from '../../../core/store/store.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

// The "stable" hold: a study's instances wait until the study received nothing for stableMs,
// then leave together. Times come from the store, so the hold survives a restart.

const STABLE_MS = 5_000;
const cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups
    .splice(0)
    .reverse()
    .forEach((c) => c());
});

/** A PACS that acknowledges at once and remembers what it got and when (manual clock time). */
function recordingPacs(clock: ManualClock): Destination & { got: Array<{ key: string; sop: string; at: number }> } {
  const d = {
    id: 'pacs',
    got: [] as Array<{ key: string; sop: string; at: number }>,
    async deliver(item: OutboxItem): Promise<DeliveryOutcome> {
      d.got.push({ key: item.orderKey, sop: item.idempotencyKey, at: clock.now() });
      return { result: 'ok' };
    },
  };
  return d;
}

async function open(dir: string, clock: ManualClock): Promise<Store> {
  const store = await openStore({ dir, clock });
  cleanups.push(() => store.close());
  return store;
}

function forwarderFor(store: Store, dest: Destination, clock: ManualClock): OutboxForwarder {
  const f = new OutboxForwarder(dest, store.outbox, clock, pino({ level: 'silent' }), new EventBus(), {
    window: 8,
    ordered: false,
    attemptTimeoutMs: 60_000,
    backoff: { initialMs: 1_000, maxMs: 1_000, jitter: 0 },
    stableMs: STABLE_MS,
  });
  store.onEnqueued(() => f.wake());
  cleanups.push(() => void f.stop());
  return f;
}

async function receive(store: Store, study: string, sop: string): Promise<void> {
  await store
    .journalFor('modality', ['pacs'])
    .append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: sop, raw: Buffer.from(sop), orderKey: study });
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));
/** The forwarder re-arms its timer once it has seen the store: quick, but not within a fixed time on a loaded machine. */
const timerAt = (clock: ManualClock, at: number): Promise<void> =>
  waitFor(() => clock.nextTimerAt() === at, `the forwarder's timer set for ${new Date(at).toISOString()}`);

describe('stable hold (stableSeconds)', () => {
  it('holds a study until stableSeconds after its last instance, and studies are independent', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    const t0 = clock.now();
    const store = await open(dir, clock);
    const pacs = recordingPacs(clock);
    forwarderFor(store, pacs, clock).start();

    // Study A: one instance a second for 4 s; study B: one instance at 1.5 s.
    for (let i = 0; i < 5; i++) {
      clock.advanceTo(t0 + i * 1_000);
      await receive(store, 'study-A', `A${i}`);
      if (i === 1) {
        clock.advanceTo(t0 + 1_500);
        await receive(store, 'study-B', 'B0');
      }
      await settle();
      expect(pacs.got).toEqual([]);
    }
    // The forwarder's timer is set for the first study to go quiet: B, 5 s after 1.5 s.
    await timerAt(clock, t0 + 1_500 + STABLE_MS);

    clock.advanceTo(t0 + 1_500 + STABLE_MS - 1);
    await settle();
    expect(pacs.got).toEqual([]);
    clock.advanceTo(t0 + 1_500 + STABLE_MS);
    await waitFor(() => pacs.got.length === 1, 'study B delivered');
    expect(pacs.got[0]).toMatchObject({ key: 'study-B', sop: 'B0' });

    // A's last instance came at 4 s: nothing of A before 9 s, all five at 9 s.
    await timerAt(clock, t0 + 4_000 + STABLE_MS);
    clock.advanceTo(t0 + 4_000 + STABLE_MS - 1);
    await settle();
    expect(pacs.got).toHaveLength(1);
    clock.advanceTo(t0 + 4_000 + STABLE_MS);
    await waitFor(() => pacs.got.length === 6, 'study A delivered');
    expect(pacs.got.slice(1).map((g) => g.sop)).toEqual(['A0', 'A1', 'A2', 'A3', 'A4']);
    expect(new Set(pacs.got.slice(1).map((g) => g.at))).toEqual(new Set([t0 + 4_000 + STABLE_MS]));
    await waitFor(() => store.outbox.status(['pacs'])[0]!.delivered === 6, 'outcomes recorded');
    expect(store.outbox.status(['pacs'])[0]).toMatchObject({ pending: 0, delivered: 6 });
  });

  it('a new instance restarts the study quiet time; the hold survives a restart of the agent', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const clock = new ManualClock();
    const t0 = clock.now();
    let store = await open(dir, clock);
    await receive(store, 'study-C', 'C0');
    clock.advanceTo(t0 + 4_000);
    await receive(store, 'study-C', 'C1');

    // Claim straight from the outbox: held, due when the study is quiet.
    expect(store.outbox.claim('pacs', 10, new Set(), false, STABLE_MS)).toEqual({ items: [], nextDueMs: t0 + 4_000 + STABLE_MS });
    // Ordered destinations get the same hold on their head of line.
    expect(store.outbox.claim('pacs', 10, new Set(), true, STABLE_MS)).toEqual({ items: [], nextDueMs: t0 + 4_000 + STABLE_MS });

    // Restart: a new store and forwarder read the same times back.
    store.close();
    cleanups.pop();
    clock.advanceTo(t0 + 6_000);
    store = await open(dir, clock);
    const pacs = recordingPacs(clock);
    forwarderFor(store, pacs, clock).start();
    await settle();
    expect(pacs.got).toEqual([]);
    await timerAt(clock, t0 + 4_000 + STABLE_MS);
    clock.advanceTo(t0 + 4_000 + STABLE_MS);
    await waitFor(() => pacs.got.length === 2, 'study C delivered after the restart');

    // Sent again to a new destination: queued under the same study.
    const journalId = store.outbox.list({ destination: 'pacs' })[0]!.journalId;
    expect(await store.outbox.resend(journalId, 'pacs-2')).toBe('queued');
    expect(store.outbox.list({ destination: 'pacs-2' })[0]!.orderKey).toBe('study-C');

    // Without the hold the same outbox is due at once (stableSeconds 0 keeps today's behaviour).
    await receive(store, 'study-D', 'D0');
    expect(store.outbox.claim('pacs', 10, new Set(), false).items.map((i) => i.idempotencyKey)).toEqual(['D0']);
  });
});
