// An agent for the HTTP security tests: an admin, two more admins (ops, ops2: for the lockout
// tests, so `admin` stays usable) and a staff (counter) account,
// an http-ingest device routed to a disabled destination (its outbox rows stay as they are),
// and `call()`, a raw HTTP(S) request that can name its source address, its Host header and its
// exact path (fetch normalises `..` and refuses to set Host).
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Agent, type AgentOptions } from '../../../core/controller.ts';
import { hashPassword } from '../../../core/http/password.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { MODULES } from '../../../modules/index.ts';

export const STAFF_PASSWORD = 'counter-password-1';
export const OPS_PASSWORD = 'ops-password-1';

export interface HttpTestAgent {
  url: string;
  agent: Agent;
  dir: string;
  configFile: string;
  restartRequests: number;
  /** Form login; the session cookie header value. */
  login(user?: string, password?: string): Promise<string>;
  close(): Promise<void>;
}

/** `httpLines`: more lines of the http block (2-space indented YAML); `body`: more top-level configuration. */
export async function startHttpTestAgent(
  options: { httpLines?: string; body?: string; plugins?: AgentOptions['httpPlugins']; scheme?: 'http' | 'https' } = {},
): Promise<HttpTestAgent> {
  const { dir, cleanup } = tempDir('edge-http-');
  writeFileSync(
    join(dir, 'secrets.yaml'),
    `admin_hash: "${await hashPassword(TEST_PASSWORD)}"\nops_hash: "${await hashPassword(OPS_PASSWORD)}"\nstaff_hash: "${await hashPassword(STAFF_PASSWORD)}"\ningest_token: tok-123\n`,
  );
  const configFile = join(dir, 'agent.yaml');
  writeFileSync(
    configFile,
    `version: 1
secretsFile: secrets.yaml
box: { id: http-box, facility: bv-test, dataDir: ./data }
http:
  host: 127.0.0.1
  port: 0
  admin: { user: admin, passwordHash: !secret admin_hash }
  accounts:
    - { user: ops, role: admin, passwordHash: !secret ops_hash }
    - { user: ops2, role: admin, passwordHash: !secret ops_hash }
    - { user: quay1, role: staff, passwordHash: !secret staff_hash, counters: [q1] }
${options.httpLines ?? ''}
lanBroker: { enabled: false }
log: { level: ${process.env.TEST_LOG_LEVEL ?? 'error'} }
destinations:
  central:
    type: http-json
    enabled: false
    url: http://127.0.0.1:9/ingest
devices:
  monitor:
    driver: http-ingest
    routes: [central]
    token: !secret ingest_token
${options.body ?? ''}
`,
  );
  const state = { restartRequests: 0 };
  const agent = new Agent({
    modules: MODULES,
    configFile,
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    onRestartRequested: () => void state.restartRequests++,
    ...(options.plugins ? { httpPlugins: options.plugins } : {}),
  });
  try {
    await agent.start();
  } catch (err) {
    cleanup();
    throw err;
  }
  const url = `${options.scheme ?? 'http'}://127.0.0.1:${agent.httpPort}`;
  return {
    url,
    agent,
    dir,
    configFile,
    get restartRequests() {
      return state.restartRequests;
    },
    async login(user = 'admin', password = TEST_PASSWORD) {
      const res = await call(url, 'POST', '/api/login', { json: { user, password } });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
      return String(res.headers['set-cookie']).split(';')[0]!;
    },
    async close() {
      await agent.stop('test done');
      cleanup();
    },
  };
}

export interface CallResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface CallOptions {
  headers?: Record<string, string>;
  json?: unknown;
  body?: string | Buffer;
  /** Source address (another "PC": Linux routes all of 127/8 to loopback). */
  from?: string;
  /** Trusted CA (PEM) for HTTPS. */
  ca?: string | Buffer;
}

/** One request on its own connection; the path is sent exactly as given. */
export function call(base: string, method: string, path: string, o: CallOptions = {}): Promise<CallResult> {
  const url = new URL(base);
  const body = o.json !== undefined ? JSON.stringify(o.json) : o.body;
  const headers: Record<string, string> = {
    ...(o.json !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
    ...o.headers,
  };
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers, agent: false, ...(o.from ? { localAddress: o.from } : {}), ...(o.ca ? { ca: o.ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode!, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** HTTP Basic header for an account. */
export const basic = (user: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
