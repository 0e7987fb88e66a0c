import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/tmp.ts';

function requireTool(tool: string, pkg: string): void {
  if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is missing: apt-get install ${pkg}`);
}

const { dir, cleanup } = tempDir('edge-unit-');
afterAll(cleanup);

/** The unit as shipped, with ExecStart pointed at this checkout so verify can resolve it. */
function unitForThisMachine(): string {
  const text = readFileSync('systemd/edge-agent.service', 'utf8').replace(
    '/usr/bin/edge-agent start',
    `${process.execPath} ${join(process.cwd(), 'bin/edge-agent.js')} start`,
  );
  const file = join(dir, 'edge-agent.service');
  writeFileSync(file, text);
  return file;
}

describe('systemd unit', () => {
  it('passes systemd-analyze verify', () => {
    requireTool('systemd-analyze', 'systemd');
    const r = spawnSync('systemd-analyze', ['verify', unitForThisMachine()], { encoding: 'utf8' });
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('is hardened: notify type, watchdog, restart, dialout, strict protection, no capabilities, low exposure', () => {
    const text = readFileSync('systemd/edge-agent.service', 'utf8');
    for (const line of [
      'Type=notify',
      'WatchdogSec=',
      'Restart=always',
      'SupplementaryGroups=dialout lp',
      'StateDirectory=edge-agent',
      'ProtectSystem=strict',
      'NoNewPrivileges=yes',
      'CapabilityBoundingSet=\n',
    ]) {
      expect(text).toContain(line);
    }
    requireTool('systemd-analyze', 'systemd');
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', unitForThisMachine()], { encoding: 'utf8' });
    const score = Number(/Overall exposure level for .*?: ([\d.]+)/.exec(out)?.[1]);
    expect(score).toBeLessThan(3);
  });
});

describe('kiosk unit', () => {
  it('passes systemd-analyze verify and runs Chromium in kiosk mode under Cage, restarted always', () => {
    requireTool('systemd-analyze', 'systemd');
    const text = readFileSync('systemd/kiosk.service', 'utf8');
    for (const flag of [
      '/usr/bin/cage',
      '--kiosk',
      '--app=http://127.0.0.1:8080/kiosk/',
      '--disable-pinch',
      '--overscroll-history-navigation=0',
      '--autoplay-policy=no-user-gesture-required',
      'Restart=always',
      '--incognito',
    ]) {
      expect(text).toContain(flag);
    }
    // verify resolves ExecStart: point it at binaries this machine has (Cage is on the box only).
    const file = join(dir, 'kiosk.service');
    writeFileSync(file, text.replace('/usr/bin/cage -d -s -- /usr/bin/chromium', '/usr/bin/chromium'));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(r.stderr.replace(/.*kiosk\.service:\d+: Unknown user or group.*\n?/g, '').trim()).toBe('');
  });
});
