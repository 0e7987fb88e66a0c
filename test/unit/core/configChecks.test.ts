// Configuration checks of issue 17: unknown profiles, port and path conflicts, placeholder
// secrets, services numbered alike at one counter. Each case is a YAML string in a temp dir.
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, type LoadOptions } from '../../../agent/config/load.ts';
import { formatProblem } from '../../../agent/config/types.ts';
import { viProblemMessage } from '../../../kiosk/console/serverText.js';
import { tempDir } from '../../helpers/tmp.ts';

let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

function write(text: string, secrets?: string): string {
  const { dir, cleanup } = tempDir('edge-cfgchk-');
  cleanups.push(cleanup);
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  if (secrets !== undefined) writeFileSync(join(dir, 'secrets.yaml'), secrets);
  return file;
}

function problemsOf(file: string, options?: LoadOptions): string[] {
  try {
    loadConfig(file, options);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

/** A Vietnamese rendering with no English sentence left around what it quotes. */
function expectVietnamese(message: string): void {
  const vi = viProblemMessage(message);
  expect(vi, message).not.toBe(message);
  expect(vi.replace(/"[^"]*"|\S+\.yaml:\d+:\d+|edge-agent hash-password/g, ''), vi).not.toMatch(/\b(must|is|are|not|the|already|used|by|did|you|mean|known|unknown|placeholder|put|here|share|counter|services|prefix|copy|found|file|run)\b/i);
}

const HEAD = `version: 1
box: { id: lab-1, facility: bvdk }
destinations:
  lis: { type: http-json, url: http://127.0.0.1:9/ }
devices:
`;

describe('device profiles', () => {
  it('names the profile meant when README\'s "generic" is written, with the known ones', () => {
    const file = write(`${HEAD}  xn:
    driver: astm
    profile: generic
    routes: [lis]
  bc:
    driver: hl7-mllp
    profile: Generic
    port: 2577
    routes: [lis]
`);
    const problems = problemsOf(file);
    expect(problems).toContain(`${file}:8:14 devices.xn.profile: unknown profile "generic"; did you mean generic-astm? known: generic-astm, sysmex-xn, roche-cobas-c, cepheid-genexpert`);
    expect(problems).toContain(`${file}:12:14 devices.bc.profile: unknown profile "Generic"; did you mean generic-hl7? known: generic-hl7, mindray-bc`);
    expectVietnamese(problems[0]!.replace(/^.*?profile: /, ''));
  });

  it('keeps the plain list when nothing is close (or several are)', () => {
    const file = write(`${HEAD}  xn: { driver: astm, profile: beckman, routes: [lis] }
  xt: { driver: astm, transport: tcp, routes: [lis] }
`);
    const problems = problemsOf(file);
    expect(problems).toContain(`${file}:6:32 devices.xn.profile: must be one of: "generic-astm", "sysmex-xn", "roche-cobas-c", "cepheid-genexpert"`);
    expect(problems.find((p) => p.includes('devices.xt.transport'))).toContain('must be one of: "tcp-server", "tcp-client", "serial"');
  });
});
