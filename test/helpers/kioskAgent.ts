// The whole agent as a kiosk box runs it, for browser tests and bench:kiosk: the real Agent with
// its HTTP server, the cccd-reader driver on the real pcscd (vsmartcard's virtual reader), the
// queue, the HIS simulator for look-ups and check-ins, and a printer simulator when asked.
import type { Agent } from '../../core/controller.ts';
import { hashPassword } from '../../core/http/password.ts';
import { startPcscd, type PcscdHandle } from '../integration/cccd/pcscd.ts';
import { startHisSim, type HisSim } from '../sim/his.ts';
import { startPrinter, type PrinterSim } from '../sim/printer.ts';
import { startVssGateway, type VssGatewaySim } from '../sim/vssGateway.ts';
import { TEST_PASSWORD } from './agentConfig.ts';
import { startTestAgent, type TestAgent, type TestAgentExtras } from './testAgent.ts';

/** The kiosk unit the agent knows and the token its browser is started with (`/kiosk/?token=…`). */
export const KIOSK_ID = 'kiosk-1';
export const KIOSK_TOKEN = 'kiosk-1-token-0123456789abcdef';
export const OTHER_KIOSK_TOKEN = 'kiosk-2-token-fedcba9876543210';
export const THIRD_KIOSK_TOKEN = 'kiosk-3-token-a1b2c3d4e5f60718';
/** Staff accounts of the kiosk box (password TEST_PASSWORD): `quay1` acts for counter q1 only. */
export const STAFF_Q1 = 'quay1';

export interface KioskAgent {
  url: string;
  agent: Agent;
  his: HisSim;
  /** The social-security gateway simulator, when asked for (insurance look-ups go there). */
  gateway: VssGatewaySim | null;
  /** Headers of the kiosk unit `kiosk-1` (its token). */
  kioskHeaders: Record<string, string>;
  login: TestAgent['login'];
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
  /** kiosk.allowLoopback (default true): false makes even 127.0.0.1 show its token. */
  allowLoopback?: boolean;
  /** Insurance look-ups at the social-security gateway simulator (a staff member's account). */
  gateway?: boolean;
  /** Extra lines of the `kiosk` block (limits), indented by two spaces. */
  kioskSettings?: string;
  /** The agent's logger (tests that read its log lines). */
  log?: TestAgentExtras['log'];
}

export async function startKioskAgent(options: KioskAgentOptions = {}): Promise<KioskAgent> {
  const his = await startHisSim({ delayMs: options.hisDelayMs ?? 0 });
  const pcscd = options.card ? await startPcscd() : null;
  const printer = options.printer ? await startPrinter() : null;
  const gateway = options.gateway ? await startVssGateway({ staff: { name: 'Nguyễn Thị Demo', cccd: '079190001111' } }) : null;
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
${gateway ? `    vssGateway: { baseUrl: "http://127.0.0.1:${gateway.port}", username: bv-demo, password: !secret vss_password, staffName: Nguyễn Thị Demo, staffCccd: "079190001111" }\n` : ''}kiosk:
  allowLoopback: ${options.allowLoopback ?? true}
  units:
    - { id: ${KIOSK_ID}, token: !secret kiosk_1_token }
    - { id: kiosk-2, token: !secret kiosk_2_token }
    - { id: kiosk-3, token: !secret kiosk_3_token }
${options.kioskSettings ?? ''}
queue:
  services:
    - { id: noi, name: Khám Nội, strategy: { kind: strict }, tolerance: 3 }
    - { id: nhi, name: Khám Nhi }
    - { id: xn, name: Xét nghiệm, prefix: X, digits: 3 }
  counters:
    - { id: q1, number: 1, name: Quầy 1, services: [noi] }
    - { id: q2, number: 2, name: Quầy 2, services: [nhi, xn] }
devices:${pcscd || printer ? '' : ' {}'}
${
  pcscd
    ? `  card:\n    driver: cccd-reader\n    name: Đầu đọc CCCD (ảo)\n    readerName: "Virtual PCD 00 00"\n    allowVirtualReader: true\n${Object.entries(
        options.cardSettings ?? {},
      )
        .map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`)
        .join('')}`
    : ''
}${printer ? `  ticket-printer:\n    driver: escpos-printer\n    transport: tcp\n    host: 127.0.0.1\n    port: ${printer.port}\n` : ''}`,
      {
        secrets: `kiosk_1_token: ${KIOSK_TOKEN}\nkiosk_2_token: ${OTHER_KIOSK_TOKEN}\nkiosk_3_token: ${THIRD_KIOSK_TOKEN}\nstaff_hash: "${await hashPassword(TEST_PASSWORD)}"\nvss_password: demo-password\n`,
        ...(options.log ? { log: options.log, logLevel: 'info' } : {}),
        http: `accounts: [{ user: ${STAFF_Q1}, role: staff, passwordHash: !secret staff_hash, counters: [q1] }, { user: quay, role: staff, passwordHash: !secret staff_hash }]`,
      },
    );
  } catch (err) {
    await pcscd?.stop();
    await printer?.stop();
    await gateway?.stop();
    await his.stop();
    throw err;
  }
  return {
    url: running.url,
    agent: running.agent,
    his,
    gateway,
    pcscd,
    printer,
    kioskHeaders: { 'x-kiosk-token': KIOSK_TOKEN },
    login: running.login,
    async close() {
      await running.close();
      await pcscd?.stop();
      await printer?.stop();
      await gateway?.stop();
      await his.stop();
    },
  };
}
