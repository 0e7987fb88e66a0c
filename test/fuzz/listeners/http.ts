/**
 * HTTP attacks on the local API, built from its own OpenAPI document so every route present
 * (console, kiosk, queue, ingest, orders…) is covered as routes come and go: JSON bodies
 * generated from each route's schema and then broken (wrong types, huge and deep values,
 * prototype keys, invalid UTF-8), request framing games (wrong Content-Length, chunked,
 * pipelined, cut short), with and without credentials, and WebSocket upgrades followed by
 * mutated frames. Routes that change the box on purpose (config write, restart, device test)
 * are left out.
 */
import { mutate } from '../lib/mutate.ts';
import type { Rng } from '../lib/rng.ts';

export interface Route {
  method: string;
  path: string;
  body?: Schema;
  websocket: boolean;
}

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  required?: string[];
  maxLength?: number;
}

/** Operations the fuzzer must not call: they restart the box or change its configuration by design. */
const LEFT_OUT = /^(PUT \/api\/config|POST \/api\/restart|POST \/api\/devices\/\{id\}\/test|POST \/api\/logout)$/;

export async function loadRoutes(baseUrl: string, authorization: string): Promise<Route[]> {
  const res = await fetch(`${baseUrl}/openapi.json`, { headers: { authorization } });
  if (!res.ok) throw new Error(`GET /openapi.json answered ${res.status}: the HTTP fuzzer reads the routes from it`);
  const doc = (await res.json()) as {
    paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> }; summary?: string; description?: string }>>;
  };
  const routes: Route[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const m = method.toUpperCase();
      if (LEFT_OUT.test(`${m} ${path}`)) continue;
      const body = op.requestBody?.content?.['application/json']?.schema;
      const websocket = /live$/.test(path) && m === 'GET';
      routes.push({ method: m, path, websocket, ...(body ? { body } : {}) });
    }
  }
  return routes;
}

const STRINGS = [
  '',
  ' ',
  'a',
  '0',
  '-1',
  '1e309',
  'null',
  'true',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '../../../../etc/passwd',
  '%00',
  '\u0000',
  '\ud800',
  'Nguyễn Thị Ánh',
  '079190001111',
  '001099012345',
  'x'.repeat(70_000),
  '\u202e',
  '{"a":1}',
  '__proto__',
  'constructor',
];
const NUMBERS = [0, -0, 1, -1, 0.5, 1e21, -1e21, Number.MAX_SAFE_INTEGER, 2 ** 53 + 1, 2 ** 31, -(2 ** 31) - 1, 1e-320];

function valueFor(schema: Schema | undefined, rng: Rng, depth: number): unknown {
  if (depth > 6 || rng.chance(0.1)) return randomValue(rng, depth);
  if (schema?.enum && rng.chance(0.7)) return rng.pick(schema.enum);
  const type = Array.isArray(schema?.type) ? rng.pick(schema!.type) : schema?.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(schema?.properties ?? {})) if (rng.chance(0.8) || schema?.required?.includes(k)) out[k] = valueFor(s, rng, depth + 1);
      if (rng.chance(0.1)) out[rng.pick(['__proto__', 'constructor', 'extra', ''])] = randomValue(rng, depth + 1);
      return out;
    }
    case 'array':
      return Array.from({ length: rng.skewed(rng.chance(0.05) ? 5000 : 8) }, () => valueFor(schema?.items, rng, depth + 1));
    case 'string':
      return rng.chance(0.6)
        ? `v${rng.next().toString(36)}`
        : rng.chance(0.5) && schema?.maxLength
          ? 'y'.repeat(schema.maxLength + rng.range(0, 2))
          : rng.pick(STRINGS);
    case 'integer':
    case 'number':
      return rng.chance(0.5) ? rng.range(0, 100) : rng.pick(NUMBERS);
    case 'boolean':
      return rng.chance(0.5);
    default:
      return randomValue(rng, depth);
  }
}

function randomValue(rng: Rng, depth: number): unknown {
  switch (rng.int(depth > 4 ? 4 : 7)) {
    case 0:
      return null;
    case 1:
      return rng.pick(STRINGS);
    case 2:
      return rng.pick(NUMBERS);
    case 3:
      return rng.chance(0.5);
    case 4:
      return Array.from({ length: rng.skewed(4) }, () => randomValue(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.skewed(4); i > 0; i--) o[rng.pick(STRINGS).slice(0, 20) || 'k'] = randomValue(rng, depth + 1);
      return o;
    }
  }
}

function jsonBody(route: Route, rng: Rng): Buffer {
  const r = rng.int(20);
  if (r === 0) return Buffer.from('['.repeat(rng.range(1000, 200_000)) + ']'.repeat(rng.chance(0.5) ? 0 : 10));
  if (r === 1) return Buffer.from(`{"a":${'{"a":'.repeat(rng.range(100, 20_000))}1${'}'.repeat(5)}`);
  if (r === 2) return Buffer.from(`{${Array.from({ length: rng.range(100, 20_000) }, (_, i) => `"k${i % 50}":${i}`).join(',')}}`);
  const text = Buffer.from(JSON.stringify(valueFor(route.body, rng, 0)) ?? 'null');
  return rng.chance(0.3)
    ? mutate({
        rng,
        seeds: [text],
        tokens: ['{', '}', '[', ']', '"', ':', ',', '\\u0000', '\\ud800', '__proto__', 'null', '1e999'].map((t) => Buffer.from(t)),
        maxBytes: 512 * 1024,
      })
    : text;
}

/** Percent-encodes every byte outside [A-Za-z0-9._~-] (lone surrogates become U+FFFD, as on the wire). */
function pct(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

function fillPath(path: string, rng: Rng): string {
  return path.replace(/\{[^}]+\}/g, () =>
    pct(
      String(
        rng.pick<unknown>(['1', '0', '-1', '99999999999999999999', 'monitor', 'analyzer-hl7', 'noi', 'q1', '..', '%2e%2e', 'x'.repeat(3000), 'Nguyễn', 'null']),
      ),
    ),
  );
}

export interface HttpAttack {
  bytes: Buffer;
  /** A well-formed request whose answer must come (and must not be a 5xx). */
  complete: boolean;
  label: string;
  /** Sent with the ingest token to the ingest route: may be stored; its idempotency key says so. */
  idempotencyKey?: string;
}

export function httpAttack(rng: Rng, routes: Route[], creds: { basic: string; ingestToken: string; host: string }, seq: number): HttpAttack {
  const route = rng.pick(routes);
  let path = fillPath(route.path, rng);
  if (rng.chance(0.2))
    path += `?${rng.pick(['q', 'limit', 'from', 'token', 'stream', 'a[b]', '__proto__[x]'])}=${pct(String(rng.pick<unknown>(STRINGS)).slice(0, 200))}`;
  const headers: string[] = [`Host: ${rng.chance(0.9) ? creds.host : rng.pick(['evil.example', '', 'localhost:1'])}`];
  const auth = rng.int(5);
  const ingest = route.path.startsWith('/api/ingest/');
  if (auth === 1) headers.push(`Authorization: ${creds.basic}`);
  else if (auth === 2) headers.push(`Authorization: Basic ${Buffer.from(`admin:${rng.next()}`).toString('base64')}`);
  else if (auth === 3 || (ingest && rng.chance(0.5))) headers.push(`Authorization: Bearer ${creds.ingestToken}`);
  else if (auth === 4) headers.push(`Cookie: edge_session=${rng.next().toString(16)}`);
  if (rng.chance(0.2)) headers.push(`Origin: ${rng.pick(['http://evil.example', 'null', `http://${creds.host}`])}`);
  const tokened = headers.some((h) => h === `Authorization: Bearer ${creds.ingestToken}`);
  const idempotencyKey = ingest ? `atk-${tokened ? 'tok' : 'notok'}-${seq}` : undefined;
  if (idempotencyKey) headers.push(`Idempotency-Key: ${idempotencyKey}`);
  if (route.websocket) {
    headers.push(
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${Buffer.from(rng.bytes(16)).toString('base64')}`,
      'Sec-WebSocket-Version: 13',
    );
    const head = Buffer.from(`GET ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');
    // Masked client frames, some declaring huge lengths, some with reserved opcodes.
    const frames = Array.from({ length: rng.range(0, 6) }, () => {
      const payload = rng.bytes(rng.skewed(2000));
      const len = rng.chance(0.2) ? 0xffffffff : payload.length;
      const b0 = rng.chance(0.8) ? 0x81 : rng.next() & 0xff;
      const lenBytes =
        len < 126
          ? Buffer.from([0x80 | len])
          : len < 65536
            ? Buffer.from([0x80 | 126, len >> 8, len & 0xff])
            : Buffer.concat([Buffer.from([0x80 | 127, 0, 0, 0, 0]), Buffer.from([len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff])]);
      return Buffer.concat([Buffer.from([b0]), lenBytes, rng.bytes(4), payload]);
    });
    return { bytes: Buffer.concat([head, ...frames]), complete: false, label: `WS ${route.path}` };
  }
  const hasBody = route.method !== 'GET' && route.method !== 'HEAD' && (route.body !== undefined || ingest || rng.chance(0.3));
  const body = hasBody ? jsonBody(route, rng) : Buffer.alloc(0);
  let complete = true;
  if (hasBody) {
    headers.push(
      `Content-Type: ${rng.chance(0.85) ? 'application/json' : rng.pick(['application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', ''])}`,
    );
  }
  let payload: Buffer = body;
  const framing = rng.int(10);
  if (framing <= 6) headers.push(`Content-Length: ${body.length}`);
  else if (framing === 7) {
    headers.push('Transfer-Encoding: chunked');
    payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
  } else if (framing === 8) {
    headers.push(`Content-Length: ${body.length + rng.range(1, 1000)}`); // promises more than it sends
    complete = false;
  } else {
    headers.push(`Content-Length: ${rng.chance(0.5) ? -1 : body.length}`, `Content-Length: ${body.length + 1}`); // contradicting
    complete = false;
  }
  if (!hasBody && framing > 7) complete = false;
  let bytes: Buffer = Buffer.concat([Buffer.from(`${route.method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
  if (rng.chance(0.1)) {
    bytes = mutate({
      rng,
      seeds: [bytes],
      tokens: ['\r\n', ': ', 'Content-Length: 99999999999', 'Transfer-Encoding: chunked', '\r\n\r\n', 'HTTP/1.1', 'HTTP/2.0'].map((t) => Buffer.from(t)),
      maxBytes: 512 * 1024,
    });
    complete = false;
  }
  return { bytes, complete, label: `${route.method} ${route.path}`, ...(idempotencyKey ? { idempotencyKey } : {}) };
}

/** Status codes of the responses in a byte stream (pipelined answers included). */
export function statuses(received: Buffer): number[] {
  return [...received.toString('latin1').matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}
