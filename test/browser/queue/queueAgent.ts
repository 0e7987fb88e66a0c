// A real Agent (store, queue, HTTP with login, the escpos-printer driver) on ephemeral ports with
// the printer simulator behind its printer: for browser tests of the counter page and call screen.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Agent } from '../../../agent/controller.ts';
import { hashPassword } from '../../../agent/http/password.ts';
import { startPrinter, type PrinterSim } from '../../sim/printer.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { tempDir } from '../../helpers/tmp.ts';

export { TEST_PASSWORD };

export interface QueueAgent {
  url: string;
  agent: Agent;
  printer: PrinterSim;
  /** Logs in as the console user and returns the session cookie header. */
  login(): Promise<string>;
  close(): Promise<void>;
}

export async function startQueueAgent(): Promise<QueueAgent> {
  const { dir, cleanup } = tempDir('queue-agent-');
  const printer = await startPrinter();
  writeFileSync(join(dir, 'secrets.yaml'), `admin_hash: "${await hashPassword(TEST_PASSWORD)}"\n`);
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    `version: 1
secretsFile: secrets.yaml
box: { id: queue-box, facility: bv-test, name: Bệnh viện Thử nghiệm, dataDir: ./data }
http: { host: 127.0.0.1, port: 0, admin: { user: admin, passwordHash: !secret admin_hash } }
lanBroker: { enabled: false }
log: { level: ${process.env.TEST_LOG_LEVEL ?? 'error'} }
queue:
  services:
    - { id: noi, name: Khám Nội, strategy: { kind: strict }, tolerance: 3 }
    - { id: nhi, name: Khám Nhi }
  counters:
    - { id: q1, number: 1, name: Quầy 1, services: [noi] }
    - { id: q2, number: 2, name: Quầy 2, services: [nhi] }
devices:
  ticket-printer:
    driver: escpos-printer
    name: Máy in phiếu
    transport: tcp
    host: 127.0.0.1
    port: ${printer.port}
    retries: 0
    statusPollMs: 0
`,
  );
  const agent = new Agent({ configFile: file, log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  try {
    await agent.start();
  } catch (err) {
    await printer.stop();
    cleanup();
    throw err;
  }
  const url = `http://127.0.0.1:${agent.httpPort}`;
  return {
    url,
    agent,
    printer,
    async login() {
      const res = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'admin', password: TEST_PASSWORD }) });
      if (!res.ok) throw new Error(`login failed: ${res.status}`);
      return res.headers.get('set-cookie')!.split(';')[0]!;
    },
    async close() {
      await agent.stop('test done');
      await printer.stop();
      cleanup();
    },
  };
}
