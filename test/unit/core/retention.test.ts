import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { openStore, type Store } from '../../../agent/store/store.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { tempDir } from '../../helpers/tmp.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

async function setup(): Promise<{ store: Store; clock: ManualClock }> {
  const { dir, cleanup } = tempDir();
  const clock = new ManualClock();
  const store = await openStore({ dir, clock, retention: { deliveredDays: 30, personalHours: 72 } });
  cleanups.push(() => (store.close(), cleanup()));
  return { store, clock };
}

describe('retention', () => {
  it('scrubs personal data after its retention once delivered, purges delivered items after theirs, never touches pending or parked ones', async () => {
    const { store, clock } = await setup();
    const journal = store.journalFor('xn1', ['lis']);
    const ref = await store.blobs.write(Buffer.from('image bytes'));
    const delivered = await journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'delivered', raw: Buffer.from('PID|||001099012345||Nguyễn Văn An'), parsed: { patientName: 'Nguyễn Văn An' }, personal: true, blob: ref });
    const pending = await journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'pending', raw: Buffer.from('PID|||079203001234||Trần Thị Bích'), personal: true });
    const parked = await journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'parked', raw: Buffer.from('bad'), personal: true });
    const ids = (key: string) => store.outbox.list({ destination: 'lis' }).find((o) => o.idempotencyKey === key)!.outboxId;
    await store.outbox.markDone(ids('delivered'));
    await store.outbox.park(ids('parked'), 'lis', 'AE: unknown test code');

    clock.advance(71 * HOUR);
    expect(await store.applyRetention()).toMatchObject({ personalScrubbed: 0, journalPurged: 0 });

    clock.advance(2 * HOUR);
    expect(await store.applyRetention()).toMatchObject({ personalScrubbed: 1, journalPurged: 0 });
    expect(store.journalStore.get(delivered.id)).toMatchObject({ raw: null, parsed: null, scrubbed: true });
    expect(store.journalStore.get(pending.id)!.raw?.toString()).toContain('Trần Thị Bích');
    expect(store.journalStore.get(parked.id)!.raw?.toString()).toBe('bad');
    expect(existsSync(store.blobs.path(ref))).toBe(true);

    clock.advance(31 * DAY);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, outboxPurged: 1, blobsRemoved: 1 });
    expect(store.journalStore.get(delivered.id)).toBeUndefined();
    expect(existsSync(store.blobs.path(ref))).toBe(false);
    // Clinical data never expires from the outbox.
    expect(store.outbox.status(['lis'])[0]).toMatchObject({ pending: 1, parked: 1 });
    expect(store.journalStore.get(pending.id)).toBeDefined();
    expect(store.journalStore.get(parked.id)).toBeDefined();
  });

  it('keeps a delivered entry and its file while a module holds it, and purges it once released', async () => {
    const { store, clock } = await setup();
    const ref = await store.blobs.write(Buffer.from('CT slice'));
    const entry = await store.journalFor('ct1', ['pacs']).append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'sop-9', blob: ref });
    await store.outbox.markDone(store.outbox.list({ destination: 'pacs' })[0]!.outboxId);
    store.outbox.hold(entry.id, 'dicom-commit:pacs');
    clock.advance(40 * DAY);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 0, blobsRemoved: 0 });
    expect(existsSync(store.blobs.path(ref))).toBe(true);
    store.outbox.release(entry.id, 'dicom-commit:pacs');
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, blobsRemoved: 1 });
    expect(existsSync(store.blobs.path(ref))).toBe(false);
  });

  it('purges raw captures after the personal-data retention', async () => {
    const { store, clock } = await setup();
    const s = store.captureFor('astm1').open('tcp 127.0.0.1:4010');
    s.inbound(Buffer.from('\x05'));
    s.close();
    store.committer.flush();
    clock.advance(73 * HOUR);
    expect(await store.applyRetention()).toMatchObject({ capturesPurged: 1 });
    expect(store.captures.list()).toEqual([]);
  });

  it('keeps a blob file that another, still-kept entry shares', async () => {
    const { store, clock } = await setup();
    const ref = await store.blobs.write(Buffer.from('same image'));
    const a = store.journalFor('mod1', []);
    await a.append({ stream: 'dicom.instance', kind: 'CT', idempotencyKey: 'uid-1:old', blob: ref });
    clock.advance(31 * DAY);
    await store.journalFor('mod1', ['pacs']).append({ stream: 'dicom.instance', kind: 'CT', idempotencyKey: 'uid-1:new', blob: ref });
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, blobsRemoved: 0 });
    expect(existsSync(store.blobs.path(ref))).toBe(true);
  });
});

describe('retention of images', () => {
  it('removes delivered entries with a blob after imagesDays, keeps other delivered entries until deliveredDays, and never an unacknowledged image', async () => {
    const { dir, cleanup } = tempDir();
    const clock = new ManualClock();
    const store = await openStore({ dir, clock, retention: { deliveredDays: 30, personalHours: 72, imagesDays: 7 } });
    cleanups.push(() => (store.close(), cleanup()));
    const journal = store.journalFor('ct1', ['pacs']);
    const forwarded = await store.blobs.write(Buffer.from('forwarded image'));
    const waiting = await store.blobs.write(Buffer.from('image the PACS has not taken'));
    await journal.append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'forwarded', blob: forwarded, personal: true });
    const unacked = await journal.append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'waiting', blob: waiting, personal: true });
    const result = await store.journalFor('xn1', ['pacs']).append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'result', raw: Buffer.from('OBX'), personal: true });
    for (const key of ['forwarded', 'result']) await store.outbox.markDone(store.outbox.list({ destination: 'pacs' }).find((o) => o.idempotencyKey === key)!.outboxId);

    clock.advance(6 * DAY);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 0, blobsRemoved: 0 });
    clock.advance(2 * DAY);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, blobsRemoved: 1 });
    expect(existsSync(store.blobs.path(forwarded))).toBe(false);
    expect(existsSync(store.blobs.path(waiting))).toBe(true);
    expect(store.journalStore.get(unacked.id)).toBeDefined();
    expect(store.journalStore.get(result.id)).toBeDefined();
    clock.advance(23 * DAY);
    expect(await store.applyRetention()).toMatchObject({ journalPurged: 1, blobsRemoved: 0 });
    expect(store.journalStore.get(result.id)).toBeUndefined();
    expect(existsSync(store.blobs.path(waiting))).toBe(true);
  });
});
