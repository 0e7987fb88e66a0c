/** A DICOM AE title: 1–16 printable ASCII characters, no backslash. */
export const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;
/** Service name under which the agent provides an OrderCache to lab drivers. */
export const ORDER_CACHE_SERVICE = 'lab.orderCache';
/** OrderCache in the box's SQLite database (its own table; synchronous, so it is fast enough for a query). */
export class SqliteOrderCache {
    db;
    upsertStmt;
    findStmt;
    findByAccessionStmt;
    constructor(db) {
        this.db = db;
        db.exec(`CREATE TABLE IF NOT EXISTS lab_orders (
      specimen_id TEXT PRIMARY KEY,
      order_json TEXT NOT NULL,
      updated_ms INTEGER NOT NULL
    )`);
        this.upsertStmt = db.prepare(`INSERT INTO lab_orders (specimen_id, order_json, updated_ms) VALUES (?, ?, ?)
       ON CONFLICT(specimen_id) DO UPDATE SET order_json = excluded.order_json, updated_ms = excluded.updated_ms`);
        this.findStmt = db.prepare('SELECT order_json FROM lab_orders WHERE specimen_id = ?');
        db.exec(`CREATE INDEX IF NOT EXISTS lab_orders_accession ON lab_orders (json_extract(order_json, '$.accessionNumber'))`);
        this.findByAccessionStmt = db.prepare(`SELECT order_json FROM lab_orders WHERE json_extract(order_json, '$.accessionNumber') = ? ORDER BY updated_ms DESC LIMIT 1`);
    }
    upsert(order) {
        if (!order.specimenId)
            throw new Error('an order needs a specimen id');
        this.upsertStmt.run(order.specimenId, JSON.stringify(order), Date.now());
    }
    findBySpecimen(specimenId) {
        const row = this.findStmt.get(specimenId);
        return row ? JSON.parse(row.order_json) : undefined;
    }
    findByAccession(accessionNumber) {
        const row = this.findByAccessionStmt.get(accessionNumber);
        return row ? JSON.parse(row.order_json) : undefined;
    }
    /** Every order, newest first (worklists match over these). */
    list(limit = 10_000) {
        return this.db.prepare('SELECT order_json FROM lab_orders ORDER BY updated_ms DESC LIMIT ?').all(limit).map((r) => JSON.parse(r.order_json));
    }
    /**
     * For the console: orders newest first, those whose specimen id, accession number or patient id
     * starts with `prefix` when given, with when the box last received each.
     */
    browse(prefix, limit) {
        const where = prefix ? `WHERE specimen_id LIKE @p ESCAPE '\\' OR json_extract(order_json, '$.accessionNumber') LIKE @p ESCAPE '\\' OR json_extract(order_json, '$.patientId') LIKE @p ESCAPE '\\'` : '';
        const p = prefix ? `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
        const params = p === undefined ? {} : { p };
        const total = this.db.prepare(`SELECT count(*) AS n FROM lab_orders ${where}`).get(params).n;
        const rows = this.db.prepare(`SELECT order_json, updated_ms FROM lab_orders ${where} ORDER BY updated_ms DESC LIMIT @limit`).all({ ...params, limit });
        return { total, orders: rows.map((r) => ({ order: JSON.parse(r.order_json), updatedAt: new Date(r.updated_ms).toISOString() })) };
    }
    purgeOlderThan(cutoffMs) {
        return this.db.prepare('DELETE FROM lab_orders WHERE updated_ms < ?').run(cutoffMs).changes;
    }
}
