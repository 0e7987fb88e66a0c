// Configuration checks of issue 17: unknown profiles, port and path conflicts, placeholder
// secrets, services numbered alike at one counter. Each case is a YAML string in a temp dir.
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closest, ConfigError, loadConfig, type LoadOptions } from '../../../core/config/load.ts';
import { formatProblem } from '../../../core/config/types.ts';
import { viProblemMessage } from '../../../kiosk/console/serverText.js';
import { tempDir } from '../../helpers/tmp.ts';
import { registerModules } from '../../../core/registry.ts';
import { MODULES } from '../../../modules/index.ts';

// The drivers' holds and the modules' configuration warnings are asked through the registry.
registerModules(MODULES);

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
  expect(vi.replace(/"[^"]*"|\S+\.yaml:\d+:\d+|edge-agent hash-password/g, ''), vi).not.toMatch(
    /\b(must|is|are|not|the|already|used|by|did|you|mean|known|unknown|placeholder|put|here|share|counter|services|prefix|copy|found|file|run)\b/i,
  );
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
    expect(problems).toContain(
      `${file}:8:14 devices.xn.profile: unknown profile "generic"; did you mean generic-astm? known: generic-astm, sysmex-xn, roche-cobas-c, cepheid-genexpert`,
    );
    expect(problems).toContain(`${file}:12:14 devices.bc.profile: unknown profile "Generic"; did you mean generic-hl7? known: generic-hl7, mindray-bc`);
    expectVietnamese(problems[0]!.replace(/^.*?profile: /, ''));
  });

  it('guesses from a part, an addition, a typo or the case, and only when one value is that close', () => {
    const profiles = ['generic-astm', 'sysmex-xn', 'roche-cobas-c', 'cepheid-genexpert'];
    expect(closest('cobas', profiles)).toBe('roche-cobas-c');
    expect(closest('SYSMEX-XN', profiles)).toBe('sysmex-xn');
    expect(closest('warning', ['fatal', 'error', 'warn', 'info'])).toBe('warn');
    expect(closest('http-jsn', ['http-json', 'mqtt-uplink'])).toBe('http-json');
    expect(closest('tcp', ['tcp-server', 'tcp-client', 'serial'])).toBeNull();
    expect(closest('xn', profiles)).toBeNull();
    expect(closest('beckman', profiles)).toBeNull();
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

describe('ports and device files held twice', () => {
  it('refuses two listeners on one port, pointing at the one that has it', () => {
    const file = write(`${HEAD}  hl7a:
    driver: hl7-mllp
    port: 2575
    routes: [lis]
  hl7b:
    driver: hl7-mllp
    port: 2575
    routes: [lis]
  xn: { driver: astm, transport: tcp-server, port: 8080, routes: [lis] }
  ct: { driver: dicom-scp, port: 11112, tls: { port: 1883, cert: c.pem, key: k.pem }, routes: [lis] }
`);
    const problems = problemsOf(file);
    expect(problems).toContain(`${file}:12:11 devices.hl7b.port: port 2575 is already used by devices.hl7a (config.yaml:8:11)`);
    // The HTTP port (8080 by default, on 127.0.0.1) and the LAN broker's (1883) count too.
    expect(problems).toContain(`${file}:14:52 devices.xn.port: port 8080 is already used by http (default port); 0.0.0.0 listens on every address`);
    expect(problems).toContain(`${file}:15:54 devices.ct.tls.port: port 1883 is already used by lanBroker (default port); 0.0.0.0 listens on every address`);
    for (const p of problems) expectVietnamese(p.replace(/^\S+ \S+: /, ''));
  });

  it("counts the drivers' default ports, and lets two specific addresses share a port", () => {
    const file = write(`${HEAD}  hl7a: { driver: hl7-mllp, routes: [lis] }
  hl7b: { driver: hl7-mllp, routes: [lis] }
  ast1: { driver: astm, transport: tcp-server, host: 10.0.0.5, port: 4010, routes: [lis] }
  ast2: { driver: astm, transport: tcp-server, host: 10.0.0.6, port: 4010, routes: [lis] }
  ast3: { driver: astm, host: 10.0.0.7, routes: [lis] }
  ast4: { driver: astm, profile: sysmex-xn, host: 10.0.0.9, port: 4010, routes: [lis] }
  off: { driver: hl7-mllp, enabled: false, routes: [lis] }
  any: { driver: hl7-mllp, port: 0, routes: [lis] }
  any2: { driver: hl7-mllp, port: 0, routes: [lis] }
`);
    const problems = problemsOf(file);
    expect(problems).toEqual([`${file}:7:9 devices.hl7b.port: port 2575 (default) is already used by devices.hl7a (config.yaml:6:9, default port)`]);
  });

  it('refuses two devices on one serial line or device file', () => {
    const file = write(`${HEAD}  cobas: { driver: astm, transport: serial, path: /dev/ttyUSB0, routes: [lis] }
  roche: { driver: astm, profile: roche-cobas-c, path: /dev/ttyUSB0, routes: [lis] }
  qr: { driver: qr-scanner, path: /dev/ttyUSB1 }
  printer: { driver: escpos-printer, transport: serial, path: /dev/ttyUSB1 }
  lp: { driver: escpos-printer, transport: tcp, host: 10.0.0.8, path: /dev/ttyUSB0 }
`);
    const problems = problemsOf(file);
    expect(problems).toEqual([
      `${file}:7:56 devices.roche.path: path /dev/ttyUSB0 is already used by devices.cobas (config.yaml:6:51)`,
      `${file}:9:63 devices.printer.path: path /dev/ttyUSB1 is already used by devices.qr (config.yaml:8:35)`,
    ]);
    for (const p of problems) expectVietnamese(p.replace(/^\S+ \S+: /, ''));
  });

  it('loads the demo, whose listeners all differ', () => {
    expect(problemsOf('config/demo.yaml')).toEqual([]);
  });
});

describe('services numbered alike at one counter', () => {
  const QUEUE = `version: 1
box: { id: lab-1, facility: bvdk }
queue:
  services:
    - { id: noi, name: Khám Nội }
    - { id: nhi, name: Khám Nhi }
    - { id: xn, name: Xét nghiệm, prefix: X, digits: 3 }
    - { id: xq, name: X-quang, prefix: X, digits: 4 }
    - id: sa
      name: Siêu âm
      prefix: S
    - { id: sa2, name: Siêu âm 2, prefix: S }
  counters:
    - { id: q1, number: 1, services: [noi] }
    - { id: q2, number: 2, services: [noi, nhi] }
    - { id: q3, number: 3, services: [xn, xq] }
    - { id: q4, number: 4, services: [nhi, noi, sa] }
    - { id: q5, number: 5, services: [sa, sa2] }
`;

  it('warns (and still loads) when two services sharing a counter number their tickets alike', () => {
    const { warnings } = loadConfig(write(QUEUE));
    expect(warnings.map(formatProblem)).toEqual([
      `${warnings[0]!.file}:6:7 queue.services.1.prefix: services "noi" and "nhi" are both numbered 0001… and share counter q2, q4: the voice calls only the number, so give one of them another prefix`,
      `${warnings[0]!.file}:12:43 queue.services.5.prefix: services "sa" and "sa2" are both numbered S0001… and share counter q5: the voice calls only the number, so give one of them another prefix`,
    ]);
    for (const w of warnings) expectVietnamese(w.message);
    expectVietnamese(`warning: ${warnings[0]!.message}`);
  });

  it('says nothing when the numbers differ or the services never meet', () => {
    const { warnings } = loadConfig(
      write(QUEUE.replace('{ id: nhi, name: Khám Nhi }', '{ id: nhi, name: Khám Nhi, prefix: B }').replace('[sa, sa2]', '[sa2]')),
    );
    expect(warnings).toEqual([]);
  });
});
