// The whole agent as a kiosk box runs it, for browser tests and bench:kiosk: the real Agent with
// its HTTP server, the cccd-reader driver on the real pcscd (vsmartcard's virtual reader), the
// queue, the HIS simulator for look-ups and check-ins, and a printer simulator when asked.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Agent } from '../../agent/controller.ts';
import { hashPassword } from '../../agent/http/password.ts';
import { startPcscd, type PcscdHandle } from '../integration/cccd/pcscd.ts';
import { startHisSim, type HisSim } from '../sim/his.ts';
import { startPrinter, type PrinterSim } from '../sim/printer.ts';
import { TEST_PASSWORD } from './agentConfig.ts';
import { tempDir } from './tmp.ts';

export interface KioskAgent {
  url: string;
  agent: Agent;
  his: HisSim;
  /** The real pcscd with vpcd; a card simulator connects to `pcscd.port` (reader "Virtual PCD 00 00"). */
  pcscd: PcscdHandle | null;
  /** The ticket printer simulator (TCP 9100-style), when asked for. */
  printer: PrinterSim | null;
  close(): Promise<void>;
}

export interface KioskAgentOptions {
  /** Start pcscd and a cccd-reader device (needs root). */
  card?: boolean;
  /** HIS simulator latency per request. */
  hisDelayMs?: number;
  /** Extra settings of the cccd-reader device, e.g. { fileAccess: 'sfi' }. */
  cardSettings?: Record<string, string | number | boolean>;
  /** Start the printer simulator and an escpos-printer device on it. */
  printer?: boolean;
}

export async function startKioskAgent(options: KioskAgentOptions = {}): Promise<KioskAgent> {
  const { dir, cleanup } = tempDir('kiosk-agent-');
  const his = await startHisSim({ delayMs: options.hisDelayMs ?? 0 });
  const pcscd = options.card ? await startPcscd() : null;
  const printer = options.printer ? await startPrinter() : null;
  writeFileSync(join(dir, 'secrets.yaml'), `admin_hash: "${await hashPassword(TEST_PASSWORD)}"\n`);
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    `version: 1
secretsFile: secrets.yaml
box: { id: kiosk-box, facility: bv-test, name: Bệnh viện Thử nghiệm, dataDir: ./data }
http: { host: 127.0.0.1, port: 0, admin: { user: admin, passwordHash: !secret admin_hash } }
lanBroker: { enabled: false }
log: { level: ${process.env.TEST_LOG_LEVEL ?? 'error'} }
destinations:
  his-checkin:
    type: his-http
    baseUrl: http://127.0.0.1:${his.port}
    register: { ackField: requestId }
    backoff: { initialSeconds: 0.2, maxSeconds: 1 }
his:
  checkinDestination: his-checkin
  lookup:
    http: { baseUrl: "http://127.0.0.1:${his.port}" }
queue:
  services:
    - { id: noi, name: Khám Nội, strategy: { kind: strict }, tolerance: 3 }
    - { id: nhi, name: Khám Nhi }
    - { id: xn, name: Xét nghiệm, prefix: X, digits: 3 }
  counters:
    - { id: q1, number: 1, name: Quầy 1, services: [noi] }
    - { id: q2, number: 2, name: Quầy 2, services: [nhi, xn] }
devices:
${pcscd ? `  card:\n    driver: cccd-reader\n    name: Đầu đọc CCCD (ảo)\n    readerName: "Virtual PCD 00 00"\n    allowVirtualReader: true\n${Object.entries(options.cardSettings ?? {}).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`).join('')}` : ''}${printer ? `  ticket-printer:\n    driver: escpos-printer\n    transport: tcp\n    host: 127.0.0.1\n    port: ${printer.port}\n` : ''}`,
  );
  const agent = new Agent({ configFile: file, log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  try {
    await agent.start();
  } catch (err) {
    await pcscd?.stop();
    await printer?.stop();
    await his.stop();
    cleanup();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${agent.httpPort}`,
    agent,
    his,
    pcscd,
    printer,
    async close() {
      await agent.stop('test done');
      await pcscd?.stop();
      await printer?.stop();
      await his.stop();
      cleanup();
    },
  };
}
