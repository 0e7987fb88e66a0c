import type { Outcome, OutcomeKind } from './lib/execute.ts';

/**
 * Failures the fuzzer found that are reported to the lead and not fixed yet. Each has a
 * skipped regression test under test/fuzz/regressions/ that reproduces it; a known failure is
 * still printed in the summary but does not fail the run. When the bug is fixed: un-skip the
 * regression test and remove the entry here (a fixed bug must stay fixed: the fuzz run then
 * fails again if it comes back).
 */
export interface KnownFailure {
  target: string;
  kind: OutcomeKind;
  /** Matched against the failure's message. */
  message: RegExp;
  bug: string;
  regression: string;
}

export const KNOWN_FAILURES: readonly KnownFailure[] = [];

export function knownFailure(target: string, o: Pick<Outcome, 'kind' | 'message'>): KnownFailure | undefined {
  return KNOWN_FAILURES.find((k) => k.target === target && k.kind === o.kind && k.message.test(o.message ?? ''));
}
