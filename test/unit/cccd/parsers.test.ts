import { describe, expect, it } from 'vitest';
import { parseDg1, parseTd1 } from '../../../modules/cccd/dg1.ts';
import { parseDg13 } from '../../../modules/cccd/dg13.ts';
import { parseEfCom } from '../../../modules/cccd/efCom.ts';
import { parseDg2 } from '../../../modules/cccd/dg2.ts';
import { der } from '../../../modules/cccd/ber.ts';
import { fixtureHex, fixtureJson, fixtureText } from './fixtures.ts';

const fields = fixtureJson('synthetic_cccd_dg13_fields.json');

describe('DG1 (TD1 MRZ)', () => {
  it('reads the synthetic card, check digits valid, ID from the optional data', () => {
    const m = parseDg1(fixtureHex('synthetic_cccd_dg1.hex'));
    expect(m).toMatchObject({
      documentCode: 'ID',
      issuingState: 'VNM',
      documentNumber: '099012345',
      idNumber: '001099012345',
      dateOfBirth: '990101',
      sex: 'M',
      dateOfExpiry: '240101',
      surname: 'NGUYEN',
      givenNames: 'VAN THU',
      checkDigitsValid: true,
    });
    expect(parseTd1(fixtureText('synthetic_cccd_mrz.txt')).lines).toEqual(m.lines);
  });
  it('flags a changed digit', () => {
    const text = fixtureText('synthetic_cccd_mrz.txt').replace('9901018', '9901028');
    expect(parseTd1(text).checkDigitsValid).toBe(false);
  });
  it('refuses text that is not a TD1 MRZ', () => {
    expect(() => parseTd1('P<UTO')).toThrow(/TD1/);
  });
});

describe('DG13', () => {
  const expectFields = (d: ReturnType<typeof parseDg13>, spouse: string): void => {
    const { id, dob, ...rest } = fields;
    expect(d).toMatchObject({ ...rest, spouseName: spouse, dateOfBirth: dob, idNumber: id });
  };
  it('reads every field of the two-inner-SEQUENCE layout', () => {
    const d = parseDg13(fixtureHex('synthetic_cccd_dg13.hex'));
    expect(d.fullName).toBe('Nguyễn Văn Thử');
    expect(d.fatherName).toBe('Nguyễn Văn Cha');
    expect(d.motherName).toBe('Trần Thị Mẹ');
    expectFields(d, '');
  });
  it('reads the one-inner-SEQUENCE layout of field 13 the same', () => {
    const a = parseDg13(fixtureHex('synthetic_cccd_dg13.hex'));
    const b = parseDg13(fixtureHex('synthetic_cccd_dg13_one_parent_sequence.hex'));
    expect({ ...b, raw: undefined }).toEqual({ ...a, raw: undefined });
  });
  it('reads the spouse', () => {
    expectFields(parseDg13(fixtureHex('synthetic_cccd_dg13_with_spouse.hex')), 'Lê Thị Vợ Giả');
  });
  it('classifies fields 15/16 by content whichever order they come in', () => {
    const f = (n: number, tag: number, s: string): Buffer => der(0x30, der(0x02, Buffer.from([n])), der(tag, Buffer.from(s)));
    const file = der(
      0x6d,
      der(
        0x30,
        der(0x02, Buffer.from([1])),
        der(0x06, Buffer.from('28D316010008', 'hex')),
        der(0x31, f(1, 0x13, '001099012345'), f(2, 0x0c, 'Thử'), f(15, 0x13, 'ABCDEF0123456789'), f(16, 0x13, '012345678')),
      ),
    );
    const d = parseDg13(file);
    expect(d.oldIdNumber).toBe('012345678');
    expect(d.cardUid).toBe('ABCDEF0123456789');
  });
});

describe('EF.COM', () => {
  it('lists DG1, DG2, DG13', () => {
    expect(parseEfCom(fixtureHex('synthetic_cccd_ef_com.hex'))).toEqual({ ldsVersion: '0107', unicodeVersion: '040000', dataGroups: [1, 2, 13] });
  });
});

describe('DG2', () => {
  const faceRecord = (image: Buffer): Buffer =>
    der(
      0x75,
      der(
        0x7f61,
        der(0x02, Buffer.from([1])),
        der(0x7f60, der(0xa1, der(0x80, Buffer.from([1, 1]))), der(0x5f2e, Buffer.concat([Buffer.from('46414300303130', 'hex'), Buffer.alloc(39, 1), image]))),
      ),
    );
  it('extracts a JPEG', () => {
    const jpeg = Buffer.concat([Buffer.from('FFD8FFE000104A464946', 'hex'), Buffer.alloc(50, 7), Buffer.from('FFD9', 'hex')]);
    expect(parseDg2(faceRecord(jpeg))).toEqual({ mime: 'image/jpeg', image: jpeg });
  });
  it('extracts a JPEG 2000 file', () => {
    const jp2 = Buffer.concat([Buffer.from('0000000C6A5020200D0A870A', 'hex'), Buffer.alloc(40, 3)]);
    expect(parseDg2(faceRecord(jp2)).mime).toBe('image/jp2');
  });
  it('says plainly when there is no image', () => {
    expect(() => parseDg2(faceRecord(Buffer.alloc(20)))).toThrow(/no JPEG/);
  });
});
