// npm run bench:journal — durable appends per second (synchronous=FULL, fsync per commit)
// with 1, 10 and 100 concurrent producers, group commit against one commit per append, and
// latency at a steady 200 appends/s. Prints a markdown table for docs/BENCHMARKS.md.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../agent/store/store.ts';
import { fmt, machineLine, percentile } from './common.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const payload = Buffer.alloc(600, 0x41); // about one ASTM result record with its frame

function freshStore(groupCommit: boolean): { store: Store; done: () => void } {
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? process.cwd(), '.bench-journal-'));
  const store = new Store({ dir, groupCommit, synchronous: 'FULL' });
  return { store, done: () => (store.close(), rmSync(dir, { recursive: true, force: true })) };
}

async function closedLoop(producers: number, groupCommit: boolean): Promise<{ rate: number; p50: number; p99: number }> {
  const { store, done } = freshStore(groupCommit);
  const latencies: number[] = [];
  let n = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      const journal = store.journalFor(`dev${p}`, ['lis']);
      while (performance.now() < end) {
        const t0 = performance.now();
        await journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: `k${n++}`, raw: payload });
        latencies.push(performance.now() - t0);
      }
    }),
  );
  done();
  return { rate: latencies.length / SECONDS, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function steady(ratePerSecond: number, groupCommit: boolean): Promise<{ rate: number; p50: number; p99: number }> {
  const { store, done } = freshStore(groupCommit);
  const journal = store.journalFor('analyzer', ['lis']);
  const latencies: number[] = [];
  const total = ratePerSecond * SECONDS;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    pending.push(journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: `s${i}`, raw: payload }).then(() => void latencies.push(performance.now() - t0)));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  done();
  return { rate: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const rows: string[] = [];
for (const producers of [1, 10, 100]) {
  for (const group of [true, false]) {
    const r = await closedLoop(producers, group);
    rows.push(`| ${producers} producers, closed loop | ${group ? 'group commit' : 'one commit per append'} | ${fmt(r.rate, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`);
  }
}
for (const group of [true, false]) {
  const r = await steady(200, group);
  rows.push(`| steady 200 appends/s | ${group ? 'group commit' : 'one commit per append'} | ${fmt(r.rate, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`);
}

console.log(`\nJournal durability benchmark (${SECONDS} s per row, 600-byte payload, WAL + synchronous=FULL)\n`);
console.log(`Machine: ${machineLine()}\n`);
console.log('| load | commit mode | durable appends/s | p50 ms | p99 ms |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
