import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import pino, { type Logger } from 'pino';
import { unmapIpv4 } from '../net/peers.ts';
import { clientAddress, type AuditLog, type AuditRecord } from './audit.ts';
import { routeLimits } from './limits.ts';
import { LoginThrottle, type ThrottleVerdict } from './loginThrottle.ts';
import { foreignOrigin, isWriteLike } from './origin.ts';
import { hashPassword, verifyPassword } from './password.ts';
import { errorResponses } from './schemas.ts';
import { SessionStore } from './sessions.ts';
import { DEFAULT_LOGIN_POLICY, type LoginPolicy } from './settings.ts';

/** admin: everything (configuration, restart, journal with personal data); staff: the counter pages. */
export type Role = 'admin' | 'staff';

export interface Account {
  user: string;
  role: Role;
  passwordHash?: string;
  /** Staff only: the counters this account may act for (absent: every counter). */
  counters?: string[];
}

/** A kiosk unit's credential: the token its browser is started with (`/kiosk/?token=…`). */
export interface KioskCredential {
  id: string;
  token: string;
}

/** Who a request acts for, set by the guards below. */
export type Principal = { kind: 'user'; user: string; role: Role; counters?: string[] } | { kind: 'kiosk'; kioskId: string };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface AuthOptions {
  accounts: Account[];
  kiosks: KioskCredential[];
  /** A kiosk browser on the box itself (loopback) needs no token. */
  kioskLoopback: boolean;
  /** Absolute session lifetime. */
  sessionHours: number;
  /** A session unused this long ends (default 30). */
  sessionIdleMinutes?: number;
  login?: LoginPolicy;
  audit?: AuditLog;
  log?: Logger;
  now?: () => number;
}

const COOKIE = 'edge_session';
const NO_PASSWORD = 'no console password is set: run `edge-agent hash-password` and put the hash in the secrets file';
/** A page's own periodic refresh sends this header: it keeps the page up to date, not the session alive. */
export const BACKGROUND_HEADER = 'x-edge-background';
/** A verified HTTP Basic password is remembered this long (scripts poll; scrypt costs ~50 ms and 16 MB). */
const BASIC_CACHE_MS = 5 * 60_000;
const BASIC_CACHE_SIZE = 64;

type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * Console and counter logins, and kiosk credentials. A password (scrypt hash in the secrets
 * file) gives an HttpOnly, SameSite=Strict session cookie (Secure on HTTPS) that ends after
 * `sessionIdleMinutes` unused or `sessionHours` in all; scripts may send HTTP Basic instead.
 * Guessing is throttled per account and per address (LoginThrottle), for the form and Basic
 * alike. The guards run in `onRequest` (see `runGuardsFirst`): nothing of an unauthenticated
 * request's body is read or validated. A cookie-authenticated write must come from the box's
 * own pages (Origin check).
 */
export class ConsoleAuth {
  private readonly sessions: SessionStore;
  private readonly accounts: Map<string, Account>;
  private readonly throttle: LoginThrottle;
  private readonly basicCache = new Map<string, { user: string; untilMs: number }>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly policy: LoginPolicy;
  /** A password check for an unknown name costs what a real one costs (names are not revealed by timing). */
  private readonly decoyHash = hashPassword('decoy-password-never-valid');
  private readonly guards = new Set<Guard>();

  constructor(private readonly options: AuthOptions) {
    this.accounts = new Map(options.accounts.map((a) => [a.user, a]));
    this.now = options.now ?? Date.now;
    this.policy = options.login ?? DEFAULT_LOGIN_POLICY;
    this.throttle = new LoginThrottle(this.policy, this.now);
    this.sessions = new SessionStore(options.sessionHours * 3_600_000, (options.sessionIdleMinutes ?? 30) * 60_000, this.now);
    this.log = options.log ?? pino({ level: 'silent' });
    for (const g of [this.requireAdmin, this.requireStaff, this.requireKiosk]) this.guards.add(g);
    this.decoyHash.catch(() => undefined);
  }

  /** Accounts from the configuration: `http.admin` (the one admin of earlier versions) and `http.accounts`. */
  static accountsFrom(http: { admin?: { user: string; passwordHash?: string }; accounts?: Account[] }): Account[] {
    const list: Account[] = [...(http.accounts ?? [])];
    if (http.admin?.passwordHash && !list.some((a) => a.user === (http.admin!.user ?? 'admin')))
      list.unshift({ user: http.admin.user ?? 'admin', role: 'admin', passwordHash: http.admin.passwordHash });
    return list;
  }

  private get hasPasswords(): boolean {
    return [...this.accounts.values()].some((a) => a.passwordHash);
  }

  /**
   * One onRoute hook: wherever a route lists requireAdmin, requireStaff or requireKiosk as a
   * preHandler, it runs in onRequest instead, before the body is read, parsed or validated. It
   * applies to every route registered after it, plugins' routes included, so no route file
   * has to know. Call before registering routes.
   */
  runGuardsFirst(app: FastifyInstance): void {
    app.addHook('onRoute', (route: RouteOptions) => {
      const pre = [route.preHandler ?? []].flat();
      const moved = pre.filter((h) => this.guards.has(h as unknown as Guard));
      if (moved.length === 0) return;
      const rest = pre.filter((h) => !this.guards.has(h as unknown as Guard));
      route.preHandler = rest.length ? (rest as RouteOptions['preHandler']) : undefined;
      route.onRequest = [...(moved as unknown as onRequestHookHandler[]), ...[route.onRequest ?? []].flat()] as RouteOptions['onRequest'];
    });
  }

  register(app: FastifyInstance): void {
    app.post(
      '/api/login',
      {
        bodyLimit: routeLimits.login,
        // An address that is waiting out its failures gets its 429 before its body is read.
        onRequest: async (req, reply) => {
          if (await this.refusedLoginPage(req, reply)) return;
          const verdict = this.throttle.verdict(clientAddress(req));
          if (!verdict.ok) await this.tooMany(reply, verdict);
        },
        schema: {
          tags: ['auth'],
          summary: 'Log in to the console or a counter page',
          body: {
            type: 'object',
            required: ['user', 'password'],
            properties: { user: { type: 'string', maxLength: 64 }, password: { type: 'string', maxLength: 256 } },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                user: { type: 'string' },
                role: { type: 'string' },
                counters: { type: 'array', items: { type: 'string' } },
                expires: { type: 'string' },
                idleMinutes: { type: 'number' },
              },
            },
            ...errorResponses,
          },
        },
      },
      async (req, reply) => {
        const { user, password } = req.body as { user: string; password: string };
        if (!this.hasPasswords) return reply.code(503).send({ error: NO_PASSWORD });
        const account = await this.authenticate(req, reply, user, password, 'form');
        if (!account) return reply;
        const session = this.sessions.open(account.user);
        const secure = (req.socket as { encrypted?: boolean }).encrypted ? '; Secure' : '';
        reply.header('set-cookie', `${COOKIE}=${session.token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${this.sessions.absoluteSeconds}${secure}`);
        return {
          user: account.user,
          role: account.role,
          ...(account.counters ? { counters: account.counters } : {}),
          expires: new Date(session.expiresMs).toISOString(),
          idleMinutes: this.options.sessionIdleMinutes ?? 30,
        };
      },
    );
    app.post(
      '/api/logout',
      {
        bodyLimit: routeLimits.login,
        onRequest: async (req, reply) => void (await this.refusedLoginPage(req, reply)),
        schema: { tags: ['auth'], summary: 'Log out' },
      },
      async (req, reply) => {
        const token = readCookie(req, COOKIE);
        if (token) {
          const found = this.sessions.use(token, false);
          this.sessions.close(token);
          if (found && 'user' in found) await this.audit({ action: 'logout', actor: found.user, ip: clientAddress(req), outcome: 'ok' });
        }
        reply.header('set-cookie', `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
        return { ok: true };
      },
    );
  }

  /** Login and logout posted from another site's page (login CSRF): 403, sent before the hook returns (the route then stops). */
  private async refusedLoginPage(req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const foreign = foreignOrigin(req, false);
    if (!foreign) return false;
    await reply.code(403).send({ error: `login refused: ${foreign}` });
    return true;
  }

  private async tooMany(reply: FastifyReply, verdict: Exclude<ThrottleVerdict, { ok: true }>, user?: string): Promise<void> {
    const wait = verdict.retryAfterSeconds;
    const minutes = this.policy.lockMinutes;
    const text: Record<typeof verdict.reason, string> = {
      'account-locked': `the account "${user}" is locked for ${minutes} min after ${this.policy.lockAfter} failed logins; try again in ${wait} s`,
      'account-backoff': `too many failed logins for this account; wait ${wait} s before trying again`,
      'address-locked': `this address is locked for ${minutes} min after ${this.policy.addressLockAfter} failed logins; try again in ${wait} s`,
      'address-backoff': `too many failed logins from this address; wait ${wait} s before trying again`,
      busy: 'logins from this address are already being checked; try again in a second',
    };
    await reply.code(429).header('retry-after', String(wait)).send({ error: text[verdict.reason] });
  }

  /**
   * Checks a password within the throttle. On refusal the reply is sent (401 or 429) and
   * undefined returned. Every outcome is audited and logged (the name only when it is an
   * account: a name field sometimes holds a mistyped password).
   */
  private async authenticate(req: FastifyRequest, reply: FastifyReply, user: string, password: string, via: 'form' | 'basic'): Promise<Account | undefined> {
    const ip = clientAddress(req);
    const known = this.accounts.get(user);
    const account = known?.passwordHash ? known : undefined;
    const verdict = this.throttle.verdict(ip, account?.user);
    if (!verdict.ok) {
      await this.tooMany(reply, verdict, account?.user);
      return undefined;
    }
    const ok = await this.throttle.runCheck(ip, async () =>
      account ? verifyPassword(password, account.passwordHash!) : verifyPassword(password, await this.decoyHash).then(() => false),
    );
    if (ok && account) {
      this.throttle.succeeded(ip, account.user);
      req.log.info({ user: account.user, role: account.role, peer: ip, via }, 'login');
      await this.audit({ action: 'login', actor: account.user, role: account.role, ip, outcome: 'ok', detail: { via } });
      return account;
    }
    const outcome = this.throttle.failed(ip, account?.user);
    const who = account ? { actor: account.user, role: account.role } : { actor: '-' };
    req.log.warn(
      {
        ...(account ? { user: account.user } : { user: '(not an account)' }),
        peer: ip,
        via,
        accountFailures: outcome.accountFailures,
        addressFailures: outcome.addressFailures,
      },
      'failed login',
    );
    await this.audit({
      action: 'login.failed',
      ...who,
      ip,
      outcome: 'refused',
      status: 401,
      detail: { via, accountFailures: outcome.accountFailures, addressFailures: outcome.addressFailures },
    });
    if (outcome.accountLocked) {
      req.log.warn(
        { user: account!.user, peer: ip, failures: outcome.accountFailures, lockMinutes: this.policy.lockMinutes },
        `account locked for everyone after ${outcome.accountFailures} failed logins; the last came from ${ip}`,
      );
      await this.audit({
        action: 'login.locked',
        ...who,
        ip,
        outcome: 'refused',
        detail: { scope: 'account', failures: outcome.accountFailures, minutes: this.policy.lockMinutes },
      });
    }
    if (outcome.addressLocked) {
      req.log.warn(
        { peer: ip, failures: outcome.addressFailures, lockMinutes: this.policy.lockMinutes },
        `address locked after ${outcome.addressFailures} failed logins`,
      );
      await this.audit({
        action: 'login.locked',
        actor: '-',
        ip,
        outcome: 'refused',
        detail: { scope: 'address', failures: outcome.addressFailures, minutes: this.policy.lockMinutes },
      });
    }
    await reply.code(401).send({ error: 'wrong user name or password' });
    return undefined;
  }

  private async audit(r: AuditRecord): Promise<void> {
    await this.options.audit?.record(r);
  }

  /**
   * The account a request acts for: session cookie, else HTTP Basic (throttled like the form).
   * `{ refused: true }` when the reply was already sent (429, 401 for a wrong Basic password).
   */
  private async identify(
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ account: Account; via: 'cookie' | 'basic' } | { refused: true } | { none: string }> {
    const token = readCookie(req, COOKIE);
    let why = 'log in first (POST /api/login)';
    if (token) {
      const found = this.sessions.use(token, req.headers[BACKGROUND_HEADER] === undefined);
      if (found && 'user' in found) {
        const account = this.accounts.get(found.user);
        if (account) return { account, via: 'cookie' };
      }
      if (found && 'expired' in found)
        why =
          found.expired === 'idle'
            ? `the login ended after ${this.options.sessionIdleMinutes ?? 30} min without use; log in again`
            : `the login ended after ${this.options.sessionHours} h; log in again`;
    }
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (!basic) return { none: why };
    const [user = '', ...rest] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
    const password = rest.join(':');
    const key = createHash('sha256').update(`${user}\0${password}`).digest('hex');
    const cached = this.basicCache.get(key);
    const now = this.now();
    if (cached && cached.untilMs > now) {
      // A locked account is locked for scripts too.
      const verdict = this.throttle.verdict(clientAddress(req), cached.user);
      if (!verdict.ok && verdict.reason !== 'busy') {
        await this.tooMany(reply, verdict, cached.user);
        return { refused: true };
      }
      const account = this.accounts.get(cached.user);
      if (account) return { account, via: 'basic' };
    }
    this.basicCache.delete(key);
    const account = await this.authenticate(req, reply, user, password, 'basic');
    if (!account) return { refused: true };
    this.basicCache.set(key, { user: account.user, untilMs: now + BASIC_CACHE_MS });
    if (this.basicCache.size > BASIC_CACHE_SIZE) this.basicCache.delete(this.basicCache.keys().next().value!);
    return { account, via: 'basic' };
  }

  private guard(roles: Role[]): Guard {
    return async (req, reply) => {
      if (!this.hasPasswords) {
        await reply.code(503).send({ error: NO_PASSWORD });
        return;
      }
      const who = await this.identify(req, reply);
      if ('refused' in who) return;
      if ('none' in who) {
        await reply.code(401).send({ error: who.none });
        return;
      }
      const { account, via } = who;
      // A browser sends the cookie (and cached Basic) by itself, whichever page asks: a write
      // must come from the box's own page.
      if (isWriteLike(req)) {
        const foreign = foreignOrigin(req, via === 'cookie');
        if (foreign) {
          req.log.warn({ user: account.user, peer: clientAddress(req), method: req.method, route: req.routeOptions.url }, 'cross-origin write refused');
          await this.audit({
            action: 'access.denied',
            actor: account.user,
            role: account.role,
            ip: clientAddress(req),
            outcome: 'refused',
            status: 403,
            target: { route: `${req.method} ${req.routeOptions.url ?? ''}` },
            detail: { why: 'origin' },
          });
          await reply.code(403).send({ error: `refused: ${foreign}; changes are made from the console page itself` });
          return;
        }
      }
      if (!roles.includes(account.role)) {
        await this.audit({
          action: 'access.denied',
          actor: account.user,
          role: account.role,
          ip: clientAddress(req),
          outcome: 'refused',
          status: 403,
          target: { route: `${req.method} ${req.routeOptions.url ?? ''}` },
        });
        await reply.code(403).send({ error: `the account "${account.user}" (${account.role}) may not do this; it needs ${roles.join(' or ')}` });
        return;
      }
      req.principal = { kind: 'user', user: account.user, role: account.role, ...(account.counters ? { counters: account.counters } : {}) };
    };
  }

  /** Guard (onRequest) for admin routes (configuration, restart, journal, outbox…). */
  readonly requireAdmin: Guard = this.guard(['admin']);

  /** Guard (onRequest) for counter pages (call, recall, confirm a priority claim): staff or admin. */
  readonly requireStaff: Guard = this.guard(['admin', 'staff']);

  /**
   * Guard for the kiosk's routes: the kiosk unit's token (header `x-kiosk-token`, or the
   * `token` query parameter on its WebSocket, which browsers cannot give headers), or a browser
   * on the box itself when `kiosk.allowLoopback` is on.
   */
  readonly requireKiosk: Guard = async (req, reply) => {
    const header = req.headers['x-kiosk-token'];
    const query = (req.query as Record<string, unknown> | undefined)?.token;
    const given = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined;
    if (given !== undefined) {
      const kiosk = this.options.kiosks.find((k) => safeEqual(k.token, given));
      if (kiosk) {
        req.principal = { kind: 'kiosk', kioskId: kiosk.id };
        return;
      }
      await reply.code(401).send({ error: 'this kiosk token is not known to the box' });
      return;
    }
    if (this.options.kioskLoopback && isLoopback(req.socket.remoteAddress)) {
      req.principal = { kind: 'kiosk', kioskId: 'local' };
      return;
    }
    await reply.code(401).send({ error: "kiosk routes need the kiosk unit's token (start its browser with /kiosk/?token=…)" });
  };
}

/** Earlier name of ConsoleAuth. */
export { ConsoleAuth as AdminAuth };

export function isLoopback(address: string | undefined): boolean {
  const a = unmapIpv4(address ?? '');
  return a === '::1' || a.startsWith('127.');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

function readCookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}
