/**
 * DICOM networking benchmark: the box's SCP against DCMTK's storescp (receive), the box's
 * C-STORE SCU against storescu (into Orthanc, and over a 100 ms round-trip link). Prints a
 * markdown table. Run: npx tsx bench/dicom.ts [--quick]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { part10Header } from '../modules/dicom/data/part10.ts';
import { CStoreDestination } from '../modules/dicom/net/cstoreDestination.ts';
import type { OutboxItem } from '../core/contract/destination.ts';
import { generateStudy } from '../test/sim/modality.ts';
import { startOrthanc } from '../test/integration/dicom/stowrsOrthanc.ts';
import { freePort } from '../test/helpers/ports.ts';

const quick = process.argv.includes('--quick');
const root = mkdtempSync(join(tmpdir(), 'bench-dicom-'));
const env = { ...process.env, TCP_NODELAY: '1' };

function writeSet(name: string, count: number, pixelBytes: number): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const g of generateStudy({ instances: count, pixelBytes })) {
    writeFileSync(
      join(dir, `${g.sopInstanceUid}.dcm`),
      Buffer.concat([part10Header({ sopClassUid: g.sopClassUid, sopInstanceUid: g.sopInstanceUid, transferSyntaxUid: g.transferSyntaxUid }), g.dataset]),
    );
  }
  return dir;
}

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) => (code === 0 ? resolve(0) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-400)}`))));
  });
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on ${port}`);
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sums RSS of a process and its children (storescp --fork). */
function treeRssMb(pid: number): number {
  let total = rssMb(pid);
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) total += treeRssMb(Number(child));
  } catch {
    /* gone */
  }
  return total;
}

interface Receiver {
  pid: number;
  port: number;
  stop(): void;
}

async function startBox(): Promise<Receiver> {
  const store = join(root, `box-${Date.now()}`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/dicom/scpChild.ts', store], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (l) => /^PORT (\d+)/.test(l) && resolve(Number(/^PORT (\d+)/.exec(l)![1]))),
  );
  return { pid: child.pid!, port, stop: () => child.kill('SIGKILL') };
}

async function startStorescpReceiver(): Promise<Receiver> {
  const port = await freePort();
  const out = join(root, `storescp-${port}`);
  mkdirSync(out);
  const child: ChildProcess = spawn('storescp', ['--fork', '+B', '+xa', '-aet', 'EDGE', '-od', out, String(port)], { env, stdio: 'ignore' });
  await waitPort(port);
  return { pid: child.pid!, port, stop: () => child.kill('SIGKILL') };
}

/** storescu with `assocs` parallel processes over a folder's files. */
async function storescu(dir: string, port: number, calledAe: string, assocs: number): Promise<number> {
  const files = readdirSync(dir).map((f) => join(dir, f));
  const started = performance.now();
  await Promise.all(
    Array.from({ length: assocs }, (_, i) => {
      const part = files.filter((_, j) => j % assocs === i);
      return part.length ? run('storescu', ['-aet', 'MODALITY', '-aec', calledAe, '127.0.0.1', String(port), ...part]) : Promise.resolve(0);
    }),
  );
  return (performance.now() - started) / 1000;
}

/**
 * 100 small instances sent before each timed run, to box and peer alike: the agent runs for
 * months, so its steady state (optimised code, open files) is what is compared, not V8's first
 * second.
 */
let warmSet = '';

async function receive(kind: 'box' | 'storescp', dir: string, assocs: number): Promise<{ s: number; peak: number }> {
  const r = kind === 'box' ? await startBox() : await startStorescpReceiver();
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, treeRssMb(r.pid))), 20);
  try {
    await storescu(warmSet, r.port, 'EDGE', 1);
    const s = await storescu(dir, r.port, 'EDGE', assocs);
    return { s, peak };
  } finally {
    clearInterval(sampler);
    r.stop();
  }
}

/** A TCP proxy adding `oneWayMs` each way (round trip = 2×). */
async function delayProxy(target: number, oneWayMs: number): Promise<{ port: number; server: Server }> {
  const server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect({ host: '127.0.0.1', port: target, noDelay: true });
    const pipe = (from: typeof client, to: typeof client): void => {
      from.on('data', (d: Buffer) => setTimeout(() => to.writable && to.write(d), oneWayMs));
      from.on('end', () => setTimeout(() => to.end(), oneWayMs));
      from.on('error', () => to.destroy());
    };
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, server };
}

async function boxSend(dir: string, port: number, calledAe: string, associations: number, warm = true): Promise<number> {
  if (warm) await boxSend(warmSet, port, calledAe, 1, false);
  const dest = new CStoreDestination('bench', { host: '127.0.0.1', port, calledAe, associations, responseTimeoutMs: 120_000 }, pino({ level: 'silent' }));
  const files = readdirSync(dir).map((f) => join(dir, f));
  const started = performance.now();
  let next = 0;
  const signal = new AbortController().signal;
  await Promise.all(
    Array.from({ length: associations }, async () => {
      while (next < files.length) {
        const path = files[next++]!;
        const item = { blobPath: path, outboxId: next } as unknown as OutboxItem;
        const r = await dest.deliver(item, signal);
        if (r.result !== 'ok') throw new Error(`${path}: ${JSON.stringify(r)}`);
      }
    }),
  );
  const s = (performance.now() - started) / 1000;
  await dest.stop();
  return s;
}

const rows: string[] = [];
const row = (...cells: string[]): void => void rows.push(`| ${cells.join(' | ')} |`);
const f1 = (n: number): string => n.toFixed(n >= 100 ? 0 : 1);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
/** Receive runs per set, peer and box alternating. */
const RECEIVE_RUNS = quick ? 1 : 3;

async function main(): Promise<void> {
  const n = quick ? 50 : 200;
  warmSet = writeSet('warm', 100, 38 * 1024);
  const small = writeSet('small', n, 38 * 1024);
  const ct = writeSet('ct', n, 524 * 1024);
  const big = writeSet('big', 1, (quick ? 20 : 100) * 1024 * 1024);
  const sets: Array<[string, string, number, 'img' | 'MB']> = [
    [`${n} × 39 KB`, small, n, 'img'],
    [`${n} × 525 KB`, ct, (n * 525) / 1024, 'MB'],
    [`1 × ${quick ? 20 : 100} MB`, big, quick ? 20 : 100, 'MB'],
  ];
  rows.push('| path | set | associations | time (s) | rate | ratio | peak RSS (MB) |', '|---|---|---|---|---|---|---|');
  for (const assocs of [1, 4]) {
    for (const [label, dir, amount, unit] of sets) {
      if (assocs === 4 && label.startsWith('1 ×')) continue;
      // This VM's disk and CPU move 30-40 % between runs: peer and box alternate, medians shown.
      const refs: Array<{ s: number; peak: number }> = [];
      const boxes: Array<{ s: number; peak: number }> = [];
      for (let i = 0; i < RECEIVE_RUNS; i++) {
        refs.push(await receive('storescp', dir, assocs));
        boxes.push(await receive('box', dir, assocs));
      }
      const ref = { s: median(refs.map((r) => r.s)), peak: Math.max(...refs.map((r) => r.peak)) };
      const box = { s: median(boxes.map((r) => r.s)), peak: Math.max(...boxes.map((r) => r.peak)) };
      const spread = (runs: Array<{ s: number }>): string => (runs.length > 1 ? ` (${runs.map((r) => r.s.toFixed(2)).join(' / ')})` : '');
      row('storescu → storescp +B', label, String(assocs), f1(ref.s) + spread(refs), `${f1(amount / ref.s)} ${unit}/s`, '1.00', f1(ref.peak));
      row('storescu → box SCP', label, String(assocs), f1(box.s) + spread(boxes), `${f1(amount / box.s)} ${unit}/s`, (ref.s / box.s).toFixed(2), f1(box.peak));
    }
  }
  const orthanc = await startOrthanc(join(root, 'orthanc'));
  try {
    for (const [i, [label, , amount, unit]] of sets.slice(0, 2).entries()) {
      // Orthanc's speed drifts as its index grows: runs in the order peer, box, box, peer (each
      // on new UIDs, as Orthanc answers a repeated instance without storing it) and averaged.
      await storescu(warmSet, orthanc.dicomPort, 'ORTHANC', 1);
      let ref = 0;
      let box = 0;
      for (const [k, who] of (['peer', 'box', 'box', 'peer'] as const).entries()) {
        const set = writeSet(`orthanc-${i}-${k}`, n, i === 0 ? 38 * 1024 : 524 * 1024);
        if (who === 'peer') ref += (await storescu(set, orthanc.dicomPort, 'ORTHANC', 1)) / 2;
        else box += (await boxSend(set, orthanc.dicomPort, 'ORTHANC', 1)) / 2;
        rmSync(set, { recursive: true, force: true });
      }
      row('storescu → Orthanc', label, '1', f1(ref), `${f1(amount / ref)} ${unit}/s`, '1.00', '');
      row('box dicom-cstore → Orthanc', label, '1', f1(box), `${f1(amount / box)} ${unit}/s`, (ref / box).toFixed(2), '');
    }
    const proxy = await delayProxy(orthanc.dicomPort, 50);
    try {
      const linkSet = writeSet('link', n, 38 * 1024);
      const ref = await storescu(linkSet, proxy.port, 'ORTHANC', 1);
      row('storescu → Orthanc, 100 ms RTT', `${n} × 39 KB`, '1', f1(ref), `${f1(n / ref)} img/s`, '1.00', '');
      for (const assocs of [1, 4, 8, 16]) {
        const again = writeSet(`link${assocs}`, n, 38 * 1024);
        await boxSend(warmSet, orthanc.dicomPort, 'ORTHANC', 1, false); // warm directly, not through the slow link
        const s = await boxSend(again, proxy.port, 'ORTHANC', assocs, false);
        row('box dicom-cstore → Orthanc, 100 ms RTT', `${n} × 39 KB`, String(assocs), f1(s), `${f1(n / s)} img/s`, (ref / s).toFixed(2), '');
      }
    } finally {
      proxy.server.close();
    }
  } finally {
    await orthanc.stop();
  }
  console.log(`\n### DICOM networking (${new Date().toISOString()}, ${quick ? 'quick' : 'full'} run, loopback, 2 cores)\n`);
  console.log(rows.join('\n'));
  console.log('\nratio: reference time / this time (>1 = faster than the reference). Peak RSS sums the receiving process tree.');
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(root, { recursive: true, force: true }));
