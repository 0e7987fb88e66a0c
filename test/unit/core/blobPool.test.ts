import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type Store } from '../../../core/store/store.ts';
import { IDLE_MS } from '../../../core/store/blobPool.ts';
import { ManualClock } from '../../helpers/manualClock.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

const POOL = 16 * 1024 * 1024; // 16 files of 64 KB, 4 of 256 KB, 14 of 576 KB, 6 of 1 MB

/** A store with a full pool; with a ManualClock the pool refills only when the test moves time. */
async function pooledStore(dir?: string, clock?: ManualClock): Promise<Store & { dir: string }> {
  let d = dir;
  if (!d) {
    const t = tempDir();
    d = t.dir;
    cleanups.push(t.cleanup);
  }
  const store = await openStore({ dir: d, blobPoolBytes: POOL, ...(clock ? { clock } : {}) });
  cleanups.unshift(() => store.close());
  store.blobs.prepare();
  await store.blobs.poolFull();
  return Object.assign(store, { dir: d });
}

/** The blob as a reader must read it: ref.size bytes from path(). */
function readBlob(store: Store, ref: { hash: string; size: number }): Buffer {
  const fd = openSync(store.blobs.path(ref), 'r');
  try {
    const buf = Buffer.alloc(ref.size);
    let at = 0;
    while (at < ref.size) {
      const n = readSync(fd, buf, at, ref.size - at, at);
      if (n === 0) break;
      at += n;
    }
    return buf.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}

const staged = (store: Store) => store.db.prepare('SELECT hash, file, size FROM blob_staged').all() as { hash: string; file: string; size: number }[];
const settle = () => new Promise((r) => setTimeout(r, IDLE_MS * 3));
/** Finalizing waits for writes to pause, then fsyncs: slow on a loaded disk, so wait for it rather than a fixed time. */
const finalized = (store: Store, hash: string) => waitFor(() => store.blobs.staged(hash) === undefined, 'the blob to get its content-addressed name', 20_000);

describe('blob pool', () => {
  it('writes a small blob into a preallocated file, maps it in the journal commit, then gives it its content-addressed name', async () => {
    const store = await pooledStore();
    const data = randomBytes(40_000);
    const ref = await store.blobs.write(data);
    expect(ref).toEqual({ hash: createHash('sha256').update(data).digest('hex'), size: data.length });
    expect(store.blobs.poolCounters()).toMatchObject({ taken: 1, missed: 0 });
    // Staged: still the pool file, of its slot's size; the first ref.size bytes are the blob.
    const pooled = store.blobs.path(ref);
    expect(pooled).toContain(join('blobs', 'pool'));
    expect(statSync(pooled).size).toBe(64 * 1024);
    expect(readBlob(store, ref).equals(data)).toBe(true);

    await store.journalFor('ct1', ['pacs']).append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'sop1', blob: ref });
    expect(staged(store)).toEqual([{ hash: ref.hash, file: join('pool', pooled.split('/').pop()!), size: data.length }]);

    await finalized(store, ref.hash);
    const final = store.blobs.path(ref);
    expect(final).toBe(join(store.dir, 'blobs', ref.hash.slice(0, 2), ref.hash));
    expect(statSync(final).size).toBe(data.length);
    expect(statSync(final).nlink).toBe(2); // the pool name stays a minute for readers that resolved it
    store.sweepBlobs();
    store.committer.flush();
    expect(staged(store)).toEqual([]);
  });

  it('after a crash before the name was durable, the next start finishes the blob from the journal commit', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const first = await openStore({ dir, blobPoolBytes: POOL });
    first.blobs.prepare();
    await first.blobs.poolFull();
    const data = randomBytes(200_000);
    const ref = await first.blobs.write(data);
    await first.journalFor('ct1', ['pacs']).append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'sop2', blob: ref });
    // The process dies here: no finalization, no close.
    first.blobs.close();
    const pooled = first.blobs.path(ref);
    expect(statSync(pooled).size).toBe(256 * 1024);

    const second = await pooledStore(dir);
    const final = second.blobs.path(ref);
    expect(final).toBe(join(dir, 'blobs', ref.hash.slice(0, 2), ref.hash));
    expect(statSync(final).size).toBe(data.length);
    expect(readBlob(second, ref).equals(data)).toBe(true);
    expect(existsSync(pooled)).toBe(false);
    expect(staged(second)).toEqual([]);
    first.db.close();
  });

  it('never hands out a pool file that is still a stored blob’s second name', async () => {
    const store = await pooledStore();
    const data = Buffer.alloc(64 * 1024, 9); // exactly a slot: looks free by its size
    const ref = await store.blobs.write(data);
    await store.journalFor('ct1', ['pacs']).append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'sop3', blob: ref });
    await finalized(store, ref.hash);
    expect(statSync(store.blobs.path(ref)).nlink).toBe(2);
    store.sweepBlobs(); // the mapping row is gone; the pool name waits for its grace
    store.committer.flush();
    // The process dies within the grace (no close): the pool name is left behind.
    const again = await pooledStore(store.dir);
    for (let i = 0; i < 20; i++) await again.blobs.write(randomBytes(50_000));
    expect(readBlob(again, ref).equals(data)).toBe(true);
    expect(statSync(again.blobs.path(ref)).nlink).toBe(1);
  });

  it('keeps one copy of the same bytes, and falls back to a new file when the pool is empty', async () => {
    const store = await pooledStore();
    const data = randomBytes(30_000);
    const a = await store.blobs.write(data);
    const b = await store.blobs.write(data);
    expect(b).toEqual(a);
    const poolDir = join(store.dir, 'blobs', 'pool');
    const used = readdirSync(poolDir).filter((n) => statSync(join(poolDir, n)).size !== Number(n.split('-')[0]));
    expect(used).toHaveLength(0); // the second copy's file is gone, the first is still slot-sized
    expect(store.blobs.poolCounters()).toMatchObject({ taken: 2 });

    // 1 MB class: six files. The seventh 700 KB blob takes the slow path.
    const big = Array.from({ length: 7 }, () => randomBytes(700_000));
    const refs = [];
    for (const d of big) refs.push(await store.blobs.write(d));
    expect(store.blobs.poolCounters()).toMatchObject({ missed: 1 });
    refs.forEach((r, i) => expect(readBlob(store, r).equals(big[i]!)).toBe(true));
    expect(store.blobs.path(refs[6]!)).toBe(join(store.dir, 'blobs', refs[6]!.hash.slice(0, 2), refs[6]!.hash));
  });

  it('a burst that empties its class goes on in the larger classes before any write takes the slow path', async () => {
    // Time stands still: no write, however slow, looks like a pause that starts a refill.
    const store = await pooledStore(undefined, new ManualClock());
    // 40 files in all (16 + 4 + 14 + 6): the 41st small blob is the first miss.
    const blobs = Array.from({ length: 41 }, () => randomBytes(5_000));
    const refs = [];
    for (const d of blobs) refs.push(await store.blobs.write(d));
    expect(store.blobs.poolCounters()).toMatchObject({ taken: 40, missed: 1, free: 0 });
    refs.forEach((r, i) => expect(readBlob(store, r).equals(blobs[i]!)).toBe(true));
    const slots = new Set(refs.slice(0, 40).map((r) => Number(store.blobs.staged(r.hash)!.file.split('/').pop()!.split('-')[0])));
    expect([...slots].sort((a, b) => a - b)).toEqual([64, 256, 576, 1024].map((k) => k * 1024));
  });

  it('counts the free pool files in the disk budget', async () => {
    const store = await pooledStore();
    expect(store.blobs.poolBytes()).toBe(16 * 64 * 1024 + 4 * 256 * 1024 + 14 * 576 * 1024 + 6 * 1024 * 1024);
    expect(store.budget.read().usedBytes).toBeGreaterThanOrEqual(store.blobs.poolBytes());
  });

  it('refills only once writes pause', async () => {
    const clock = new ManualClock();
    const store = await pooledStore(undefined, clock);
    const before = store.blobs.poolCounters()!;
    for (let i = 0; i < 10; i++) await store.blobs.write(randomBytes(10_000));
    clock.advanceTo(clock.now() + IDLE_MS - 1);
    await settle();
    expect(store.blobs.poolCounters()).toMatchObject({ written: before.written, free: before.free - 10 });
    clock.advanceTo(clock.now() + 1);
    await store.blobs.poolFull();
    expect(store.blobs.poolCounters()).toMatchObject({ written: before.written + 10, free: before.free });
  });
});
