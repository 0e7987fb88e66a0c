import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './tmp.ts';
import { waitFor } from './wait.ts';

export interface RunningMosquitto {
  url: string;
  port: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Debian's Mosquitto on a loopback port: the province broker in tests. */
export async function startMosquitto(options: { port?: number } = {}): Promise<RunningMosquitto> {
  if (spawnSync('which', ['mosquitto']).status !== 0) throw new Error('mosquitto is missing: apt-get install mosquitto');
  const { dir, cleanup } = tempDir('edge-mosq-');
  const port = options.port ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n`);
  const child: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  await waitFor(() => log.includes('running') || child.exitCode !== null, 'mosquitto to start', 10_000);
  if (child.exitCode !== null) throw new Error(`mosquitto did not start: ${log}`);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      cleanup();
    },
  };
}
