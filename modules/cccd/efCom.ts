import { readTlv, children } from './ber.ts';
import { CardParseError } from './errors.ts';

/** Tag → data group number (ICAO 9303-10 Table 34). */
const DG_TAGS: Record<number, number> = {
  0x61: 1,
  0x75: 2,
  0x63: 3,
  0x76: 4,
  0x65: 5,
  0x66: 6,
  0x67: 7,
  0x68: 8,
  0x69: 9,
  0x6a: 10,
  0x6b: 11,
  0x6c: 12,
  0x6d: 13,
  0x6e: 14,
  0x6f: 15,
  0x70: 16,
};

export interface EfCom {
  ldsVersion: string;
  unicodeVersion: string;
  dataGroups: number[];
}

/** EF.COM: 60 { 5F01 LDS version, 5F36 Unicode version, 5C tag list }. */
export function parseEfCom(file: Buffer): EfCom {
  const top = readTlv(file);
  if (top.tag !== 0x60) throw new CardParseError('EF.COM does not start with tag 60');
  const parts = children(top);
  const list = parts.find((t) => t.tag === 0x5c);
  if (!list) throw new CardParseError('EF.COM has no tag list (5C)');
  return {
    ldsVersion: parts.find((t) => t.tag === 0x5f01)?.value.toString('latin1') ?? '',
    unicodeVersion: parts.find((t) => t.tag === 0x5f36)?.value.toString('latin1') ?? '',
    dataGroups: [...list.value].map((b) => DG_TAGS[b]).filter((n): n is number => n !== undefined),
  };
}
