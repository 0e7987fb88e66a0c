import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type Store } from '../../../core/store/store.ts';
import { StoreError } from '../../../core/store/errors.ts';
import { tempDir } from '../../helpers/tmp.ts';

let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

async function freshStore(extra: Partial<Parameters<typeof openStore>[0]> = {}): Promise<Store> {
  const { dir, cleanup } = tempDir();
  const store = await openStore({ dir, ...extra });
  cleanups.push(() => {
    store.close();
    cleanup();
  });
  return store;
}

describe('journal', () => {
  it('appends durably and enqueues one outbox row per route in the same commit', async () => {
    const store = await freshStore();
    const journal = store.journalFor('xn1', ['lis', 'province']);
    const r = await journal.append({ stream: 'lab.result', kind: 'result', idempotencyKey: 'k1', raw: Buffer.from('abc'), parsed: { v: 1 } });
    expect(r.duplicate).toBe(false);
    const row = store.journalStore.get(r.id)!;
    expect(row.raw?.toString()).toBe('abc');
    expect(row.parsed).toEqual({ v: 1 });
    expect(row.receivedAt).toMatch(/\+07:00$/);
    const rows = store.outbox.list({ journalId: r.id });
    expect(rows.map((o) => o.destination).sort()).toEqual(['lis', 'province']);
    expect(rows.every((o) => o.state === 'pending' && o.idempotencyKey === 'k1')).toBe(true);
  });

  it('does not store or enqueue a repeated idempotency key, and returns the first copy meta', async () => {
    const store = await freshStore();
    const journal = store.journalFor('hl7', ['lis']);
    const a = await journal.append({ stream: 'lab.result', kind: 'ORU', idempotencyKey: 'MSG1', meta: { ack: 'AA-1' } });
    const b = await journal.append({ stream: 'lab.result', kind: 'ORU', idempotencyKey: 'MSG1', meta: { ack: 'AA-2' } });
    expect(b).toEqual({ id: a.id, duplicate: true, meta: { ack: 'AA-1' } });
    expect(store.outbox.list({ destination: 'lis' })).toHaveLength(1);
  });

  it('shares one commit between concurrent appends (group commit)', async () => {
    const commits: number[] = [];
    const store = await freshStore({ onCommit: (_ms, writes) => commits.push(writes) });
    const journal = store.journalFor('dev', []);
    await Promise.all(Array.from({ length: 50 }, (_, i) => journal.append({ stream: 's', kind: 'k', idempotencyKey: `k${i}` })));
    expect(commits.reduce((a, b) => a + b, 0)).toBe(50);
    expect(commits.length).toBeLessThan(5);
    expect(store.journalStore.count()).toBe(50);
  });

  it('rolls back only the write that failed when it shares a commit with others', async () => {
    const commits: number[] = [];
    const store = await freshStore({ onCommit: (_ms, writes) => commits.push(writes) });
    const journal = store.journalFor('dev', ['lis']);
    const failing = store.committer.submit(() => {
      store.db.prepare("INSERT INTO journal (received_ms, received_at, source, stream, kind, idem_key) VALUES (1, 'x', 'dev', 's', 'k', 'half')").run();
      throw new Error('refused by the writer');
    });
    const results = await Promise.allSettled([
      journal.append({ stream: 's', kind: 'k', idempotencyKey: 'a' }),
      failing,
      journal.append({ stream: 's', kind: 'k', idempotencyKey: 'b' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(commits).toEqual([3]);
    // The failed write's own insert is gone; its neighbours and their outbox rows are kept.
    expect(
      store.journalStore
        .list({})
        .map((r) => r.idempotencyKey)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(store.outbox.list({ destination: 'lis' })).toHaveLength(2);
  });

  it('writes withEntry rows in the entry commit, skips them for a duplicate, and fails the append when they throw', async () => {
    const commits: number[] = [];
    const store = await freshStore({ onCommit: (_ms, writes) => commits.push(writes) });
    store.db.exec('CREATE TABLE side (journal_id INTEGER PRIMARY KEY)');
    const side = store.db.prepare('INSERT INTO side (journal_id) VALUES (?)');
    const journal = store.journalFor('ct1', ['pacs']);
    const first = await journal.append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'sop1', withEntry: (id) => void side.run(id) });
    expect(commits).toEqual([1]);
    expect(store.db.prepare('SELECT journal_id FROM side').all()).toEqual([{ journal_id: first.id }]);

    let calledAgain = false;
    const again = await journal.append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: 'sop1', withEntry: () => void (calledAgain = true) });
    expect(again.duplicate).toBe(true);
    expect(calledAgain).toBe(false);

    await expect(
      journal.append({
        stream: 'dicom.instance',
        kind: 'C-STORE',
        idempotencyKey: 'sop2',
        withEntry: () => {
          throw new Error('index refused');
        },
      }),
    ).rejects.toThrow(/index refused/);
    expect(store.journalStore.list({}).map((r) => r.idempotencyKey)).toEqual(['sop1']);
    expect(store.outbox.list({ destination: 'pacs' })).toHaveLength(1);
  });

  it('refuses telemetry up front when the disk budget is exhausted, but still takes clinical data', async () => {
    const store = await freshStore({ budgetBytes: 1 });
    store.budget.read();
    const journal = store.journalFor('dev', []);
    await expect(journal.append({ stream: 'telemetry', kind: 't', idempotencyKey: 't1', priority: 'telemetry' })).rejects.toBeInstanceOf(StoreError);
    await expect(journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: 'r1' })).resolves.toMatchObject({ duplicate: false });
  });
});

describe('blobs', () => {
  it('stores content-addressed files and references them from the journal', async () => {
    const store = await freshStore();
    const data = Buffer.alloc(300_000, 7);
    async function* chunks() {
      for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
    }
    const ref = await store.blobs.writeStream(chunks());
    expect(ref.size).toBe(data.length);
    expect(readFileSync(store.blobs.path(ref)).equals(data)).toBe(true);
    const r = await store.journalFor('mod', ['pacs']).append({ stream: 'dicom.instance', kind: 'CT', idempotencyKey: 'uid1', blob: ref });
    const [item] = store.outbox.claim('pacs', 10, new Set(), false).items;
    expect(item?.journalId).toBe(r.id);
    expect(item?.blobPath).toBe(store.blobs.path(ref));
  });

  it('writes small and large payloads byte for byte even when the producer reuses its buffer', async () => {
    const store = await freshStore();
    // Around the in-memory threshold (1 MB): just under, exactly on, just over, and well over.
    for (const size of [1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 17]) {
      const data = randomBytes(size);
      const scratch = Buffer.alloc(48 * 1024);
      async function* reused() {
        for (let at = 0; at < data.length; at += scratch.length) {
          const n = data.copy(scratch, 0, at, Math.min(data.length, at + scratch.length));
          yield scratch.subarray(0, n);
        }
      }
      const ref = await store.blobs.writeStream(reused());
      expect(ref).toEqual({ hash: createHash('sha256').update(data).digest('hex'), size });
      expect(readFileSync(store.blobs.path(ref)).equals(data), `size ${size}`).toBe(true);
    }
    expect(readdirSync(join(store.blobs.path({ hash: 'xx' }), '..', '..', 'tmp'))).toEqual([]);
  });

  it('keeps the chunks of a producer that never reuses them (chunksKept), small and large, byte for byte', async () => {
    const store = await freshStore();
    for (const size of [40_000, 2 * 1024 * 1024 + 17]) {
      const data = randomBytes(size);
      async function* slices() {
        for (let at = 0; at < data.length; at += 48 * 1024) yield data.subarray(at, Math.min(data.length, at + 48 * 1024));
      }
      const ref = await store.blobs.writeStream(slices(), { chunksKept: true });
      expect(ref).toEqual({ hash: createHash('sha256').update(data).digest('hex'), size });
      expect(readFileSync(store.blobs.path(ref)).subarray(0, size).equals(data), `size ${size}`).toBe(true);
    }
  });
});

describe('raw capture', () => {
  it('keeps every chunk in order with its direction', async () => {
    const store = await freshStore();
    const session = store.captureFor('astm1').open('tcp 127.0.0.1:5000');
    session.inbound(Buffer.from([5]));
    session.outbound(Buffer.from([6]));
    session.inbound(Buffer.from('\x021H|\\^&\r\x0312\r\n', 'latin1'));
    session.close();
    store.committer.flush();
    const [cap] = store.captures.list('astm1');
    expect(cap).toMatchObject({ device: 'astm1', bytesIn: 14, bytesOut: 1 });
    const chunks = store.captures.chunks(cap!.id);
    expect(chunks.map((c) => c.direction)).toEqual(['in', 'out', 'in']);
  });
});

describe('disk budget', () => {
  it('raises warn at 70 %, critical at 90 %, full at 100 % of the budget', async () => {
    const { DiskBudget } = await import('../../../core/store/diskBudget.ts');
    let used = 0;
    const budget = new DiskBudget({ dir: '.', budgetBytes: 1000, minFreeBytes: 0, warnPercent: 70, criticalPercent: 90, usedBytes: () => used });
    const levels = [0, 699, 700, 899, 900, 999, 1000].map((u) => ((used = u), budget.read().level));
    expect(levels).toEqual(['ok', 'ok', 'warn', 'warn', 'critical', 'critical', 'full']);
    expect(budget.admit('telemetry')?.code).toBe('EDGE_STORE_BUDGET');
    expect(budget.admit('clinical')).toBeNull();
  });
});
