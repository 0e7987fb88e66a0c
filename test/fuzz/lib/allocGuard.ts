/**
 * Catches "a length field makes the parser allocate gigabytes": Buffer's allocation functions
 * are wrapped in the fuzz worker, and any single allocation above the current bound throws
 * AllocationBoundError before memory is taken (and is remembered, in case the parser swallows
 * the error). Strings and arrays are bounded by the worker's V8 heap limit instead.
 */
export class AllocationBoundError extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number,
    readonly fn: string,
  ) {
    super(`Buffer.${fn}(${bytes}) exceeds the allocation bound of ${limit} bytes`);
    this.name = 'AllocationBoundError';
  }
}

let limit = Number.POSITIVE_INFINITY;
let tripped: AllocationBoundError | null = null;
let largest = 0;
let installed = false;

function check(bytes: unknown, fn: string): void {
  if (typeof bytes !== 'number') return;
  if (bytes > largest) largest = bytes;
  if (bytes > limit) {
    const err = new AllocationBoundError(bytes, limit, fn);
    tripped ??= err;
    throw err;
  }
}

export function installAllocGuard(): void {
  if (installed) return;
  installed = true;
  const B = Buffer as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const fn of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const original = B[fn]!.bind(Buffer);
    B[fn] = (...args: unknown[]) => {
      check(args[0], fn);
      return original(...args);
    };
  }
  const concat = B.concat!.bind(Buffer);
  B.concat = (...args: unknown[]) => {
    const list = args[0] as Uint8Array[];
    const total = typeof args[1] === 'number' ? args[1] : Array.isArray(list) ? list.reduce((n, x) => n + (x?.length ?? 0), 0) : 0;
    check(total, 'concat');
    return concat(...args);
  };
}

/** Arms the guard for one input. */
export function armAllocGuard(bound: number): void {
  limit = bound;
  tripped = null;
  largest = 0;
}

/** Disarms it; returns the bound violation seen (even if the parser caught it) and the largest allocation. */
export function disarmAllocGuard(): { tripped: AllocationBoundError | null; largest: number } {
  limit = Number.POSITIVE_INFINITY;
  const out = { tripped, largest };
  tripped = null;
  return out;
}
