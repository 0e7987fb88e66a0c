import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isCancelled, SqliteOrderCache } from '../../../modules/lab/orderCache.ts';
import { tempDir } from '../../helpers/tmp.ts';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('SqliteOrderCache', () => {
  it('keeps orders across a reopen of the database file (box restart)', () => {
    const { dir, cleanup } = tempDir('orders-');
    cleanups.push(cleanup);
    const file = join(dir, 'journal.db');
    const db1 = new Database(file);
    new SqliteOrderCache(db1).upsert({ specimenId: 'SP1', patientName: 'Đặng Thị Ánh', tests: ['GLU'] });
    db1.close();
    const db2 = new Database(file);
    const cache = new SqliteOrderCache(db2);
    expect(cache.findBySpecimen('SP1')).toEqual({ specimenId: 'SP1', patientName: 'Đặng Thị Ánh', tests: ['GLU'] });
    expect(cache.findBySpecimen('SP2')).toBeUndefined();
    expect(() => cache.upsert({ specimenId: '', tests: [] })).toThrow(/specimen id/);
    db2.close();
  });

  it('purges orders (names, birth dates) not updated within the retention, and keeps newer ones', () => {
    const db = new Database(':memory:');
    const cache = new SqliteOrderCache(db);
    cache.upsert({ specimenId: 'OLD', patientName: 'Phạm Văn Bình', tests: ['GLU'] });
    db.prepare("UPDATE lab_orders SET updated_ms = updated_ms - 4 * 86400000 WHERE specimen_id = 'OLD'").run();
    cache.upsert({ specimenId: 'NEW', tests: ['HGB'] });
    expect(cache.purgeOlderThan(Date.now() - 72 * 3_600_000)).toBe(1);
    expect(cache.list().map((o) => o.specimenId)).toEqual(['NEW']);
    db.close();
  });

  it('one cancel rule: withdrawn tests leave host queries and the worklist, stay listed as cancelled; unknown ones are recorded; a re-order revives', () => {
    const db = new Database(':memory:');
    const cache = new SqliteOrderCache(db);
    const order = {
      specimenId: 'ACC-1',
      orderId: 'HIS-1',
      accessionNumber: 'ACC-1',
      patientName: 'Võ Thị Lan',
      tests: ['US01', 'US02'],
      items: [
        { code: 'US01', name: 'Siêu âm bụng', modality: 'US' },
        { code: 'US02', name: 'Siêu âm tim', modality: 'US' },
      ],
    };
    cache.upsert(order);
    // One item, found by its placer order number although it is kept under the accession number.
    expect(cache.cancelOrder({ specimenId: 'HIS-1', orderId: 'HIS-1', tests: ['US02'] }, Date.parse('2026-12-03T02:00:00Z'))).toMatchObject({
      found: true,
      withdrawn: ['US02'],
    });
    expect(cache.findBySpecimen('ACC-1')).toMatchObject({
      tests: ['US01'],
      items: [{ code: 'US01', name: 'Siêu âm bụng', modality: 'US' }],
      cancelled: { at: '2026-12-03T02:00:00.000Z', items: [{ code: 'US02', name: 'Siêu âm tim', modality: 'US' }] },
    });
    // The same cancel again changes nothing; the rest (no tests named: all of them) cancels the order.
    expect(cache.cancelOrder({ specimenId: 'ACC-1', tests: ['US02'] }).withdrawn).toEqual([]);
    expect(cache.cancelOrder({ specimenId: 'ACC-1', tests: [] }).withdrawn).toEqual(['US01']);
    expect(cache.findBySpecimen('ACC-1')).toBeUndefined();
    expect(cache.list()).toEqual([]);
    const listed = cache.browse(undefined, 10).orders.map((o) => o.order);
    expect(listed).toMatchObject([{ specimenId: 'ACC-1', tests: [], items: [], cancelled: { items: [{ code: 'US02' }, { code: 'US01' }] } }]);
    expect(isCancelled(listed[0]!)).toBe(true);
    // Images of a cancelled order still take its patient (coercion by accession number).
    expect(cache.findByAccession('ACC-1')).toMatchObject({ patientName: 'Võ Thị Lan' });
    // A cancel for an order the box never had: recorded, not offered.
    expect(cache.cancelOrder({ specimenId: 'SID-9', orderId: 'P9', tests: ['GLU'] })).toMatchObject({ found: false, withdrawn: [] });
    expect(cache.browse('SID-9', 10).orders[0]!.order).toMatchObject({
      specimenId: 'SID-9',
      orderId: 'P9',
      tests: [],
      cancelled: { items: [{ code: 'GLU' }], unknownOrder: true },
    });
    expect(cache.findBySpecimen('SID-9')).toBeUndefined();
    // A re-order replaces the cancelled record: offered again.
    cache.upsert(order);
    expect(cache.findBySpecimen('ACC-1')).toEqual(order);
    expect(cache.list().map((o) => o.specimenId)).toEqual(['ACC-1']);
    expect(() => cache.cancelOrder({ specimenId: '', tests: [] })).toThrow(/specimen id/);
    db.close();
  });
});
