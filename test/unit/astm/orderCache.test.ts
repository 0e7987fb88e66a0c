import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteOrderCache } from '../../../modules/lab/orderCache.ts';
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
});
