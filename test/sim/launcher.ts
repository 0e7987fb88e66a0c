import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AgentConfig } from '../../core/config/types.ts';
import { startAstmAnalyzerStream } from './astmAnalyzer.ts';
import { startCentralIngest } from './centralIngest.ts';
import { omiMessage, startHisSim, type ImagingOrder } from './his.ts';
import { formatAstmTime } from '../../modules/astm/session.ts';
import { TestMllpClient } from '../helpers/mllpClient.ts';
import { startHl7AnalyzerStream } from './hl7Analyzer.ts';
import { startJsonDevice } from './jsonDevice.ts';
import { startMllpLis } from './mllpLis.ts';
import { startProvinceBroker } from './provinceBroker.ts';
import { startVssGateway } from './vssGateway.ts';
import { startPrinter } from './printer.ts';
import { generateStudy, startModality } from './modality.ts';
import { startPacs } from './pacs.ts';

type Stop = () => Promise<void>;

const DEMO_PATIENTS = ['Phạm^Thị Hoa', 'Nguyễn^Văn Bình', 'Trần^Thị Lan', 'Lê^Văn Đức', 'Hoàng^Thị Mai'];

/** The n-th imaging order of this demo run, scheduled now for station CT01. */
function demoImagingOrder(n: number, timeZone: string): ImagingOrder {
  const now = formatAstmTime(Date.now(), timeZone); // YYYYMMDDHHMMSS in the box's zone
  const accessionNumber = `CT${now.slice(2, 12)}${n}`.slice(0, 16);
  return {
    orderId: `YL${accessionNumber.slice(2)}`,
    accessionNumber,
    patientId: `BN${now.slice(2, 8)}${String(n).padStart(3, '0')}`,
    patientName: DEMO_PATIENTS[(n - 1) % DEMO_PATIENTS.length]!,
    procedure: { code: 'CT01', name: 'CT sọ não không tiêm thuốc', modality: 'CT' },
    stationAeTitle: 'CT01',
    scheduledAt: now,
    referringPhysician: 'Trần^Minh Quang',
  };
}

/** One HL7 message over MLLP, waiting for its ACK. */
async function pushHl7(port: number, message: string): Promise<void> {
  const client = await TestMllpClient.open(port, '127.0.0.1');
  try {
    await client.send(message);
  } finally {
    client.close();
  }
}

export interface DemoSimulators {
  /** Starts the simulated devices; call once the agent listens. */
  startDevices(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The demo's simulated destinations (started now, before the agent) and devices (started by
 * startDevices(), once the agent listens), on the fixed demo topology (README, "Demo
 * topology"). A simulator that cannot start (port taken by a real peer) is logged and skipped.
 */
export async function startDemoSimulators(config: AgentConfig, log: Logger): Promise<DemoSimulators> {
  const stops: Stop[] = [];
  const attempt = async (name: string, start: () => Promise<Stop>) => {
    try {
      stops.push(await start());
      log.info({ simulator: name }, 'simulator started');
    } catch (err) {
      log.warn({ simulator: name, err: (err as Error).message }, 'simulator not started');
    }
  };
  await attempt('HIS (appointments, insurance, check-ins; records every POST) on 127.0.0.1:8090', async () => (await startHisSim({ port: 8090 })).stop);
  await attempt('LIS (HL7 over MLLP, records results) on 127.0.0.1:6661', async () => (await startMllpLis({ port: 6661 })).stop);
  await attempt('Social Security insurance gateway on 127.0.0.1:8091', async () => (await startVssGateway({ port: 8091 })).stop);
  await attempt('province broker (MQTT) on 127.0.0.1:1884', async () => (await startProvinceBroker({ port: 1884 })).stop);
  if (config.destinations.pacs) {
    const pacsDir = join(config.box.dataDir, 'pacs');
    await attempt(
      `PACS (DICOM C-STORE SCP, AE PACS) on 127.0.0.1:11113, instances in ${pacsDir}`,
      async () => (await startPacs({ port: 11113, aeTitle: 'PACS', dir: pacsDir })).stop,
    );
  }
  const printer = config.devices['demo-printer'];
  if (printer) {
    // Each printed ticket is decoded back from its ESC/POS raster into a PNG next to the demo's data.
    const outDir = join(config.box.dataDir, 'printed');
    mkdirSync(outDir, { recursive: true });
    await attempt(
      `ticket printer (ESC/POS) on 127.0.0.1:${String(printer.port)}, tickets as PNG in ${outDir}`,
      async () => (await startPrinter({ port: Number(printer.port), outDir })).stop,
    );
  }
  await attempt(
    'province central ingest (acks uplinked items)',
    async () => (await startCentralIngest({ url: 'mqtt://127.0.0.1:1884', topicRoot: config.province?.topicRoot ?? 'vn-health' })).stop,
  );

  const api = `http://${config.http.host}:${config.http.port}`;
  return {
    startDevices: async () => {
      if (config.devices['demo-monitor']) {
        await attempt(
          'vital signs monitor posting JSON to demo-monitor',
          async () =>
            startJsonDevice({ url: `${api}/api/ingest/demo-monitor`, everyMs: 5_000, token: String(config.devices['demo-monitor']!.token ?? '') }).stop,
        );
      }
      const hl7 = config.devices['demo-hl7'];
      if (hl7) {
        await attempt(
          `HL7 analyzer (Mindray) sending to 127.0.0.1:${String(hl7.port)}`,
          async () => (await startHl7AnalyzerStream({ port: Number(hl7.port), intervalMs: 7_000 })).stop,
        );
      }
      const scp = config.devices['demo-modality'];
      if (scp) {
        // Every 20 s the HIS schedules a CT for station CT01 (OMI^O23 to the orders listener), the
        // modality takes the patient from its worklist and sends a small study (3 images).
        const ordersPort = Object.values(config.devices).find((d) => d.driver === 'hl7-mllp' && d.mode === 'orders')?.port;
        await attempt(`modality CT01 taking patients from the worklist and sending studies by C-STORE to 127.0.0.1:${String(scp.port)}`, async () => {
          const modality = await startModality({ port: Number(scp.port), calledAe: String(scp.aeTitle ?? 'EDGE'), callingAe: 'CT01' });
          let n = 0;
          const round = async (): Promise<void> => {
            const order = demoImagingOrder(++n, config.box.timezone);
            if (ordersPort !== undefined) await pushHl7(Number(ordersPort), omiMessage(order, `OMI${order.accessionNumber}`));
            const patient = ordersPort !== undefined ? await modality.nextFromWorklist(order.scheduledAt.slice(0, 8)) : null;
            await modality.sendGenerated(generateStudy({ instances: 3, pixelBytes: 64 * 1024, ...(patient ?? { patientName: order.patientName }) }));
          };
          const send = () => void round().catch((err: Error) => log.debug({ err: err.message }, 'demo imaging round failed'));
          send();
          const timer = setInterval(send, 20_000);
          return async () => {
            clearInterval(timer);
            await modality.stop();
          };
        });
      }
      const astm = config.devices['demo-astm'];
      if (astm) {
        await attempt(
          `ASTM analyzer connecting to 127.0.0.1:${String(astm.port)}`,
          async () => (await startAstmAnalyzerStream({ mode: 'client', host: '127.0.0.1', port: Number(astm.port), intervalMs: 5_000 })).stop,
        );
      }
    },
    stop: async () => {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
    },
  };
}
