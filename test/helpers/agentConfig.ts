import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword } from '../../core/http/password.ts';

export const TEST_PASSWORD = 'test-password-1';
/** The LAN broker's read-only user in these configurations (password TEST_PASSWORD). */
export const LAN_SCREEN_USER = 'screen';

/** Writes a configuration + secrets file for an agent on ephemeral ports in `dir`. */
export async function writeAgentConfig(
  dir: string,
  opts: { sinkUrl: string; provinceUrl?: string; extra?: string; extraDestinations?: string },
): Promise<string> {
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    join(dir, 'secrets.yaml'),
    `admin_hash: "${await hashPassword(TEST_PASSWORD)}"\ningest_token: tok-123\nlan_screen_hash: "${await hashPassword(TEST_PASSWORD)}"\n`,
  );
  writeFileSync(
    file,
    `version: 1
box: { id: test-box, facility: bv-test, dataDir: ./data }
http: { host: 127.0.0.1, port: 0, admin: { user: admin, passwordHash: !secret admin_hash } }
lanBroker: { host: 127.0.0.1, port: 0, healthIntervalSeconds: 1, users: [{ username: ${LAN_SCREEN_USER}, role: screen, passwordHash: !secret lan_screen_hash }] }
${opts.provinceUrl ? `province: { url: "${opts.provinceUrl}", topicRoot: prov, healthIntervalSeconds: 1 }` : ''}
destinations:
  central:
    type: http-json
    url: "${opts.sinkUrl}"
    backoff: { initialSeconds: 0.05, maxSeconds: 0.2 }
${opts.extraDestinations ?? ''}
devices:
  monitor:
    driver: http-ingest
    routes: [central]
    token: !secret ingest_token
${opts.extra ?? ''}
`,
  );
  return file;
}
