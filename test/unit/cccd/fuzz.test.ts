import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CardError, CardParseError } from '../../../modules/cccd/errors.ts';
import { parseTlvs } from '../../../modules/cccd/ber.ts';
import { parseDg1 } from '../../../modules/cccd/dg1.ts';
import { parseDg13 } from '../../../modules/cccd/dg13.ts';
import { parseDg2 } from '../../../modules/cccd/dg2.ts';
import { parseEfCom } from '../../../modules/cccd/efCom.ts';
import { parseSod } from '../../../modules/cccd/sod.ts';
import { parseCardAccess } from '../../../modules/cccd/cardAccess.ts';
import { parseCccdQr } from '../../../modules/cccd/qr.ts';
import { decodeCommand } from '../../../modules/cccd/apdu.ts';
import { SecureMessaging, tdesCipher, aesCipher } from '../../../modules/cccd/crypto/secureMessaging.ts';
import { fixtureHex, fixtureText } from './fixtures.ts';

/** Either a result or the typed parse error; anything else fails the property. */
function typedOnly(fn: () => unknown, errorType: typeof CardError = CardParseError): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof errorType) return true;
    throw err;
  }
}

const mutate = (seed: Buffer) =>
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }).chain((edits) =>
    fc.nat({ max: seed.length }).map((cut) => {
      const b = Buffer.from(seed);
      for (const [i, v] of edits) b[i % b.length] = v;
      return edits.length % 2 === 0 ? b : b.subarray(0, cut);
    }),
  );

const binaryParsers: Array<[string, (b: Buffer) => unknown, Buffer]> = [
  ['BER', parseTlvs, fixtureHex('synthetic_cccd_dg13.hex')],
  ['DG1', parseDg1, fixtureHex('synthetic_cccd_dg1.hex')],
  ['DG13', parseDg13, fixtureHex('synthetic_cccd_dg13_with_spouse.hex')],
  ['DG2', parseDg2, Buffer.from('751A7F61170201017F60110A10580102035F2E06FFD8FFE00000', 'hex')],
  ['EF.COM', parseEfCom, fixtureHex('synthetic_cccd_ef_com.hex')],
  ['EF.CardAccess', parseCardAccess, fixtureHex('cccd_ef_cardaccess.hex')],
  ['EF.SOD', parseSod, fixtureHex('synthetic_cccd_sod.hex')],
  ['APDU', decodeCommand, Buffer.from('00B0000000FFFF', 'hex')],
];

describe('parsers survive random and mutated input', () => {
  for (const [name, parse, seed] of binaryParsers) {
    it(`${name}: random bytes`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), (a) => typedOnly(() => parse(Buffer.from(a)))),
        { numRuns: 400 },
      );
    });
    it(`${name}: mutated valid file`, () => {
      fc.assert(
        fc.property(mutate(seed), (b) => typedOnly(() => parse(b))),
        { numRuns: 400 },
      );
    });
  }

  it('QR text: random strings and mutated samples', () => {
    const sample = fixtureText('qr_synthetic.txt').split('\n')[1]!;
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (s) => typedOnly(() => parseCccdQr(s))),
      { numRuns: 500 },
    );
    const fieldArb = fc.oneof(fc.string({ maxLength: 30, unit: 'binary' }), fc.constantFrom('', '001099012345', '29021988', 'Nữ', 'Nam'));
    fc.assert(
      fc.property(fc.array(fieldArb, { maxLength: 10 }), (fields) => typedOnly(() => parseCccdQr(fields.join('|')))),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.nat({ max: sample.length }), fc.string({ maxLength: 5, unit: 'binary' }), (i, ins) =>
        typedOnly(() => parseCccdQr(sample.slice(0, i) + ins + sample.slice(i))),
      ),
      { numRuns: 500 },
    );
  });

  it('secure messaging refuses random responses with a typed error', () => {
    for (const cipher of [tdesCipher(Buffer.alloc(16, 1), Buffer.alloc(16, 2)), aesCipher(Buffer.alloc(16, 1), Buffer.alloc(16, 2))]) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
          const sm = new SecureMessaging(cipher, Buffer.alloc(cipher.blockSize));
          return typedOnly(() => sm.unprotectResponse(Buffer.from(a)), CardError);
        }),
        { numRuns: 300 },
      );
    }
  });

  it('deep nesting is a parse error, not a stack overflow', () => {
    let nested = Buffer.alloc(0);
    for (let i = 0; i < 5000; i++) nested = Buffer.concat([Buffer.from([0x30, 0x82, nested.length >> 8, nested.length & 0xff]), nested]);
    const dg13 = Buffer.concat([Buffer.from([0x6d, 0x83, nested.length >> 16, (nested.length >> 8) & 0xff, nested.length & 0xff]), nested]);
    expect(() => parseDg13(dg13)).toThrow(CardParseError);
    const dg2 = Buffer.concat([Buffer.from([0x75, 0x83, nested.length >> 16, (nested.length >> 8) & 0xff, nested.length & 0xff]), nested]);
    expect(() => parseDg2(dg2)).toThrow(CardParseError);
  });

  it('a 1 MB length claim does not allocate or hang', () => {
    expect(() => parseTlvs(Buffer.from('6D83100000', 'hex'))).toThrow(CardParseError);
  });
});
