// Floods against the HTTP server, the agent in its own process (bin/edge-agent.js start) so its
// memory can be read from /proc: 40 concurrent 15 MB bodies, oversize bodies, idle and slow
// connections, one address holding many sockets, an unlisted address, a large WebSocket frame.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { hashPassword } from '../../../core/http/password.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { call, startHttpTestAgent } from './httpTestAgent.ts';

const KIOSK_TOKEN = 'kiosk-token-k1-0123456789abcdef';
const MB = 1024 * 1024;
const { dir, cleanup } = tempDir('edge-http-flood-');
let child: ChildProcess;
let base: string;
let port: number;
let output = '';

beforeAll(async () => {
  port = await freePort();
  writeFileSync(join(dir, 'secrets.yaml'), `admin_hash: "${await hashPassword(TEST_PASSWORD)}"\nkiosk_token: ${KIOSK_TOKEN}\n`);
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    `version: 1
secretsFile: secrets.yaml
box: { id: flood-box, facility: bv-test, dataDir: ./data }
http:
  host: 127.0.0.1
  port: ${port}
  admin: { user: admin, passwordHash: !secret admin_hash }
  limits: { headersTimeoutSeconds: 2 }
lanBroker: { enabled: false }
log: { level: warn }
kiosk: { units: [{ id: k1, token: !secret kiosk_token }] }
queue:
  services: [{ id: noi, name: Khám Nội }]
  counters: [{ id: q1, number: 1, services: [noi] }]
`,
  );
  child = spawn(process.execPath, ['bin/edge-agent.js', 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  base = `http://127.0.0.1:${port}`;
  await waitFor(
    () =>
      fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      ),
    `the agent to start:\n${output}`,
    30_000,
    100,
  );
});
let refusedSummaryExpected: RegExp | null = null;
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  if (refusedSummaryExpected) expect(output).toMatch(refusedSummaryExpected);
  cleanup();
});

/** Resident and peak resident memory of the agent process, in MB. */
function memory(): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/**
 * Posts `size` bytes as fast as the socket takes them, with or without Content-Length, from
 * `from`. Resolves with the status the box answered, or 'reset' when it cut the connection
 * before any answer.
 */
function flood(path: string, size: number, from: string, chunked: boolean): Promise<number | 'reset'> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', origin: base, 'x-kiosk-token': KIOSK_TOKEN };
    if (!chunked) headers['content-length'] = String(size);
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers, localAddress: from, agent: false });
    let settled = false;
    const done = (v: number | 'reset') => {
      if (!settled) (settled = true), resolve(v);
    };
    req.on('response', (res) => {
      res.resume();
      done(res.statusCode!);
    });
    req.on('error', () => done('reset'));
    const chunk = Buffer.alloc(64 * 1024, 'a');
    chunk[0] = '"'.charCodeAt(0);
    let sent = 0;
    const pump = () => {
      while (sent < size && !settled) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!settled) req.end();
    };
    pump();
  });
}

describe('body floods', () => {
  it("40 concurrent 15 MB kiosk bodies, with and without Content-Length, from two PCs: 413s, and the memory stays far below the unit's MemoryMax (1 GB)", async () => {
    const before = memory();
    for (const chunked of [false, true]) {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => flood(i % 2 ? '/api/kiosk/checkin' : '/api/kiosk/lookup', 15 * MB, i % 2 ? '127.0.0.1' : '127.0.0.2', chunked)),
      );
      // Each is answered 413 and its connection closed at once, the rest of the body unread: a
      // sender still writing then often sees the reset before it reads the answer (TCP drops it).
      expect(
        answers.every((a) => a === 413 || a === 'reset'),
        `chunked=${chunked}: ${answers.join(' ')}`,
      ).toBe(true);
      expect(answers.filter((a) => a === 413).length, `chunked=${chunked}: ${answers.join(' ')}`).toBeGreaterThan(0);
    }
    const after = memory();
    // What 40 × 15 MB held in memory took before: 1.1 GB. Now each body is cut at its route's limit.
    expect(after.peak - before.rss, JSON.stringify({ before, after })).toBeLessThan(200);
    expect(after.peak).toBeLessThan(600);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('an oversize login or kiosk body gets 413 with a message, before it is parsed', async () => {
    const login = await call(base, 'POST', '/api/login', { json: { user: 'admin', password: 'p'.repeat(8 * 1024) } });
    expect(login.status).toBe(413);
    expect(login.json().error).toMatch(/Request body is too large/);
    const kiosk = await call(base, 'POST', '/api/kiosk/checkin', {
      headers: { origin: base, 'x-kiosk-token': KIOSK_TOKEN },
      json: { service: 'noi', identity: { fullName: 'x'.repeat(2 * MB) } },
    });
    expect(kiosk.status).toBe(413);
  });
});

describe('connection floods', () => {
  const open = (from: string): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: from }, () => resolve(s));
      s.on('error', reject);
    });
  const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

  it('one PC holding 32 idle sockets gets no 33rd, another PC and the box are still served, and the idle ones are closed after the header timeout', async () => {
    const held: Socket[] = [];
    for (let i = 0; i < 32; i++) held.push(await open('127.0.0.3'));
    const extra = await open('127.0.0.3');
    await closed(extra); // the box closed it at once
    for (let i = 0; i < 10; i++) await closed(await open('127.0.0.3'));
    expect((await call(base, 'GET', '/healthz', { from: '127.0.0.4' })).status).toBe(200);
    expect((await call(base, 'GET', '/healthz')).status).toBe(200);
    // Nothing sent: every one of them is closed once headersTimeoutSeconds (2 s here) passed.
    const started = Date.now();
    await Promise.all(held.map(closed));
    expect(Date.now() - started).toBeLessThan(8000);
    expect(output).toMatch(/HTTP connection refused: already 32 connections from this address/);
    // Eleven refusals, one line: the other ten are summed up (at the latest when the server closes).
    expect(output.match(/HTTP connection refused/g)).toHaveLength(1);
    refusedSummaryExpected = /refused 10 connections from 127\.0\.0\.3 in the last \d+ s \(already 32 connections from this address/;
  });

  it('a slow sender (one header byte every 300 ms) is cut off at the header timeout', async () => {
    const s = await open('127.0.0.5');
    let answer = '';
    s.on('data', (d) => (answer += d));
    const request = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(60);
    let i = 0;
    const timer = setInterval(() => !s.destroyed && i < request.length && s.write(request[i++]!), 300);
    const started = Date.now();
    await closed(s);
    clearInterval(timer);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(i).toBeLessThan(request.length);
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('refuses an address outside http.allowedPeers, the listed one and the box itself get in', async () => {
    const listed = await startHttpTestAgent({ httpLines: '  allowedPeers: [127.0.0.20]' });
    try {
      await expect(call(listed.url, 'GET', '/healthz', { from: '127.0.0.21' })).rejects.toThrow(/ECONNRESET|socket hang up/);
      expect((await call(listed.url, 'GET', '/healthz', { from: '127.0.0.20' })).status).toBe(200);
      expect((await call(listed.url, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await listed.close();
    }
  });
});

describe('WebSocket frames', () => {
  it('closes a WebSocket that sends a frame over 64 KB (1009), on the queue feed and the kiosk feed', async () => {
    for (const path of ['/api/queue/live', `/api/kiosk/live?token=${KIOSK_TOKEN}`]) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { origin: base, headers: { 'x-kiosk-token': KIOSK_TOKEN } });
      await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
      const code = new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
      ws.send(Buffer.alloc(100 * 1024, 1));
      expect(await code, path).toBe(1009);
    }
  });
});
