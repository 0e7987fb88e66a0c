// The whole agent as a kiosk box runs it, for browser tests and bench:kiosk: the real Agent with
// its HTTP server, the cccd-reader driver on the real pcscd (vsmartcard's virtual reader), the
// queue, the HIS simulator for look-ups and check-ins, and a printer simulator when asked.
import type { Agent } from '../../agent/controller.ts';
import { startPcscd, type PcscdHandle } from '../integration/cccd/pcscd.ts';
import { startHisSim, type HisSim } from '../sim/his.ts';
import { startPrinter, type PrinterSim } from '../sim/printer.ts';
import { startTestAgent, type TestAgent } from './testAgent.ts';

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
  const his = await startHisSim({ delayMs: options.hisDelayMs ?? 0 });
  const pcscd = options.card ? await startPcscd() : null;
  const printer = options.printer ? await startPrinter() : null;
  let running: TestAgent;
  try {
    running = await startTestAgent(
      'kiosk-box',
      `destinations:
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
  } catch (err) {
    await pcscd?.stop();
    await printer?.stop();
    await his.stop();
    throw err;
  }
  return {
    url: running.url,
    agent: running.agent,
    his,
    pcscd,
    printer,
    async close() {
      await running.close();
      await pcscd?.stop();
      await printer?.stop();
      await his.stop();
    },
  };
}
