// Debian's mosquitto_sub and mosquitto_pub (package mosquitto-clients) as the LAN broker's
// clients in tests: call screens, LED boards, and a PC on the LAN trying its luck.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { waitFor } from '../../helpers/wait.ts';

export function requireMosquittoClients(): void {
  if (spawnSync('which', ['mosquitto_sub']).status !== 0) throw new Error('mosquitto_sub is missing: apt-get install mosquitto-clients');
}

export interface Subscriber {
  /** Everything printed so far (with -v: "topic payload" lines). */
  readonly out: string;
  readonly err: string;
  /** Exit code, once exited. */
  readonly code: number | null;
  exited: Promise<number>;
  stop(): Promise<void>;
}

/** mosquitto_sub with `args`, running until it exits or is stopped. */
export function mosquittoSub(args: string[]): Subscriber {
  const child: ChildProcess = spawn('mosquitto_sub', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const state = { out: '', err: '', code: null as number | null };
  child.stdout!.on('data', (d) => (state.out += d));
  child.stderr!.on('data', (d) => (state.err += d));
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve((state.code = code ?? (signal ? 128 : -1)))));
  return {
    get out() {
      return state.out;
    },
    get err() {
      return state.err;
    },
    get code() {
      return state.code;
    },
    exited,
    async stop() {
      if (state.code === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A subscriber that has received at least one message matching `expected` (proof it is subscribed). */
export async function subscribed(args: string[], expected: string, what: string): Promise<Subscriber> {
  const sub = mosquittoSub(args);
  try {
    await waitFor(() => sub.out.includes(expected) || sub.code !== null, what);
  } catch (err) {
    await sub.stop();
    throw err;
  }
  if (sub.code !== null) throw new Error(`mosquitto_sub exited (${sub.code}) before ${what}: ${sub.err}`);
  return sub;
}

/** Runs a client to its end: mosquitto_pub, or mosquitto_sub with -C/-W. */
export function runClient(
  command: 'mosquitto_pub' | 'mosquitto_sub',
  args: string[],
  stdin?: Buffer | string,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? -1, out, err }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}
