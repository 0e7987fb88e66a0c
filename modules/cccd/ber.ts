import { CardParseError } from './errors.ts';

/** One BER-TLV node (ISO 7816-4 / X.690); `raw` is the whole encoding, `value` the contents. */
export interface Tlv {
  tag: number;
  constructed: boolean;
  value: Buffer;
  raw: Buffer;
  /** Offset of the contents within the parsed buffer. */
  valueOffset: number;
}

const MAX_DEPTH = 32;

/** Reads one TLV at `offset`. Definite lengths only (DER/ICAO files never use indefinite). */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  let p = offset;
  if (p >= buf.length) throw new CardParseError('TLV truncated before its tag');
  const first = buf[p++]!;
  let tag = first;
  if ((first & 0x1f) === 0x1f) {
    let n = 0;
    for (;;) {
      if (p >= buf.length) throw new CardParseError('TLV truncated inside its tag');
      const b = buf[p++]!;
      tag = tag * 256 + b;
      if (++n > 3) throw new CardParseError('TLV tag longer than 4 bytes');
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= buf.length) throw new CardParseError('TLV truncated before its length');
  let len = buf[p++]!;
  if (len === 0x80) throw new CardParseError('indefinite BER length is not supported');
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 3) throw new CardParseError('TLV length field too long');
    if (p + n > buf.length) throw new CardParseError('TLV truncated inside its length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  if (p + len > buf.length) throw new CardParseError(`TLV value (${len} bytes) runs past the end of the data`);
  return { tag, constructed: (first & 0x20) !== 0, value: buf.subarray(p, p + len), raw: buf.subarray(offset, p + len), valueOffset: p };
}

/** Reads consecutive TLVs filling `buf` (padding 00/FF bytes between objects are skipped). */
export function parseTlvs(buf: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let p = 0;
  while (p < buf.length) {
    const t = readTlv(buf, p);
    out.push(t);
    p += t.raw.length;
  }
  return out;
}

export function children(t: Tlv): Tlv[] {
  if (!t.constructed) throw new CardParseError(`tag ${t.tag.toString(16)} is not constructed`);
  return parseTlvs(t.value);
}

/** Depth-first walk over every node; bounded depth. */
export function* walk(t: Tlv, depth = 0): Generator<Tlv> {
  if (depth > MAX_DEPTH) throw new CardParseError('BER nesting too deep');
  yield t;
  if (t.constructed) for (const c of children(t)) yield* walk(c, depth + 1);
}

/** Total length of the TLV starting a file, from its header alone (for sizing reads). */
export function tlvTotalLength(header: Buffer): number | null {
  try {
    let p = 0;
    const first = header[p++];
    if (first === undefined) return null;
    if ((first & 0x1f) === 0x1f) {
      while (p < header.length && header[p++]! & 0x80);
    }
    if (p >= header.length) return null;
    let len = header[p++]!;
    if (len > 0x80) {
      const n = len & 0x7f;
      if (n > 3 || p + n > header.length) return null;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + header[p++]!;
    } else if (len === 0x80) return null;
    return p + len;
  } catch {
    return null;
  }
}

export function decodeOid(value: Buffer): string {
  if (value.length === 0) throw new CardParseError('empty OID');
  const parts: number[] = [];
  const first = value[0]!;
  let acc = 0;
  const arcs: number[] = [];
  for (const b of value) {
    acc = acc * 128 + (b & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 256) throw new CardParseError('OID arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0;
    }
  }
  if ((value[value.length - 1]! & 0x80) !== 0) throw new CardParseError('OID truncated');
  const a0 = arcs.shift()!;
  void first;
  if (a0 < 40) parts.push(0, a0);
  else if (a0 < 80) parts.push(1, a0 - 40);
  else parts.push(2, a0 - 80);
  return [...parts, ...arcs].join('.');
}

export function encodeOid(oid: string): Buffer {
  const arcs = oid.split('.').map(Number);
  const out: number[] = [];
  const push = (n: number): void => {
    const bytes = [n & 0x7f];
    n = Math.floor(n / 128);
    while (n > 0) {
      bytes.unshift((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(...bytes);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return Buffer.from(out);
}

/** DER encoder for building test files and tokens. */
export function der(tag: number, ...contents: Buffer[]): Buffer {
  const value = Buffer.concat(contents);
  const len = value.length;
  let l: Buffer;
  if (len < 0x80) l = Buffer.from([len]);
  else if (len < 0x100) l = Buffer.from([0x81, len]);
  else if (len < 0x10000) l = Buffer.from([0x82, len >> 8, len & 0xff]);
  else l = Buffer.from([0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]);
  const t = tag > 0xffff ? Buffer.from([tag >> 16, (tag >> 8) & 0xff, tag & 0xff]) : tag > 0xff ? Buffer.from([tag >> 8, tag & 0xff]) : Buffer.from([tag]);
  return Buffer.concat([t, l, value]);
}

export function derInt(n: number): Buffer {
  if (n < 0x80) return der(0x02, Buffer.from([n]));
  const hex = n.toString(16);
  let b = Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return der(0x02, b);
}

export function readInt(t: Tlv): number {
  if (t.tag !== 0x02 || t.value.length === 0 || t.value.length > 6) throw new CardParseError('expected a small INTEGER');
  let n = 0;
  for (const b of t.value) n = n * 256 + b;
  return n;
}
