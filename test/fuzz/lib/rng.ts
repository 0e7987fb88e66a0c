/**
 * A small deterministic PRNG (sfc32) seeded from text. Every fuzz input is generated from its
 * own generator, seeded by (run seed, target, iteration): one input can be rebuilt alone from
 * those three values, whatever ran before it.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...parts: Array<string | number>) {
    const text = parts.join('\u001f');
    // Four 32-bit FNV-1a hashes with different offsets make the state.
    const h = (offset: number): number => {
      let x = (2166136261 ^ offset) >>> 0;
      for (let i = 0; i < text.length; i++) {
        x ^= text.charCodeAt(i);
        x = Math.imul(x, 16777619) >>> 0;
      }
      return x;
    };
    this.a = h(1);
    this.b = h(2);
    this.c = h(3);
    this.d = h(4) | 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    if (n <= 1) return 0;
    return Math.floor((this.next() / 4294967296) * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** Small numbers more often than large ones: [0, max], log-uniform-ish. */
  skewed(max: number): number {
    if (max <= 0) return 0;
    const bits = this.int(Math.ceil(Math.log2(max + 1)) + 1);
    return Math.min(max, this.int(2 ** bits));
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** Cut points splitting `length` bytes into chunks (for "the socket delivers it in pieces"). */
  splits(length: number, maxPieces = 8): number[] {
    const pieces = this.range(1, Math.max(1, Math.min(maxPieces, length)));
    const cuts = new Set<number>();
    for (let i = 1; i < pieces; i++) cuts.add(this.range(1, Math.max(1, length - 1)));
    return [...cuts].filter((c) => c > 0 && c < length).sort((x, y) => x - y);
  }
}

/** `buf` cut at `cuts` (offsets from Rng.splits). */
export function chunksAt(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of cuts) {
    out.push(buf.subarray(at, c));
    at = c;
  }
  out.push(buf.subarray(at));
  return out;
}
