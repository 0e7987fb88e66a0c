import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../core/config/load.ts';
import { formatProblem } from '../../../core/config/types.ts';
import { writeConfigAtomically } from '../../../core/config/write.ts';
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
  const { dir, cleanup } = tempDir('edge-cfg-');
  cleanups.push(cleanup);
  const file = join(dir, 'box.yaml');
  writeFileSync(file, text);
  if (secrets !== undefined) writeFileSync(join(dir, 'secrets.yaml'), secrets);
  return file;
}

function problemsOf(file: string): string[] {
  try {
    loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

const GOOD = `version: 1
box:
  id: xn-lab
  facility: bvdk-huyen
destinations:
  central:
    type: http-json
    url: http://127.0.0.1:8090/ingest
devices:
  feeder:
    driver: http-ingest
    routes: [central]
    token: !secret feeder_token
`;

describe('configuration', () => {
  it('loads a good file, fills defaults and resolves secrets', () => {
    const file = write(GOOD, 'feeder_token: s3cret\n');
    const { config } = loadConfig(file);
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(config.box.timezone).toBe('Asia/Ho_Chi_Minh');
    expect(config.destinations.central).toMatchObject({ window: 8, ordered: true });
  });

  it('defaults ordered to true, but to false for the DICOM destinations (independent instances)', () => {
    const dicom = `  pacs: { type: dicom-cstore, host: 127.0.0.1, port: 104, calledAe: PACS }
  web: { type: dicom-stowrs, url: http://127.0.0.1:8042/dicom-web }
  pacs-in-order: { type: dicom-cstore, host: 127.0.0.1, port: 104, calledAe: PACS, ordered: true }
devices:`;
    const file = write(GOOD.replace('devices:', dicom), 'feeder_token: s3cret\n');
    const { config } = loadConfig(file);
    expect(config.destinations.central!.ordered).toBe(true);
    expect(config.destinations.pacs!.ordered).toBe(false);
    expect(config.destinations.web!.ordered).toBe(false);
    expect(config.destinations['pacs-in-order']!.ordered).toBe(true);
    expect(config.devices.feeder).toMatchObject({ token: 's3cret', capture: true, routes: ['central'] });
  });

  it('reports every problem with file, line, column and field', () => {
    const file = write(
      `version: 1
box:
  id: Bad Id
  facility: bvdk
http:
  port: "eighty"
  colour: blue
destinations:
  central:
    type: http-json
devices:
  feeder:
    driver: http-ingest
    routes: [lis]
    priority: urgent
  scope:
    driver: oscilloscope
`,
      '',
    );
    const problems = problemsOf(file);
    expect(problems).toContain(`${file}:3:7 box.id: does not have the expected form (^[a-z0-9][a-z0-9_-]{0,62}$)`);
    expect(problems).toContain(`${file}:6:9 http.port: must be integer`);
    expect(problems).toContain(`${file}:7:3 http.colour: unknown field "colour" (check the spelling; the schema lists the allowed fields)`);
    expect(problems).toContain(`${file}:10:5 destinations.central.url: required field "url" is missing`);
    expect(problems).toContain(`${file}:15:15 devices.feeder.priority: must be one of: "clinical", "telemetry"`);
    expect(problems.find((p) => p.startsWith(`${file}:17:13 devices.scope.driver: must be one of: `))).toContain('"http-ingest"');
    expect(problems).toContain(`${file}:14:14 devices.feeder.routes.0: route "lis" is not a destination in this file (known: central)`);
  });

  it('reports YAML syntax errors and missing secrets with their position', () => {
    expect(problemsOf(write('version: 1\nbox: [unclosed\n'))[0]).toMatch(/box\.yaml:\d+:\d+ \(top level\): YAML: /);
    const file = write(GOOD, 'other: x\n');
    expect(problemsOf(file)).toContain(`${file}:13:20 devices.feeder.token: secret "feeder_token" is not in ${join(file, '..', 'secrets.yaml')}`);
  });

  it('writes atomically and keeps a backup of the previous file', () => {
    const file = write(GOOD, 'feeder_token: x\n');
    writeConfigAtomically(file, GOOD.replace('xn-lab', 'xn-lab-2'));
    expect(readFileSync(file, 'utf8')).toContain('xn-lab-2');
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe(GOOD);
    expect(loadConfig(file).config.box.id).toBe('xn-lab-2');
  });
});
