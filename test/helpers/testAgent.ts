// A real Agent on ephemeral ports in a temporary directory, with an admin login: the common part
// of the kiosk and queue test agents. The caller gives the configuration below the common head.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Agent } from '../../core/controller.ts';
import { hashPassword } from '../../core/http/password.ts';
import { TEST_PASSWORD } from './agentConfig.ts';
import { tempDir } from './tmp.ts';
import { MODULES } from '../../modules/index.ts';

export interface TestAgent {
  url: string;
  agent: Agent;
  /** Logs in as the console user and returns the session cookie header. */
  login(): Promise<string>;
  /** Stops the agent and removes its directory. */
  close(): Promise<void>;
}

/** Extra lines of the secrets file, and extra entries of the `http` block (e.g. `accounts: [...]`). */
export interface TestAgentExtras {
  secrets?: string;
  http?: string;
  /** The agent's logger (default: silent, or TEST_LOG_LEVEL) and the configured level (default: error). */
  log?: pino.Logger;
  logLevel?: string;
}

/** Starts the agent; on a failed start its directory is removed and the error thrown. */
export async function startTestAgent(boxId: string, configBody: string, extras: TestAgentExtras = {}): Promise<TestAgent> {
  const { dir, cleanup } = tempDir(`${boxId}-`);
  writeFileSync(join(dir, 'secrets.yaml'), `admin_hash: "${await hashPassword(TEST_PASSWORD)}"\n${extras.secrets ?? ''}`);
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    `version: 1
secretsFile: secrets.yaml
box: { id: ${boxId}, facility: bv-test, name: Bệnh viện Thử nghiệm, dataDir: ./data }
http: { host: 127.0.0.1, port: 0, admin: { user: admin, passwordHash: !secret admin_hash }${extras.http ? `, ${extras.http}` : ''} }
lanBroker: { enabled: false }
log: { level: ${extras.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'error'} }
${configBody}`,
  );
  const agent = new Agent({ modules: MODULES, configFile: file, log: extras.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  try {
    await agent.start();
  } catch (err) {
    cleanup();
    throw err;
  }
  const url = `http://127.0.0.1:${agent.httpPort}`;
  return {
    url,
    agent,
    async login() {
      const res = await fetch(`${url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'admin', password: TEST_PASSWORD }),
      });
      if (!res.ok) throw new Error(`login failed: ${res.status}`);
      return res.headers.get('set-cookie')!.split(';')[0]!;
    },
    async close() {
      await agent.stop('test done');
      cleanup();
    },
  };
}
