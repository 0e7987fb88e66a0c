/** Captures resume once retention brought them under this share of the quota. */
const RESUME_RATIO = 0.9;
/**
 * Raw byte capture per connection (DESIGN rule 5): every chunk in and out, in order, for
 * support and replay. Chunks ride the journal's group commit; capture is evidence, so a capture
 * write failing is logged, never turned into a NAK. Captures have a byte quota inside the disk
 * budget and stop before the disk is critical: a flood fills the quota, never the disk, and
 * clinical data is never refused for evidence.
 */
export class CaptureStore {
    db;
    committer;
    clock;
    onError;
    limits;
    usedBytes = 0;
    droppedBytes = 0;
    stopped = null;
    /** Devices told their captures stopped (each gets one log line and one alarm per stop). */
    stoppedDevices = new Set();
    insertCapture;
    insertChunk;
    endCapture;
    /** Chunks waiting for the next group commit: one write carries all of them. */
    pending = [];
    constructor(db, committer, clock, onError, limits = { quotaBytes: Number.MAX_SAFE_INTEGER, diskAllows: () => true, onStop: () => undefined }) {
        this.db = db;
        this.committer = committer;
        this.clock = clock;
        this.onError = onError;
        this.limits = limits;
        this.insertCapture = db.prepare('INSERT INTO capture (device, connection, started_ms) VALUES (?, ?, ?)');
        this.insertChunk = db.prepare('INSERT INTO capture_chunk (capture_id, seq, direction, at_ms, bytes) VALUES (?, ?, ?, ?, ?)');
        this.endCapture = db.prepare('UPDATE capture SET ended_ms = ? WHERE id = ?');
        this.usedBytes = this.measure();
    }
    /** Bytes the capture chunks hold (length() of a blob reads no content). */
    measure() {
        return this.db.prepare('SELECT COALESCE(SUM(length(bytes)), 0) AS n FROM capture_chunk').get().n;
    }
    usage() {
        return { usedBytes: this.usedBytes, quotaBytes: this.limits.quotaBytes, stopped: this.stopped, droppedBytes: this.droppedBytes };
    }
    /**
     * After retention (`purged`) or a budget reading: measure again (only when something may have
     * changed: a measure reads every chunk's length) and resume when there is room.
     */
    recheck(purged = true) {
        if (!purged && !this.stopped)
            return;
        this.usedBytes = this.measure();
        if (this.stopped && this.usedBytes < this.limits.quotaBytes * RESUME_RATIO && this.limits.diskAllows()) {
            this.stopped = null;
            this.droppedBytes = 0;
            for (const device of this.stoppedDevices)
                this.limits.onStop(device, null, this.usage());
            this.stoppedDevices.clear();
        }
    }
    /** Whether `bytes` more may be captured for `device` now; stops captures (once) when not. */
    admit(device, bytes) {
        if (!this.stopped) {
            if (this.usedBytes + bytes > this.limits.quotaBytes)
                this.stopped = 'quota';
            else if (!this.limits.diskAllows())
                this.stopped = 'disk';
        }
        if (!this.stopped)
            return true;
        this.droppedBytes += bytes;
        if (!this.stoppedDevices.has(device)) {
            this.stoppedDevices.add(device);
            this.limits.onStop(device, this.stopped, this.usage());
        }
        return false;
    }
    forDevice(device, enabled) {
        return {
            open: (connection) => {
                const off = { inbound() { }, outbound() { }, close() { } };
                if (!enabled || this.limits.quotaBytes <= 0)
                    return off;
                let seq = 0;
                const started = this.clock.now();
                let id;
                try {
                    id = Number(this.insertCapture.run(device, connection, started).lastInsertRowid);
                }
                catch (err) {
                    // Capture is evidence, never a reason to refuse a device's data.
                    this.onError(err);
                    return off;
                }
                const add = (direction, bytes) => {
                    if (!this.admit(device, bytes.length))
                        return;
                    this.usedBytes += bytes.length;
                    const n = seq++;
                    const at = this.clock.now();
                    this.pending.push([id, n, direction, at, Buffer.from(bytes)]);
                    if (this.pending.length === 1)
                        this.committer.submit(() => this.writePending()).catch(this.onError);
                };
                return {
                    inbound: (bytes) => add('in', bytes),
                    outbound: (bytes) => add('out', bytes),
                    close: () => {
                        const ended = this.clock.now();
                        this.committer.submit(() => this.endCapture.run(ended, id)).catch(this.onError);
                    },
                };
            },
        };
    }
    writePending() {
        const chunks = this.pending;
        this.pending = [];
        for (const chunk of chunks)
            this.insertChunk.run(...chunk);
    }
    list(device, limit = 100) {
        const rows = this.db
            .prepare(`SELECT c.id, c.device, c.connection, c.started_ms AS startedMs, c.ended_ms AS endedMs,
                COALESCE(SUM(CASE WHEN k.direction = 'in' THEN length(k.bytes) END), 0) AS bytesIn,
                COALESCE(SUM(CASE WHEN k.direction = 'out' THEN length(k.bytes) END), 0) AS bytesOut
         FROM capture c LEFT JOIN capture_chunk k ON k.capture_id = c.id
         ${device ? 'WHERE c.device = ?' : ''}
         GROUP BY c.id ORDER BY c.id DESC LIMIT ?`)
            .all(...(device ? [device, limit] : [limit]));
        return rows;
    }
    chunks(captureId) {
        return this.db.prepare('SELECT seq, direction, at_ms AS atMs, bytes FROM capture_chunk WHERE capture_id = ? ORDER BY seq').all(captureId);
    }
}
