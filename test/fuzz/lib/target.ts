import type { Rng } from './rng.ts';

/**
 * One in-process fuzz target: a parser (or a small pipeline of them, as the listener runs it)
 * fed mutated inputs. The contract every target checks: the parser returns a value or throws
 * its own typed error; any other exception, an input slower than the bound, an allocation
 * beyond the bound, or an oracle violation (a wrong answer) is a failure.
 */
export interface FuzzTarget {
  name: string;
  /** What the target feeds and which properties it checks (printed by --list, in docs/FUZZING.md). */
  about: string;
  /** Seed corpus: real captures from fixtures/ and a few synthetic messages. Called once per worker. */
  seeds(): Buffer[];
  /** Protocol tokens for the mutator (delimiters, segment ids, control bytes, tags). */
  tokens?: Buffer[];
  /** Largest input generated (default 256 KiB). */
  maxInputBytes?: number;
  /** The errors the code under test is allowed to throw (its own typed errors). */
  expected(err: unknown): boolean;
  /** Feeds one input; the rng decides split points and options. May be async. */
  run(input: Buffer, rng: Rng): unknown;
}

/** A wrong answer found by a target's oracle (split-invariance, round trip, bounds). */
export class OracleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OracleError';
  }
}

export function oracle(condition: boolean, message: string): asserts condition {
  if (!condition) throw new OracleError(message);
}

/** Name of an error class, for the "expected" checks and the summaries. */
export function errorName(err: unknown): string {
  if (err instanceof Error) return err.name || err.constructor.name;
  return typeof err;
}

/** No lone surrogate (String.prototype.isWellFormed, which ES2023 typings lack). */
export function wellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
