import { afterAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHttpSink } from '../../sim/httpSink.ts';
import { TEST_PASSWORD, writeAgentConfig } from '../../helpers/agentConfig.ts';
import { killAgentProcesses, setupCodes as codes, startAgentProcess as startAgent } from '../../helpers/agentProcess.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

// `edge-agent start` as systemd and a person at the box run it: first run with no file, a bad
// file (degraded, not restart-looped, comes up once fixed), and a restart from the console.
const require = createRequire(import.meta.url);
const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram', onMessage: (msg: Buffer) => void): { bind(path: string): void; close(): void } };
const { dir, cleanup } = tempDir('edge-start-');
afterAll(() => {
  killAgentProcesses();
  cleanup();
});

function notifySocket(name: string) {
  const path = join(dir, name);
  const messages: string[] = [];
  const socket = unix.createSocket('unix_dgram', (m) => messages.push(m.toString()));
  socket.bind(path);
  return { path, messages, close: () => socket.close() };
}

const setupCall = (base: string, path: string, code: string, body: unknown = {}) =>
  fetch(`${base}/api/setup/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-setup-code': code }, body: JSON.stringify(body) });
const basic = `Basic ${Buffer.from(`admin:${TEST_PASSWORD}`).toString('base64')}`;

describe('first run: no configuration file', () => {
  it('serves the setup page behind a one-time code, checks the answers, saves them and starts the agent in the same process', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const config = join(dir, 'first', 'config.yaml');
    const notify = notifySocket('first.sock');
    const agent = startAgent(config, port, { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '2000000' });
    await waitFor(() => codes(agent.out.stderr).length === 1, 'the one-time code on the console', 20_000);
    const code = codes(agent.out.stderr)[0]!;
    // Up for systemd (not restart-looped), saying what it waits for, watchdog fed.
    await waitFor(() => notify.messages.some((m) => m.includes('READY=1') && m.includes('STATUS=first-run setup')), 'READY with the setup status');
    await waitFor(() => notify.messages.includes('WATCHDOG=1'), 'watchdog pings', 5_000);
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect(await (await fetch(`${base}/`)).text()).toContain('mã dùng một lần');

    // Every call needs the code; ten wrong ones replace it with a new one.
    const wrong = await setupCall(base, 'unlock', '0000-0000');
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error).toContain('Mã dùng một lần không đúng');
    for (let i = 1; i < 10; i++) await setupCall(base, 'unlock', '0000-0000');
    await waitFor(() => codes(agent.out.stderr).length === 2, 'a new code after ten wrong ones');
    expect((await setupCall(base, 'unlock', code)).status).toBe(401);
    const fresh = codes(agent.out.stderr)[1]!;
    const unlocked = await setupCall(base, 'unlock', fresh.replace('-', ''));
    expect(unlocked.status).toBe(200);
    const choices = await unlocked.json();
    expect(choices.profiles.map((p: { id: string }) => p.id)).toContain('mindray-bc');
    expect(choices.timezones[0]).toBe('Asia/Ho_Chi_Minh');
    // What an attacker on the LAN would try next: a body too large, a form post without the code.
    const huge = await fetch(`${base}/api/setup/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-setup-code': fresh },
      body: JSON.stringify({ pad: 'x'.repeat(100_000) }),
    });
    expect(huge.status).toBe(413);
    const formPost = await fetch(`${base}/api/setup/save`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' });
    expect(formPost.status).toBe(401);

    // The test button, before any agent runs: a port something else holds, a printer that refuses.
    const taken = createServer().listen(0, '0.0.0.0');
    await new Promise((r) => taken.once('listening', r));
    const takenPort = (taken.address() as { port: number }).port;
    const busy = await (
      await setupCall(base, 'test-device', fresh, { kind: 'lab-hl7', id: 'bc', profile: 'mindray-bc', port: takenPort, analyzer: '10.0.0.9' })
    ).json();
    expect(busy).toEqual({ ok: false, detail: `Cổng ${takenPort} đang được chương trình khác dùng.` });
    taken.close();
    const printer = await (
      await setupCall(base, 'test-device', fresh, { kind: 'printer', id: 'in', transport: 'tcp', host: '127.0.0.1', port: await freePort() })
    ).json();
    expect(printer.ok).toBe(false);
    expect(printer.detail).toContain('từ chối kết nối');

    // Bad answers: the shape at once, the rest by the configuration's own rules, with their line.
    const draft = {
      box: { id: 'lab-01', facility: 'bv x!', timezone: 'Asia/Ho_Chi_Minh', name: 'Bệnh viện Đa khoa huyện X' },
      adminPassword: 'setup-password-1',
      lis: { host: '127.0.0.1', port: await freePort() },
      devices: [{ kind: 'lab-hl7', id: 'bc5380', profile: 'mindray-bc', port: await freePort(), analyzer: '127.0.0.1' }],
    };
    const short = await setupCall(base, 'check', fresh, { ...draft, adminPassword: 'short' });
    expect(short.status).toBe(400);
    expect((await short.json()).error).toContain('adminPassword');
    const bad = await setupCall(base, 'save', fresh, draft);
    expect(bad.status).toBe(400);
    const badBody = await bad.json();
    expect(badBody.problems).toEqual([
      expect.stringMatching(new RegExp(`^${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ box\\.facility: does not have the expected form`)),
    ]);

    draft.box.facility = 'bv-x';
    const checked = await (await setupCall(base, 'check', fresh, draft)).json();
    expect(checked.config).toContain('passwordHash: !secret admin_password_hash');
    const saved = await setupCall(base, 'save', fresh, draft);
    expect(saved.status).toBe(200);
    // The password is kept only as its hash.
    expect(readFileSync(join(dir, 'first', 'secrets.yaml'), 'utf8')).toMatch(/^admin_password_hash: scrypt\$/);
    expect(readFileSync(join(dir, 'first', 'secrets.yaml'), 'utf8')).not.toContain('setup-password-1');
    await waitFor(() => agent.out.stdout.includes('"msg":"ready"'), 'the agent started with the saved configuration', 30_000);
    const ready = await (await fetch(`${base}/readyz`)).json();
    expect(ready.devices).toEqual([expect.objectContaining({ id: 'bc5380', state: 'running' })]);
    const login = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'admin', password: 'setup-password-1' }),
    });
    expect(login.status).toBe(200);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    notify.close();
  });
});

describe('a configuration with problems', () => {
  it('stays up for systemd in a degraded state, serves the problems, and starts the agent once the file is fixed', async () => {
    const port = await freePort();
    const sink = await startHttpSink();
    const good = await writeAgentConfig(dir, { sinkUrl: sink.url });
    const text = readFileSync(good, 'utf8').replace('port: 0, admin', `port: ${port}, admin`);
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, text.replace('driver: http-ingest', 'driver: oscilloscope'));
    const notify = notifySocket('degraded.sock');
    const agent = startAgent(file, port, { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '2000000' });
    await waitFor(
      () => notify.messages.some((m) => m.includes('READY=1') && m.includes('STATUS=degraded: configuration invalid (1 problem(s))')),
      'READY=1 with a degraded status',
    );
    await waitFor(() => notify.messages.includes('WATCHDOG=1'), 'watchdog pings', 5_000);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(503);
    expect(await page.text()).toContain('devices.monitor.driver');

    writeFileSync(file, text);
    await waitFor(() => agent.out.stdout.includes('"msg":"ready"'), 'the agent to start by itself once the file is valid', 30_000);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    notify.close();
    await sink.stop();
  });
});

describe('a restart from the console', () => {
  async function agentConfig(name: string, port: number): Promise<string> {
    const sub = join(dir, name);
    (await import('node:fs')).mkdirSync(sub, { recursive: true });
    const sink = await startHttpSink();
    const file = await writeAgentConfig(sub, { sinkUrl: sink.url });
    writeFileSync(file, readFileSync(file, 'utf8').replace('port: 0, admin', `port: ${port}, admin`));
    return file;
  }

  it('started by hand (npm start, no systemd): starts the agent again in the same process', async () => {
    const port = await freePort();
    const agent = startAgent(await agentConfig('by-hand', port), port);
    await waitFor(() => agent.out.stdout.includes('"msg":"ready"'), 'ready', 30_000);
    const r = await fetch(`http://127.0.0.1:${port}/api/restart`, { method: 'POST', headers: { authorization: basic } });
    expect(r.status).toBe(200);
    await waitFor(() => agent.out.stdout.split('"msg":"ready"').length === 3, 'ready a second time', 30_000);
    expect(agent.out.stdout).toContain('restarting in this process');
    expect(agent.child.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });

  it('under systemd: exits 75 for systemd to start it again', async () => {
    const port = await freePort();
    const agent = startAgent(await agentConfig('systemd', port), port, { INVOCATION_ID: 'test-invocation' });
    await waitFor(() => agent.out.stdout.includes('"msg":"ready"'), 'ready', 30_000);
    await fetch(`http://127.0.0.1:${port}/api/restart`, { method: 'POST', headers: { authorization: basic } });
    expect(await agent.exited).toBe(75);
  });
});
