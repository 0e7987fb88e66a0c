import { decodeOid, parseTlvs, readInt, readTlv, tlvTotalLength, walk } from '../../../modules/cccd/ber.ts';
import { parseCardAccess } from '../../../modules/cccd/cardAccess.ts';
import { parseDg1 } from '../../../modules/cccd/dg1.ts';
import { parseDg13 } from '../../../modules/cccd/dg13.ts';
import { parseEfCom } from '../../../modules/cccd/efCom.ts';
import { CardParseError } from '../../../modules/cccd/errors.ts';
import { parseCccdQr } from '../../../modules/cccd/qr.ts';
import { parseSod } from '../../../modules/cccd/sod.ts';
import type { Rng } from '../lib/rng.ts';
import { oracle, type FuzzTarget } from '../lib/target.ts';
import { BER_TOKENS, cccdHex, cccdQrTexts } from '../seeds.ts';

const cardError = (err: unknown): boolean => err instanceof CardParseError;

export const qrTarget: FuzzTarget = {
  name: 'cccd.qr',
  about:
    'parseCccdQr (modules/cccd/qr.ts) on mutated QR text (as UTF-8 or as a Latin-1 keyboard wedge would type it). Allowed: CardParseError. Oracle: an accepted code has a 12-digit number and a real calendar date of birth.',
  seeds: () => cccdQrTexts().map((t) => Buffer.from(t, 'utf8')),
  tokens: ['|', '||', '01011999', '29022000', 'Nam', 'Nữ', 'Ã', '\ufeff', '\r\n', '0'.repeat(12)].map((t) => Buffer.from(t, 'utf8')),
  maxInputBytes: 8192,
  expected: cardError,
  run(input: Buffer, rng: Rng) {
    const qr = parseCccdQr(input.toString(rng.chance(0.8) ? 'utf8' : 'latin1'));
    oracle(/^\d{12}$/.test(qr.idNumber), `accepted id "${qr.idNumber}"`);
    const [y, m, d] = qr.dateOfBirth.split('-').map(Number) as [number, number, number];
    const date = new Date(Date.UTC(y, m - 1, d));
    oracle(date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d, `accepted date of birth ${qr.dateOfBirth}`);
  },
};

export const berTarget: FuzzTarget = {
  name: 'cccd.ber',
  about:
    'The BER-TLV reader (modules/cccd/ber.ts): parseTlvs, walk over every node, decodeOid and readInt on every OID and INTEGER. Allowed: CardParseError. Oracle: tlvTotalLength (used to size card reads) agrees with readTlv on every TLV that reads.',
  seeds: () =>
    [
      'synthetic_cccd_dg1.hex',
      'synthetic_cccd_dg13.hex',
      'synthetic_cccd_dg13_with_spouse.hex',
      'synthetic_cccd_dg13_one_parent_sequence.hex',
      'synthetic_cccd_ef_com.hex',
      'synthetic_cccd_sod.hex',
      'cccd_ef_cardaccess.hex',
    ].map(cccdHex),
  tokens: BER_TOKENS,
  maxInputBytes: 64 * 1024,
  expected: cardError,
  run(input: Buffer) {
    const first = readTlv(input);
    oracle(tlvTotalLength(input) === first.raw.length, `tlvTotalLength says ${tlvTotalLength(input)}, readTlv read ${first.raw.length}`);
    for (const top of parseTlvs(input)) {
      for (const node of walk(top)) {
        if (node.tag === 0x06) decodeOid(node.value);
        else if (node.tag === 0x02 && node.value.length <= 6 && node.value.length > 0) readInt(node);
      }
    }
  },
};

function fileTarget(name: string, files: string[], parse: (b: Buffer) => unknown, about: string): FuzzTarget {
  return {
    name,
    about: `${about} Allowed: CardParseError.`,
    seeds: () => files.map(cccdHex),
    tokens: BER_TOKENS,
    maxInputBytes: 64 * 1024,
    expected: cardError,
    run: (input) => parse(input),
  };
}

export const dg1Target = fileTarget('cccd.dg1', ['synthetic_cccd_dg1.hex'], parseDg1, 'parseDg1 (modules/cccd/dg1.ts): DG1 and its TD1 MRZ.');
export const dg13Target = fileTarget(
  'cccd.dg13',
  ['synthetic_cccd_dg13.hex', 'synthetic_cccd_dg13_with_spouse.hex', 'synthetic_cccd_dg13_one_parent_sequence.hex'],
  parseDg13,
  "parseDg13 (modules/cccd/dg13.ts): Vietnam's DG13 citizen data (UTF-8 and BMPString leaves).",
);
export const efComTarget = fileTarget('cccd.efcom', ['synthetic_cccd_ef_com.hex'], parseEfCom, 'parseEfCom (modules/cccd/efCom.ts).');
export const sodTarget = fileTarget(
  'cccd.sod',
  ['synthetic_cccd_sod.hex'],
  parseSod,
  'parseSod (modules/cccd/sod.ts): EF.SOD, CMS SignedData with the data group hashes.',
);
export const cardAccessTarget = fileTarget(
  'cccd.cardaccess',
  ['cccd_ef_cardaccess.hex'],
  parseCardAccess,
  'parseCardAccess (modules/cccd/cardAccess.ts): the PACE SecurityInfos.',
);
