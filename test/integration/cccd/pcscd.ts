import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs the REAL pcscd (Debian package "pcscd") in the foreground with vsmartcard's virtual
 * reader driver (Debian package "vsmartcard-vpcd") on a free port pair, so tests never use
 * the demo's port 35963. pcscd's socket is fixed at /run/pcscd, so only one runs at a time
 * and it must run as root.
 */
export interface PcscdHandle {
  /** vpcd port of reader "Virtual PCD 00 00"; port + 1 is "Virtual PCD 00 01". */
  port: number;
  readerNames: [string, string];
  log(): string;
  /** How many times pcscd has seen a card leave this reader. */
  removals(slot: 0 | 1): number;
  /** Waits until pcscd has noticed a removal (vpcd polls presence), before the next insert. */
  waitRemoved(slot: 0 | 1, before: number): Promise<void>;
  stop(): Promise<void>;
}

const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '0.0.0.0', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    if (p < 65535 && (await portFree(p + 1))) return p;
  }
  throw new Error('no free port pair for vpcd');
}

function pcscdRunning(): number | null {
  const pidFile = '/run/pcscd/pcscd.pid';
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

export async function startPcscd(): Promise<PcscdHandle> {
  const pcscdBin = ['/usr/sbin/pcscd', '/usr/bin/pcscd'].find((p) => existsSync(p));
  if (!pcscdBin) throw new Error('pcscd is not installed: install the Debian package "pcscd"');
  if (!existsSync(VPCD_DRIVER)) throw new Error(`${VPCD_DRIVER} is missing: install the Debian package "vsmartcard-vpcd"`);
  if (process.getuid?.() !== 0) throw new Error('the card tests start their own pcscd, which needs root (its socket is /run/pcscd/pcscd.comm)');
  const other = pcscdRunning();
  if (other)
    throw new Error(
      `another pcscd is running (pid ${other}); stop it first (e.g. "systemctl stop pcscd.socket pcscd"): the card tests run their own on a private port`,
    );
  const port = await freePortPair();
  const dir = mkdtempSync(join(tmpdir(), 'cccd-pcscd-'));
  const hex = '0x' + port.toString(16).toUpperCase();
  writeFileSync(join(dir, 'vpcd'), `FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:${hex}\nLIBPATH      ${VPCD_DRIVER}\nCHANNELID    ${hex}\n`);
  let log = '';
  const child: ChildProcess = spawn(pcscdBin, ['--foreground', '--info', '--config', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!/daemon ready/.test(log)) {
    if (child.exitCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pcscd exited at start:\n${log}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pcscd did not become ready:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    readerNames: ['Virtual PCD 00 00', 'Virtual PCD 00 01'],
    log: () => log,
    removals: (slot) => log.split(`Card Removed From Virtual PCD 00 0${slot}`).length - 1,
    async waitRemoved(slot, before) {
      const until = Date.now() + 10_000;
      while (log.split(`Card Removed From Virtual PCD 00 0${slot}`).length - 1 <= before) {
        if (Date.now() > until) throw new Error(`pcscd did not notice the card leaving slot ${slot}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
