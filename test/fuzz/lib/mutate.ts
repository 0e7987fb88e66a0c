import type { Rng } from './rng.ts';

/**
 * Havoc-style mutation of seed inputs (as AFL and libFuzzer do, without coverage feedback):
 * a stack of 1–16 operators, each chosen at random, over a seed picked from the corpus. The
 * operators aim at what breaks parsers: length fields set to huge or off-by-one values,
 * delimiters removed, doubled or swapped, truncation, splices of two messages, invalid UTF-8
 * and legacy-encoding bytes, and runs long enough to expose quadratic work.
 */

export interface MutationInput {
  rng: Rng;
  seeds: readonly Buffer[];
  /** Protocol tokens (delimiters, segment ids, control bytes, tags) to insert or overwrite with. */
  tokens?: readonly Buffer[];
  /** Inputs are cut to this size. */
  maxBytes: number;
}

/** Byte sequences that are invalid or surprising as text in some encoding. */
const ENCODING_GAMES: readonly Buffer[] = [
  Buffer.from([0xc3]), // a lone UTF-8 lead byte
  Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate encoded in UTF-8
  Buffer.from([0xc0, 0x80]), // overlong NUL
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  Buffer.from([0xef, 0xbb, 0xbf]), // BOM
  Buffer.from([0xff, 0xfe]), // UTF-16 BOM
  Buffer.from([0x00]),
  Buffer.from('e\u0301\u0323', 'utf8'), // combining marks (Windows-1258 style)
  Buffer.from('Nguyễn Thị Ánh', 'utf8'),
  Buffer.from([0xd5, 0xa9, 0x02, 0x06]), // TCVN3/VISCII letters on control bytes
  Buffer.from('\u202e\u2028\ufffd', 'utf8'),
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, meant literally
  Buffer.from('%s%n{{${}}}\\x00', 'latin1'),
  Buffer.from('"},{"__proto__":{"x":1},"constructor":{"prototype":{}}', 'latin1'),
];

/** 1-, 2- and 4-byte values that sit on boundaries. */
const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

type Op = (b: Buffer, m: MutationInput) => Buffer;

const at = (rng: Rng, b: Buffer): number => (b.length === 0 ? 0 : rng.int(b.length + 1));

const ops: Array<[weight: number, op: Op]> = [
  // bit flip
  [
    6,
    (b, { rng }) => {
      if (b.length === 0) return b;
      const out = Buffer.from(b);
      const i = rng.int(out.length);
      out[i]! ^= 1 << rng.int(8);
      return out;
    },
  ],
  // byte set to a random or interesting value
  [
    5,
    (b, { rng }) => {
      if (b.length === 0) return b;
      const out = Buffer.from(b);
      out[rng.int(out.length)] = rng.chance(0.5) ? rng.next() & 0xff : rng.pick(INTERESTING) & 0xff;
      return out;
    },
  ],
  // small arithmetic on a byte
  [
    3,
    (b, { rng }) => {
      if (b.length === 0) return b;
      const out = Buffer.from(b);
      const i = rng.int(out.length);
      out[i] = (out[i]! + rng.range(-16, 16)) & 0xff;
      return out;
    },
  ],
  // insert random bytes
  [
    4,
    (b, { rng }) => {
      const i = at(rng, b);
      return Buffer.concat([b.subarray(0, i), rng.bytes(rng.range(1, 16)), b.subarray(i)]);
    },
  ],
  // delete a range (sometimes a large one)
  [
    5,
    (b, { rng }) => {
      if (b.length === 0) return b;
      const i = rng.int(b.length);
      const n = rng.chance(0.2) ? rng.range(1, b.length - i) : rng.range(1, Math.min(64, b.length - i));
      return Buffer.concat([b.subarray(0, i), b.subarray(i + n)]);
    },
  ],
  // duplicate a range somewhere (repeated fields, segments, PDUs)
  [
    4,
    (b, { rng }) => {
      if (b.length === 0) return b;
      const i = rng.int(b.length);
      const n = rng.range(1, Math.min(256, b.length - i));
      const piece = b.subarray(i, i + n);
      const times = rng.chance(0.1) ? rng.range(2, 64) : 1;
      const j = at(rng, b);
      return Buffer.concat([b.subarray(0, j), ...Array.from({ length: times }, () => piece), b.subarray(j)]);
    },
  ],
  // splice with another seed
  [
    4,
    (b, { rng, seeds }) => {
      const other = rng.pick(seeds);
      const i = at(rng, b);
      const j = other.length ? rng.int(other.length) : 0;
      return Buffer.concat([b.subarray(0, i), other.subarray(j)]);
    },
  ],
  // truncate
  [3, (b, { rng }) => b.subarray(0, at(rng, b))],
  // length field edit: a 2- or 4-byte value, either byte order, set to a boundary value
  [
    6,
    (b, { rng }) => {
      const size = rng.chance(0.5) ? 2 : 4;
      if (b.length < size) return b;
      const out = Buffer.from(b);
      const i = rng.int(out.length - size + 1);
      let v = rng.chance(0.7) ? rng.pick(INTERESTING) : rng.next();
      if (rng.chance(0.2)) v = (size === 2 ? out.readUInt16BE(i) : out.readUInt32BE(i)) + rng.range(-2, 2);
      v = size === 2 ? v & 0xffff : v >>> 0;
      const le = rng.chance(0.5);
      if (size === 2) {
        if (le) out.writeUInt16LE(v, i);
        else out.writeUInt16BE(v, i);
      } else if (le) out.writeUInt32LE(v, i);
      else out.writeUInt32BE(v, i);
      return out;
    },
  ],
  // insert or overwrite with a protocol token
  [
    7,
    (b, { rng, tokens }) => {
      if (!tokens?.length) return b;
      const t = rng.pick(tokens);
      const i = at(rng, b);
      if (rng.chance(0.5)) return Buffer.concat([b.subarray(0, i), t, b.subarray(i)]);
      const out = Buffer.from(b);
      t.copy(out, Math.min(i, Math.max(0, out.length - t.length)));
      return out;
    },
  ],
  // delimiter games: every occurrence of one byte present becomes another token or vanishes
  [
    3,
    (b, { rng, tokens }) => {
      if (b.length === 0) return b;
      const from = b[rng.int(b.length)]!;
      const to = rng.chance(0.3) ? Buffer.alloc(0) : tokens?.length && rng.chance(0.7) ? rng.pick(tokens) : Buffer.from([rng.next() & 0xff]);
      const parts: Buffer[] = [];
      let start = 0;
      for (let i = 0; i < b.length; i++) {
        if (b[i] === from) {
          parts.push(b.subarray(start, i), to);
          start = i + 1;
        }
      }
      parts.push(b.subarray(start));
      return Buffer.concat(parts);
    },
  ],
  // encoding games
  [
    4,
    (b, { rng }) => {
      const t = rng.pick(ENCODING_GAMES);
      const i = at(rng, b);
      return Buffer.concat([b.subarray(0, i), t, b.subarray(i)]);
    },
  ],
  // swap two ranges
  [
    2,
    (b, { rng }) => {
      if (b.length < 4) return b;
      const i = rng.int(b.length / 2);
      const j = rng.range(Math.floor(b.length / 2), b.length - 1);
      const n = rng.range(1, Math.min(32, j - i, b.length - j));
      const out = Buffer.from(b);
      b.subarray(j, j + n).copy(out, i);
      b.subarray(i, i + n).copy(out, j);
      return out;
    },
  ],
  // a long run: thousands of one token or byte (quadratic work, deep nesting, huge counts)
  [
    1,
    (b, { rng, tokens, maxBytes }) => {
      const unit = tokens?.length && rng.chance(0.7) ? rng.pick(tokens) : Buffer.from([rng.next() & 0xff]);
      const room = Math.max(1, Math.floor((maxBytes - b.length) / Math.max(1, unit.length)));
      const times = Math.min(room, rng.range(100, 20_000));
      const i = at(rng, b);
      return Buffer.concat([b.subarray(0, i), Buffer.concat(Array.from({ length: times }, () => unit)), b.subarray(i)]);
    },
  ],
];

const TOTAL = ops.reduce((n, [w]) => n + w, 0);

function pickOp(rng: Rng): Op {
  let r = rng.int(TOTAL);
  for (const [w, op] of ops) {
    if (r < w) return op;
    r -= w;
  }
  return ops[0]![1];
}

/** One mutated input. About one input in sixteen is a seed unchanged (the contract holds for valid input too). */
export function mutate(m: MutationInput): Buffer {
  const { rng } = m;
  let b: Buffer = Buffer.from(rng.pick(m.seeds));
  if (rng.int(16) === 0) return b.subarray(0, m.maxBytes);
  const stack = 1 << rng.int(5);
  for (let i = 0; i < stack; i++) {
    b = pickOp(rng)(b, m);
    if (b.length > m.maxBytes) b = b.subarray(0, m.maxBytes);
  }
  return b;
}
