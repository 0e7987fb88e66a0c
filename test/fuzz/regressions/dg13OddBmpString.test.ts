// Found by the cccd.dg13 fuzz target (docs/FUZZING.md) and fixed: a DG13 field holding a
// BMPString (tag 1E) of odd length made parseDg13 (modules/cccd/dg13.ts) throw the RangeError of
// Buffer.swap16 ("Buffer size must be a multiple of 16-bits"), which the reader driver reports
// as CARD_PROTOCOL ("the card answered in an unexpected way") instead of CARD_PARSE. DG13 is
// parsed before its hash is checked against EF.SOD, so any card (or card emulator) can send it.
import { describe, expect, it } from 'vitest';
import { der, derInt, encodeOid } from '../../../modules/cccd/ber.ts';
import { parseDg13 } from '../../../modules/cccd/dg13.ts';
import { CardParseError } from '../../../modules/cccd/errors.ts';

function dg13(field2: Buffer): Buffer {
  const f1 = der(0x30, derInt(1), der(0x13, Buffer.from('001099012345')));
  const f2 = der(0x30, derInt(2), field2);
  return der(0x6d, der(0x30, derInt(1), der(0x06, encodeOid('1.0.10646.1.0.8')), der(0x31, f1, f2)));
}

describe('fuzz regression: DG13 BMPString of odd length', () => {
  it('is a CardParseError, not a RangeError', () => {
    expect(() => parseDg13(dg13(der(0x1e, Buffer.from([0x00, 0x4e, 0x00]))))).toThrow(CardParseError);
  });

  it('an even-length BMPString still reads', () => {
    expect(parseDg13(dg13(der(0x1e, Buffer.from([0x00, 0x4e, 0x00, 0x61, 0x00, 0x6d])))).fullName).toBe('Nam');
  });
});
