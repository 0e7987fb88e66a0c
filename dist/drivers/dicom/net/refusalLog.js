/** Same window as the listeners' connection refusals (agent/net/guardedListener.ts). */
const WINDOW_MS = 10 * 60_000;
/**
 * Association refusals logged once per key (reason and address) per 10 minutes, with
 * the count since the last line: a peer retrying every second, or a scan, cannot fill the log.
 */
export class RefusalLog {
    log;
    seen = new Map();
    constructor(log) {
        this.log = log;
    }
    warn(key, fields, message, now = Date.now()) {
        const seen = this.seen.get(key);
        if (seen && now - seen.at < WINDOW_MS) {
            seen.since++;
            return;
        }
        if (this.seen.size > 1000)
            this.seen.clear();
        this.seen.set(key, { at: now, since: 0 });
        this.log.warn({ ...fields, ...(seen?.since ? { refusedSinceLastLine: seen.since } : {}) }, message);
    }
}
