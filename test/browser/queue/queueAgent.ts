// A real Agent (store, queue, HTTP with login, the escpos-printer driver) on ephemeral ports with
// the printer simulator behind its printer: for browser tests of the counter page and call screen.
import { hashPassword } from '../../../core/http/password.ts';
import { startPrinter, type PrinterSim } from '../../sim/printer.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { startTestAgent, type TestAgent } from '../../helpers/testAgent.ts';

export { TEST_PASSWORD };

/** Counter accounts (password TEST_PASSWORD): `quay` acts for every counter, `quay1` for q1 only. */
export const STAFF_ALL = 'quay';
export const STAFF_Q1 = 'quay1';

export interface QueueAgent extends TestAgent {
  printer: PrinterSim;
}

export async function startQueueAgent(): Promise<QueueAgent> {
  const printer = await startPrinter();
  try {
    const running = await startTestAgent(
      'queue-box',
      `queue:
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
      {
        secrets: `staff_hash: "${await hashPassword(TEST_PASSWORD)}"\n`,
        http: `accounts: [{ user: ${STAFF_ALL}, role: staff, passwordHash: !secret staff_hash }, { user: ${STAFF_Q1}, role: staff, passwordHash: !secret staff_hash, counters: [q1] }]`,
      },
    );
    return {
      ...running,
      printer,
      async close() {
        await running.close();
        await printer.stop();
      },
    };
  } catch (err) {
    await printer.stop();
    throw err;
  }
}
