import { Worker } from 'node:worker_threads';
import { cpuMsOfThread } from './cpu.ts';
import { inputFor, type Outcome } from './execute.ts';
import type { FailureLog } from './failures.ts';
import type { FuzzTarget } from './target.ts';
import type { WorkerJob, WorkerMessage, WorkerStats } from './worker.ts';

export interface InProcessOptions {
  seed: string;
  /** Epoch ms at which the campaign ends. */
  until: number;
  targets: readonly FuzzTarget[];
  /** A target's turn (the targets take turns until the end). */
  sliceMs: number;
  /** CPU ms: beyond it (twice) an input is slow. */
  slowMs: number;
  /** CPU ms: an input running longer than this is a hang and the worker is terminated. */
  hangMs: number;
  /** V8 heap of the worker (MB): beyond it the input that was running is a memory failure. */
  heapMb: number;
  failures: FailureLog;
  log: (line: string) => void;
}

export interface TargetSummary {
  target: string;
  inputs: number;
  seconds: number;
  ok: number;
  expected: number;
  expectedKinds: Record<string, number>;
  slowestMs: number;
  slowestIteration: number;
  largestAlloc: number;
  heapMaxBytes: number;
  /** Largest resident set of the fuzz process while this target ran. */
  rssMaxBytes: number;
  next: number;
}

export const reproduceCommand = (target: string, seed: string, iteration: number): string =>
  `npm run fuzz -- --reproduce ${target} --seed ${seed} --iteration ${iteration}`;

/** Runs every target in turns, each turn in a fresh worker thread, until `until`. */
export async function runInProcess(opts: InProcessOptions): Promise<TargetSummary[]> {
  const summaries = new Map<string, TargetSummary>(
    opts.targets.map((t) => [
      t.name,
      {
        target: t.name,
        inputs: 0,
        seconds: 0,
        ok: 0,
        expected: 0,
        expectedKinds: {},
        slowestMs: 0,
        slowestIteration: -1,
        largestAlloc: 0,
        heapMaxBytes: 0,
        rssMaxBytes: 0,
        next: 0,
      },
    ]),
  );
  const seedsOf = new Map<string, Buffer[]>();
  const seeds = (t: FuzzTarget): Buffer[] => {
    if (!seedsOf.has(t.name)) seedsOf.set(t.name, t.seeds());
    return seedsOf.get(t.name)!;
  };
  const record = (t: FuzzTarget, iteration: number, outcome: Outcome, input: Buffer): void => {
    const f = opts.failures.add(t.name, opts.seed, iteration, outcome, input, reproduceCommand(t.name, opts.seed, iteration));
    if (f.occurrences === 1)
      opts.log(
        `[fuzz] ${t.name}: ${f.known ? 'known ' : ''}${outcome.kind} at iteration ${iteration}: ${outcome.errorName ?? ''} ${(outcome.message ?? '').slice(0, 160)} (${f.where || 'no stack'}) → ${f.artifact}`,
      );
  };
  while (Date.now() < opts.until) {
    for (const t of opts.targets) {
      if (Date.now() >= opts.until) break;
      const s = summaries.get(t.name)!;
      const sliceEnd = Math.min(opts.until, Date.now() + opts.sliceMs);
      const started = Date.now();
      const before = s.inputs;
      while (Date.now() < sliceEnd) {
        const end = await runSlice(t, s, sliceEnd, opts, (iteration, outcome, input) =>
          record(t, iteration, outcome, input ?? inputFor(t, seeds(t), opts.seed, iteration)),
        );
        if (end === 'done') break;
      }
      s.seconds += (Date.now() - started) / 1000;
      const rate = Math.round((s.inputs - before) / Math.max(0.001, (Date.now() - started) / 1000));
      opts.log(`[fuzz] ${t.name}: ${s.inputs} inputs so far (${rate}/s this turn), ${opts.failures.forTarget(t.name).length} unique failure(s)`);
    }
  }
  return [...summaries.values()];
}

type Report = (iteration: number, outcome: Outcome, input?: Buffer) => void;

/** One worker for one target until `sliceEnd`; 'restart' when the worker had to be ended early (hang, heap). */
function runSlice(t: FuzzTarget, s: TargetSummary, sliceEnd: number, opts: InProcessOptions, report: Report): Promise<'done' | 'restart'> {
  const state = new SharedArrayBuffer(32);
  const flags = new Int32Array(state, 0, 3);
  const startedAt = new Float64Array(state, 16, 2);
  const job: WorkerJob = { target: t.name, seed: opts.seed, from: s.next, until: sliceEnd, maxIterations: Number.MAX_SAFE_INTEGER, slowMs: opts.slowMs, state };
  const worker = new Worker(new URL('./workerBoot.mjs', import.meta.url), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: opts.heapMb },
    stdout: true,
    stderr: false,
  });
  worker.stdout.resume(); // a parser that prints must not fill a pipe nobody reads
  const base = { inputs: s.inputs, ok: s.ok, expected: s.expected };
  const absorb = (w: WorkerStats): void => {
    s.inputs = base.inputs + w.inputs;
    s.ok = base.ok + w.ok;
    s.expected = base.expected + w.expected;
    s.next = Math.max(s.next, w.next);
    s.largestAlloc = Math.max(s.largestAlloc, w.largestAlloc);
    s.heapMaxBytes = Math.max(s.heapMaxBytes, w.heapMaxBytes);
    if (w.slowestMs > s.slowestMs) {
      s.slowestMs = w.slowestMs;
      s.slowestIteration = w.slowestIteration;
    }
    for (const [k, n] of Object.entries(w.expectedKinds)) s.expectedKinds[k] = (s.expectedKinds[k] ?? 0) + n - (lastKinds[k] ?? 0);
    lastKinds = { ...w.expectedKinds };
  };
  let lastKinds: Record<string, number> = {};
  return new Promise((resolve) => {
    let finished = false;
    const finish = (how: 'done' | 'restart'): void => {
      if (finished) return;
      finished = true;
      clearInterval(watch);
      resolve(how);
    };
    /** CPU ms the worker thread used on the input running now (wall time where /proc is missing). */
    const cpuUsed = (): number => {
      const now = cpuMsOfThread(Atomics.load(flags, 2));
      return now === null || startedAt[1]! < 0 ? Date.now() - startedAt[0]! : now - startedAt[1]!;
    };
    // Restart after the input that broke the worker.
    const blame = (kind: 'hang' | 'memory' | 'crash', message: string): void => {
      const iteration = Atomics.load(flags, 0);
      s.next = Math.max(s.next, iteration + 1);
      s.inputs++;
      report(iteration, {
        kind,
        ms: Date.now() - startedAt[0]!,
        cpuMs: cpuUsed(),
        largestAlloc: 0,
        errorName: kind === 'hang' ? 'Hang' : kind === 'memory' ? 'HeapOverflow' : 'WorkerExit',
        message,
      });
    };
    const watch = setInterval(() => {
      const rss = process.memoryUsage.rss();
      if (rss > s.rssMaxBytes) s.rssMaxBytes = rss;
      // CPU time, not wall time: at nice 19 beside a test suite the worker may be starved for
      // seconds. Wall time only as a backstop (ten times the bound).
      if (Atomics.load(flags, 1) === 1 && (cpuUsed() > opts.hangMs || Date.now() - startedAt[0]! > 10 * opts.hangMs)) {
        blame('hang', `one input used more than ${opts.hangMs} ms of CPU (${Math.round((Date.now() - startedAt[0]!) / 1000)} s of wall time)`);
        void worker.terminate().then(() => finish('restart'));
      }
    }, 200);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'failure') report(m.iteration, m.outcome, Buffer.from(m.input));
      else {
        absorb(m.stats);
        if (m.type === 'done') void worker.terminate().then(() => finish('done'));
      }
    });
    worker.on('error', (err: Error & { code?: string }) => {
      if (finished) return;
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') blame('memory', `the worker ran out of its ${opts.heapMb} MB heap`);
      else blame('crash', `the worker died: ${err.message}`);
      finish('restart');
    });
    worker.on('exit', () => finish('restart'));
  });
}
