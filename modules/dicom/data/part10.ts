import { open } from 'node:fs/promises';
import { DicomParseError, findElement, getUid, readDatasetWithEnd, stringElement, ulElement, writeDataset, bytesElement, getString } from './codec.ts';
import type { DataElement } from './codec.ts';
import { EXPLICIT_LE } from './transferSyntaxes.ts';

/**
 * DICOM Part 10 files (PS3.10 section 7): 128-byte preamble, "DICM", the file meta group
 * (0002,xxxx, always explicit VR little endian), then the dataset in its transfer syntax,
 * byte for byte as the modality sent it.
 */

/**
 * This project's implementation class UID (PS3.7 D.3.3.2), a UUID-derived UID (PS3.5 B.2) so no
 * registered root is needed. Sent in A-ASSOCIATE and written in (0002,0012).
 */
export const IMPLEMENTATION_CLASS_UID = '2.25.255323755217813470283735766186839416117';
/** (0002,0013), at most 16 characters. */
export const IMPLEMENTATION_VERSION_NAME = 'EDGE_AGENT_0_1';

export interface Part10HeaderInput {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** The calling AE title of the modality that sent the instance (0002,0016). */
  sourceAeTitle?: string;
}

/** Preamble, "DICM" and the file meta group, with (0002,0000) computed. Prepend to the received dataset bytes. */
export function part10Header(input: Part10HeaderInput): Buffer {
  const uid = (tag: number, value: string): DataElement => stringElement(tag, 'UI', value.replace(/[\0 ]+$/, ''));
  const group: DataElement[] = [
    bytesElement(0x00020001, 'OB', Buffer.from([0x00, 0x01])),
    uid(0x00020002, input.sopClassUid),
    uid(0x00020003, input.sopInstanceUid),
    uid(0x00020010, input.transferSyntaxUid),
    uid(0x00020012, IMPLEMENTATION_CLASS_UID),
    stringElement(0x00020013, 'SH', IMPLEMENTATION_VERSION_NAME),
  ];
  const ae = input.sourceAeTitle?.trim();
  if (ae) group.push(stringElement(0x00020016, 'AE', ae.slice(0, 16)));
  const body = writeDataset(group, EXPLICIT_LE);
  const length = writeDataset([ulElement(0x00020000, body.length)], EXPLICIT_LE);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), length, body]);
}

export interface Part10Meta {
  /** The file meta elements (group 0002). */
  meta: DataElement[];
  /** Where the dataset starts in the file. */
  datasetOffset: number;
  transferSyntaxUid: string;
  sopClassUid?: string;
  sopInstanceUid?: string;
  sourceAeTitle?: string;
  implementationClassUid?: string;
}

const PREFIX = 132;

/** Parses the preamble and file meta group from the start of a file (throws 'truncated' when more bytes are needed). */
export function parsePart10Header(bytes: Buffer): Part10Meta {
  if (bytes.length < PREFIX + 12)
    throw new DicomParseError(
      bytes.length >= PREFIX && bytes.toString('latin1', 128, 132) !== 'DICM' ? 'not-part10' : 'truncated',
      'file shorter than a Part 10 header',
      bytes.length,
    );
  if (bytes.toString('latin1', 128, 132) !== 'DICM') throw new DicomParseError('not-part10', 'no "DICM" prefix after the 128-byte preamble', 128);
  let end: number;
  let meta: DataElement[];
  const first = bytes.readUInt32BE(PREFIX);
  if (first === 0x02000000 && bytes.toString('latin1', PREFIX + 4, PREFIX + 6) === 'UL') {
    // (0002,0000) tells where the group ends (PS3.10 7.1).
    const groupLength = bytes.readUInt32LE(PREFIX + 8);
    end = PREFIX + 12 + groupLength;
    if (end > bytes.length) throw new DicomParseError('truncated', 'file meta group cut short', bytes.length);
    meta = readDatasetWithEnd(bytes.subarray(0, end), EXPLICIT_LE, { offset: PREFIX }).elements;
  } else {
    // Some writers omit the group length: read while the group is 0002.
    const r = readDatasetWithEnd(bytes, EXPLICIT_LE, { offset: PREFIX, stopAtTag: 0x00030000 });
    meta = r.elements;
    end = r.end;
  }
  if (meta.some((e) => e.tag >>> 16 !== 0x0002)) throw new DicomParseError('bad-meta', 'file meta group holds elements of another group', PREFIX);
  const transferSyntaxUid = getUid(meta, 0x00020010);
  if (!transferSyntaxUid) throw new DicomParseError('bad-meta', 'file meta group without (0002,0010) Transfer Syntax UID', PREFIX);
  const result: Part10Meta = { meta, datasetOffset: end, transferSyntaxUid };
  const opt = (k: 'sopClassUid' | 'sopInstanceUid' | 'implementationClassUid', tag: number): void => {
    const v = getUid(meta, tag);
    if (v) result[k] = v;
  };
  opt('sopClassUid', 0x00020002);
  opt('sopInstanceUid', 0x00020003);
  opt('implementationClassUid', 0x00020012);
  const ae = findElement(meta, 0x00020016) ? getString(meta, 0x00020016) : undefined;
  if (ae) result.sourceAeTitle = ae;
  return result;
}

/** Reads only the Part 10 header of a file (never the dataset): a 500 MB file costs a few KB. */
export async function readPart10(path: string): Promise<Part10Meta> {
  const fh = await open(path, 'r');
  try {
    let size = 16 * 1024;
    for (;;) {
      const buf = Buffer.alloc(size);
      const { bytesRead } = await fh.read(buf, 0, size, 0);
      const bytes = buf.subarray(0, bytesRead);
      try {
        return parsePart10Header(bytes);
      } catch (err) {
        // A meta group larger than the first read (private meta elements): read more, up to 1 MB.
        if (err instanceof DicomParseError && err.code === 'truncated' && bytesRead === size && size < 1024 * 1024) {
          size *= 4;
          continue;
        }
        throw err;
      }
    }
  } finally {
    await fh.close();
  }
}
