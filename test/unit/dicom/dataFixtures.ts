import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Paths of DICOM fixtures in fixtures/dicom (see fixtures/dicom/SOURCES.md). */
export const DICOM_FIXTURES = fileURLToPath(new URL('../../../fixtures/dicom/', import.meta.url));

export function dicomFixturePath(name: string): string {
  return join(DICOM_FIXTURES, name);
}

export function dicomFixture(name: string): Buffer {
  return readFileSync(dicomFixturePath(name));
}

export function dicomFixtureNames(folder: 'pydicom' | 'charset'): string[] {
  return readdirSync(join(DICOM_FIXTURES, folder))
    .filter((f) => f.endsWith('.dcm'))
    .sort()
    .map((f) => `${folder}/${f}`);
}

import { writeDataset, stringElement, usElement, sequenceElement } from '../../../modules/dicom/data/codec.ts';
import type { DataElement } from '../../../modules/dicom/data/codec.ts';
import { part10Header } from '../../../modules/dicom/data/part10.ts';
import { utf8Element, utf8CharsetElement } from '../../../modules/dicom/data/charset.ts';
import { EXPLICIT_LE } from '../../../modules/dicom/data/transferSyntaxes.ts';
import type { DatasetEncoding } from '../../../modules/dicom/data/transferSyntaxes.ts';

export const VN_PATIENT = 'NGUYỄN^THỊ HƯƠNG';
export const VN_PROCEDURE = 'Siêu âm ổ bụng tổng quát';

export interface SyntheticInstance {
  studyUid?: string;
  seriesUid?: string;
  sopInstanceUid: string;
  patientId?: string;
  patientName?: string;
  accessionNumber?: string;
  modality?: string;
  /** Extra elements (ascending tags are sorted in). */
  extra?: DataElement[];
  /** Native pixel data bytes (a small OW value) unless `pixelBytes` is given. */
  pixels?: Buffer;
}

/** A UTF-8 (ISO_IR 192) explicit VR LE dataset with Vietnamese text in a sequence, like an ultrasound sends. */
export function syntheticDataset(s: SyntheticInstance, ts: DatasetEncoding = EXPLICIT_LE): Buffer {
  const els: DataElement[] = [
    utf8CharsetElement(),
    stringElement(0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.6.1'),
    stringElement(0x00080018, 'UI', s.sopInstanceUid),
    stringElement(0x00080020, 'DA', '20261122'),
    stringElement(0x00080030, 'TM', '083000'),
    stringElement(0x00080050, 'SH', s.accessionNumber ?? 'ACC0001'),
    stringElement(0x00080060, 'CS', s.modality ?? 'US'),
    utf8Element(0x00080080, 'LO', 'Bệnh viện Đa khoa Tỉnh'),
    utf8Element(0x00080090, 'PN', 'TRẦN^VĂN BÌNH'),
    utf8Element(0x00081030, 'LO', VN_PROCEDURE),
    sequenceElement(0x00081032, [
      [stringElement(0x00080100, 'SH', 'US001'), stringElement(0x00080102, 'SH', 'LOCAL'), utf8Element(0x00080104, 'LO', VN_PROCEDURE)],
    ]),
    utf8Element(0x0008103e, 'LO', 'Bụng'),
    utf8Element(0x00100010, 'PN', s.patientName ?? VN_PATIENT),
    stringElement(0x00100020, 'LO', s.patientId ?? 'BN0001'),
    stringElement(0x00100030, 'DA', '19800101'),
    stringElement(0x00100040, 'CS', 'F'),
    stringElement(0x0020000d, 'UI', s.studyUid ?? '1.2.826.0.1.3680043.10.1.1'),
    stringElement(0x0020000e, 'UI', s.seriesUid ?? '1.2.826.0.1.3680043.10.1.1.1'),
    stringElement(0x00200011, 'IS', '1'),
    stringElement(0x00200013, 'IS', '3'),
    usElement(0x00280010, 4, ts.littleEndian),
    usElement(0x00280011, 4, ts.littleEndian),
    ...(s.extra ?? []),
  ];
  els.sort((a, b) => a.tag - b.tag);
  els.push({ tag: 0x7fe00010, vr: 'OW', value: s.pixels ?? Buffer.alloc(32, 7) });
  return writeDataset(els, ts);
}

export function syntheticPart10(s: SyntheticInstance, transferSyntaxUid = '1.2.840.10008.1.2.1', ts: DatasetEncoding = EXPLICIT_LE): Buffer {
  return Buffer.concat([
    part10Header({ sopClassUid: '1.2.840.10008.5.1.4.1.1.6.1', sopInstanceUid: s.sopInstanceUid, transferSyntaxUid, sourceAeTitle: 'US01' }),
    syntheticDataset(s, ts),
  ]);
}
