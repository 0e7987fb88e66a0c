import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import mqtt from 'mqtt';
import { reconnectDelay } from '../../../core/mqtt/provinceLink.ts';
import { startMosquitto, type RunningMosquitto } from '../../helpers/mosquitto.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { writeAgentConfig } from '../../helpers/agentConfig.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

let broker: RunningMosquitto;
let sink: HttpSink;
const { dir, cleanup } = tempDir('edge-prov-');
beforeAll(async () => {
  broker = await startMosquitto();
  sink = await startHttpSink();
});
afterAll(async () => {
  await broker?.stop();
  await sink?.stop();
  cleanup();
});

describe('province uplink over real Mosquitto', () => {
  it('publishes retained state and health, and the broker tells the province "offline" when the box dies (last will)', async () => {
    const file = await writeAgentConfig(dir, { sinkUrl: sink.url, provinceUrl: broker.url });
    const watcher = await mqtt.connectAsync(broker.url);
    const seen: Array<[string, string]> = [];
    watcher.on('message', (t, p) => seen.push([t, p.toString()]));
    await watcher.subscribeAsync('prov/v1/bv-test/test-box/#', { qos: 1 });

    const child = spawn(process.execPath, ['bin/edge-agent.js', 'start', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await waitFor(() => seen.some(([t, p]) => t.endsWith('/state') && p.includes('online')), 'state online', 30_000);
    await waitFor(() => seen.some(([t]) => t.endsWith('/health')), 'health', 10_000);
    const health = JSON.parse(seen.find(([t]) => t.endsWith('/health'))![1]) as { outbox: unknown[]; devices: unknown[] };
    expect(health.devices).toEqual([{ id: 'monitor', state: 'running' }]);

    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    // Keepalive 30 s: the broker notices the dead TCP connection at once (RST) and sends the will.
    await waitFor(() => seen.some(([t, p]) => t.endsWith('/state') && p.includes('offline')), 'the last will', 60_000);

    // A new subscriber sees the retained offline state.
    const late = await mqtt.connectAsync(broker.url);
    const retained = new Promise<string>((r) => late.on('message', (_t, p) => r(p.toString())));
    await late.subscribeAsync('prov/v1/bv-test/test-box/state');
    expect(JSON.parse(await retained)).toMatchObject({ state: 'offline' });
    await late.endAsync();
    await watcher.endAsync();
  });

  it('spreads reconnects: jittered, growing, capped at two minutes', () => {
    expect(reconnectDelay(0, () => 0)).toBe(500);
    expect(reconnectDelay(0, () => 1)).toBe(1000);
    expect(reconnectDelay(20, () => 1)).toBe(120_000);
    const spread = new Set(Array.from({ length: 200 }, () => reconnectDelay(5)));
    expect(spread.size).toBeGreaterThan(150);
  });
});
