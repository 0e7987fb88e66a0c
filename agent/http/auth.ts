import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyPassword } from './password.ts';
import { errorResponses } from './schemas.ts';

export interface AuthOptions {
  user: string;
  passwordHash: string | undefined;
  sessionHours: number;
}

const COOKIE = 'edge_session';

/**
 * Console login: a password (scrypt hash in the secrets file) gives an HttpOnly, SameSite=Strict
 * session cookie; scripts may send HTTP Basic instead. Sessions live in memory: a restart logs
 * everyone out, which is acceptable for a box's console.
 */
export class AdminAuth {
  private readonly sessions = new Map<string, { user: string; expires: number }>();

  constructor(private readonly options: AuthOptions) {}

  register(app: FastifyInstance): void {
    app.post(
      '/api/login',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log in to the console',
          body: { type: 'object', required: ['user', 'password'], properties: { user: { type: 'string' }, password: { type: 'string' } } },
          response: { 200: { type: 'object', properties: { user: { type: 'string' }, expires: { type: 'string' } } }, ...errorResponses },
        },
      },
      async (req, reply) => {
        const { user, password } = req.body as { user: string; password: string };
        if (!this.options.passwordHash) return reply.code(503).send({ error: 'no console password is set: run `edge-agent hash-password` and put the hash in the secrets file' });
        if (user !== this.options.user || !(await verifyPassword(password, this.options.passwordHash))) {
          // A slow "no" makes guessing expensive.
          await new Promise((r) => setTimeout(r, 500));
          return reply.code(401).send({ error: 'wrong user name or password' });
        }
        const token = randomBytes(32).toString('base64url');
        const expires = Date.now() + this.options.sessionHours * 3_600_000;
        this.sessions.set(token, { user, expires });
        reply.header('set-cookie', `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(this.options.sessionHours * 3600)}`);
        return { user, expires: new Date(expires).toISOString() };
      },
    );
    app.post('/api/logout', { schema: { tags: ['auth'], summary: 'Log out' } }, async (req, reply) => {
      const token = readCookie(req, COOKIE);
      if (token) this.sessions.delete(token);
      reply.header('set-cookie', `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
      return { ok: true };
    });
  }

  /** preHandler for admin routes. */
  readonly requireAdmin = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!this.options.passwordHash) {
      await reply.code(503).send({ error: 'no console password is set: run `edge-agent hash-password` and put the hash in the secrets file' });
      return;
    }
    const token = readCookie(req, COOKIE);
    const session = token ? this.sessions.get(token) : undefined;
    if (session && session.expires > Date.now()) return;
    if (token && session) this.sessions.delete(token);
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const [user, ...rest] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      if (user === this.options.user && (await verifyPassword(rest.join(':'), this.options.passwordHash))) return;
    }
    await reply.code(401).send({ error: 'log in first (POST /api/login)' });
  };
}

function readCookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}
