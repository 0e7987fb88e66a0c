import type { LoginPolicy } from './settings.ts';

/** Why a login attempt is not even checked. */
export type ThrottleReason = 'account-locked' | 'account-backoff' | 'address-locked' | 'address-backoff' | 'busy';

export type ThrottleVerdict = { ok: true } | { ok: false; reason: ThrottleReason; retryAfterSeconds: number };

/** What a failure led to (for the log and the audit). */
export interface FailureOutcome {
  accountLocked: boolean;
  addressLocked: boolean;
  accountFailures: number;
  addressFailures: number;
}

interface Counter {
  failures: number;
  lastFailureMs: number;
  /** No attempt is checked before this time (backoff or lockout). */
  blockedUntilMs: number;
  locked: boolean;
}

const MAX_DELAY_MS = 60_000;
/** Password checks at once (scrypt takes 16 MB and ~50 ms each): from one address, and in all. */
const MAX_CHECKS_PER_ADDRESS = 2;
const MAX_CHECKS = 4;
/** Addresses tracked at most; the stalest are forgotten first (a LAN has far fewer). */
const MAX_ADDRESSES = 10_000;

/**
 * Failed-login bookkeeping for the form and HTTP Basic alike, per account and per address.
 * After `backoffAfter` failures each next attempt must wait (`backoffSeconds`, doubling, at
 * most 60 s); at `lockAfter` the account is locked for everyone for `lockMinutes`. Addresses
 * have their own, higher thresholds, so one PC guessing many names is stopped too. Attempts
 * refused while waiting are not counted (they were never checked). Counters are forgotten
 * `lockMinutes` after the last failure; a success clears both. Memory only: a restart clears
 * every lock (the way out for IT with a shell on the box).
 */
export class LoginThrottle {
  private readonly accounts = new Map<string, Counter>();
  private readonly addresses = new Map<string, Counter>();
  private readonly checking = new Map<string, number>();
  private checks = 0;

  constructor(
    private readonly policy: LoginPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** May this attempt be checked now? `user` only when it names a known account. */
  verdict(address: string, user?: string): ThrottleVerdict {
    const now = this.now();
    const account = user !== undefined ? this.live(this.accounts, user, now) : undefined;
    const peer = this.live(this.addresses, address, now);
    const waits: Array<{ reason: ThrottleReason; ms: number }> = [];
    if (account && account.blockedUntilMs > now)
      waits.push({ reason: account.locked ? 'account-locked' : 'account-backoff', ms: account.blockedUntilMs - now });
    if (peer && peer.blockedUntilMs > now) waits.push({ reason: peer.locked ? 'address-locked' : 'address-backoff', ms: peer.blockedUntilMs - now });
    const longest = waits.sort((a, b) => b.ms - a.ms)[0];
    if (longest) return { ok: false, reason: longest.reason, retryAfterSeconds: Math.max(1, Math.ceil(longest.ms / 1000)) };
    if ((this.checking.get(address) ?? 0) >= MAX_CHECKS_PER_ADDRESS || this.checks >= MAX_CHECKS) return { ok: false, reason: 'busy', retryAfterSeconds: 1 };
    return { ok: true };
  }

  /** Runs one password check within the concurrency bounds (call after an ok verdict). */
  async runCheck<T>(address: string, check: () => Promise<T>): Promise<T> {
    this.checks++;
    this.checking.set(address, (this.checking.get(address) ?? 0) + 1);
    try {
      return await check();
    } finally {
      this.checks--;
      const left = (this.checking.get(address) ?? 1) - 1;
      if (left > 0) this.checking.set(address, left);
      else this.checking.delete(address);
    }
  }

  failed(address: string, user?: string): FailureOutcome {
    const now = this.now();
    const lockMs = this.policy.lockMinutes * 60_000;
    const bump = (map: Map<string, Counter>, key: string, backoffAfter: number, lockAfter: number): Counter => {
      const c = this.live(map, key, now) ?? { failures: 0, lastFailureMs: now, blockedUntilMs: 0, locked: false };
      c.failures++;
      c.lastFailureMs = now;
      if (c.failures >= lockAfter) {
        c.locked = true;
        c.blockedUntilMs = now + lockMs;
      } else if (c.failures >= backoffAfter) {
        c.blockedUntilMs = now + Math.min(this.policy.backoffSeconds * 1000 * 2 ** (c.failures - backoffAfter), MAX_DELAY_MS, lockMs);
      }
      map.delete(key); // re-inserted last: the map stays ordered stalest first
      map.set(key, c);
      return c;
    };
    const peer = bump(this.addresses, address, this.policy.addressBackoffAfter, this.policy.addressLockAfter);
    if (this.addresses.size > MAX_ADDRESSES) this.addresses.delete(this.addresses.keys().next().value!);
    const account = user !== undefined ? bump(this.accounts, user, this.policy.backoffAfter, this.policy.lockAfter) : undefined;
    return {
      accountLocked: account?.locked === true && account.failures === this.policy.lockAfter,
      addressLocked: peer.locked && peer.failures === this.policy.addressLockAfter,
      accountFailures: account?.failures ?? 0,
      addressFailures: peer.failures,
    };
  }

  succeeded(address: string, user: string): void {
    this.accounts.delete(user);
    this.addresses.delete(address);
  }

  /** The counter, or undefined once forgotten (its lock, if any, over and quiet long enough). */
  private live(map: Map<string, Counter>, key: string, now: number): Counter | undefined {
    const c = map.get(key);
    if (!c) return undefined;
    const forgetAt = Math.max(c.blockedUntilMs, c.lastFailureMs + this.policy.lockMinutes * 60_000);
    if (now >= forgetAt) {
      map.delete(key);
      return undefined;
    }
    if (c.locked && now >= c.blockedUntilMs) {
      // The lock is over: a fresh start, and the next failure begins a new count.
      map.delete(key);
      return undefined;
    }
    return c;
  }
}
