import type { Logger } from 'pino';
import type { AgentConfig } from '../../agent/config/types.ts';
import { startHttpSink } from './httpSink.ts';
import { startCentralIngest } from './centralIngest.ts';
import { startJsonDevice } from './jsonDevice.ts';
import { startProvinceBroker } from './provinceBroker.ts';

type Stop = () => Promise<void>;

/**
 * Starts the demo's simulated devices and destinations on the fixed demo topology
 * (README, "Demo topology"). Each simulator is optional: one that cannot start (port taken by
 * a real peer) is logged and skipped, so `npm start` still runs.
 */
export async function startDemoSimulators(config: AgentConfig, log: Logger): Promise<Stop> {
  const stops: Stop[] = [];
  const attempt = async (name: string, start: () => Promise<Stop>) => {
    try {
      stops.push(await start());
      log.info({ simulator: name }, 'simulator started');
    } catch (err) {
      log.warn({ simulator: name, err: (err as Error).message }, 'simulator not started');
    }
  };
  await attempt('HIS (HTTP JSON receiver) on 127.0.0.1:8090', async () => (await startHttpSink({ port: 8090 })).stop);
  await attempt('province broker (MQTT) on 127.0.0.1:1884', async () => (await startProvinceBroker({ port: 1884 })).stop);
  await attempt('province central ingest (acks uplinked items)', async () => (await startCentralIngest({ url: 'mqtt://127.0.0.1:1884', topicRoot: config.province?.topicRoot ?? 'vn-health' })).stop);
  if (config.devices['demo-monitor']) {
    await attempt('JSON device posting to demo-monitor', async () => startJsonDevice({ url: `http://${config.http.host}:${config.http.port}/api/ingest/demo-monitor`, everyMs: 5_000 }).stop);
  }
  return async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
}
