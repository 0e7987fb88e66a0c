import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readDataset, findElement } from '../../../modules/dicom/data/codec.ts';
import { parsePart10Header } from '../../../modules/dicom/data/part10.ts';
import { characterSetOf, decodeText, encodeText, parseCharacterSet, textOf, utf8Element } from '../../../modules/dicom/data/charset.ts';
import { EXPLICIT_LE } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { dicomFixture, syntheticDataset, VN_PATIENT, VN_PROCEDURE } from './dataFixtures.ts';

function patientName(file: string): string | undefined {
  const b = dicomFixture(`charset/${file}`);
  const els = readDataset(b.subarray(parsePart10Header(b).datasetOffset), EXPLICIT_LE);
  return textOf(els, 0x00100010, characterSetOf(els));
}

describe('Specific Character Set decoding (DCMTK/dclunie samples)', () => {
  it.each([
    ['chrFren.dcm', 'Buc^Jérôme'],
    ['chrGerm.dcm', 'Äneas^Rüdiger'],
    ['chrGreek.dcm', 'Διονυσιος'],
    ['chrRuss.dcm', 'Люкceмбypг'],
    ['chrArab.dcm', 'قباني^لنزار'],
    ['chrHbrw.dcm', 'שרון^דבורה'],
    ['chrX1.dcm', 'Wang^XiaoDong=王^小東='],
    ['chrX2.dcm', 'Wang^XiaoDong=王^小东='],
    ['chrH31.dcm', 'Yamada^Tarou=山田^太郎=やまだ^たろう'],
    ['chrH32.dcm', 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう'],
    ['chrI2.dcm', 'Hong^Gildong=洪^吉洞=홍^길동'],
  ])('%s', (file, expected) => {
    expect(patientName(file)).toBe(expected);
  });

  it('a sequence item with its own (0008,0005) overrides the dataset; without one it inherits', () => {
    for (const file of ['chrSQEncoding.dcm', 'chrSQEncoding1.dcm']) {
      const b = dicomFixture(`charset/${file}`);
      const els = readDataset(b.subarray(parsePart10Header(b).datasetOffset), EXPLICIT_LE);
      const top = characterSetOf(els);
      const item = els.find((e) => e.items)!.items![0]!;
      const cs = characterSetOf(item, top);
      expect(textOf(item, 0x00100010, cs), file).toBe('ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう');
    }
  });
});

describe('Vietnamese text', () => {
  it('UTF-8 names and descriptions in sequences stay intact, NFC (the dcmjs issue 508 case)', () => {
    const els = readDataset(syntheticDataset({ sopInstanceUid: '1.2.3' }), EXPLICIT_LE);
    const cs = characterSetOf(els);
    expect(textOf(els, 0x00100010, cs)).toBe(VN_PATIENT);
    const item = findElement(els, 0x00081032)!.items![0]!;
    expect(textOf(item, 0x00080104, characterSetOf(item, cs))).toBe(VN_PROCEDURE);
  });

  it('decomposed (NFD) input comes out NFC', () => {
    const nfd = 'Nguyễn'.normalize('NFD');
    expect(decodeText(Buffer.from(nfd, 'utf8'), 'PN', ['ISO_IR 192'])).toBe('Nguyễn'.normalize('NFC'));
  });

  it('undeclared UTF-8 (no (0008,0005), common from local modalities) is read as UTF-8; invalid UTF-8 as Latin-1', () => {
    expect(decodeText(Buffer.from('PHẠM^AN ', 'utf8'), 'PN', [''])).toBe('PHẠM^AN');
    expect(decodeText(Buffer.from([0x4a, 0xe9, 0x72]), 'PN', [''])).toBe('Jér');
    expect(decodeText(Buffer.from('PHẠM', 'utf8'), 'PN', [''], { undeclaredUtf8: false })).not.toBe('PHẠM');
  });

  it('UI/CS/DA values are not charset-decoded and lose their padding', () => {
    expect(decodeText(Buffer.from('1.2.3\0'), 'UI', ['ISO_IR 192'])).toBe('1.2.3');
    expect(decodeText(Buffer.from(' US '), 'CS', ['ISO_IR 192'])).toBe('US');
  });

  it('encodes in single-byte sets and UTF-8, refuses ISO 2022', () => {
    expect(encodeText('Jérôme', 'PN', ['ISO_IR 100']).toString('latin1')).toBe('Jérôme');
    expect(utf8Element(0x00100010, 'PN', 'Lê').value.length % 2).toBe(0);
    expect(() => encodeText('x', 'PN', ['ISO 2022 IR 87'])).toThrow(/ISO_IR 192/);
    expect(parseCharacterSet('ISO-IR 192')).toEqual(['ISO_IR 192']);
    expect(parseCharacterSet('\\ISO 2022 IR 87 ')).toEqual(['', 'ISO 2022 IR 87']);
  });
});

describe('decoder fuzz', () => {
  it('any bytes in any declared set decode without throwing', () => {
    const sets = [
      [''],
      ['ISO_IR 100'],
      ['ISO_IR 192'],
      ['GB18030'],
      ['', 'ISO 2022 IR 87'],
      ['ISO 2022 IR 13', 'ISO 2022 IR 87', 'ISO 2022 IR 159'],
      ['', 'ISO 2022 IR 149'],
      ['ISO 2022 IR 100'],
      ['NOT A CHARSET'],
    ];
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc
        .array(fc.constantFrom(0x1b, 0x24, 0x28, 0x29, 0x42, 0x4a, 0x49, 0x43, 0x2d, 0x41, 0x5e, 0x3d, 0x5c, 0xb0, 0xa1, 0x30), { maxLength: 64 })
        .map((a) => Uint8Array.from(a)),
    );
    fc.assert(
      fc.property(bytes, fc.constantFrom(...sets), fc.constantFrom('PN', 'LO', 'SH', 'UT', 'CS'), (b, cs, vr) => {
        expect(typeof decodeText(Buffer.from(b), vr, cs)).toBe('string');
      }),
      { numRuns: 3000 },
    );
  });
});
