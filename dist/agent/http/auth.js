import { randomBytes } from 'node:crypto';
import { unmapIpv4 } from "../net/peers.js";
import { verifyPassword } from "./password.js";
import { errorResponses } from "./schemas.js";
const COOKIE = 'edge_session';
const NO_PASSWORD = 'no console password is set: run `edge-agent hash-password` and put the hash in the secrets file';
/**
 * Console and counter logins, and kiosk credentials. A password (scrypt hash in the secrets
 * file) gives an HttpOnly, SameSite=Strict session cookie; scripts may send HTTP Basic instead.
 * Sessions live in memory: a restart logs everyone out, which is acceptable for a box.
 */
export class ConsoleAuth {
    options;
    sessions = new Map();
    accounts;
    constructor(options) {
        this.options = options;
        this.accounts = new Map(options.accounts.map((a) => [a.user, a]));
    }
    /** Accounts from the configuration: `http.admin` (the one admin of earlier versions) and `http.accounts`. */
    static accountsFrom(http) {
        const list = [...(http.accounts ?? [])];
        if (http.admin?.passwordHash && !list.some((a) => a.user === (http.admin.user ?? 'admin')))
            list.unshift({ user: http.admin.user ?? 'admin', role: 'admin', passwordHash: http.admin.passwordHash });
        return list;
    }
    get hasPasswords() {
        return [...this.accounts.values()].some((a) => a.passwordHash);
    }
    register(app) {
        app.post('/api/login', {
            schema: {
                tags: ['auth'],
                summary: 'Log in to the console or a counter page',
                body: { type: 'object', required: ['user', 'password'], properties: { user: { type: 'string', maxLength: 64 }, password: { type: 'string', maxLength: 256 } } },
                response: { 200: { type: 'object', properties: { user: { type: 'string' }, role: { type: 'string' }, counters: { type: 'array', items: { type: 'string' } }, expires: { type: 'string' } } }, ...errorResponses },
            },
        }, async (req, reply) => {
            const { user, password } = req.body;
            if (!this.hasPasswords)
                return reply.code(503).send({ error: NO_PASSWORD });
            const account = await this.check(user, password);
            if (!account) {
                // A slow "no" makes guessing expensive.
                await new Promise((r) => setTimeout(r, 500));
                return reply.code(401).send({ error: 'wrong user name or password' });
            }
            const token = randomBytes(32).toString('base64url');
            const expires = Date.now() + this.options.sessionHours * 3_600_000;
            this.sessions.set(token, { user, expires });
            reply.header('set-cookie', `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(this.options.sessionHours * 3600)}`);
            return { user, role: account.role, ...(account.counters ? { counters: account.counters } : {}), expires: new Date(expires).toISOString() };
        });
        app.post('/api/logout', { schema: { tags: ['auth'], summary: 'Log out' } }, async (req, reply) => {
            const token = readCookie(req, COOKIE);
            if (token)
                this.sessions.delete(token);
            reply.header('set-cookie', `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
            return { ok: true };
        });
    }
    async check(user, password) {
        const account = this.accounts.get(user);
        if (!account?.passwordHash)
            return undefined;
        return (await verifyPassword(password, account.passwordHash)) ? account : undefined;
    }
    /** The logged-in account of a request (session cookie or HTTP Basic), or undefined. */
    async userOf(req) {
        const token = readCookie(req, COOKIE);
        const session = token ? this.sessions.get(token) : undefined;
        if (session && session.expires > Date.now())
            return this.accounts.get(session.user);
        if (token && session)
            this.sessions.delete(token);
        const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
        if (basic) {
            const [user, ...rest] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
            return this.check(user ?? '', rest.join(':'));
        }
        return undefined;
    }
    guard(roles) {
        return async (req, reply) => {
            if (!this.hasPasswords) {
                await reply.code(503).send({ error: NO_PASSWORD });
                return;
            }
            const account = await this.userOf(req);
            if (!account) {
                await reply.code(401).send({ error: 'log in first (POST /api/login)' });
                return;
            }
            if (!roles.includes(account.role)) {
                await reply.code(403).send({ error: `the account "${account.user}" (${account.role}) may not do this; it needs ${roles.join(' or ')}` });
                return;
            }
            req.principal = { kind: 'user', user: account.user, role: account.role, ...(account.counters ? { counters: account.counters } : {}) };
        };
    }
    /** preHandler for admin routes (configuration, restart, journal, outbox…). */
    requireAdmin = this.guard(['admin']);
    /** preHandler for counter pages (call, recall, confirm a priority claim): staff or admin. */
    requireStaff = this.guard(['admin', 'staff']);
    /**
     * preHandler for the kiosk's routes: the kiosk unit's token (header `x-kiosk-token`, or the
     * `token` query parameter on its WebSocket, which browsers cannot give headers), or a browser
     * on the box itself when `kiosk.allowLoopback` is on.
     */
    requireKiosk = async (req, reply) => {
        const header = req.headers['x-kiosk-token'];
        const query = req.query?.token;
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
        await reply.code(401).send({ error: 'kiosk routes need the kiosk unit\'s token (start its browser with /kiosk/?token=…)' });
    };
}
/** Earlier name of ConsoleAuth. */
export { ConsoleAuth as AdminAuth };
export function isLoopback(address) {
    const a = unmapIpv4(address ?? '');
    return a === '::1' || a.startsWith('127.');
}
function safeEqual(a, b) {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    if (x.length !== y.length)
        return false;
    let diff = 0;
    for (let i = 0; i < x.length; i++)
        diff |= x[i] ^ y[i];
    return diff === 0;
}
function readCookie(req, name) {
    for (const part of (req.headers.cookie ?? '').split(';')) {
        const [k, ...v] = part.trim().split('=');
        if (k === name)
            return v.join('=');
    }
    return undefined;
}
