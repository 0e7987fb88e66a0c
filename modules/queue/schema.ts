import type Database from 'better-sqlite3';

/** The queue's own tables (the store lets each module own its tables). */
export function migrateQueue(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS queue_sequences (
      service TEXT NOT NULL, day TEXT NOT NULL, last INTEGER NOT NULL,
      PRIMARY KEY (service, day)
    );
    CREATE TABLE IF NOT EXISTS queue_service_days (
      service TEXT NOT NULL, day TEXT NOT NULL,
      calls INTEGER NOT NULL DEFAULT 0,
      normal_since_priority INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (service, day)
    );
    CREATE TABLE IF NOT EXISTS queue_counter_state (
      counter TEXT PRIMARY KEY, rr INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS queue_tickets (
      id TEXT PRIMARY KEY,
      -- current service (a transfer changes it); the number keeps the issuing service's sequence
      service TEXT NOT NULL,
      day TEXT NOT NULL,
      seq INTEGER NOT NULL,
      number TEXT NOT NULL,
      priority TEXT,
      priority_status TEXT,
      priority_confirmed_by TEXT,
      issued_at INTEGER NOT NULL,
      order_key REAL NOT NULL,
      state TEXT NOT NULL,
      counter TEXT,
      target_counter TEXT,
      first_called_at INTEGER,
      last_called_at INTEGER,
      serving_at INTEGER,
      done_at INTEGER,
      skipped_at INTEGER,
      skip_mark INTEGER,
      calls INTEGER NOT NULL DEFAULT 0,
      transfers INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS queue_tickets_waiting ON queue_tickets (day, state, service, order_key);
    CREATE TABLE IF NOT EXISTS queue_events (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      type TEXT NOT NULL,
      service TEXT NOT NULL,
      counter TEXT,
      ticket_id TEXT NOT NULL,
      body TEXT NOT NULL,
      journaled INTEGER NOT NULL DEFAULT 0
    );
    -- Every print attempt of a ticket (kiosk, reprint): staff see which tickets did not print.
    CREATE TABLE IF NOT EXISTS queue_prints (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      ticket_id TEXT NOT NULL,
      printer TEXT NOT NULL,
      -- NULL while printing: a row still NULL at start was cut short by a crash (listed as failed)
      ok INTEGER,
      error TEXT,
      reprint INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS queue_prints_ticket ON queue_prints (ticket_id, id);
    CREATE INDEX IF NOT EXISTS queue_events_unjournaled ON queue_events (journaled) WHERE journaled = 0;
  `);
}
