import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../../core/http/loginThrottle.ts';
import { DEFAULT_LOGIN_POLICY } from '../../../core/http/settings.ts';

// Time is a number the test moves: no sleeping, no timing assertions.
function throttle() {
  let now = 1_000_000;
  const t = new LoginThrottle(DEFAULT_LOGIN_POLICY, () => now);
  return { t, advance: (ms: number) => void (now += ms) };
}

/** Fails one attempt the way the auth code does: only when the verdict let it be checked. */
function fail(t: LoginThrottle, ip: string, user?: string) {
  const v = t.verdict(ip, user);
  if (!v.ok) throw new Error(`attempt was not allowed: ${v.reason}`);
  return t.failed(ip, user);
}

describe('login throttle (defaults: backoff after 5, lock at 10 for 15 min)', () => {
  it('lets 5 failures through, then makes each next attempt wait 1 s, 2 s, 4 s, 8 s, 16 s, then locks the account for 15 min', () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 4; i++) fail(t, '10.0.5.9', 'admin');
    expect(t.verdict('10.0.5.9', 'admin')).toEqual({ ok: true });
    fail(t, '10.0.5.9', 'admin'); // 5th
    const waits: number[] = [];
    for (let n = 5; n < 10; n++) {
      const v = t.verdict('10.0.5.9', 'admin');
      expect(v).toMatchObject({ ok: false, reason: 'account-backoff' });
      const seconds = (v as { retryAfterSeconds: number }).retryAfterSeconds;
      waits.push(seconds);
      advance(seconds * 1000);
      const outcome = fail(t, '10.0.5.9', 'admin');
      expect(outcome.accountLocked).toBe(n + 1 === 10);
    }
    expect(waits).toEqual([1, 2, 4, 8, 16]);
    expect(t.verdict('10.0.5.9', 'admin')).toEqual({ ok: false, reason: 'account-locked', retryAfterSeconds: 900 });
  });

  it('locks the account for everyone, not only for the address that guessed', () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 10; i++) {
      const v = t.verdict('10.0.5.9', 'admin');
      if (!v.ok) advance(v.retryAfterSeconds * 1000);
      t.failed('10.0.5.9', 'admin');
    }
    expect(t.verdict('10.0.9.9', 'admin')).toMatchObject({ ok: false, reason: 'account-locked' });
    // The guessing address reached its own first threshold (10) too; other accounts elsewhere are untouched.
    expect(t.verdict('10.0.5.9', 'quay1')).toMatchObject({ ok: false, reason: 'address-backoff' });
    expect(t.verdict('10.0.9.9', 'quay1')).toEqual({ ok: true });
    advance(15 * 60_000);
    expect(t.verdict('10.0.9.9', 'admin')).toEqual({ ok: true });
    // After the lock a new count begins.
    expect(fail(t, '10.0.9.9', 'admin').accountFailures).toBe(1);
  });

  it('stops one address guessing many names (unknown ones included) at 10, locks it at 30', () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 10; i++) fail(t, '10.0.5.66', undefined);
    expect(t.verdict('10.0.5.66', undefined)).toMatchObject({ ok: false, reason: 'address-backoff', retryAfterSeconds: 1 });
    expect(t.verdict('10.0.5.67', undefined)).toEqual({ ok: true });
    let locked = false;
    for (let i = 10; i < 30; i++) {
      const v = t.verdict('10.0.5.66', undefined);
      if (!v.ok) advance(v.retryAfterSeconds * 1000);
      locked = t.failed('10.0.5.66', undefined).addressLocked;
    }
    expect(locked).toBe(true);
    expect(t.verdict('10.0.5.66', 'admin')).toMatchObject({ ok: false, reason: 'address-locked' });
  });

  it('a success clears the counts; failures are forgotten 15 min after the last one', () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 5; i++) fail(t, '10.0.5.9', 'admin');
    expect(t.verdict('10.0.5.9', 'admin').ok).toBe(false);
    advance(1000);
    t.succeeded('10.0.5.9', 'admin');
    expect(fail(t, '10.0.5.9', 'admin')).toMatchObject({ accountFailures: 1, addressFailures: 1 });
    for (let i = 0; i < 3; i++) fail(t, '10.0.5.9', 'admin');
    advance(15 * 60_000);
    expect(fail(t, '10.0.5.9', 'admin')).toMatchObject({ accountFailures: 1 });
  });

  it('checks at most two passwords at once per address (scrypt costs 16 MB each)', async () => {
    const { t } = throttle();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const a = t.runCheck('10.0.5.9', () => held);
    const b = t.runCheck('10.0.5.9', () => held);
    expect(t.verdict('10.0.5.9', 'admin')).toEqual({ ok: false, reason: 'busy', retryAfterSeconds: 1 });
    expect(t.verdict('10.0.5.10', 'admin')).toEqual({ ok: true });
    release();
    await Promise.all([a, b]);
    expect(t.verdict('10.0.5.9', 'admin')).toEqual({ ok: true });
  });
});
