import { hashPassword, verifyPassword } from '../http/password.ts';
import type { LanUser } from './lanAcl.ts';

/** CONNACK return codes of MQTT 3.1.1 that a refused login answers. */
export const BAD_USERNAME_OR_PASSWORD = 4;
export const NOT_AUTHORIZED = 5;

export type LoginOutcome =
  | { ok: true; user: LanUser; via: 'password' | 'certificate' }
  | { ok: false; code: typeof BAD_USERNAME_OR_PASSWORD | typeof NOT_AUTHORIZED; reason: string };

export interface LoginAttempt {
  /** The peer's address (failed logins are counted per address). */
  remote: string;
  username?: string | undefined;
  password?: Buffer | undefined;
  /** CN of a client certificate the TLS listener verified against its `ca`. */
  certificateCn?: string | undefined;
}

/** Failed password logins from one address in a window before it is refused without checking. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 10 * 60_000;

/**
 * Logs clients in as one of `lanBroker.users`: by a verified client certificate (its CN is the
 * username), or by username and password (scrypt, as the console's). No user, no login: an
 * anonymous client is "not authorized" (5); an unknown user or wrong password is "bad username
 * or password" (4), after the same scrypt work, so the answer does not tell which. An address
 * with 10 failures in 10 minutes is refused without the scrypt work until the window passes
 * (a guessing flood costs the box no CPU and cannot lock out another address).
 */
export class LanAuthenticator {
  private readonly users: Map<string, LanUser>;
  private readonly failures = new Map<string, { count: number; since: number }>();
  private dummyHash: Promise<string> | null = null;

  constructor(
    users: readonly LanUser[],
    private readonly now: () => number = Date.now,
  ) {
    this.users = new Map(users.map((u) => [u.username, u]));
  }

  async login(attempt: LoginAttempt): Promise<LoginOutcome> {
    const username = attempt.username || undefined;
    if (attempt.certificateCn !== undefined) {
      const user = this.users.get(attempt.certificateCn);
      if (!user) return { ok: false, code: NOT_AUTHORIZED, reason: `certificate CN "${attempt.certificateCn}" is not one of lanBroker.users` };
      if (username !== undefined && username !== user.username)
        return { ok: false, code: BAD_USERNAME_OR_PASSWORD, reason: `username "${username}" differs from the certificate's CN "${user.username}"` };
      return { ok: true, user, via: 'certificate' };
    }
    if (username === undefined) return { ok: false, code: NOT_AUTHORIZED, reason: 'anonymous client (no username)' };
    if (this.lockedOut(attempt.remote))
      return {
        ok: false,
        code: BAD_USERNAME_OR_PASSWORD,
        reason: `more than ${MAX_FAILURES} failed logins from this address in ${FAILURE_WINDOW_MS / 60_000} minutes`,
      };
    const user = this.users.get(username);
    const password = attempt.password?.toString('utf8') ?? '';
    // The same scrypt work for an unknown user, a user without a password and a wrong password.
    const hash = user?.passwordHash ?? (await this.dummy());
    const matches = await verifyPassword(password, hash);
    if (user?.passwordHash && matches) {
      this.failures.delete(attempt.remote);
      return { ok: true, user, via: 'password' };
    }
    this.countFailure(attempt.remote);
    const reason = !user
      ? `unknown user "${username}"`
      : !user.passwordHash
        ? `user "${username}" logs in only with a client certificate`
        : `wrong password for "${username}"`;
    return { ok: false, code: BAD_USERNAME_OR_PASSWORD, reason };
  }

  private lockedOut(remote: string): boolean {
    const f = this.failures.get(remote);
    if (!f) return false;
    if (this.now() - f.since > FAILURE_WINDOW_MS) {
      this.failures.delete(remote);
      return false;
    }
    return f.count >= MAX_FAILURES;
  }

  private countFailure(remote: string): void {
    if (this.failures.size > 10_000) this.failures.clear();
    const f = this.failures.get(remote);
    if (f && this.now() - f.since <= FAILURE_WINDOW_MS) f.count++;
    else this.failures.set(remote, { count: 1, since: this.now() });
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword('not a password of anyone');
    return this.dummyHash;
  }
}
