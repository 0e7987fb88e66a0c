// npm run bench:journal — durable appends per second (synchronous=FULL, fsync per commit)
// with 1, 10 and 100 concurrent producers, group commit against one commit per append, and
// latency at a steady 200 appends/s. Prints a markdown table for docs/BENCHMARKS.md.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../core/store/store.ts';
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
    pending.push(
      journal.append({ stream: 'lab.result', kind: 'r', idempotencyKey: `s${i}`, raw: payload }).then(() => void latencies.push(performance.now() - t0)),
    );
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
    rows.push(
      `| ${producers} producers, closed loop | ${group ? 'group commit' : 'one commit per append'} | ${fmt(r.rate, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`,
    );
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

// Outbox with a 100,000-item backlog (a day-long outage): the forwarder's claim and the status
// read must stay cheap while the backlog drains.
{
  const { store, done } = freshStore(true);
  const journals = ['xn1', 'cobas1', 'bc5380'].map((s) => store.journalFor(s, ['lis']));
  for (let i = 0; i < 100_000; i += 1000) {
    await Promise.all(
      Array.from({ length: 1000 }, (_, k) => journals[(i + k) % 3]!.append({ stream: 'lab.result', kind: 'r', idempotencyKey: `b${i + k}`, raw: payload })),
    );
  }
  const time = (fn: () => void, n: number) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    return (performance.now() - t0) / n;
  };
  const ordered = time(() => store.outbox.claim('lis', 8, new Set(), true), 500);
  const unordered = time(() => store.outbox.claim('lis', 8, new Set(), false), 500);
  const status = time(() => store.outbox.status(['lis']), 50);
  done();
  console.log('\nOutbox with a 100,000-item backlog (3 sources)\n');
  console.log('| operation | ms per call |');
  console.log('|---|---|');
  console.log(`| claim, ordered per source (head of line) | ${fmt(ordered, 3)} |`);
  console.log(`| claim, unordered (oldest first) | ${fmt(unordered, 3)} |`);
  console.log(`| status (depth, oldest age, last error) | ${fmt(status, 3)} |`);
}
