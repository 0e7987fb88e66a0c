// Time from process start to READY (sd_notify) and idle RSS: what the Debian package runs (the
// compiled JavaScript on the package's own Node.js 22 with its compile cache, from the staged
// package: build/package/stage, made by scripts/package.sh when missing), the compiled build on
// this machine's Node.js, and today's source start through tsx, side by side in one run,
// alternating, medians. The demo configuration without simulators, on free ports, its store in a
// temporary directory, the voice clips generated once before (the package makes them at install).
//   npx tsx bench/startup.ts [--runs 5] [--idle-seconds 20]        (npm run bench:startup)
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { freePort } from '../test/helpers/ports.ts';
import { tempDir } from '../test/helpers/tmp.ts';
import { fmt, machineLine } from './common.ts';

const require = createRequire(import.meta.url);
const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram', onMessage: (msg: Buffer) => void): { bind(path: string): void; close(): void } };

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 5);
const IDLE_SECONDS = arg('idle-seconds', 20);

const { dir, cleanup } = tempDir('edge-bench-startup-');
const root = process.cwd();
const AUDIO = join(dir, 'audio');
const STAGE = join(root, 'build/package/stage/usr/lib/edge-agent');

/** The staged package: its Node.js and its compiled agent (built when missing). */
function packaged(): { node: string; cli: string } {
  if (!existsSync(join(STAGE, 'main.js'))) {
    const r = spawnSync('bash', ['scripts/package.sh'], { stdio: 'inherit', env: { ...process.env, EDGE_PACKAGE_COMPRESS: 'gzip' } });
    if (r.status !== 0) throw new Error('scripts/package.sh failed');
  }
  return { node: join(STAGE, 'node/bin/node'), cli: join(STAGE, 'main.js') };
}

/** The demo configuration with every fixed port replaced by a free one (nothing else changed). */
async function benchConfig(): Promise<string> {
  let text = readFileSync('config/demo.yaml', 'utf8')
    .replace('dataDir: ../data/demo', `dataDir: ${join(dir, 'data')}`)
    .replace('secretsFile: demo.secrets.yaml', `secretsFile: ${join(root, 'config/demo.secrets.yaml')}`);
  const ports = [...new Set([...text.matchAll(/port: (\d+)/g)].map((m) => m[1]!))];
  for (const p of ports) text = text.replaceAll(`port: ${p}`, `port: ${await freePort()}`);
  const file = join(dir, 'bench.yaml');
  writeFileSync(file, text);
  return file;
}

/** tsc into a temporary dist with the pages and the schema beside it, as the package lays them out. */
function compile(): string {
  const out = join(dir, 'dist');
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', out], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('tsc failed');
  mkdirSync(join(out, 'config'), { recursive: true });
  cpSync('config/schema.json', join(out, 'config/schema.json'));
  cpSync('kiosk', join(out, 'kiosk'), { recursive: true, filter: (src) => !src.endsWith('.ts') });
  // Resolve dependencies from the checkout's node_modules.
  cpSync('package.json', join(out, 'package.json'));
  spawnSync('ln', ['-s', join(root, 'node_modules'), join(out, 'node_modules')]);
  return join(out, 'main.js');
}

interface Sample {
  readyMs: number;
  idleRssMb: number;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function runOnce(command: string, args: string[], env: NodeJS.ProcessEnv, config: string, n: number): Promise<Sample> {
  rmSync(join(dir, 'data'), { recursive: true, force: true });
  const socketPath = join(dir, `notify-${n}.sock`);
  let ready: (ms: number) => void;
  const readyP = new Promise<number>((r) => (ready = r));
  const started = performance.now();
  const socket = unix.createSocket('unix_dgram', (msg) => {
    if (msg.toString().split('\n').includes('READY=1')) ready(performance.now() - started);
  });
  socket.bind(socketPath);
  const child = spawn(command, [...args, 'start', '--config', config], {
    env: { ...process.env, ...env, NOTIFY_SOCKET: socketPath, LOG_LEVEL: 'warn', EDGE_AUDIO_DIR: AUDIO },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const readyMs = await Promise.race([readyP, exited.then(() => Promise.reject(new Error('the agent exited before READY')))]);
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const idleRssMb = rssMb(child.pid!);
  child.kill('SIGTERM');
  await exited;
  socket.close();
  return { readyMs, idleRssMb };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const config = await benchConfig();
  const compiled = compile();
  const pkg = packaged();
  const pkgNode = spawnSync(pkg.node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  // The clips as the package's postinst makes them: once, before any start.
  spawnSync(process.execPath, [join(root, 'bin/edge-agent.js'), 'voice'], { env: { ...process.env, EDGE_AUDIO_DIR: AUDIO }, stdio: 'ignore' });
  const variants: Array<{ name: string; command: string; args: string[]; env: NodeJS.ProcessEnv; samples: Sample[] }> = [
    {
      name: `the package (compiled, its Node ${pkgNode}, compile cache)`,
      command: pkg.node,
      args: [pkg.cli],
      env: { NODE_COMPILE_CACHE: join(dir, 'compile-cache') },
      samples: [],
    },
    { name: `compiled build on this Node ${process.version} (node dist/main.js)`, command: process.execPath, args: [compiled], env: {}, samples: [] },
    {
      name: `source through tsx on ${process.version} (node bin/edge-agent.js)`,
      command: process.execPath,
      args: [join(root, 'bin/edge-agent.js')],
      env: {},
      samples: [],
    },
  ];
  console.log(machineLine());
  console.log(`${RUNS} runs each, alternating; the demo configuration without simulators; idle RSS after ${IDLE_SECONDS} s`);
  let n = 0;
  for (let i = 0; i < RUNS; i++) for (const v of variants) v.samples.push(await runOnce(v.command, v.args, v.env, config, n++));
  console.log('\n| start | to READY (median, min–max) | idle RSS (median, min–max) |\n|---|---|---|');
  for (const v of variants) {
    const ready = v.samples.map((s) => s.readyMs);
    const rss = v.samples.map((s) => s.idleRssMb);
    console.log(
      `| ${v.name} | ${fmt(median(ready) / 1000, 2)} s (${fmt(Math.min(...ready) / 1000, 2)}–${fmt(Math.max(...ready) / 1000, 2)}) | ${fmt(median(rss), 0)} MB (${fmt(Math.min(...rss), 0)}–${fmt(Math.max(...rss), 0)}) |`,
    );
  }
  console.log('\ngoal: ≤ 1 s to READY and ≤ 100 MB idle RSS (compiled build, without simulators)');
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(cleanup);
