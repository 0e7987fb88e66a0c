import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { decodeText, encodeText, EncodingError, stripDiacritics, type LabTextEncoding } from '../../../modules/lab/encoding.ts';

// Every Vietnamese vowel with every tone (none, huyền, sắc, hỏi, ngã, nặng), both cases, plus đ/Đ.
const VOWELS = ['a', 'ă', 'â', 'e', 'ê', 'i', 'o', 'ô', 'ơ', 'u', 'ư', 'y'];
const TONES = ['', '\u0300', '\u0301', '\u0309', '\u0303', '\u0323'];
const lower = VOWELS.flatMap((v) => TONES.map((t) => (v + t).normalize('NFC')));
const ALL_LOWER = lower.join('') + 'đ';
const ALL_UPPER = ALL_LOWER.toUpperCase();
const NAMES = ['Nguyễn Văn Đức', 'Trần Thị Hương', 'Lê Ngọc Ánh', 'Phạm Quỳnh Như', 'Võ Thị Tuyết Nhung', ALL_LOWER, ALL_UPPER];

describe('decodeText: every Vietnamese vowel and tone in each encoding', () => {
  const encodings: LabTextEncoding[] = ['utf-8', 'windows-1258', 'tcvn3', 'viscii'];
  for (const enc of encodings) {
    it(`${enc} round-trips names to NFC`, () => {
      for (const name of NAMES) {
        const bytes = enc === 'tcvn3' ? iconv.encode(name, 'tcvn') : enc === 'viscii' ? iconv.encode(name, 'viscii') : encodeText(name, enc);
        const text = decodeText(bytes, enc);
        expect(text).toBe(name.normalize('NFC'));
        expect(text).toBe(text.normalize('NFC'));
      }
    });
  }

  it('windows-1258 bytes carry combining tone marks that NFC recombines', () => {
    const bytes = encodeText('Nguyễn', 'windows-1258');
    // N g u y ê + combining tilde (0xDE) + n
    expect([...bytes]).toEqual([0x4e, 0x67, 0x75, 0x79, 0xea, 0xde, 0x6e]);
    expect(iconv.decode(bytes, 'windows1258').length).toBe(7);
    expect(decodeText(bytes, 'windows-1258')).toBe('Nguyễn');
    expect(decodeText(bytes, 'windows-1258').length).toBe(6);
  });

  it('latin1 decodes Western names', () => {
    expect(decodeText(Buffer.from([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72]), 'latin1')).toBe('Müller');
  });
});

describe('ASTM wire guard', () => {
  it('TCVN3 and VISCII really collide with control bytes', () => {
    expect([...iconv.encode('ỤỪỬỮỸỴ', 'tcvn')]).toEqual([0x02, 0x04, 0x05, 0x06, 0x15, 0x17]);
  });
  for (const enc of ['tcvn3', 'viscii'] as const) {
    it(`refuses to encode ${enc} for an ASTM wire`, () => {
      expect(() => encodeText('Nguyễn', enc, { forAstmWire: true })).toThrow(EncodingError);
      try {
        encodeText('x', enc, { forAstmWire: true });
      } catch (err) {
        expect((err as EncodingError).code).toBe('LAB_ENCODING_UNSAFE_ON_WIRE');
      }
    });
  }
  it('accepts utf-8 and windows-1258 for an ASTM wire, with no control byte produced', () => {
    for (const enc of ['utf-8', 'windows-1258'] as const) {
      const bytes = encodeText(ALL_UPPER + ALL_LOWER, enc, { forAstmWire: true });
      expect([...bytes].some((b) => b < 0x20)).toBe(false);
    }
  });
});

describe('stripDiacritics', () => {
  it('as an encoding option makes any encoding safe on an ASTM wire', () => {
    expect(() => encodeText('Đỗ Thị Ánh', 'tcvn3', { forAstmWire: true })).toThrow(EncodingError);
    expect(encodeText('Đỗ Thị Ánh', 'tcvn3', { forAstmWire: true, stripDiacritics: true }).toString('latin1')).toBe('Do Thi Anh');
  });

  it('maps every vowel to its base letter and đ/Đ explicitly', () => {
    expect(stripDiacritics('Nguyễn Văn Đức')).toBe('Nguyen Van Duc');
    expect(stripDiacritics('đường Đống Đa')).toBe('duong Dong Da');
    const stripped = stripDiacritics(ALL_LOWER + ALL_UPPER);
    expect(stripped).toMatch(/^[A-Za-z]+$/);
    expect(stripped.slice(0, 6)).toBe('aaaaaa');
  });
});
