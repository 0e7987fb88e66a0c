import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { knownFailure, type KnownFailure } from '../known.ts';
import { signatureOf, whereFrom, type Outcome } from './execute.ts';

export interface RecordedFailure {
  target: string;
  signature: string;
  kind: Outcome['kind'];
  errorName: string;
  message: string;
  where: string;
  stack: string;
  seed: string;
  iteration: number;
  inputBytes: number;
  occurrences: number;
  known?: KnownFailure;
  artifact: string;
  reproduce: string;
}

/**
 * Unique failures of a run, each written once to test-artifacts/fuzz/failures/: the input as
 * .bin and a .json with the seed, iteration, message, stack and the command that replays it.
 */
export class FailureLog {
  readonly failures = new Map<string, RecordedFailure>();

  constructor(private readonly dir: string) {}

  add(target: string, seed: string, iteration: number, outcome: Outcome, input: Buffer, reproduce: string): RecordedFailure {
    const signature = signatureOf(target, outcome);
    const seen = this.failures.get(signature);
    if (seen) {
      seen.occurrences++;
      return seen;
    }
    const base = join(this.dir, target, `${outcome.kind}-${signature}`);
    mkdirSync(join(this.dir, target), { recursive: true });
    const known = knownFailure(target, outcome);
    const f: RecordedFailure = {
      target,
      signature,
      kind: outcome.kind,
      errorName: outcome.errorName ?? '',
      message: outcome.message ?? '',
      where: whereFrom(outcome.stack),
      stack: outcome.stack ?? '',
      seed,
      iteration,
      inputBytes: input.length,
      occurrences: 1,
      ...(known ? { known } : {}),
      artifact: `${base}.bin`,
      reproduce,
    };
    writeFileSync(`${base}.bin`, input);
    writeFileSync(`${base}.json`, JSON.stringify({ ...f, known: known?.bug, inputHex: input.subarray(0, 4096).toString('hex') }, null, 2) + '\n');
    this.failures.set(signature, f);
    return f;
  }

  get unknown(): RecordedFailure[] {
    return [...this.failures.values()].filter((f) => !f.known);
  }

  forTarget(target: string): RecordedFailure[] {
    return [...this.failures.values()].filter((f) => f.target === target);
  }
}
