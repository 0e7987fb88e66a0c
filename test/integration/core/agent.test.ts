import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { Agent } from '../../../core/controller.ts';
import { createNotifier } from '../../../core/sdNotify.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { LAN_SCREEN_USER, TEST_PASSWORD, writeAgentConfig } from '../../helpers/agentConfig.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { MODULES } from '../../../modules/index.ts';

const require = createRequire(import.meta.url);
const unix = require('unix-dgram') as {
  createSocket(type: 'unix_dgram', onMessage: (msg: Buffer) => void): { bind(path: string): void; close(): void };
};

const { dir, cleanup } = tempDir('edge-agent-');
let sink: HttpSink;
let agent: Agent;
let base: string;
const notifications: string[] = [];
let notifySocket: { close(): void };

beforeAll(async () => {
  sink = await startHttpSink();
  // A real sd_notify socket, as systemd provides it.
  const socketPath = join(dir, 'notify.sock');
  notifySocket = unix.createSocket('unix_dgram', (msg) => notifications.push(msg.toString()));
  (notifySocket as unknown as { bind(p: string): void }).bind(socketPath);
  agent = new Agent({
    modules: MODULES,
    configFile: await writeAgentConfig(dir, { sinkUrl: sink.url }),
    log: pino({ level: 'silent' }),
    notifier: createNotifier({ NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '2000000' }),
  });
  await agent.start();
  base = `http://127.0.0.1:${agent.httpPort}`;
});

afterAll(async () => {
  await agent?.stop('test done');
  await sink?.stop();
  notifySocket?.close();
  cleanup();
});

async function login(): Promise<string> {
  const res = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'admin', password: TEST_PASSWORD }),
  });
  expect(res.status).toBe(200);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

describe('the running agent', () => {
  it('tells systemd it is ready and keeps pinging the watchdog', async () => {
    await waitFor(() => notifications.some((n) => n.includes('READY=1')), 'READY=1');
    await waitFor(() => notifications.some((n) => n === 'WATCHDOG=1'), 'WATCHDOG=1', 5_000);
  });

  it('answers health and readiness', async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ready: true,
      store: { writable: true },
      devices: [{ id: 'monitor', state: 'running' }],
      destinations: [{ id: 'central', state: 'running' }],
    });
  });

  it('acknowledges a posted item only once durable, then forwards it with its idempotency key', async () => {
    const unauth = await fetch(`${base}/api/ingest/monitor`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"spo2":97}' });
    expect(unauth.status).toBe(401);
    const post = () =>
      fetch(`${base}/api/ingest/monitor`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer tok-123', 'idempotency-key': 'reading-1' },
        body: '{"spo2":97}',
      });
    const res = await post();
    expect(res.status).toBe(200);
    const body = (await res.json()) as { journalId: number; duplicate: boolean };
    expect(body.duplicate).toBe(false);
    expect(agent.store.journalStore.get(body.journalId)?.parsed).toEqual({ spo2: 97 });
    expect(((await (await post()).json()) as { duplicate: boolean }).duplicate).toBe(true);
    await waitFor(() => sink.received.some((r) => r.idempotencyKey === 'reading-1'), 'the item at the destination');
    expect(sink.received.filter((r) => r.idempotencyKey === 'reading-1')).toHaveLength(1);
    const bad = await fetch(`${base}/api/ingest/monitor`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tok-123' },
      body: '{"spo2":',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/JSON/i);
  });

  it('requires a login for admin endpoints, and shows the journal and outbox after it', async () => {
    for (const path of ['/api/journal', '/api/outbox', '/api/devices', '/api/captures']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(401);
    }
    const wrong = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'admin', password: 'nope' }),
    });
    expect(wrong.status).toBe(401);
    const cookie = await login();
    const journal = (await (await fetch(`${base}/api/journal?source=monitor`, { headers: { cookie } })).json()) as {
      entries: Array<{ id: number; idempotencyKey: string }>;
    };
    const entry = journal.entries.find((e) => e.idempotencyKey === 'reading-1')!;
    const one = (await (await fetch(`${base}/api/journal/${entry.id}`, { headers: { cookie } })).json()) as {
      raw: { text: string };
      parsed: unknown;
      outbox: Array<{ state: string }>;
    };
    expect(one.raw.text).toBe('{"spo2":97}');
    expect(one.outbox[0]!.state).toBe('done');
    const outbox = (await (await fetch(`${base}/api/outbox`, { headers: { cookie } })).json()) as {
      destinations: Array<{ destination: string; delivered: number }>;
    };
    expect(outbox.destinations.find((d) => d.destination === 'central')!.delivered).toBeGreaterThan(0);
    const basic = 'Basic ' + Buffer.from(`admin:${TEST_PASSWORD}`).toString('base64');
    expect((await fetch(`${base}/api/devices`, { headers: { authorization: basic } })).status).toBe(200);
    expect((await fetch(`${base}/api/journal?since=yesterday`, { headers: { cookie } })).status).toBe(400);
  });

  it('parks, requeues and retries outbox items from the console', async () => {
    const cookie = await login();
    await sink.down();
    await fetch(`${base}/api/ingest/monitor`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tok-123', 'idempotency-key': 'reading-2' },
      body: '{"spo2":91}',
    });
    const items = (await (await fetch(`${base}/api/outbox/central/items?state=pending`, { headers: { cookie } })).json()) as {
      items: Array<{ outboxId: number; idempotencyKey: string }>;
    };
    const item = items.items.find((i) => i.idempotencyKey === 'reading-2')!;
    const park = await fetch(`${base}/api/outbox/items/${item.outboxId}/park`, {
      method: 'POST',
      headers: { cookie, origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'wrong patient, kept out of the HIS' }),
    });
    expect(park.status).toBe(200);
    const parked = (await (await fetch(`${base}/api/outbox/central/items?state=parked`, { headers: { cookie } })).json()) as {
      items: Array<{ deadLetterReason: string }>;
    };
    expect(parked.items[0]!.deadLetterReason).toBe('parked by hand: wrong patient, kept out of the HIS');
    await sink.up();
    expect((await fetch(`${base}/api/outbox/items/${item.outboxId}/requeue`, { method: 'POST', headers: { cookie, origin: base } })).status).toBe(200);
    await fetch(`${base}/api/outbox/central/retry`, { method: 'POST', headers: { cookie, origin: base } });
    await waitFor(() => sink.received.some((r) => r.idempotencyKey === 'reading-2'), 'requeued item delivered');
  });

  it('serves Prometheus metrics and an OpenAPI document, after a login', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/openapi.json`)).status).toBe(401);
    const basic = { authorization: 'Basic ' + Buffer.from(`admin:${TEST_PASSWORD}`).toString('base64') };
    const metrics = await (await fetch(`${base}/metrics`, { headers: basic })).text();
    for (const name of [
      'edge_journal_commit_seconds_bucket',
      'edge_outbox_depth{destination="central",state="pending"}',
      'edge_outbox_oldest_pending_seconds',
      'edge_component_up{kind="device",id="monitor",state="running"} 1',
      'edge_process_resident_memory_bytes',
    ]) {
      expect(metrics).toContain(name);
    }
    const doc = (await (await fetch(`${base}/openapi.json`, { headers: basic })).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/api/journal', '/api/outbox', '/readyz', '/api/login', '/api/ingest/{device}']) expect(Object.keys(doc.paths)).toContain(path);
  });

  it('publishes the box state and device states, retained, on the LAN broker', async () => {
    const port = agent.lanBroker!.address.port;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: LAN_SCREEN_USER, password: TEST_PASSWORD });
    const got = new Map<string, string>();
    client.on('message', (topic, payload) => got.set(topic, payload.toString()));
    await client.subscribeAsync('edge/v1/bv-test/test-box/#');
    await waitFor(
      () => got.has('edge/v1/bv-test/test-box/state') && got.has('edge/v1/bv-test/test-box/dev/monitor/state') && got.has('edge/v1/bv-test/test-box/health'),
      'retained state, device state and health',
    );
    expect(JSON.parse(got.get('edge/v1/bv-test/test-box/state')!)).toMatchObject({ state: 'online' });
    expect(JSON.parse(got.get('edge/v1/bv-test/test-box/dev/monitor/state')!)).toMatchObject({ state: 'running' });
    await client.endAsync();
  });
});

describe('status page', () => {
  it('serves the status page at / without personal data', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('/status/status.js');
    expect(await (await fetch(`${base}/status/status.js`)).text()).toContain('/readyz');
  });
});

describe('configuration from the console', () => {
  it('validates an edit with file:line:column problems, refuses a bad one, applies a good one atomically with a backup', async () => {
    const cookie = await login();
    const current = (await (await fetch(`${base}/api/config`, { headers: { cookie } })).json()) as { file: string; text: string; schema: { title: string } };
    expect(current.text).toContain('!secret admin_hash'); // secrets stay references
    expect(current.schema.title).toBe('Edge agent configuration');
    const bad = current.text.replace('port: 0, admin', 'port: 70000, admin');
    const check = (await (
      await fetch(`${base}/api/config/validate`, {
        method: 'POST',
        headers: { cookie, origin: base, 'content-type': 'application/json' },
        body: JSON.stringify({ text: bad }),
      })
    ).json()) as { ok: boolean; problems: string[] };
    expect(check.ok).toBe(false);
    expect(check.problems[0]).toMatch(/agent\.yaml:3:\d+ http\.port: must be <= 65535/);
    const refused = await fetch(`${base}/api/config`, {
      method: 'PUT',
      headers: { cookie, origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ text: bad }),
    });
    expect(refused.status).toBe(400);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(current.file, 'utf8')).toBe(current.text);
    const good = current.text.replace('facility: bv-test', 'facility: bv-test, name: "Trạm Y tế xã"');
    const applied = await fetch(`${base}/api/config`, {
      method: 'PUT',
      headers: { cookie, origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ text: good }),
    });
    expect(await applied.json()).toMatchObject({ saved: true, restartRequired: true });
    expect(readFileSync(current.file, 'utf8')).toBe(good);
    expect(readFileSync(`${current.file}.bak`, 'utf8')).toBe(current.text);
  });

  it('gives a diagnostics bundle without secret values', async () => {
    const cookie = await login();
    const text = await (await fetch(`${base}/api/diagnostics`, { headers: { cookie } })).text();
    expect(text).toContain('"devices"');
    expect(text).not.toContain('tok-123');
    expect(text).not.toContain('scrypt$');
  });
});
