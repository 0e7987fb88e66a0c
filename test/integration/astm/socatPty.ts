import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

/** A pseudo-terminal pair from socat: two linked serial-like devices for serial tests. */
export async function startPtyPair(dir: string): Promise<{ a: string; b: string; stop(): Promise<void> }> {
  if (spawnSync('socat', ['-V']).error) throw new Error('socat is missing: install the Debian package "socat" (apt-get install socat)');
  const a = join(dir, 'ttyA');
  const b = join(dir, 'ttyB');
  const proc: ChildProcess = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const deadline = Date.now() + 5_000;
  while (!(existsSync(a) && existsSync(b))) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error('socat did not create the pty pair');
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    a: realpathSync(a),
    b: realpathSync(b),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
