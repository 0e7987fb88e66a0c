import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Agent } from '../../../core/controller.ts';
import { type ConfigError, loadConfig } from '../../../core/config/load.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { writeAgentConfig } from '../../helpers/agentConfig.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { MODULES } from '../../../modules/index.ts';

const { dir, cleanup } = tempDir('edge-ingest-sec-');
let sink: HttpSink;
let agent: Agent;
let port: number;

beforeAll(async () => {
  sink = await startHttpSink();
  const file = await writeAgentConfig(dir, {
    sinkUrl: sink.url,
    extra: `  spo2:
    driver: http-ingest
    routes: [central]
    token: !secret ingest_token
    allowedPeers: [127.0.0.1]
    maxBodyBytes: 2048
`,
  });
  agent = new Agent({ modules: MODULES, configFile: file, log: pino({ level: 'silent' }) });
  await agent.start();
  port = agent.httpPort;
});
afterAll(async () => {
  await agent?.stop('test done');
  await sink?.stop();
  cleanup();
});

interface Answer {
  status: number;
  body: { error?: string; duplicate?: boolean; journalId?: number };
}

/** POST from a chosen local address (127.0.0.2 plays another PC); `chunked` sends no Content-Length. */
function post(path: string, body: string, headers: Record<string, string>, options: { from?: string; chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        localAddress: options.from ?? '127.0.0.1',
        headers: { 'content-type': 'application/json', ...(options.chunked ? {} : { 'content-length': String(Buffer.byteLength(body)) }), ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    if (options.chunked) {
      // Streams in pieces, as a device without Content-Length would; stops if the box answered.
      const piece = body.slice(0, 512);
      let sent = 0;
      const next = () => {
        if (sent >= body.length || req.destroyed) return req.end();
        req.write(body.slice(sent, sent + piece.length), () => setImmediate(next));
        sent += piece.length;
      };
      next();
    } else req.end(body);
  });
}

const auth = { authorization: 'Bearer tok-123' };
const entries = () => agent.store.journalStore.list({ source: 'spo2', limit: 100 });
const journalRows = () => agent.store.db.prepare('SELECT id, idem_key, raw FROM journal ORDER BY id').all();

describe('POST /api/ingest/:device refuses what a LAN attacker tries', () => {
  it('no token → 401, wrong token → 401, wrong address → 403; nothing stored', async () => {
    const before = journalRows();
    const reading = JSON.stringify({ spo2: 55 });
    const none = await post('/api/ingest/spo2', reading, { 'idempotency-key': 'forged-1' });
    expect(none.status).toBe(401);
    expect(none.body.error).toMatch(/bearer token/);
    expect((await post('/api/ingest/spo2', reading, { authorization: 'Bearer guessed', 'idempotency-key': 'forged-1' })).status).toBe(401);
    const stranger = await post('/api/ingest/spo2', reading, { ...auth, 'idempotency-key': 'forged-1' }, { from: '127.0.0.2' });
    expect(stranger.status).toBe(403);
    expect(stranger.body.error).toMatch(/allowedPeers/);
    expect(journalRows()).toEqual(before);
    const counters = agent.devices().find((d) => d.id === 'spo2')?.status.counters;
    expect(counters).toMatchObject({ refusedToken: 2, refusedPeers: 1, accepted: 0 });
  });

  it('a reused Idempotency-Key with another body → 409, the first item delivered unchanged; the same body again is 200 duplicate', async () => {
    const first = await post('/api/ingest/spo2', JSON.stringify({ spo2: 97, at: '08:00' }), { ...auth, 'idempotency-key': 'reading-42' });
    expect(first).toMatchObject({ status: 200, body: { duplicate: false } });
    const before = journalRows();
    const forged = await post('/api/ingest/spo2', JSON.stringify({ spo2: 71, at: '08:00' }), { ...auth, 'idempotency-key': 'reading-42' });
    expect(forged.status).toBe(409);
    expect(forged.body.error).toMatch(/already used with a different body/);
    expect(journalRows()).toEqual(before);
    const retry = await post('/api/ingest/spo2', JSON.stringify({ spo2: 97, at: '08:00' }), { ...auth, 'idempotency-key': 'reading-42' });
    expect(retry).toMatchObject({ status: 200, body: { duplicate: true, journalId: first.body.journalId } });
    expect(journalRows()).toEqual(before);
    // What the destination gets is the first body, once.
    await waitFor(() => sink.received.some((r) => r.idempotencyKey === 'reading-42'), 'the item delivered');
    const delivered = sink.received.filter((r) => r.idempotencyKey === 'reading-42');
    expect(delivered.map((r) => JSON.stringify(r.body))).toEqual([expect.stringContaining('"spo2":97')]);
    expect(
      entries()
        .filter((e) => e.idempotencyKey === 'reading-42')
        .map((e) => e.parsed),
    ).toEqual([{ spo2: 97, at: '08:00' }]);
  });

  it('a body over maxBodyBytes → 413, declared or streamed; nothing stored', async () => {
    const before = journalRows();
    const big = JSON.stringify({ samples: 'x'.repeat(10_000) });
    const declared = await post('/api/ingest/spo2', big, { ...auth, 'idempotency-key': 'big-1' });
    expect(declared.status).toBe(413);
    expect(declared.body.error).toMatch(/larger than 2048 bytes/);
    const streamed = await post('/api/ingest/spo2', big, { ...auth, 'idempotency-key': 'big-2' }, { chunked: true });
    expect(streamed.status).toBe(413);
    expect(journalRows()).toEqual(before);
    // A reading within the bound is still taken.
    expect((await post('/api/ingest/spo2', JSON.stringify({ spo2: 96 }), { ...auth, 'idempotency-key': 'small-1' })).status).toBe(200);
  });
});

describe('ingest configuration', () => {
  it('a device without a token is a configuration error naming the file, line and field', () => {
    const file = join(dir, 'no-token.yaml');
    writeFileSync(
      file,
      `version: 1\nbox: { id: t, facility: f, dataDir: ./d }\nhttp: { host: 127.0.0.1, port: 0 }\ndestinations: {}\ndevices:\n  monitor:\n    driver: http-ingest\n    stream: device.vitals\n`,
    );
    let problems: string[] = [];
    try {
      loadConfig(file);
    } catch (err) {
      problems = (err as ConfigError).problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.field}: ${p.message}`);
    }
    expect(problems).toContain(`${file}:7:5 devices.monitor.token: required field "token" is missing`);
  });
});
