import type Database from 'better-sqlite3';
import type { ModuleMigration } from '../contract/module.ts';

/** A module's migration that failed: the module, the step and why; its transaction was rolled back. */
export class ModuleMigrationError extends Error {
  constructor(
    readonly module: string,
    readonly version: number,
    message: string,
  ) {
    super(message);
    this.name = 'ModuleMigrationError';
  }
}

/**
 * Brings one module's tables to its newest schema: the steps above the version the core keeps
 * for it (`module_schema`), each in its own transaction with the new version, so a power cut or
 * a failed step leaves the last good version. Steps are numbered 1, 2, 3… in order.
 */
export function migrateModule(db: Database.Database, module: string, migrations: readonly ModuleMigration[], nowMs = Date.now()): { from: number; to: number } {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new ModuleMigrationError(module, m.version, `module "${module}": migration ${i + 1} is numbered ${m.version} (steps are 1, 2, 3… in order)`);
  });
  const row = db.prepare('SELECT version FROM module_schema WHERE module = ?').get(module) as { version: number } | undefined;
  const from = row?.version ?? 0;
  if (from > migrations.length) {
    throw new ModuleMigrationError(
      module,
      from,
      `module "${module}": the store is at schema ${from}, newer than this release knows (${migrations.length}); a downgrade needs the backup taken before the upgrade`,
    );
  }
  const record = db.prepare(
    'INSERT INTO module_schema (module, version, updated_ms) VALUES (?, ?, ?) ON CONFLICT (module) DO UPDATE SET version = excluded.version, updated_ms = excluded.updated_ms',
  );
  for (const m of migrations.slice(from)) {
    try {
      db.transaction(() => {
        m.up(db);
        record.run(module, m.version, nowMs);
      })();
    } catch (err) {
      throw new ModuleMigrationError(
        module,
        m.version,
        `module "${module}": migration ${m.version} (${m.description}) failed and was rolled back: ${(err as Error).message}`,
      );
    }
  }
  return { from, to: Math.max(from, migrations.length) };
}
