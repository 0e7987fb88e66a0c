import type Database from 'better-sqlite3';
import { serviceKey } from '../../core/contract/driver.ts';

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
  /**
   * What cancels withdrew (HL7 ORC-1 CA/OC/DC/OD, HIS `"action": "cancel"`), for the console:
   * these items are no longer in `tests`/`items`. With no test left the order is cancelled
   * (`isCancelled`): host queries and the worklist no longer find it, the console still lists it
   * until the retention. `unknownOrder`: the cancel came for an order the box did not hold.
   */
  cancelled?: { at: string; items: OrderItem[]; unknownOrder?: true };
}

export type OrderItem = NonNullable<LabOrder['items']>[number];

/** One cancel as either intake says it (HL7 ORM/OML/OMI, HIS push): which order, which tests. */
export interface OrderCancel {
  /** The key the order is kept under: the HL7 specimen id (SPM-2, OBR-3…), the HIS accession number, else its order number. */
  specimenId: string;
  /** The placer order number (HIS `orderId`, HL7 ORC-2/OBR-2): finds the order when it is kept under another specimen id. */
  orderId?: string;
  accessionNumber?: string;
  /** Test codes withdrawn; none: the whole order. */
  tests: string[];
}

/** What a cancel did: whether the order was known, the codes it withdrew now, and the order as now kept. */
export interface CancelOutcome {
  found: boolean;
  withdrawn: string[];
  order: LabOrder;
}

/** A cancelled order: a cancel withdrew its last test. Host queries and worklists skip it. */
export function isCancelled(order: LabOrder): boolean {
  return order.cancelled !== undefined && order.tests.length === 0;
}

/**
 * The one cancel rule, whichever intake it came through. A known order loses the named tests
 * (all when none are named) from `tests` and `items`, and they are recorded in `cancelled`; a
 * cancel that withdraws nothing new returns `known` unchanged (idempotent). A cancel for an order
 * the box does not hold is recorded (`unknownOrder`), never refused: the LIS/HIS gets its
 * acknowledgement and the console shows it. A later new order for the specimen replaces the
 * record whole (`upsert`): a re-order revives it.
 */
export function applyCancel(known: LabOrder | undefined, cancel: OrderCancel, at: string): LabOrder {
  if (!known) {
    return {
      specimenId: cancel.specimenId,
      ...(cancel.orderId ? { orderId: cancel.orderId } : {}),
      ...(cancel.accessionNumber ? { accessionNumber: cancel.accessionNumber } : {}),
      tests: [],
      cancelled: { at, items: [...new Set(cancel.tests)].map((code) => ({ code })), unknownOrder: true },
    };
  }
  const all = cancel.tests.length === 0;
  const named = new Set(cancel.tests);
  const goes = (code: string): boolean => all || named.has(code);
  const gone = (known.items ?? []).filter((i) => goes(i.code));
  for (const code of known.tests) if (goes(code) && !gone.some((g) => g.code === code)) gone.push({ code });
  if (gone.length === 0) return known;
  const before = known.cancelled?.items ?? [];
  return {
    ...known,
    tests: known.tests.filter((c) => !goes(c)),
    ...(known.items ? { items: known.items.filter((i) => !goes(i.code)) } : {}),
    cancelled: { at, items: [...before.filter((b) => !gone.some((g) => g.code === b.code)), ...gone] },
  };
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
  /** A new order (or the sender's latest word on it) replaces what was kept for its specimen, a cancelled one included. */
  upsert(order: LabOrder): void;
  /** The order an analyzer's host query gets: undefined when unknown or cancelled (`isCancelled`). */
  findBySpecimen(specimenId: string): LabOrder | undefined;
  /** The newest order with this accession number (imaging: tag coercion from the HIS order), cancelled or not. */
  findByAccession?(accessionNumber: string): LabOrder | undefined;
  /** Applies a cancel by the one rule (`applyCancel`): by specimen id, else by placer order number. */
  cancelOrder(cancel: OrderCancel): CancelOutcome;
}

/** Orders hold personal data: the agent purges those not updated within the retention. */
export interface PurgeableOrderCache extends OrderCache {
  purgeOlderThan(cutoffMs: number): number;
}

/** Service name under which the agent provides an OrderCache to lab drivers. */
export const ORDER_CACHE_SERVICE = serviceKey<SqliteOrderCache>('lab.orderCache');

/** OrderCache in the box's SQLite database (its own table; synchronous, so it is fast enough for a query). */
export class SqliteOrderCache implements PurgeableOrderCache {
  private readonly upsertStmt: Database.Statement;
  private readonly findStmt: Database.Statement;
  private readonly findByAccessionStmt: Database.Statement;
  private readonly findByOrderIdStmt: Database.Statement;

  constructor(private readonly db: Database.Database) {
    createOrderCacheTables(db);
    indexOrdersByOrderId(db);
    this.upsertStmt = db.prepare(
      `INSERT INTO lab_orders (specimen_id, order_json, updated_ms) VALUES (?, ?, ?)
       ON CONFLICT(specimen_id) DO UPDATE SET order_json = excluded.order_json, updated_ms = excluded.updated_ms`,
    );
    this.findStmt = db.prepare('SELECT order_json FROM lab_orders WHERE specimen_id = ?');
    this.findByAccessionStmt = db.prepare(
      `SELECT order_json FROM lab_orders WHERE json_extract(order_json, '$.accessionNumber') = ? ORDER BY updated_ms DESC LIMIT 1`,
    );
    this.findByOrderIdStmt = db.prepare(`SELECT order_json FROM lab_orders WHERE json_extract(order_json, '$.orderId') = ? ORDER BY updated_ms DESC LIMIT 1`);
  }

  upsert(order: LabOrder): void {
    if (!order.specimenId) throw new Error('an order needs a specimen id');
    this.upsertStmt.run(order.specimenId, JSON.stringify(order), Date.now());
  }

  findBySpecimen(specimenId: string): LabOrder | undefined {
    const order = this.kept(specimenId);
    return order && !isCancelled(order) ? order : undefined;
  }

  cancelOrder(cancel: OrderCancel, nowMs = Date.now()): CancelOutcome {
    if (!cancel.specimenId) throw new Error('a cancel needs a specimen id');
    const byOrderId = (): LabOrder | undefined => {
      const row = cancel.orderId ? (this.findByOrderIdStmt.get(cancel.orderId) as { order_json: string } | undefined) : undefined;
      return row ? (JSON.parse(row.order_json) as LabOrder) : undefined;
    };
    const known = this.kept(cancel.specimenId) ?? byOrderId();
    const order = applyCancel(known, cancel, new Date(nowMs).toISOString());
    if (order !== known) this.upsertStmt.run(order.specimenId, JSON.stringify(order), nowMs);
    const withdrawn = known ? known.tests.filter((t) => !order.tests.includes(t)) : [];
    return { found: known !== undefined, withdrawn, order };
  }

  /** What the table holds for a specimen, cancelled or not. */
  private kept(specimenId: string): LabOrder | undefined {
    const row = this.findStmt.get(specimenId) as { order_json: string } | undefined;
    return row ? (JSON.parse(row.order_json) as LabOrder) : undefined;
  }

  findByAccession(accessionNumber: string): LabOrder | undefined {
    const row = this.findByAccessionStmt.get(accessionNumber) as { order_json: string } | undefined;
    return row ? (JSON.parse(row.order_json) as LabOrder) : undefined;
  }

  /** Every order not cancelled, newest first (worklists match over these). */
  list(limit = 10_000): LabOrder[] {
    const live = `json_type(order_json, '$.cancelled') IS NULL OR json_array_length(order_json, '$.tests') > 0`;
    return (
      this.db.prepare(`SELECT order_json FROM lab_orders WHERE ${live} ORDER BY updated_ms DESC LIMIT ?`).all(limit) as Array<{ order_json: string }>
    ).map((r) => JSON.parse(r.order_json) as LabOrder);
  }

  /**
   * For the console: orders newest first, cancelled ones included (with `cancelled`), those whose specimen id, accession number or patient id
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

/** The order cache's table: the lab module's schema step 1 (also ensured by a cache built alone, as tests do). */
export function createOrderCacheTables(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS lab_orders (
    specimen_id TEXT PRIMARY KEY,
    order_json TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
  )`);
  db.exec(`CREATE INDEX IF NOT EXISTS lab_orders_accession ON lab_orders (json_extract(order_json, '$.accessionNumber'))`);
}

/** Step 2: cancels find an order by its placer order number (HIS orderId, HL7 ORC-2). */
export function indexOrdersByOrderId(db: Database.Database): void {
  db.exec(`CREATE INDEX IF NOT EXISTS lab_orders_order_id ON lab_orders (json_extract(order_json, '$.orderId'))`);
}
