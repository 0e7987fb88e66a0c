import { readTlv, walk } from './ber.ts';
import { CardParseError } from './errors.ts';

export interface FaceImage {
  mime: 'image/jpeg' | 'image/jp2';
  image: Buffer;
}

const JP2_SIGNATURE = Buffer.from('0000000C6A5020200D0A870A', 'hex');
const J2K_CODESTREAM = Buffer.from('FF4FFF51', 'hex');
const JPEG_SOI = Buffer.from('FFD8FF', 'hex');

/**
 * DG2: 75 { 7F61 { 02 count, 7F60 { A1 header, 5F2E/7F2E biometric data block } } }. The
 * block is an ISO/IEC 19794-5 face record; the image starts at its JPEG or JPEG 2000
 * signature and runs to the end of the block.
 */
export function parseDg2(file: Buffer): FaceImage {
  const top = readTlv(file);
  if (top.tag !== 0x75) throw new CardParseError('DG2 does not start with tag 75');
  for (const node of walk(top)) {
    if (node.tag !== 0x5f2e && node.tag !== 0x7f2e) continue;
    const bdb = node.value;
    const candidates: Array<[number, FaceImage['mime']]> = [
      [bdb.indexOf(JPEG_SOI), 'image/jpeg'],
      [bdb.indexOf(JP2_SIGNATURE), 'image/jp2'],
      [bdb.indexOf(J2K_CODESTREAM), 'image/jp2'],
    ];
    const found = candidates.filter(([i]) => i >= 0).sort((a, b) => a[0] - b[0])[0];
    if (!found) throw new CardParseError('DG2 face record holds no JPEG or JPEG 2000 image');
    return { mime: found[1], image: Buffer.from(bdb.subarray(found[0])) };
  }
  throw new CardParseError('DG2 has no biometric data block');
}
