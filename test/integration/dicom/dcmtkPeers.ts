import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parsePart10Header } from '../../../modules/dicom/data/part10.ts';

/** Fails clearly when a Debian peer is missing (tests never skip). */
export function requireTool(tool: string, debianPackage: string): void {
  if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is missing: apt-get install ${debianPackage}`);
}

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a DCMTK tool with Nagle off (specs/dicom.md: Debian's DCMTK leaves it on). */
export function runTool(tool: string, args: string[], timeoutMs = 60_000): Promise<ToolRun> {
  return new Promise((resolve) => {
    execFile(
      tool,
      args,
      { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, TCP_NODELAY: '1' }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** storescu option that proposes a file's own transfer syntax (with -R: only what the files need). */
export function storescuSyntaxFlag(transferSyntaxUid: string): string {
  const flags: Record<string, string> = {
    '1.2.840.10008.1.2': '-xi',
    '1.2.840.10008.1.2.1': '-xe',
    '1.2.840.10008.1.2.2': '-xb',
    '1.2.840.10008.1.2.1.99': '-xd',
    '1.2.840.10008.1.2.4.50': '-xy',
    '1.2.840.10008.1.2.4.51': '-xx',
    '1.2.840.10008.1.2.4.70': '-xs',
    '1.2.840.10008.1.2.4.80': '-xt',
    '1.2.840.10008.1.2.4.81': '-xu',
    '1.2.840.10008.1.2.4.90': '-xv',
    '1.2.840.10008.1.2.4.91': '-xw',
    '1.2.840.10008.1.2.5': '-xr',
  };
  return flags[transferSyntaxUid] ?? '-xe';
}

/** A Part 10 file's transfer syntax and dataset bytes (everything after the file meta group). */
export function part10Dataset(path: string): { transferSyntaxUid: string; sopInstanceUid?: string; dataset: Buffer } {
  const bytes = readFileSync(path);
  const meta = parsePart10Header(bytes);
  return {
    transferSyntaxUid: meta.transferSyntaxUid,
    ...(meta.sopInstanceUid ? { sopInstanceUid: meta.sopInstanceUid } : {}),
    dataset: bytes.subarray(meta.datasetOffset),
  };
}

/** `storescp +B` (bit-preserving) on a port, writing into `dir`: the reference for "the bytes that came over the wire". */
export async function startStorescp(dir: string, port: number, aeTitle = 'PACS'): Promise<{ stop(): Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const { connect } = await import('node:net');
  const child = spawn('storescp', ['--fork', '+B', '+xa', '+uf', '-aet', aeTitle, '-od', dir, String(port)], {
    env: { ...process.env, TCP_NODELAY: '1' },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('storescp did not start listening');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
