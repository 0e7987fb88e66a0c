// npm run bench:lab — HL7 results stored and acknowledged per second (1 and 10 connections) and
// ACK latency at a steady 200 messages/s, against the box's listener (real store, fsync per
// commit) and, in the same run, Debian python3-hl7's asyncio MLLP server acking without storing.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { msa, TestMllpClient } from '../test/helpers/mllpClient.ts';
import { hl7Fixture, MINDRAY, withControlId } from '../test/helpers/hl7Fixtures.ts';
import { parseHl7 } from '../modules/hl7/message.ts';
import { extractHl7Results } from '../modules/hl7/results.ts';
import { fmt, machineLine, percentile } from './common.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
let seq = 0;
// One result per message, so messages/s = results/s.
const oneResult = () =>
  `MSH|^~\\&|XN|LAB|||20261122080000||ORU^R01|M${seq++}|P|2.5.1||||||UNICODE UTF-8\rPID|1||P1||Nguyễn^Văn An\rOBR|1||S${seq}\rOBX|1|NM|WBC^WBC||${(seq % 100) / 10}|10*9/L|4-10||||F\r`;

// A real Mindray BC-5380 CBC message (fixture) with a new MSH-10 and sample id each time, so
// every result is new (the same sample would be de-duplicated by result identity).
const mindrayText = hl7Fixture(MINDRAY);
const MINDRAY_RESULTS = extractHl7Results(parseHl7(mindrayText), { device: 'd', timezone: 'Asia/Ho_Chi_Minh', receivedAt: '' }).results.length;
const mindray = () => {
  const n = seq++;
  return withControlId(mindrayText, `BC${n}`).replaceAll('|20071207011|', `|BENCH${n}|`);
};

async function closedLoop(port: number, connections: number, message: () => string = oneResult): Promise<{ rate: number; p50: number; p99: number }> {
  const clients = await Promise.all(Array.from({ length: connections }, () => TestMllpClient.open(port)));
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const ack = await c.send(message());
        if (msa(ack).code !== 'AA') throw new Error(`not acknowledged: ${ack}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  clients.forEach((c) => c.close());
  return { rate: latencies.length / SECONDS, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function steady(port: number, perSecond: number): Promise<{ rate: number; p50: number; p99: number }> {
  const client = await TestMllpClient.open(port);
  const latencies: number[] = [];
  const total = perSecond * SECONDS;
  const start = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / perSecond - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    client.write(oneResult());
    sends.push(client.next().then(() => void latencies.push(performance.now() - t0)));
  }
  await Promise.all(sends);
  client.close();
  return { rate: latencies.length / ((performance.now() - start) / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function startPythonFloor(): Promise<{ port: number; stop: () => void }> {
  const port = await freePort();
  const child = spawn('/usr/bin/python3', ['bench/hl7_ack_server.py', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`python3-hl7 server exited (${code}): apt-get install python3-hl7`)));
    createInterface({ input: child.stdout! }).on('line', (l) => l === 'READY' && resolve());
  });
  return { port, stop: () => child.kill() };
}

/** The box's listener in its own process (as the python server is), on a real store. */
async function startBoxListener(dir: string): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/hl7ListenerChild.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    createInterface({ input: child.stdout! }).on('line', (l) => l.startsWith('PORT ') && resolve(Number(l.slice(5)))),
  );
  return { port, stop: () => child.kill() };
}

const dir = mkdtempSync(join(process.cwd(), '.bench-lab-'));
const box = await startBoxListener(dir);
const floor = await startPythonFloor();
process.on('exit', () => {
  floor.stop();
  box.stop();
});

const rows: string[] = [];
for (const [name, port] of [
  ['box: stored (fsync) before ACK', box.port],
  ['python3-hl7 asyncio server, ACK only (floor)', floor.port],
] as const) {
  for (const conns of [1, 10]) {
    const r = await closedLoop(port, conns);
    rows.push(
      `| ${name} | 1 result | ${conns} connection${conns > 1 ? 's' : ''}, closed loop | ${fmt(r.rate, 0)} | ${fmt(r.rate, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`,
    );
  }
  const m = await closedLoop(port, 10, mindray);
  rows.push(
    `| ${name} | Mindray CBC, ${MINDRAY_RESULTS} results | 10 connections, closed loop | ${fmt(m.rate, 0)} | ${fmt(m.rate * MINDRAY_RESULTS, 0)} | ${fmt(m.p50, 2)} | ${fmt(m.p99, 2)} |`,
  );
  const s = await steady(port, 200);
  rows.push(`| ${name} | 1 result | steady 200 msg/s | ${fmt(s.rate, 0)} | ${fmt(s.rate, 0)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} |`);
}
floor.stop();
box.stop();
await new Promise((r) => setTimeout(r, 200));
rmSync(dir, { recursive: true, force: true });

console.log(`\nHL7 ORU^R01 messages and results stored and acknowledged (${SECONDS} s per row; the floor stores nothing)\n`);
console.log(`Machine: ${machineLine()}\n`);
console.log('| receiver | message | load | messages/s | results/s | p50 ACK ms | p99 ACK ms |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
process.exit(0);
