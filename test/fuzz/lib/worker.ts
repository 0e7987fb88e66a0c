/**
 * One fuzz worker thread: generates and runs inputs of one target for a time slice. The main
 * thread watches `state` (the iteration running and when it started) and terminates the
 * worker on a hang; a heap overflow ends the worker with ERR_WORKER_OUT_OF_MEMORY, and the
 * main thread blames the iteration that was running.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { installAllocGuard } from './allocGuard.ts';
import { threadCpuMs, threadId } from './cpu.ts';
import { DEFAULT_LIMITS, execute, inputFor, runRngFor, type Outcome } from './execute.ts';
import { targetNamed } from '../targets/index.ts';

export interface WorkerJob {
  target: string;
  seed: string;
  from: number;
  /** Epoch ms at which to stop. */
  until: number;
  maxIterations: number;
  slowMs: number;
  /**
   * Int32Array view: [0] iteration running, [1] 1 while an input runs, [2] the worker's thread id.
   * Float64Array view from byte 16: [0] start time (epoch ms), [1] the thread's CPU ms at the start.
   */
  state: SharedArrayBuffer;
}

export interface WorkerStats {
  target: string;
  inputs: number;
  ok: number;
  expected: number;
  /** Expected errors by class and message shape (first words), counted. */
  expectedKinds: Record<string, number>;
  slowestMs: number;
  slowestIteration: number;
  largestAlloc: number;
  heapMaxBytes: number;
  next: number;
}

export type WorkerMessage =
  | { type: 'failure'; iteration: number; outcome: Outcome; input: Uint8Array }
  | { type: 'progress'; stats: WorkerStats }
  | { type: 'done'; stats: WorkerStats };

const job = workerData as WorkerJob;
const flags = new Int32Array(job.state, 0, 3);
const started = new Float64Array(job.state, 16, 2);
flags[2] = threadId();
const target = targetNamed(job.target);
const seeds = target.seeds();
installAllocGuard();
const limits = { ...DEFAULT_LIMITS, slowMs: job.slowMs };
const stats: WorkerStats = {
  target: target.name,
  inputs: 0,
  ok: 0,
  expected: 0,
  expectedKinds: {},
  slowestMs: 0,
  slowestIteration: -1,
  largestAlloc: 0,
  heapMaxBytes: 0,
  next: job.from,
};

let current = -1;
let currentInput: Buffer = Buffer.alloc(0);
process.on('unhandledRejection', (reason) => {
  // A promise the target left behind rejected: blame the input running now (its predecessor may be the cause).
  const err = reason instanceof Error ? reason : new Error(String(reason));
  parentPort!.postMessage({
    type: 'failure',
    iteration: current,
    outcome: { kind: 'crash', ms: 0, cpuMs: 0, largestAlloc: 0, errorName: err.name, message: `unhandled rejection: ${err.message}`, stack: err.stack },
    input: currentInput,
  } satisfies WorkerMessage);
});

let lastProgress = Date.now();
for (let i = job.from; i < job.from + job.maxIterations && Date.now() < job.until; i++) {
  current = i;
  const input = inputFor(target, seeds, job.seed, i);
  currentInput = input;
  Atomics.store(flags, 0, i);
  started[0] = Date.now();
  started[1] = threadCpuMs() ?? -1;
  Atomics.store(flags, 1, 1);
  const outcome = await execute(target, input, () => runRngFor(target, job.seed, i), limits);
  Atomics.store(flags, 1, 0);
  stats.inputs++;
  stats.next = i + 1;
  if (outcome.largestAlloc > stats.largestAlloc) stats.largestAlloc = outcome.largestAlloc;
  if (outcome.cpuMs > stats.slowestMs) {
    stats.slowestMs = outcome.cpuMs;
    stats.slowestIteration = i;
  }
  if (outcome.kind === 'ok') stats.ok++;
  else if (outcome.kind === 'expected') {
    stats.expected++;
    const k = `${outcome.errorName}: ${(outcome.message ?? '').replace(/\d+/g, 'N').split(/[:(]/)[0]!.slice(0, 60)}`;
    stats.expectedKinds[k] = (stats.expectedKinds[k] ?? 0) + 1;
  } else parentPort!.postMessage({ type: 'failure', iteration: i, outcome, input } satisfies WorkerMessage);
  if ((i & 255) === 0) {
    const used = getHeapStatistics().used_heap_size;
    if (used > stats.heapMaxBytes) stats.heapMaxBytes = used;
  }
  if (Date.now() - lastProgress > 2000) {
    lastProgress = Date.now();
    parentPort!.postMessage({ type: 'progress', stats } satisfies WorkerMessage);
  }
}
parentPort!.postMessage({ type: 'done', stats } satisfies WorkerMessage);
