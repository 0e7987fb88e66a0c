// Queue tickets against a running agent: the agent runs as its own process (bin/edge-agent.js,
// real SQLite store, synchronous=FULL), the escpos-printer driver prints over real TCP to the
// printer simulator in this process. Per ticket: POST /api/queue/tickets → answer (the ticket is
// durable: the API answers after the commit) → first raster band and the cut at the simulator.
//   npx tsx bench/queue.ts [--tickets 200]        (npm run bench:queue)
import { startPrinter, type PrintedJob, type PrinterSim } from '../test/sim/printer.ts';
import { startAgentProcess } from '../test/integration/queue/agentProcess.ts';
import { tempDir } from '../test/helpers/tmp.ts';
import { fmt, machineLine, percentile } from './common.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const TICKETS = arg('tickets', 200);

interface Sample {
  durableMs: number;
  firstBandMs?: number;
  printedMs?: number;
}

/** Issues one ticket; resolves with its latencies once its cut reached the simulator (or print=no). */
function issuer(url: string, sim: PrinterSim) {
  const waiting = new Map<string, (job: PrintedJob) => void>();
  const early = new Map<string, PrintedJob>();
  sim.onJob((job) => {
    const id = job.qr[0];
    if (!id) return;
    const w = waiting.get(id);
    if (w) w(job);
    else early.set(id, job);
  });
  return async (service: string, print: boolean): Promise<Sample> => {
    const t0 = performance.now();
    const res = await fetch(`${url}/api/queue/tickets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service, print: print ? 'queue' : 'no' }),
    });
    const durableMs = performance.now() - t0;
    if (res.status !== 201) throw new Error(`issue failed: ${res.status} ${await res.text()}`);
    const { ticket } = (await res.json()) as { ticket: { id: string } };
    if (!print) return { durableMs };
    const job = early.get(ticket.id) ?? (await new Promise<PrintedJob>((resolve) => waiting.set(ticket.id, resolve)));
    early.delete(ticket.id);
    waiting.delete(ticket.id);
    return { durableMs, firstBandMs: job.firstRasterMono! - t0, printedMs: job.cutMono! - t0 };
  };
}

function row(label: string, samples: Sample[], seconds: number): string {
  const d = samples.map((s) => s.durableMs);
  const f = samples.flatMap((s) => (s.firstBandMs === undefined ? [] : [s.firstBandMs]));
  const p = samples.flatMap((s) => (s.printedMs === undefined ? [] : [s.printedMs]));
  return `| ${label} | ${samples.length} | ${fmt(samples.length / seconds, 0)} | ${fmt(percentile(d, 50))} | ${fmt(percentile(d, 99))} | ${fmt(percentile(f, 99))} | ${fmt(percentile(p, 50))} | ${fmt(percentile(p, 99))} | ${fmt(p.length ? Math.max(...p) : NaN)} |`;
}

const sim = await startPrinter();
const tmp = tempDir('queue-bench-');
const agent = await startAgentProcess(tmp.dir, sim.port);
const issue = issuer(agent.url, sim);
const rows: string[] = [];
try {
  // Warm-up: fonts registered, SQLite pages cached, connections open.
  for (let i = 0; i < 10; i++) await issue('nhi', true);

  // One kiosk: a ticket, printed, then the next.
  let samples: Sample[] = [];
  let t0 = performance.now();
  for (let i = 0; i < TICKETS; i++) samples.push(await issue('noi', true));
  rows.push(row('1 kiosk, one ticket at a time, printed', samples, (performance.now() - t0) / 1000));

  // A busy morning: 4 kiosks sharing the one printer, each ticket every 500 ms (8 tickets/s).
  samples = [];
  t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async (_, k) => {
      await new Promise((r) => setTimeout(r, k * 125));
      const mine: Array<Promise<Sample>> = [];
      for (let i = 0; i < TICKETS / 4; i++) {
        mine.push(issue('noi', true));
        await new Promise((r) => setTimeout(r, 500));
      }
      samples.push(...(await Promise.all(mine)));
    }),
  );
  rows.push(row('4 kiosks × 2 tickets/s, one printer', samples, (performance.now() - t0) / 1000));

  // Issuing capacity without the printer: 8 concurrent clients, print=no.
  samples = [];
  t0 = performance.now();
  let n = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (n++ < TICKETS * 5) samples.push(await issue('nhi', false));
    }),
  );
  rows.push(row('8 concurrent clients, durable only (print=no)', samples, (performance.now() - t0) / 1000));
} finally {
  await agent.stop();
  await sim.stop();
  tmp.cleanup();
}

console.log(`Queue tickets: API call → ticket durable (HTTP answer) → raster bytes at the printer simulator; goal p99 < 100 ms to the printer's bytes\n`);
console.log(
  '| scenario | tickets | tickets/s | durable p50 ms | durable p99 ms | first band p99 ms | printed (cut) p50 ms | printed p99 ms | printed max ms |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log(`\nMachine: ${machineLine()}`);
console.log(
  `Command: npx tsx bench/queue.ts --tickets ${TICKETS} (agent as a separate process: node bin/edge-agent.js start; 80 mm ticket with QR, DLE EOT status query before each ticket)`,
);
