import { afterEach, describe, expect, it } from 'vitest';
import { migrateModule, ModuleMigrationError } from '../../../core/store/moduleSchema.ts';
import { openStore, type Store } from '../../../core/store/store.ts';
import { labModule } from '../../../modules/lab/index.ts';
import { SqliteOrderCache } from '../../../modules/lab/orderCache.ts';
import { tempDir } from '../../helpers/tmp.ts';

// Each module's tables are versioned by the core (issue #18): a store written before versions
// existed is brought up in place, a failed step is rolled back and named, and a store newer
// than the release is refused rather than written.
let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

async function store(): Promise<Store> {
  const { dir, cleanup } = tempDir();
  const s = await openStore({ dir });
  cleanups.push(() => {
    s.close();
    cleanup();
  });
  return s;
}

const version = (s: Store, module: string) =>
  (s.db.prepare('SELECT version FROM module_schema WHERE module = ?').get(module) as { version: number } | undefined)?.version ?? 0;
const indexes = (s: Store) =>
  (s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'lab_orders'").all() as Array<{ name: string }>).map((r) => r.name);

describe('module migrations', () => {
  it('brings a store written before module versions to the newest steps in place, keeping its rows; again is a no-op', async () => {
    const s = await store();
    // The order cache as the box wrote it until now: its table made by the cache itself, no version.
    s.db.exec(`CREATE TABLE lab_orders (specimen_id TEXT PRIMARY KEY, order_json TEXT NOT NULL, updated_ms INTEGER NOT NULL)`);
    s.db.prepare('INSERT INTO lab_orders VALUES (?, ?, ?)').run('SID-1', JSON.stringify({ specimenId: 'SID-1', orderId: 'P1', tests: [{ code: 'GLU' }] }), 1);
    expect(version(s, 'lab')).toBe(0);
    expect(migrateModule(s.db, 'lab', labModule.migrations!)).toEqual({ from: 0, to: 2 });
    expect(version(s, 'lab')).toBe(2);
    expect(indexes(s)).toEqual(expect.arrayContaining(['lab_orders_accession', 'lab_orders_order_id']));
    expect(new SqliteOrderCache(s.db).findBySpecimen('SID-1')).toMatchObject({ orderId: 'P1' });
    expect(migrateModule(s.db, 'lab', labModule.migrations!)).toEqual({ from: 2, to: 2 });
  });

  it('rolls a failed step back, keeps the last good version and says which module and step', async () => {
    const s = await store();
    const steps = [
      { version: 1, description: 'first table', up: (db: Store['db']) => db.exec('CREATE TABLE acme_a (x INTEGER)') },
      {
        version: 2,
        description: 'second table',
        up: (db: Store['db']) => {
          db.exec('CREATE TABLE acme_b (x INTEGER)');
          throw new Error('disk said no');
        },
      },
    ];
    expect(() => migrateModule(s.db, 'acme', steps)).toThrow(/module "acme": migration 2 \(second table\) failed and was rolled back: disk said no/);
    expect(version(s, 'acme')).toBe(1);
    const tables = (s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'acme_%'").all() as Array<{ name: string }>).map(
      (r) => r.name,
    );
    expect(tables).toEqual(['acme_a']);
  });

  it('refuses a store newer than the release and steps out of order', async () => {
    const s = await store();
    migrateModule(s.db, 'lab', labModule.migrations!);
    const err = (() => {
      try {
        migrateModule(s.db, 'lab', labModule.migrations!.slice(0, 1));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ModuleMigrationError);
    expect((err as Error).message).toMatch(/at schema 2, newer than this release knows \(1\)/);
    expect(() => migrateModule(s.db, 'x', [{ version: 2, description: 'skipped one', up: () => undefined }])).toThrow(/migration 1 is numbered 2/);
  });
});
