import { createHash } from 'node:crypto';
import { AllocationBoundError, armAllocGuard, disarmAllocGuard } from './allocGuard.ts';
import { threadCpuMs } from './cpu.ts';
import { mutate } from './mutate.ts';
import { Rng } from './rng.ts';
import { errorName, OracleError, type FuzzTarget } from './target.ts';

/** How one input went. Failures: crash, oracle, alloc, slow, hang, memory. */
export type OutcomeKind = 'ok' | 'expected' | 'crash' | 'oracle' | 'alloc' | 'slow' | 'hang' | 'memory';
export const FAILURE_KINDS: readonly OutcomeKind[] = ['crash', 'oracle', 'alloc', 'slow', 'hang', 'memory'];

export interface Outcome {
  kind: OutcomeKind;
  /** Wall time. */
  ms: number;
  /** CPU time of the thread (10 ms resolution; the wall time where /proc is missing). */
  cpuMs: number;
  /** Largest single Buffer allocation during the input. */
  largestAlloc: number;
  errorName?: string;
  message?: string;
  stack?: string;
}

export interface Limits {
  /** An input using more CPU than this (confirmed by a second run) is a failure. */
  slowMs: number;
  /** A promise still pending after this much wall time is a hang (synchronous hangs are caught by the watchdog). */
  asyncTimeoutMs: number;
  /** Largest single allocation allowed for an input of n bytes. */
  allocBound(n: number): number;
}

export const DEFAULT_LIMITS: Limits = {
  slowMs: 2_000,
  // Wall time, generous: at nice 19 beside a test suite a worker may get a few % of a core.
  asyncTimeoutMs: 60_000,
  // Parsers may copy their input a few times and read a file in 1 MB pieces; a length field must
  // not make them allocate beyond that.
  allocBound: (n) => 8 * 1024 * 1024 + 16 * n,
};

export const DEFAULT_MAX_INPUT = 256 * 1024;

/** The input of iteration `i` of `target` in the run seeded `seed`: rebuilt alone from those three. */
export function inputFor(target: FuzzTarget, seeds: readonly Buffer[], seed: string, iteration: number): Buffer {
  return mutate({ rng: new Rng(seed, target.name, iteration), seeds, tokens: target.tokens ?? [], maxBytes: target.maxInputBytes ?? DEFAULT_MAX_INPUT });
}

/** The generator a target uses for split points and options on that input. */
export function runRngFor(target: FuzzTarget, seed: string, iteration: number): Rng {
  return new Rng(seed, target.name, iteration, 'run');
}

class AsyncTimeout extends Error {
  constructor(ms: number) {
    super(`the input's promise was still pending after ${ms} ms`);
    this.name = 'AsyncTimeout';
  }
}

async function once(target: FuzzTarget, input: Buffer, rng: Rng, limits: Limits): Promise<Outcome> {
  armAllocGuard(limits.allocBound(input.length));
  const start = performance.now();
  const cpuStart = threadCpuMs();
  let outcome: Omit<Outcome, 'ms' | 'cpuMs' | 'largestAlloc'>;
  try {
    const r = target.run(input, rng);
    if (r instanceof Promise) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([r, new Promise((_, reject) => (timer = setTimeout(() => reject(new AsyncTimeout(limits.asyncTimeoutMs)), limits.asyncTimeoutMs)))]);
      } finally {
        clearTimeout(timer);
      }
    }
    outcome = { kind: 'ok' };
  } catch (err) {
    const kind: OutcomeKind =
      err instanceof AllocationBoundError
        ? 'alloc'
        : err instanceof OracleError
          ? 'oracle'
          : err instanceof AsyncTimeout
            ? 'hang'
            : target.expected(err)
              ? 'expected'
              : 'crash';
    outcome = {
      kind,
      errorName: errorName(err),
      message: err instanceof Error ? err.message : String(err),
      ...(kind !== 'expected' && err instanceof Error && err.stack ? { stack: err.stack } : {}),
    };
  }
  const ms = performance.now() - start;
  const cpuEnd = threadCpuMs();
  const cpuMs = cpuStart !== null && cpuEnd !== null ? cpuEnd - cpuStart : ms;
  const guard = disarmAllocGuard();
  if (guard.tripped && outcome.kind !== 'alloc') {
    // The parser caught the bound error itself: still an allocation the input asked for.
    outcome = {
      kind: 'alloc',
      errorName: guard.tripped.name,
      message: `${guard.tripped.message} (caught by the code under test)`,
      ...(guard.tripped.stack ? { stack: guard.tripped.stack } : {}),
    };
  }
  return { ...outcome, ms, cpuMs, largestAlloc: guard.largest };
}

/** Runs one input and classifies it; a slow input is run again and reported only if slow twice. */
export async function execute(target: FuzzTarget, input: Buffer, rng: () => Rng, limits: Limits = DEFAULT_LIMITS): Promise<Outcome> {
  const first = await once(target, input, rng(), limits);
  if (first.kind !== 'ok' && first.kind !== 'expected') return first;
  if (first.cpuMs <= limits.slowMs) return first;
  const second = await once(target, input, rng(), limits);
  if (second.cpuMs <= limits.slowMs) return second;
  return {
    ...second,
    kind: 'slow',
    message: `used ${Math.round(first.cpuMs)} ms and ${Math.round(second.cpuMs)} ms of CPU (bound ${limits.slowMs} ms) for ${input.length} bytes`,
    errorName: 'Slow',
  };
}

/** The line of a stack that says where: the first frame in the project (modules/, core/) or a dependency. */
export function whereFrom(stack: string | undefined): string {
  if (!stack) return '';
  const lines = stack.split('\n').slice(1);
  const pick = lines.find((l) => /\/(modules|core)\//.test(l) && !l.includes('/test/fuzz/')) ?? lines.find((l) => l.includes('node_modules')) ?? lines[0] ?? '';
  const m = /\(?((?:file:\/\/)?\/[^()]+?):(\d+):\d+\)?\s*$/.exec(pick.trim());
  if (!m) return pick.trim();
  const file = m[1]!.replace(/^file:\/\//, '').replace(/^.*?\/((?:modules|core|test|node_modules)\/)/, '$1');
  return `${file}:${m[2]}`;
}

/** What makes two failures "the same bug": kind, error class, message shape and where it was thrown. */
export function signatureOf(target: string, o: Pick<Outcome, 'kind' | 'errorName' | 'message' | 'stack'>): string {
  const shape = (o.message ?? '')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/0x[0-9a-f]+/gi, 'N')
    .replace(/\d+/g, 'N')
    .slice(0, 120);
  // Where, without the line number: edits elsewhere in the file must not make a known bug new.
  const where = whereFrom(o.stack).replace(/:\d+$/, '');
  return createHash('sha1')
    .update([target, o.kind, o.errorName ?? '', shape, where].join('\u001f'))
    .digest('hex')
    .slice(0, 10);
}
