import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Agent } from '../../../core/controller.ts';
import { startMosquitto, type RunningMosquitto } from '../../helpers/mosquitto.ts';
import { startCentralIngest, type CentralIngest } from '../../sim/centralIngest.ts';
import { startHttpSink, type HttpSink } from '../../sim/httpSink.ts';
import { writeAgentConfig } from '../../helpers/agentConfig.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { MODULES } from '../../../modules/index.ts';

let broker: RunningMosquitto;
let central: CentralIngest;
let sink: HttpSink;
let agent: Agent;
let base: string;
const { dir, cleanup } = tempDir('edge-uplink-');

beforeAll(async () => {
  broker = await startMosquitto();
  central = await startCentralIngest({ url: broker.url, topicRoot: 'prov' });
  sink = await startHttpSink();
  const file = await writeAgentConfig(dir, {
    sinkUrl: sink.url,
    extra: `  vitals:
    driver: http-ingest
    routes: [province]
    priority: telemetry
    token: !secret ingest_token
`,
  });
  // The uplink destination, added next to the test configuration's HTTP destination.
  const { readFileSync, writeFileSync } = await import('node:fs');
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace(
      'destinations:\n',
      `destinations:\n  province:\n    type: mqtt-uplink\n    url: "${broker.url}"\n    topicRoot: prov\n    ackTimeoutSeconds: 1\n    window: 16\n    backoff: { initialSeconds: 0.1, maxSeconds: 0.5 }\n`,
    ),
  );
  agent = new Agent({ modules: MODULES, configFile: file, log: pino({ level: 'silent' }) });
  await agent.start();
  base = `http://127.0.0.1:${agent.httpPort}`;
});
afterAll(async () => {
  await agent?.stop();
  await central?.stop();
  await broker?.stop();
  await sink?.stop();
  cleanup();
});

const post = (n: number) =>
  fetch(`${base}/api/ingest/vitals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tok-123', 'idempotency-key': `v-${n}` },
    body: JSON.stringify({ n }),
  }).then((r) => expect(r.status).toBe(200));
const pending = () => agent.store.outbox.status(['province'])[0]!.pending;

describe('uplink to the central ingest over real Mosquitto', () => {
  it('delivers with an application-level ack and keeps items until the ingest acks them (PUBACK is not enough)', async () => {
    for (let n = 0; n < 50; n++) await post(n);
    await waitFor(() => pending() === 0, 'all 50 acknowledged by the ingest', 30_000);
    expect(central.stored.size).toBe(50);
    const envelope = [...central.stored.values()][0]!;
    expect(envelope).toMatchObject({ box: 'test-box', facility: 'bv-test', stream: 'device.json', schema: 'device.json/1' });
    expect(String(envelope.time)).toMatch(/\+07:00$/);

    // The ingest receives but cannot store (no ack): the broker accepted the publish (PUBACK),
    // yet nothing leaves the outbox; order per source holds the other nine behind it.
    central.acking = false;
    for (let n = 50; n < 60; n++) await post(n);
    await waitFor(() => central.stored.size === 51, 'the ingest to receive the first new item');
    await new Promise((r) => setTimeout(r, 2_500));
    expect(pending()).toBe(10);
    expect(central.repeats).toBeGreaterThan(0); // retried with the same id after the ack timeout
    central.acking = true;
    await waitFor(() => pending() === 0, 'retries to be acked', 30_000);
    expect(central.stored.size).toBe(60);
  });

  it('survives a broker restart mid-stream: every item reaches the ingest', async () => {
    const port = broker.port;
    const sending = (async () => {
      for (let n = 100; n < 300; n++) await post(n);
    })();
    await waitFor(() => central.stored.size > 80, 'some of the stream to arrive', 30_000);
    await central.stop();
    await broker.stop();
    await new Promise((r) => setTimeout(r, 500));
    broker = await startMosquitto({ port });
    const before = new Map(central.stored);
    central = await startCentralIngest({ url: broker.url, topicRoot: 'prov' });
    for (const [k, v] of before) central.stored.set(k, v);
    await sending;
    await waitFor(() => pending() === 0, 'the outbox to drain after the broker came back', 60_000);
    for (let n = 100; n < 300; n++) {
      expect(
        [...central.stored.values()].some((e) => e.idempotencyKey === `v-${n}`),
        `v-${n}`,
      ).toBe(true);
    }
  });
});
