export interface BackoffPolicy {
  /** First retry delay (ms). */
  initialMs: number;
  /** Upper bound (ms); clinical items keep retrying at this pace forever. */
  maxMs: number;
  /** 0..1: share of the delay that is randomised, so 200 boxes do not retry in step. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 5_000, maxMs: 600_000, jitter: 0.5 };

/** Delay before attempt number `attempts + 1`: initial × 2^(attempts − 1), capped, with jitter. */
export function backoffDelay(attempts: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempts - 1));
  const spread = exp * policy.jitter;
  return Math.round(exp - spread + random() * spread);
}
