// The shipped examples (config/examples) and their placeholder secrets: checked as examples
// they pass; copied to a box as OPERATIONS.md says, their placeholders are refused with how to
// make real values (issue 17).
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { checkConfigReport, ConfigError, exampleOf, loadConfig } from '../../../core/config/load.ts';
import { formatProblem } from '../../../core/config/types.ts';
import { hashPassword } from '../../../core/http/password.ts';
import { viProblemMessage } from '../../../kiosk/console/serverText.js';
import { tempDir } from '../../helpers/tmp.ts';
import { registerModules } from '../../../core/registry.ts';
import { MODULES } from '../../../modules/index.ts';

// The drivers' holds and the modules' configuration warnings are asked through the registry.
registerModules(MODULES);

const EXAMPLES = 'config/examples';
/** Every configuration there (the secrets files are what they use, not configurations). */
const CONFIGS = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml') && !f.startsWith('secrets'));

let cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.forEach((c) => c());
  cleanups = [];
});

/** The example copied to a box's /etc/edge-agent with the example secrets as secrets.yaml (OPERATIONS.md, first run). */
function onABox(config: string): string {
  const { dir, cleanup } = tempDir('edge-example-');
  cleanups.push(cleanup);
  copyFileSync(join(EXAMPLES, config), join(dir, 'config.yaml'));
  copyFileSync(join(EXAMPLES, 'secrets.example.yaml'), join(dir, 'secrets.yaml'));
  return join(dir, 'config.yaml');
}

function problemsOf(file: string): ConfigError['problems'] {
  try {
    loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config/examples', () => {
  it('has configurations to check', () => {
    expect(CONFIGS).toContain('district-lab.yaml');
  });

  it.each(CONFIGS)('%s passes check-config --example, its placeholders listed as warnings', (name) => {
    const report = checkConfigReport(join(EXAMPLES, name), { example: true });
    expect(report.lines.at(-1)).toMatch(new RegExp(`${resolve(EXAMPLES, name)}: OK \\(\\d+ devices, \\d+ destinations, \\d+ warning\\(s\\)\\)$`));
    expect(report.ok).toBe(true);
    const warnings = report.lines.slice(0, -1);
    expect(warnings.length).toBeGreaterThan(0);
    for (const w of warnings)
      expect(w).toMatch(
        /secrets\.example\.yaml:\d+:\d+ \S+: warning: secret "[a-z_]+" is a placeholder: accepted only because this is checked as an example; a box refuses it$/,
      );
  });

  it('says, from the repo root without --example, to copy the example secrets file, once', () => {
    const out = (() => {
      try {
        return execFileSync(process.execPath, ['bin/edge-agent.js', 'check-config', `${EXAMPLES}/district-lab.yaml`], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        expect((err as { status: number }).status).toBe(1);
        return (err as { stdout: string }).stdout;
      }
    })();
    expect(out.trim().split('\n')).toEqual([
      `${resolve(EXAMPLES, 'district-lab.yaml')}:7:14 secretsFile: secrets file ${resolve(EXAMPLES, 'secrets.yaml')} not found: copy secrets.example.yaml beside it to secrets.yaml, put the real values in, and make each password hash with edge-agent hash-password`,
    ]);
  });

  it('refuses the placeholders once copied to a box, at their line in the secrets file, saying how to make each', () => {
    const file = onABox('district-lab.yaml');
    const secrets = join(file, '..', 'secrets.yaml');
    const problems = problemsOf(file).map(formatProblem);
    expect(problems).toContain(
      `${secrets}:4:22 http.admin.passwordHash: secret "admin_password_hash" is not a password hash: run edge-agent hash-password, type the password, and put the line it prints here`,
    );
    expect(problems).toContain(`${secrets}:5:20 province.password: secret "province_password" is a placeholder: put the real value here`);
    expect(problems).toContain(`${secrets}:6:20 destinations.his.headers.authorization: secret "his_authorization" is a placeholder: put the real value here`);
    expect(problems).toHaveLength(6);
    expect(checkConfigReport(file).ok).toBe(false);
  });

  it('loads once every placeholder is replaced, with no warning', async () => {
    const file = onABox('district-lab.yaml');
    const secrets = join(file, '..', 'secrets.yaml');
    const hash = await hashPassword('a real password 2026');
    writeFileSync(
      secrets,
      readFileSync(secrets, 'utf8')
        .replace(/"scrypt\$[^"]*"/g, `"${hash}"`)
        .replace(/change-me/g, 'Zq7pW2rT9vLx4Nc8'),
    );
    expect(problemsOf(file)).toEqual([]);
    expect(loadConfig(file).warnings).toEqual([]);
  });

  it('refuses a hash that is not one hash-password makes, and the usual placeholder words', () => {
    const { dir, cleanup } = tempDir('edge-placeholder-');
    cleanups.push(cleanup);
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `version: 1
box: { id: lab-1, facility: bvdk }
http: { admin: { user: admin, passwordHash: !secret admin } }
destinations:
  his: { type: http-json, url: http://10.0.0.9/, headers: { authorization: !secret his } }
devices:
  a: { driver: http-ingest, routes: [his], token: !secret a }
  b: { driver: http-ingest, routes: [his], token: !secret b }
  c: { driver: http-ingest, routes: [his], token: !secret c }
  d: { driver: http-ingest, routes: [his], token: !secret d }
`,
    );
    writeFileSync(
      join(dir, 'secrets.yaml'),
      'admin: "hunter2"\nhis: "Bearer CHANGE_ME"\na: changeme\nb: "<your token>"\nc: example-token\nd: 3f9a0c1e7b5d4a2f\n',
    );
    expect(problemsOf(file).map((p) => `${p.line} ${p.message}`)).toEqual([
      '1 secret "admin" is not a password hash: run edge-agent hash-password, type the password, and put the line it prints here',
      '2 secret "his" is a placeholder: put the real value here',
      '3 secret "a" is a placeholder: put the real value here',
      '4 secret "b" is a placeholder: put the real value here',
      '5 secret "c" is a placeholder: put the real value here',
    ]);
  });

  it('says a secrets file is not a configuration, in one line', () => {
    const report = checkConfigReport(join(EXAMPLES, 'secrets.example.yaml'));
    expect(report).toEqual({
      ok: false,
      lines: [
        `${resolve(EXAMPLES, 'secrets.example.yaml')}:1:1 (top level): this looks like a secrets file (the values "!secret NAME" refers to), not a configuration: check the configuration that uses it`,
      ],
    });
    expect(viProblemMessage(report.lines[0]!.replace(/^.*\(top level\): /, ''))).toMatch(/^tệp này có vẻ là tệp bí mật/);
  });

  it('names the example beside a secrets file', () => {
    expect(exampleOf('/etc/edge-agent/secrets.yaml')).toBe('/etc/edge-agent/secrets.example.yaml');
    expect(exampleOf('/etc/edge-agent/box-secrets')).toBe('/etc/edge-agent/box-secrets.example');
  });

  it('has every new sentence in Vietnamese', () => {
    const file = onABox('district-lab.yaml');
    const messages = [
      ...problemsOf(file).map((p) => p.message),
      ...checkConfigReport(join(EXAMPLES, 'district-lab.yaml'), { example: true })
        .lines.slice(0, -1)
        .map((l) => l.replace(/^\S+ \S+: /, '')),
    ];
    const { dir, cleanup } = tempDir('edge-nosecrets-');
    cleanups.push(cleanup);
    copyFileSync(join(EXAMPLES, 'district-lab.yaml'), join(dir, 'config.yaml'));
    messages.push(...problemsOf(join(dir, 'config.yaml')).map((p) => p.message));
    copyFileSync(join(EXAMPLES, 'secrets.example.yaml'), join(dir, 'secrets.example.yaml'));
    messages.push(...problemsOf(join(dir, 'config.yaml')).map((p) => p.message));
    expect(new Set(messages.map((m) => m.replace(/"[^"]*"/g, '"…"').replace(/\/\S+/g, '/…'))).size).toBeGreaterThanOrEqual(5);
    for (const m of messages) {
      const vi = viProblemMessage(m);
      expect(vi, m).not.toBe(m);
      expect(vi.replace(/"[^"]*"|\S*\/\S*|edge-agent hash-password|secrets\.example\.yaml|secrets\.yaml/g, ''), vi).not.toMatch(
        /\b(is|not|the|secret|placeholder|put|here|found|copy|file|run|type|password|hash|warning|accepted|refuses|example)\b/i,
      );
    }
  });
});
