import { spawn, type ChildProcess } from 'node:child_process';

const BIN = 'bin/edge-agent.js';
const children: ChildProcess[] = [];

/** `edge-agent start` as a child process on `port`, outside systemd unless `env` says otherwise. */
export function startAgentProcess(config: string, port: number, env: Record<string, string> = {}) {
  const clean = { ...process.env };
  delete clean.NOTIFY_SOCKET;
  delete clean.INVOCATION_ID;
  delete clean.WATCHDOG_USEC;
  const child = spawn(process.execPath, [BIN, 'start', '--config', config], {
    env: { ...clean, EDGE_HTTP_PORT: String(port), EDGE_HTTP_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => (out.stdout += d));
  child.stderr!.on('data', (d) => (out.stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out, exited };
}

export function killAgentProcesses(): void {
  for (const c of children) c.kill('SIGKILL');
}

/** The first-run one-time codes the agent printed, oldest first. */
export const setupCodes = (stderr: string): string[] => [...stderr.matchAll(/one-time code (\d{4}-\d{4})/g)].map((m) => m[1]!);
