import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHttpSink } from '../../sim/httpSink.ts';
import { writeAgentConfig } from '../../helpers/agentConfig.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

const { dir, cleanup } = tempDir('edge-cli-');
afterAll(cleanup);
const BIN = 'bin/edge-agent.js';

describe('edge-agent CLI', () => {
  it('check-config prints FILE:LINE:COLUMN field: message and exits non-zero', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'version: 1\nbox:\n  id: ok-box\n  facility: x\nhttp:\n  port: 99999\n');
    const r = spawnSync(process.execPath, [BIN, 'check-config', file], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout.trim()).toBe(`${file}:6:9 http.port: must be <= 65535`);
    const good = spawnSync(process.execPath, [BIN, 'check-config', 'config/demo.yaml'], { encoding: 'utf8' });
    expect(good.status).toBe(0);
  });

  it('refuses to start on invalid configuration, prints the problems and serves them on its HTTP port', async () => {
    const file = join(dir, 'bad-start.yaml');
    writeFileSync(file, 'version: 1\nbox:\n  id: ok-box\n  facility: x\ndevices:\n  scope:\n    driver: oscilloscope\n');
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'start', '--config', file], {
      env: { ...process.env, EDGE_HTTP_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    await waitFor(() => stderr.includes(`http://127.0.0.1:${port}/`), 'the problems page', 20_000);
    expect(stderr).toContain(`${file}:7:13 devices.scope.driver: must be one of:`);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(503);
    expect(await page.text()).toContain('devices.scope.driver');
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(78);
  });

  it('stops gracefully on SIGTERM', async () => {
    const sink = await startHttpSink();
    const file = await writeAgentConfig(dir, { sinkUrl: sink.url });
    const child = spawn(process.execPath, [BIN, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('"msg":"ready"'), 'the agent to be ready', 30_000);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('"msg":"stopped"');
    await sink.stop();
  });
});
