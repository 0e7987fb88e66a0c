import { randomBytes } from 'node:crypto';

interface Session {
  user: string;
  createdMs: number;
  lastUsedMs: number;
}

export type SessionLookup = { user: string } | { expired: 'idle' | 'absolute' } | undefined;

/** Sessions at once; the least recently used goes first (every login makes one). */
const MAX_SESSIONS = 1000;

/**
 * Console and counter sessions, in memory (a restart logs everyone out, acceptable for a
 * box). A session ends `idleMs` after its last use and `absoluteMs` after the login, whichever
 * comes first.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly absoluteMs: number,
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  open(user: string): { token: string; expiresMs: number } {
    const now = this.now();
    const token = randomBytes(32).toString('base64url');
    this.sessions.set(token, { user, createdMs: now, lastUsedMs: now });
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    return { token, expiresMs: now + this.absoluteMs };
  }

  /** The session's user; `touch` false for a page's periodic refresh (not a person's activity). */
  use(token: string, touch: boolean): SessionLookup {
    const s = this.sessions.get(token);
    if (!s) return undefined;
    const now = this.now();
    const expired = now >= s.createdMs + this.absoluteMs ? 'absolute' : now >= s.lastUsedMs + this.idleMs ? 'idle' : undefined;
    if (expired) {
      this.sessions.delete(token);
      return { expired };
    }
    if (touch) {
      s.lastUsedMs = now;
      this.sessions.delete(token); // most recently used last
      this.sessions.set(token, s);
    }
    return { user: s.user };
  }

  close(token: string): void {
    this.sessions.delete(token);
  }

  get absoluteSeconds(): number {
    return Math.floor(this.absoluteMs / 1000);
  }
}
