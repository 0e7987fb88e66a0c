// The box as IT staff set it up: the Debian package (npm run package) installed into a fresh
// Debian root made by debootstrap, the agent started there with the example configuration,
// upgraded (configuration and data kept), an upgrade that does not start rolled back, and purge
// asking before it deletes patient data. Needs root (debootstrap, chroot) and Debian's mirror.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../core/http/password.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor } from '../helpers/wait.ts';

const PASSWORD = 'package-test-1';
const POC_TOKEN = 'poc-token-for-the-package-test';
let root = '';
let work = '';
let deb = '';
const ports = { http: 0, lan: 0, lanTls: 0 };
const mounted: string[] = [];

function sh(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, env: { ...process.env, ...opts.env }, maxBuffer: 64 * 1024 * 1024 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (!opts.allowFail && r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${out.slice(-4000)}`);
  return { status: r.status ?? -1, out };
}

/** A command in the Debian root, as root or another user, with a clean environment. */
function inRoot(command: string, opts: { user?: string; allowFail?: boolean; env?: Record<string, string> } = {}): { status: number; out: string } {
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DEBIAN_FRONTEND: 'noninteractive', LANG: 'C.UTF-8', ...opts.env };
  const args = [
    ...(opts.user ? [`--userspec=${opts.user}:${opts.user}`] : []),
    root,
    '/usr/bin/env',
    '-i',
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    '/bin/sh',
    '-c',
    command,
  ];
  return sh('chroot', args, { allowFail: opts.allowFail });
}

/** The agent in the Debian root as its own user, the way the unit runs it. */
function startAgent(command = '/usr/bin/edge-agent start --config /etc/edge-agent/config.yaml'): { child: ChildProcess; output: () => string } {
  const child = spawn(
    'chroot',
    [
      '--userspec=edge-agent:edge-agent',
      root,
      '/usr/bin/env',
      '-i',
      'PATH=/usr/bin:/bin',
      'HOME=/var/lib/edge-agent',
      'LANG=C.UTF-8',
      '/bin/sh',
      '-c',
      `cd /var/lib/edge-agent && exec ${command}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function whileRunning<T>(agent: { child: ChildProcess; output: () => string }, body: () => Promise<T>): Promise<T> {
  const exited = new Promise<void>((r) => agent.child.once('exit', () => r()));
  try {
    await waitFor(
      async () => {
        if (agent.child.exitCode !== null) throw new Error(`the agent exited:\n${agent.output().slice(-3000)}`);
        return fetch(`http://127.0.0.1:${ports.http}/readyz`).then(
          () => true,
          () => false,
        );
      },
      'the packaged agent to answer',
      60_000,
      200,
    );
    return await body();
  } finally {
    agent.child.kill('SIGTERM');
    await exited;
  }
}

const basic = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` };
const journalKeys = async (): Promise<string[]> =>
  (
    (await (await fetch(`http://127.0.0.1:${ports.http}/api/journal?limit=100`, { headers: basic })).json()) as { entries: Array<{ idempotencyKey: string }> }
  ).entries.map((e) => e.idempotencyKey);

/** The example configuration, on this test's free ports and with 127.0.0.1 allowed to post. */
async function configureFromTheExample(): Promise<void> {
  const example = readFileSync(join(root, 'usr/share/doc/edge-agent/examples/district-lab.yaml'), 'utf8');
  const config = example
    .replace(/http:\n {2}host: 0\.0\.0\.0\n {2}port: 8080/, `http:\n  host: 127.0.0.1\n  port: ${ports.http}`)
    .replace('host: 10.20.5.2\n  port: 1883', `host: 127.0.0.1\n  port: ${ports.lan}`)
    .replace('port: 8883', `port: ${ports.lanTls}`)
    .replace('allowedPeers: [10.10.5.40]', 'allowedPeers: [10.10.5.40, 127.0.0.1]');
  expect(config).not.toBe(example);
  writeFileSync(join(root, 'etc/edge-agent/config.yaml'), config);
  const hash = await hashPassword(PASSWORD);
  const secrets = readFileSync(join(root, 'usr/share/doc/edge-agent/examples/secrets.example.yaml'), 'utf8')
    .replace(/^(admin_password_hash|lan_call_screen_hall_hash|lan_call_screen_lab_hash): .*$/gm, (_line, key: string) => `${key}: "${hash}"`)
    .replace(/^poc_token: .*$/m, `poc_token: "${POC_TOKEN}"`)
    // check-config refuses the example's placeholders: real-looking values for the other two.
    .replace(/^province_password: .*$/m, 'province_password: "pkg-test-province-7Qm2vX"')
    .replace(/^his_authorization: .*$/m, 'his_authorization: "Bearer pkg-test-his-9Xc4Lp"');
  writeFileSync(join(root, 'etc/edge-agent/secrets.yaml'), secrets);
  inRoot('chown edge-agent:edge-agent /etc/edge-agent/config.yaml /etc/edge-agent/secrets.yaml && chmod 0640 /etc/edge-agent/secrets.yaml');
  // The example's TLS listener: a box CA and server certificate made on the box.
  inRoot('edge-agent certs init --dir /etc/edge-agent/tls --box lab-01 --name 127.0.0.1 > /dev/null && chown -R edge-agent:edge-agent /etc/edge-agent/tls', {});
  expect(inRoot('edge-agent check-config /etc/edge-agent/config.yaml', { user: 'edge-agent' }).out).toContain(': OK (');
}

/** The built package again under another version; `broken` makes its agent fail at start. */
function repack(version: string, broken: boolean): string {
  const dir = join(work, `v${version}`);
  rmSync(dir, { recursive: true, force: true });
  sh('dpkg-deb', ['-R', deb, dir]);
  const control = join(dir, 'DEBIAN/control');
  writeFileSync(control, readFileSync(control, 'utf8').replace(/^Version: .*$/m, `Version: ${version}`));
  if (broken) {
    const cli = join(dir, 'usr/lib/edge-agent/main.js');
    writeFileSync(
      cli,
      `if (['start', 'check-start'].includes(process.argv[2])) { console.error('simulated broken release'); process.exit(1); }\n${readFileSync(cli, 'utf8')}`,
    );
  }
  const out = join(work, `edge-agent_${version}.deb`);
  sh('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z1', '--build', dir, out]);
  rmSync(dir, { recursive: true, force: true });
  return out;
}

function installInRoot(file: string, allowFail = false): { status: number; out: string } {
  copyFileSync(file, join(root, 'tmp/edge-agent.deb'));
  return inRoot('apt-get install -y -q --no-install-recommends --allow-downgrades /tmp/edge-agent.deb', { allowFail });
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the package test needs root (debootstrap, chroot)');
  if (spawnSync('which', ['debootstrap']).status !== 0) throw new Error('debootstrap is missing: apt-get install debootstrap');
  work = mkdtempSync(join(tmpdir(), 'edge-package-'));
  root = join(work, 'root');
  ports.http = await freePort();
  ports.lan = await freePort();
  ports.lanTls = await freePort();
  // The package (built once per run by npm test, or now).
  deb =
    process.env.EDGE_PACKAGE_DEB ??
    sh('bash', ['scripts/package.sh'], { env: { EDGE_PACKAGE_COMPRESS: 'gzip' } })
      .out.trim()
      .split('\n')
      .pop()!;
  expect(existsSync(deb)).toBe(true);
  const mirror = /URIs:\s*(\S+)/.exec(readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8'))?.[1] ?? 'http://deb.debian.org/debian';
  sh('debootstrap', ['--variant=minbase', 'bookworm', root, mirror]);
  copyFileSync('/etc/resolv.conf', join(root, 'etc/resolv.conf'));
  sh('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
  mounted.push(join(root, 'proc'));
}, 900_000);

afterAll(() => {
  for (const m of mounted.reverse()) spawnSync('umount', ['-l', m]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the Debian package in a fresh Debian root', () => {
  it('installs its Depends, the user in dialout and lp, writable /etc/edge-agent, the command, the units and the voice clips; no tsx at run time', () => {
    const r = installInRoot(deb);
    expect(r.out).toMatch(/Setting up edge-agent/);
    expect(inRoot('id edge-agent').out).toMatch(/groups=.*\(edge-agent\).*/);
    expect(inRoot('id -nG edge-agent').out.split(/\s+/)).toEqual(expect.arrayContaining(['edge-agent', 'dialout', 'lp']));
    expect(inRoot('stat -c "%U %a" /etc/edge-agent /var/lib/edge-agent').out.trim().split('\n')).toEqual(['edge-agent 750', 'edge-agent 750']);
    expect(inRoot('command -v edge-agent').out.trim()).toBe('/usr/bin/edge-agent');
    expect(inRoot('/usr/lib/edge-agent/node/bin/node --version').out.trim()).toMatch(/^v22\./);
    expect(existsSync(join(root, 'lib/systemd/system/edge-agent.service'))).toBe(true);
    expect(readFileSync(join(root, 'lib/systemd/system/edge-agent.service'), 'utf8')).toContain(
      'ExecStart=/usr/bin/edge-agent start --config /etc/edge-agent/config.yaml',
    );
    // Generated at install by espeak-ng, into the state directory (/usr is read-only for the agent).
    expect(existsSync(join(root, 'var/lib/edge-agent/audio/manifest.json'))).toBe(true);
    const modules = readdirSync(join(root, 'usr/lib/edge-agent/node_modules'));
    expect(modules).not.toContain('tsx');
    expect(modules).not.toContain('esbuild');
    expect(modules).not.toContain('typescript');
    expect(existsSync(join(root, 'usr/lib/edge-agent/main.js'))).toBe(true);
    for (const dir of ['core', 'modules'])
      expect(readdirSync(join(root, 'usr/lib/edge-agent', dir), { recursive: true }).filter((f) => String(f).endsWith('.ts'))).toEqual([]);
  }, 300_000);

  it('with no configuration yet, starts the first-run setup page behind a one-time code', async () => {
    expect(existsSync(join(root, 'etc/edge-agent/config.yaml'))).toBe(false);
    const agent = startAgent(`env EDGE_HTTP_HOST=127.0.0.1 EDGE_HTTP_PORT=${ports.http} /usr/bin/edge-agent start --config /etc/edge-agent/config.yaml`);
    await whileRunning(agent, async () => {
      await waitFor(() => /one-time code \d{4}-\d{4}/.test(agent.output()), 'the one-time code');
      const page = await fetch(`http://127.0.0.1:${ports.http}/`);
      expect(await page.text()).toContain('Cấu hình lần đầu');
      expect((await fetch(`http://127.0.0.1:${ports.http}/setup.js`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ports.http}/serverText.js`)).status).toBe(200);
    });
  }, 120_000);

  it('starts there with the example configuration, as its own user, and takes a post', async () => {
    await configureFromTheExample();
    await whileRunning(startAgent(), async () => {
      const post = await fetch(`http://127.0.0.1:${ports.http}/api/ingest/glucose-poc`, {
        method: 'POST',
        headers: { authorization: `Bearer ${POC_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': 'before-upgrade-1' },
        body: '{"glucose":5.4}',
      });
      expect(post.status).toBe(200);
      const devices = (await (await fetch(`http://127.0.0.1:${ports.http}/api/devices`, { headers: basic })).json()) as {
        devices: Array<{ id: string; status: { state: string } }>;
      };
      expect(devices.devices.map((d) => [d.id, d.status.state])).toEqual([['glucose-poc', 'running']]);
      // The pages are served from the package, the call screen's clips from the state directory.
      expect((await fetch(`http://127.0.0.1:${ports.http}/kiosk/`)).status).toBe(200);
    });
  }, 120_000);

  it('an upgrade that does not start rolls back to the release before it, with its store', async () => {
    const broken = repack('99.0.0', true);
    const r = installInRoot(broken, true);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('the new release did not start; going back to');
    const dropIn = readFileSync(join(root, 'etc/systemd/system/edge-agent.service.d/rollback.conf'), 'utf8');
    const execStart = /^ExecStart=(\/.+)$/m.exec(dropIn)![1]!;
    expect(execStart).toContain('/var/lib/edge-agent/rollback/lib/node/bin/node');
    // What systemd would now run: the release before, with the data it had.
    await whileRunning(startAgent(execStart), async () => {
      expect(await journalKeys()).toContain('before-upgrade-1');
    });
  }, 300_000);

  it('a good upgrade keeps the configuration and the data, and removes the rollback', async () => {
    const config = readFileSync(join(root, 'etc/edge-agent/config.yaml'), 'utf8');
    const good = repack('99.0.1', false);
    const r = installInRoot(good);
    expect(r.out).toContain('Setting up edge-agent (99.0.1)');
    expect(readFileSync(join(root, 'etc/edge-agent/config.yaml'), 'utf8')).toBe(config);
    expect(existsSync(join(root, 'etc/systemd/system/edge-agent.service.d/rollback.conf'))).toBe(false);
    await whileRunning(startAgent(), async () => {
      expect(await journalKeys()).toContain('before-upgrade-1');
    });
  }, 300_000);

  it('backup and restore: the copy is checked by opening it, and restoring brings back what was there', async () => {
    expect(inRoot('edge-agent backup --config /etc/edge-agent/config.yaml /var/lib/edge-agent/backup-1', { user: 'edge-agent' }).out).toMatch(
      /journal entries .*integrity ok/,
    );
    await whileRunning(startAgent(), async () => {
      const post = await fetch(`http://127.0.0.1:${ports.http}/api/ingest/glucose-poc`, {
        method: 'POST',
        headers: { authorization: `Bearer ${POC_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': 'after-backup-1' },
        body: '{"glucose":6.1}',
      });
      expect(post.status).toBe(200);
    });
    expect(inRoot('edge-agent restore --config /etc/edge-agent/config.yaml /var/lib/edge-agent/backup-1', { user: 'edge-agent' }).out).toContain('restored');
    await whileRunning(startAgent(), async () => {
      const keys = await journalKeys();
      expect(keys).toContain('before-upgrade-1');
      expect(keys).not.toContain('after-backup-1');
    });
  }, 180_000);

  it('purge asks before deleting patient data: kept when nobody says yes, deleted when they do', () => {
    const kept = inRoot('dpkg --purge edge-agent');
    expect(kept.out).toContain('were kept');
    expect(existsSync(join(root, 'var/lib/edge-agent/journal.db'))).toBe(true);
    expect(existsSync(join(root, 'usr/bin/edge-agent'))).toBe(false);
    installInRoot(deb);
    inRoot('echo "edge-agent edge-agent/purge-data boolean true" | debconf-set-selections');
    inRoot('dpkg --purge edge-agent');
    expect(existsSync(join(root, 'var/lib/edge-agent'))).toBe(false);
    expect(existsSync(join(root, 'etc/edge-agent'))).toBe(false);
  }, 300_000);
});
