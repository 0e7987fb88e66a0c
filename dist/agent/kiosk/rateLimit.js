export class RateLimiter {
    options;
    buckets = new Map();
    now;
    constructor(options) {
        this.options = options;
        this.now = options.now ?? Date.now;
    }
    /** Takes one token for `key`, or says how long until one is back. */
    take(key) {
        const now = this.now();
        const b = this.level(key, now);
        if (b.tokens < 1)
            return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(((1 - b.tokens) * this.options.refillMs) / 1000)) };
        b.tokens -= 1;
        this.buckets.set(key, b);
        this.bound(now);
        return { ok: true };
    }
    /** Whether `key` has a token now, without taking it. */
    peek(key) {
        const b = this.level(key, this.now());
        return b.tokens >= 1 ? { ok: true } : { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(((1 - b.tokens) * this.options.refillMs) / 1000)) };
    }
    get size() {
        return this.buckets.size;
    }
    level(key, now) {
        const b = this.buckets.get(key);
        if (!b)
            return { tokens: this.options.capacity, at: now };
        const tokens = Math.min(this.options.capacity, b.tokens + (now - b.at) / this.options.refillMs);
        return { tokens, at: now };
    }
    bound(now) {
        const max = this.options.maxKeys ?? 10_000;
        if (this.buckets.size <= max)
            return;
        for (const [key, b] of this.buckets) {
            if (b.tokens + (now - b.at) / this.options.refillMs >= this.options.capacity)
                this.buckets.delete(key);
        }
        // Still too many: drop the oldest entries (Map keeps insertion order).
        for (const key of this.buckets.keys()) {
            if (this.buckets.size <= max)
                break;
            this.buckets.delete(key);
        }
    }
}
