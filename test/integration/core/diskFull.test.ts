import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../../core/store/store.ts';
import { StoreError } from '../../../core/store/errors.ts';

// A real full disk: a 4 MiB tmpfs mounted for this test (root only; `npm test` runs as root in CI).
const mountPoint = mkdtempSync(join(tmpdir(), 'edge-full-'));
let store: Store;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the disk-full test mounts a tmpfs and must run as root (sudo npm test)');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
});
afterAll(() => {
  try {
    store?.close();
  } catch {
    // already closed by the test
  }
  execFileSync('umount', ['-l', mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

describe('disk full', () => {
  it('append() fails fast with EDGE_STORE_FULL, harms nothing stored, and resumes when space returns', async () => {
    // Space another program holds; freed later to show that writes resume.
    const otherFiles = join(mountPoint, 'other-files');
    writeFileSync(otherFiles, Buffer.alloc(1024 * 1024));
    store = await openStore({ dir: join(mountPoint, 'store'), minFreeBytes: 0 });
    const journal = store.journalFor('xn1', ['lis']);
    const payload = Buffer.alloc(16 * 1024, 0x41);

    const stored: number[] = [];
    let failure: unknown = null;
    for (let i = 0; i < 1000 && !failure; i++) {
      const started = performance.now();
      try {
        const r = await journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: `k${i}`, raw: payload });
        stored.push(r.id);
      } catch (err) {
        failure = err;
        // "Fails fast": the driver must be able to NAK inside the device's reply timer (15 s for ASTM).
        expect(performance.now() - started).toBeLessThan(5_000);
      }
    }
    expect(failure).toBeInstanceOf(StoreError);
    expect((failure as StoreError).code).toBe('EDGE_STORE_FULL');
    expect(stored.length).toBeGreaterThan(10);

    // Further appends keep failing cleanly, blob writes too, and leave no temporary file behind.
    await expect(journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'again', raw: payload })).rejects.toMatchObject({ code: 'EDGE_STORE_FULL' });
    await expect(store.blobs.write(Buffer.alloc(2 * 1024 * 1024))).rejects.toMatchObject({ code: 'EDGE_STORE_FULL' });
    expect(readdirSync(join(mountPoint, 'store', 'blobs', 'tmp'))).toEqual([]);

    // Nothing already stored is damaged.
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(store.journalStore.count()).toBe(stored.length);
    expect(store.journalStore.get(stored[0]!)?.raw?.equals(payload)).toBe(true);
    expect(store.outbox.status(['lis'])[0]!.pending).toBe(stored.length);

    // Space returns (IT staff freed the disk): writes resume on the same open store.
    const before = store.journalStore.count();
    rmSync(otherFiles);
    const r = await journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'after-space', raw: payload });
    expect(r.duplicate).toBe(false);
    expect(store.journalStore.count()).toBe(before + 1);
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    store.close();
    rmSync(join(mountPoint, 'store'), { recursive: true });
  });

  it('refuses telemetry up front when below the free-space floor, but takes clinical data while it fits', async () => {
    const dir = join(mountPoint, 'budget');
    const filler = join(mountPoint, 'filler');
    const s = await openStore({ dir, minFreeBytes: 1024 * 1024 });
    try {
      const { bavail, bsize } = statfsSync(mountPoint);
      writeFileSync(filler, Buffer.alloc(bavail * bsize - 512 * 1024));
      const reading = s.budget.read();
      expect(reading.level).toBe('full');
      await expect(s.journalFor('kiosk', []).append({ stream: 'telemetry', kind: 'cpu', idempotencyKey: 't', priority: 'telemetry' })).rejects.toMatchObject({
        code: 'EDGE_STORE_BUDGET',
      });
      await expect(s.journalFor('xn1', []).append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'c' })).resolves.toMatchObject({ duplicate: false });
    } finally {
      s.close();
      rmSync(filler, { force: true });
    }
  });
});
