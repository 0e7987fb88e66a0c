import type Database from 'better-sqlite3';

/** Migrations of the core tables, applied in order; user_version records the last applied. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE journal (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    source TEXT NOT NULL,
    stream TEXT NOT NULL,
    kind TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    raw BLOB,
    parsed TEXT,
    blob_hash TEXT,
    blob_size INTEGER,
    personal INTEGER NOT NULL DEFAULT 0,
    priority TEXT NOT NULL DEFAULT 'clinical',
    meta TEXT,
    scrubbed_ms INTEGER,
    UNIQUE (stream, idem_key)
  );
  CREATE INDEX journal_source ON journal (source, id);
  CREATE INDEX journal_received ON journal (received_ms);
  CREATE INDEX journal_blob ON journal (blob_hash) WHERE blob_hash IS NOT NULL;

  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    destination TEXT NOT NULL,
    order_key TEXT NOT NULL,
    journal_id INTEGER NOT NULL REFERENCES journal (id),
    idem_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'parked')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL,
    last_error TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    done_ms INTEGER,
    UNIQUE (destination, journal_id)
  );
  -- Only open items are indexed for the forwarders: a delivered backlog costs nothing.
  -- (destination, order_key, id): head of line per source; (destination, id): oldest first.
  CREATE INDEX outbox_open ON outbox (destination, order_key, id) WHERE state = 'pending';
  CREATE INDEX outbox_pending_id ON outbox (destination, id) WHERE state = 'pending';
  CREATE INDEX outbox_due ON outbox (destination, next_ms) WHERE state = 'pending';
  CREATE INDEX outbox_parked ON outbox (destination, id) WHERE state = 'parked';
  CREATE INDEX outbox_done ON outbox (destination, done_ms) WHERE state = 'done';
  CREATE INDEX outbox_journal ON outbox (journal_id);

  CREATE TABLE dead_letter (
    outbox_id INTEGER PRIMARY KEY REFERENCES outbox (id),
    destination TEXT NOT NULL,
    reason TEXT NOT NULL,
    parked_ms INTEGER NOT NULL
  );

  CREATE TABLE capture (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    connection TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER
  );
  CREATE TABLE capture_chunk (
    capture_id INTEGER NOT NULL REFERENCES capture (id),
    seq INTEGER NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    at_ms INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (capture_id, seq)
  );
  CREATE INDEX capture_started ON capture (started_ms);
  `,
  // A module's claim that an entry (and its blob) must outlive its delivery: retention keeps a
  // held entry whatever its age (DICOM storage commitment holds until the PACS committed).
  `
  CREATE TABLE journal_hold (
    journal_id INTEGER NOT NULL,
    holder TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (journal_id, holder)
  ) WITHOUT ROWID;
  `,
  // Blobs written in place into a preallocated pool file: the file holding them until their
  // content-addressed name is durable (written in the commit of the journal entry referencing them).
  `
  CREATE TABLE blob_staged (
    hash TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    size INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // One-off maintenance steps done on this database (e.g. zeroing the pages freed before
  // secure_delete was turned on).
  `
  CREATE TABLE store_maintenance (
    name TEXT PRIMARY KEY,
    done_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // Each module's own schema version (its migrations, core/store/moduleSchema.ts).
  `
  CREATE TABLE module_schema (
    module TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
];

export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
