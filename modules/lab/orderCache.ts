import type Database from 'better-sqlite3';

/**
 * Orders known locally, so an analyzer's host query is answered inside its timeout even when
 * the LIS is unreachable. Filled by whatever receives orders (LIS/HIS sync); read by drivers.
 */
export interface LabOrder {
  specimenId: string;
  patientId?: string;
  /** Personal data. */
  patientName?: string;
  patientBirthDate?: string;
  patientSex?: string;
  /** Device or LIS test codes to run. */
  tests: string[];
  priority?: 'R' | 'S';
  /** ISO 8601 when the LIS created it. */
  orderedAt?: string;
  /** The placer's order number and the accession number (imaging worklists use these). */
  orderId?: string;
  accessionNumber?: string;
  /** The requested items with their names and modality, when the sender gave them. */
  items?: Array<{ code: string; name?: string; modality?: string }>;
  /** Imaging: the scheduled procedure step the HIS planned (worklist date, time and station). */
  scheduled?: ScheduledStep;
  /** Referring physician, as the HIS names them. */
  referringPhysician?: string;
}

/** A DICOM AE title: 1–16 printable ASCII characters, no backslash. */
export const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;

/** When and where an imaging order is scheduled. */
export interface ScheduledStep {
  /** ISO 8601; the worklist's Scheduled Procedure Step Start Date/Time (else `orderedAt`). */
  at?: string;
  /** The modality's AE title: only this station finds the order in its worklist. */
  stationAeTitle?: string;
  stationName?: string;
  /** Room, e.g. "P.012". */
  location?: string;
}

export interface OrderCache {
  upsert(order: LabOrder): void;
  findBySpecimen(specimenId: string): LabOrder | undefined;
  /** The newest order with this accession number (imaging: tag coercion from the HIS order). */
  findByAccession?(accessionNumber: string): LabOrder | undefined;
}

/** Orders hold personal data: the agent purges those not updated within the retention. */
export interface PurgeableOrderCache extends OrderCache {
  purgeOlderThan(cutoffMs: number): number;
}

/** Service name under which the agent provides an OrderCache to lab drivers. */
export const ORDER_CACHE_SERVICE = 'lab.orderCache';

/** OrderCache in the box's SQLite database (its own table; synchronous, so it is fast enough for a query). */
export class SqliteOrderCache implements PurgeableOrderCache {
  private readonly upsertStmt: Database.Statement;
  private readonly findStmt: Database.Statement;
  private readonly findByAccessionStmt: Database.Statement;

  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS lab_orders (
      specimen_id TEXT PRIMARY KEY,
      order_json TEXT NOT NULL,
      updated_ms INTEGER NOT NULL
    )`);
    this.upsertStmt = db.prepare(
      `INSERT INTO lab_orders (specimen_id, order_json, updated_ms) VALUES (?, ?, ?)
       ON CONFLICT(specimen_id) DO UPDATE SET order_json = excluded.order_json, updated_ms = excluded.updated_ms`,
    );
    this.findStmt = db.prepare('SELECT order_json FROM lab_orders WHERE specimen_id = ?');
    db.exec(`CREATE INDEX IF NOT EXISTS lab_orders_accession ON lab_orders (json_extract(order_json, '$.accessionNumber'))`);
    this.findByAccessionStmt = db.prepare(
      `SELECT order_json FROM lab_orders WHERE json_extract(order_json, '$.accessionNumber') = ? ORDER BY updated_ms DESC LIMIT 1`,
    );
  }

  upsert(order: LabOrder): void {
    if (!order.specimenId) throw new Error('an order needs a specimen id');
    this.upsertStmt.run(order.specimenId, JSON.stringify(order), Date.now());
  }

  findBySpecimen(specimenId: string): LabOrder | undefined {
    const row = this.findStmt.get(specimenId) as { order_json: string } | undefined;
    return row ? (JSON.parse(row.order_json) as LabOrder) : undefined;
  }

  findByAccession(accessionNumber: string): LabOrder | undefined {
    const row = this.findByAccessionStmt.get(accessionNumber) as { order_json: string } | undefined;
    return row ? (JSON.parse(row.order_json) as LabOrder) : undefined;
  }

  /** Every order, newest first (worklists match over these). */
  list(limit = 10_000): LabOrder[] {
    return (this.db.prepare('SELECT order_json FROM lab_orders ORDER BY updated_ms DESC LIMIT ?').all(limit) as Array<{ order_json: string }>).map(
      (r) => JSON.parse(r.order_json) as LabOrder,
    );
  }

  /**
   * For the console: orders newest first, those whose specimen id, accession number or patient id
   * starts with `prefix` when given, with when the box last received each.
   */
  browse(prefix: string | undefined, limit: number): { total: number; orders: Array<{ order: LabOrder; updatedAt: string }> } {
    const where = prefix
      ? `WHERE specimen_id LIKE @p ESCAPE '\\' OR json_extract(order_json, '$.accessionNumber') LIKE @p ESCAPE '\\' OR json_extract(order_json, '$.patientId') LIKE @p ESCAPE '\\'`
      : '';
    const p = prefix ? `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
    const params = p === undefined ? {} : { p };
    const total = (this.db.prepare(`SELECT count(*) AS n FROM lab_orders ${where}`).get(params) as { n: number }).n;
    const rows = this.db
      .prepare(`SELECT order_json, updated_ms FROM lab_orders ${where} ORDER BY updated_ms DESC LIMIT @limit`)
      .all({ ...params, limit }) as Array<{ order_json: string; updated_ms: number }>;
    return { total, orders: rows.map((r) => ({ order: JSON.parse(r.order_json) as LabOrder, updatedAt: new Date(r.updated_ms).toISOString() })) };
  }

  purgeOlderThan(cutoffMs: number): number {
    return this.db.prepare('DELETE FROM lab_orders WHERE updated_ms < ?').run(cutoffMs).changes;
  }
}
