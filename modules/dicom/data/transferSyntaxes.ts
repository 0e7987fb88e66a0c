/**
 * Transfer syntaxes (PS3.5 section 10 and Annex A): how a dataset's bytes are laid out. The box
 * never transcodes; this table only says how to READ a dataset (VR explicit or not, byte
 * order, deflate) and whether its pixel data is encapsulated.
 */

export interface DatasetEncoding {
  explicitVr: boolean;
  littleEndian: boolean;
}

export interface TransferSyntax extends DatasetEncoding {
  uid: string;
  name: string;
  /** The dataset after the file meta group is a raw deflate stream (PS3.5 A.5). */
  deflated: boolean;
  /** Pixel data is encapsulated in fragments (compressed or A.4 encapsulated uncompressed). */
  encapsulated: boolean;
  retired?: boolean;
}

export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';

/** The encoding of DIMSE command sets (PS3.7 6.3.1) and of the default transfer syntax. */
export const IMPLICIT_LE: DatasetEncoding = Object.freeze({ explicitVr: false, littleEndian: true });
export const EXPLICIT_LE: DatasetEncoding = Object.freeze({ explicitVr: true, littleEndian: true });
export const EXPLICIT_BE: DatasetEncoding = Object.freeze({ explicitVr: true, littleEndian: false });

const enc = (uid: string, name: string, retired = false): TransferSyntax => ({
  uid,
  name,
  explicitVr: true,
  littleEndian: true,
  deflated: false,
  encapsulated: true,
  retired,
});

const TABLE: TransferSyntax[] = [
  { uid: IMPLICIT_VR_LITTLE_ENDIAN, name: 'Implicit VR Little Endian', explicitVr: false, littleEndian: true, deflated: false, encapsulated: false },
  { uid: EXPLICIT_VR_LITTLE_ENDIAN, name: 'Explicit VR Little Endian', explicitVr: true, littleEndian: true, deflated: false, encapsulated: false },
  enc('1.2.840.10008.1.2.1.98', 'Encapsulated Uncompressed Explicit VR Little Endian'),
  {
    uid: DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    name: 'Deflated Explicit VR Little Endian',
    explicitVr: true,
    littleEndian: true,
    deflated: true,
    encapsulated: false,
  },
  { uid: EXPLICIT_VR_BIG_ENDIAN, name: 'Explicit VR Big Endian', explicitVr: true, littleEndian: false, deflated: false, encapsulated: false, retired: true },
  enc('1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)'),
  enc('1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 and 4)'),
  enc('1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)'),
  enc('1.2.840.10008.1.2.4.70', 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])'),
  enc('1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless Image Compression'),
  enc('1.2.840.10008.1.2.4.81', 'JPEG-LS Lossy (Near-Lossless) Image Compression'),
  enc('1.2.840.10008.1.2.4.90', 'JPEG 2000 Image Compression (Lossless Only)'),
  enc('1.2.840.10008.1.2.4.91', 'JPEG 2000 Image Compression'),
  enc('1.2.840.10008.1.2.4.92', 'JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)'),
  enc('1.2.840.10008.1.2.4.93', 'JPEG 2000 Part 2 Multi-component Image Compression'),
  enc('1.2.840.10008.1.2.4.100', 'MPEG2 Main Profile / Main Level'),
  enc('1.2.840.10008.1.2.4.101', 'MPEG2 Main Profile / High Level'),
  enc('1.2.840.10008.1.2.4.102', 'MPEG-4 AVC/H.264 High Profile / Level 4.1'),
  enc('1.2.840.10008.1.2.4.103', 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1'),
  enc('1.2.840.10008.1.2.4.104', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video'),
  enc('1.2.840.10008.1.2.4.105', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video'),
  enc('1.2.840.10008.1.2.4.106', 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2'),
  enc('1.2.840.10008.1.2.4.107', 'HEVC/H.265 Main Profile / Level 5.1'),
  enc('1.2.840.10008.1.2.4.108', 'HEVC/H.265 Main 10 Profile / Level 5.1'),
  enc('1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 Image Compression (Lossless Only)'),
  enc('1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)'),
  enc('1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000 Image Compression'),
  enc('1.2.840.10008.1.2.5', 'RLE Lossless'),
  // Retired JPEG processes some old modalities still send.
  enc('1.2.840.10008.1.2.4.52', 'JPEG Extended (Process 3 and 5)', true),
  enc('1.2.840.10008.1.2.4.53', 'JPEG Spectral Selection, Non-Hierarchical (Process 6 and 8)', true),
  enc('1.2.840.10008.1.2.4.55', 'JPEG Full Progression, Non-Hierarchical (Process 10 and 12)', true),
];

const BY_UID = new Map(TABLE.map((t) => [t.uid, t]));

/** Every transfer syntax the box knows, in preference order for negotiation (uncompressed first). */
export const TRANSFER_SYNTAXES: readonly TransferSyntax[] = TABLE;

/** The transfer syntax for a UID (trailing NUL/space padding ignored), or undefined when unknown. */
export function transferSyntax(uid: string): TransferSyntax | undefined {
  return BY_UID.get(uid.replace(/[\0 ]+$/, ''));
}

/**
 * How to read a dataset in an unknown transfer syntax: PS3.5 section 10 says every transfer
 * syntax other than implicit LE and explicit BE uses explicit VR little endian for the dataset
 * (only the pixel data is compressed), so a private or new UID is still readable.
 */
export function datasetEncodingOf(uid: string): DatasetEncoding & { deflated: boolean; encapsulated: boolean } {
  const ts = transferSyntax(uid);
  if (ts) return ts;
  return { explicitVr: true, littleEndian: true, deflated: false, encapsulated: true };
}
