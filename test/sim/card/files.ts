import { createHash, sign, X509Certificate } from 'node:crypto';
import { der, derInt, encodeOid, readTlv, children } from '../../../modules/cccd/ber.ts';
import { checkDigit } from '../../../modules/cccd/crypto/bac.ts';

/** An invented citizen, the simulator's card holder. Dates dd/mm/yyyy as on DG13. */
export interface SyntheticCitizen {
  idNumber: string;
  fullName: string;
  dateOfBirth: string;
  sex: 'Nam' | 'Nữ';
  nationality: string;
  ethnicity: string;
  religion: string;
  placeOfOrigin: string;
  placeOfResidence: string;
  identifyingFeatures: string;
  issueDate: string;
  expiryDate: string;
  fatherName: string;
  motherName: string;
  spouseName: string;
  oldIdNumber: string;
  cardUid: string;
}

/** The synthetic card of fixtures/cccd (ID 001099012345). */
export const DEFAULT_CITIZEN: SyntheticCitizen = {
  idNumber: '001099012345',
  fullName: 'Nguyễn Văn Thử',
  dateOfBirth: '01/01/1999',
  sex: 'Nam',
  nationality: 'Việt Nam',
  ethnicity: 'Kinh',
  religion: 'Không',
  placeOfOrigin: 'Xã Thử Nghiệm, Huyện Mẫu, Tỉnh Giả Định',
  placeOfResidence: 'Số 1 Đường Kiểm Thử, Phường Mẫu, Quận Giả, Hà Nội',
  identifyingFeatures: 'Nốt ruồi giả định 1cm dưới mắt trái',
  issueDate: '15/04/2021',
  expiryDate: '01/01/2024',
  fatherName: 'Nguyễn Văn Cha',
  motherName: 'Trần Thị Mẹ',
  spouseName: '',
  oldIdNumber: '012345678',
  cardUid: '0000000000000000',
};

const utf8 = (s: string): Buffer => der(0x0c, Buffer.from(s.normalize('NFC'), 'utf8'));
const printable = (s: string): Buffer => der(0x13, Buffer.from(s, 'latin1'));
const field = (n: number, ...values: Buffer[]): Buffer => der(0x30, derInt(n), ...values);

/** DG13 in the Vietnamese layout; `parents` picks one of the two public nestings of field 13. */
export function buildDg13(c: SyntheticCitizen, parents: 'two-sequences' | 'one-sequence' = 'two-sequences'): Buffer {
  const f13 =
    parents === 'two-sequences' ? [der(0x30, utf8(c.fatherName)), der(0x30, utf8(c.motherName))] : [der(0x30, utf8(c.fatherName), utf8(c.motherName))];
  const fields = [
    field(1, printable(c.idNumber)),
    field(2, utf8(c.fullName)),
    field(3, printable(c.dateOfBirth)),
    field(4, utf8(c.sex)),
    field(5, utf8(c.nationality)),
    field(6, utf8(c.ethnicity)),
    field(7, utf8(c.religion)),
    field(8, utf8(c.placeOfOrigin)),
    field(9, utf8(c.placeOfResidence)),
    field(10, utf8(c.identifyingFeatures)),
    field(11, printable(c.issueDate)),
    field(12, utf8(c.expiryDate)),
    field(13, ...f13),
    field(14, ...(c.spouseName ? [der(0x30, utf8(c.spouseName))] : [])),
    field(15, printable(c.oldIdNumber)),
    field(16, printable(c.cardUid)),
  ];
  return der(0x6d, der(0x30, derInt(1), der(0x06, encodeOid('1.0.10646.1.0.8')), der(0x31, ...fields)));
}

const yymmdd = (ddmmyyyy: string): string => ddmmyyyy.slice(8, 10) + ddmmyyyy.slice(3, 5) + ddmmyyyy.slice(0, 2);

/** Name without diacritics for the MRZ. */
function mrzName(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .toUpperCase()
    .replace(/[^A-Z ]/g, '');
}

/** TD1 MRZ as seen on CCCDs: IDVNM + last 9 digits + cd + 12-digit ID + << + cd. */
export function buildMrz(c: SyntheticCitizen): string {
  const doc = c.idNumber.slice(3);
  const l1 = ('IDVNM' + doc + checkDigit(doc) + c.idNumber + '<<' + checkDigit(c.idNumber)).padEnd(30, '<');
  const dob = yymmdd(c.dateOfBirth);
  const doe = /^\d{2}\/\d{2}\/\d{4}$/.test(c.expiryDate) ? yymmdd(c.expiryDate) : '991231';
  const l2a = dob + checkDigit(dob) + (c.sex === 'Nam' ? 'M' : 'F') + doe + checkDigit(doe) + 'VNM';
  const l2body = l2a.padEnd(29, '<');
  const composite = l1.slice(5, 30) + l2body.slice(0, 7) + l2body.slice(8, 15) + l2body.slice(18, 29);
  const l2 = l2body + checkDigit(composite);
  const [surname = '', ...given] = mrzName(c.fullName).split(/\s+/);
  const l3 = (surname + '<<' + given.join('<')).padEnd(30, '<').slice(0, 30);
  return l1 + l2 + l3;
}

export function buildDg1(c: SyntheticCitizen): Buffer {
  return der(0x61, der(0x5f1f, Buffer.from(buildMrz(c), 'latin1')));
}

/** DG2 holding an ISO 19794-5 face record whose image is `imageBytes` long (JPEG-framed filler). */
export function buildDg2(imageBytes = 16_000): Buffer {
  const image = Buffer.alloc(Math.max(imageBytes, 24), 0x5a);
  Buffer.from('FFD8FFE000104A46494600', 'hex').copy(image);
  image.writeUInt16BE(0xffd9, image.length - 2);
  const header = Buffer.concat([Buffer.from('46414300303130', 'hex'), Buffer.alloc(39)]);
  return der(0x75, der(0x7f61, derInt(1), der(0x7f60, der(0xa1, der(0x80, Buffer.from([1, 1]))), der(0x5f2e, header, image))));
}

export function buildEfCom(groups: number[]): Buffer {
  const tags: Record<number, number> = { 1: 0x61, 2: 0x75, 3: 0x63, 13: 0x6d, 14: 0x6e, 15: 0x6f };
  return der(0x60, der(0x5f01, Buffer.from('0107')), der(0x5f36, Buffer.from('040000')), der(0x5c, Buffer.from(groups.map((g) => tags[g]!))));
}

/** EF.CardAccess as found on real CCCDs (fixtures/cccd/cccd_ef_cardaccess.hex). */
export const CCCD_CARD_ACCESS = Buffer.from(
  '3134300D060804007F0007020202020101300F060A04007F000702020302020201013012060A04007F0007020204020202010202010D',
  'hex',
);

export interface DocumentSigner {
  certDer: Buffer;
  keyPem: string;
}

const SHA256 = der(0x30, der(0x06, encodeOid('2.16.840.1.101.3.4.2.1')));

/** EF.SOD: CMS SignedData over the LDS security object (ICAO 9303-10 §4.6.2), ECDSA-SHA256. */
export function buildSod(groups: Map<number, Buffer>, signer: DocumentSigner): Buffer {
  const hashes = [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([n, bytes]) => der(0x30, derInt(n), der(0x04, createHash('sha256').update(bytes).digest())));
  const lso = der(0x30, derInt(0), SHA256, der(0x30, ...hashes));
  const attrs = [
    der(0x30, der(0x06, encodeOid('1.2.840.113549.1.9.3')), der(0x31, der(0x06, encodeOid('2.23.136.1.1.1')))),
    der(0x30, der(0x06, encodeOid('1.2.840.113549.1.9.4')), der(0x31, der(0x04, createHash('sha256').update(lso).digest()))),
  ].sort(Buffer.compare);
  const signedAttrsSet = der(0x31, ...attrs);
  const signature = sign('sha256', signedAttrsSet, signer.keyPem);
  const tbs = children(readTlv(signer.certDer))[0]!;
  const tbsParts = children(tbs);
  const off = tbsParts[0]!.tag === 0xa0 ? 1 : 0;
  const serial = tbsParts[off]!.raw;
  const issuer = tbsParts[off + 2]!.raw;
  const signerInfo = der(
    0x30,
    derInt(1),
    der(0x30, issuer, serial),
    SHA256,
    Buffer.concat([Buffer.from([0xa0]), signedAttrsSet.subarray(1)]),
    der(0x30, der(0x06, encodeOid('1.2.840.10045.4.3.2'))),
    der(0x04, signature),
  );
  const signedData = der(
    0x30,
    derInt(3),
    der(0x31, SHA256),
    der(0x30, der(0x06, encodeOid('2.23.136.1.1.1')), der(0xa0, der(0x04, lso))),
    der(0xa0, signer.certDer),
    der(0x31, signerInfo),
  );
  return der(0x77, der(0x30, der(0x06, encodeOid('1.2.840.113549.1.7.2')), der(0xa0, signedData)));
}

export function certSubject(certDer: Buffer): string {
  return new X509Certificate(certDer).subject;
}
