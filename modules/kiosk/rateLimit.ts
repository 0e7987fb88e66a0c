/**
 * Token buckets per key: `capacity` requests at once, refilled at `perMs` per token. A key
 * whose bucket is full again is forgotten, so memory holds only keys used recently; `maxKeys`
 * bounds it even under a flood of distinct keys (the fullest buckets go first).
 */
export interface RateLimitOptions {
  capacity: number;
  /** Milliseconds to earn one token back. */
  refillMs: number;
  maxKeys?: number;
  now?: () => number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Takes one token for `key`, or says how long until one is back. */
  take(key: string): RateDecision {
    const now = this.now();
    const b = this.level(key, now);
    if (b.tokens < 1) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(((1 - b.tokens) * this.options.refillMs) / 1000)) };
    b.tokens -= 1;
    this.buckets.set(key, b);
    this.bound(now);
    return { ok: true };
  }

  /** Whether `key` has a token now, without taking it. */
  peek(key: string): RateDecision {
    const b = this.level(key, this.now());
    return b.tokens >= 1 ? { ok: true } : { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(((1 - b.tokens) * this.options.refillMs) / 1000)) };
  }

  get size(): number {
    return this.buckets.size;
  }

  private level(key: string, now: number): { tokens: number; at: number } {
    const b = this.buckets.get(key);
    if (!b) return { tokens: this.options.capacity, at: now };
    const tokens = Math.min(this.options.capacity, b.tokens + (now - b.at) / this.options.refillMs);
    return { tokens, at: now };
  }

  private bound(now: number): void {
    const max = this.options.maxKeys ?? 10_000;
    if (this.buckets.size <= max) return;
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) / this.options.refillMs >= this.options.capacity) this.buckets.delete(key);
    }
    // Still too many: drop the oldest entries (Map keeps insertion order).
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= max) break;
      this.buckets.delete(key);
    }
  }
}
