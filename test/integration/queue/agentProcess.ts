// The agent as its own process (bin/edge-agent.js start) with a queue and one escpos-printer on
// `printerPort`: for the SIGKILL test and the benchmark. Data stays in `dir` across restarts.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../../../core/http/password.ts';
import { TEST_PASSWORD } from '../../helpers/agentConfig.ts';
import { freePort } from '../../helpers/ports.ts';

/** HTTP Basic for the console user (staff routes). */
export const STAFF_AUTH = { authorization: `Basic ${Buffer.from(`admin:${TEST_PASSWORD}`).toString('base64')}` };

export interface AgentProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL: a power cut as far as the process is concerned. */
  kill(): Promise<void>;
}

export async function startAgentProcess(dir: string, printerPort: number, options: { port?: number } = {}): Promise<AgentProcess> {
  const port = options.port ?? (await freePort());
  const file = join(dir, 'agent.yaml');
  writeFileSync(join(dir, 'secrets.yaml'), `admin_hash: "${await hashPassword(TEST_PASSWORD)}"\n`);
  writeFileSync(
    file,
    `version: 1
secretsFile: secrets.yaml
box: { id: queue-box, facility: bv-test, name: Bệnh viện Đa khoa Demo, dataDir: ./data, timezone: Asia/Ho_Chi_Minh }
http: { host: 127.0.0.1, port: ${port}, admin: { user: admin, passwordHash: !secret admin_hash } }
lanBroker: { enabled: false }
log: { level: warn }
queue:
  services:
    - { id: noi, name: Khám Nội, strategy: { kind: strict } }
    - { id: nhi, name: Khám Nhi }
  counters:
    - { id: q1, number: 1, services: [noi, nhi] }
devices:
  printer:
    driver: escpos-printer
    transport: tcp
    host: 127.0.0.1
    port: ${printerPort}
    statusPollMs: 0
    retries: 0
`,
  );
  const child = spawn(process.execPath, ['bin/edge-agent.js', 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`agent did not start:\n${out}`);
    }
    if (
      await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
