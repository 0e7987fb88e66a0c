export const DEFAULT_BACKOFF = { initialMs: 5_000, maxMs: 600_000, jitter: 0.5 };
/** Delay before attempt number `attempts + 1`: initial × 2^(attempts − 1), capped, with jitter. */
export function backoffDelay(attempts, policy = DEFAULT_BACKOFF, random = Math.random) {
    const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempts - 1));
    const spread = exp * policy.jitter;
    return Math.round(exp - spread + random() * spread);
}
