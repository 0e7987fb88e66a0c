import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { coerce, coercePart10, CoercionError } from '../../../modules/dicom/data/coerce.ts';
import { readDataset, findElement, sniffEncoding, getString } from '../../../modules/dicom/data/codec.ts';
import { parsePart10Header } from '../../../modules/dicom/data/part10.ts';
import { characterSetOf, textOf } from '../../../modules/dicom/data/charset.ts';
import { datasetEncodingOf } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { extractInstanceMeta } from '../../../modules/dicom/data/instanceMeta.ts';
import type { LabOrder } from '../../../modules/lab/orderCache.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { dicomFixture, dicomFixturePath, syntheticPart10 } from './dataFixtures.ts';

const tmp = tempDir('dicom-coerce-');
afterAll(() => tmp.cleanup());

function dataset(name: string) {
  const file = dicomFixture(name);
  const h = parsePart10Header(file);
  const body = file.subarray(h.datasetOffset);
  const ts = sniffEncoding(body, 0, datasetEncodingOf(h.transferSyntaxUid));
  return { body, ts, elements: readDataset(body, ts) };
}

/** Every element not in `changed` has exactly its original bytes in the coerced dataset. */
function expectUntouched(original: ReturnType<typeof dataset>, coerced: Buffer, changed: number[]): void {
  const after = readDataset(coerced, original.ts);
  for (const e of original.elements) {
    if (changed.includes(e.tag)) continue;
    const twin = findElement(after, e.tag)!;
    expect(coerced.subarray(twin.start!, twin.end!).equals(original.body.subarray(e.start!, e.end!)), `tag ${e.tag.toString(16)}`).toBe(true);
  }
}

const ORDERS = new Map<string, LabOrder>([
  ['ACC0001', { specimenId: 'S1', patientId: 'HIS-778', patientName: 'Phạm Văn Đông', tests: [], accessionNumber: 'ACC0001' }],
]);
const context = { orderByAccession: (a: string) => ORDERS.get(a) };

describe('coerce (per-destination tag morphing)', () => {
  it('sets Institution Name in explicit LE, implicit LE and big endian datasets; nothing else changes', () => {
    for (const name of ['pydicom/CT_small.dcm', 'pydicom/MR_small_implicit.dcm', 'pydicom/MR_small_bigendian.dcm']) {
      const d = dataset(name);
      const { bytes, changed } = coerce(d.elements, [{ tag: 'InstitutionName', value: 'BV DA KHOA TINH' }], d.body, d.ts);
      expect(changed, name).toEqual([0x00080080]);
      const after = readDataset(bytes, d.ts);
      expect(getString(after, 0x00080080), name).toBe('BV DA KHOA TINH');
      expectUntouched(d, bytes, changed);
    }
  });

  it('fills Patient ID from the order by Accession Number only when empty', () => {
    const path = join(tmp.dir, 'noid.dcm');
    writeFileSync(path, syntheticPart10({ sopInstanceUid: '7.7.7', patientId: ' ', accessionNumber: 'ACC0001' }));
    const file = readFileSync(path);
    const h = parsePart10Header(file);
    const d = { body: file.subarray(h.datasetOffset), ts: datasetEncodingOf(h.transferSyntaxUid) };
    const elements = readDataset(d.body, d.ts);
    const rules = [{ tag: 'PatientID', fromOrder: 'patientId' as const, when: 'empty' as const }];
    const filled = coerce(elements, rules, d.body, d.ts, context);
    expect(getString(readDataset(filled.bytes, d.ts), 0x00100020)).toBe('HIS-778');
    expectUntouched({ ...d, elements }, filled.bytes, filled.changed);
    // Already set: untouched, byte for byte.
    const again = readDataset(filled.bytes, d.ts);
    expect(coerce(again, rules, filled.bytes, d.ts, context).bytes.equals(filled.bytes)).toBe(true);
    // No order for the accession: nothing happens.
    expect(coerce(elements, rules, d.body, d.ts, {}).changed).toEqual([]);
  });

  it('Vietnamese values: written as UTF-8 in an ISO_IR 192 dataset; an ASCII dataset is declared UTF-8; Latin-1 text refuses', () => {
    const vn = syntheticPart10({ sopInstanceUid: '7.7.8' });
    const h = parsePart10Header(vn);
    const body = vn.subarray(h.datasetOffset);
    const els = readDataset(body, datasetEncodingOf(h.transferSyntaxUid));
    const r = coerce(els, [{ tag: 'InstitutionName', value: 'Bệnh viện Bạch Mai' }], body, datasetEncodingOf(h.transferSyntaxUid));
    const after = readDataset(r.bytes, datasetEncodingOf(h.transferSyntaxUid));
    expect(textOf(after, 0x00080080, characterSetOf(after))).toBe('Bệnh viện Bạch Mai');

    const ascii = dataset('pydicom/MR_small.dcm'); // no (0008,0005), all ASCII
    const up = coerce(ascii.elements, [{ tag: 'InstitutionName', value: 'Bệnh viện Bạch Mai' }], ascii.body, ascii.ts);
    expect(up.changed.sort()).toEqual([0x00080005, 0x00080080]);
    const upEls = readDataset(up.bytes, ascii.ts);
    expect(characterSetOf(upEls)).toEqual(['ISO_IR 192']);
    expect(textOf(upEls, 0x00080080, characterSetOf(upEls))).toBe('Bệnh viện Bạch Mai');

    const latin = dataset('charset/chrFren.dcm'); // ISO_IR 100 with "Jérôme"
    expect(() => coerce(latin.elements, [{ tag: 'InstitutionName', value: 'Bạch Mai' }], latin.body, latin.ts)).toThrow(CoercionError);
    expect(coerce(latin.elements, [{ tag: 'InstitutionName', value: 'Hôpital Général' }], latin.body, latin.ts).changed).toEqual([0x00080080]);
  });

  it('removes elements, refuses file meta / pixel data / binary elements and unknown keywords', () => {
    const d = dataset('pydicom/CT_small.dcm');
    const r = coerce(d.elements, [{ tag: '0010,0030', remove: true }], d.body, d.ts);
    expect(findElement(readDataset(r.bytes, d.ts), 0x00100030)).toBeUndefined();
    expect(() => coerce(d.elements, [{ tag: 'PixelData', value: 'x' }], d.body, d.ts)).toThrow(CoercionError);
    expect(() => coerce(d.elements, [{ tag: 'Rows', value: '1' }], d.body, d.ts)).toThrow(/VR US/);
    expect(() => coerce(d.elements, [{ tag: 'InstitutionNmae', value: 'x' }], d.body, d.ts)).toThrow(/unknown DICOM tag/);
  });

  it('coercePart10: header and pixel data byte for byte, the stored file untouched', async () => {
    const path = join(tmp.dir, 'px.dcm');
    const original = syntheticPart10({ sopInstanceUid: '7.7.9', accessionNumber: 'ACC0001', pixels: Buffer.alloc(300_000, 0x5a) });
    writeFileSync(path, original);
    const out = await coercePart10(
      path,
      [
        { tag: 'PatientID', fromOrder: 'patientId' },
        { tag: 'InstitutionName', value: 'BV TINH' },
      ],
      context,
    );
    const copy = await buffer(out.stream());
    expect(copy.length).toBe(out.size);
    expect(readFileSync(path).equals(original)).toBe(true);
    const coercedPath = join(tmp.dir, 'px-coerced.dcm');
    writeFileSync(coercedPath, copy);
    const meta = await extractInstanceMeta(coercedPath);
    expect(meta.patient.id).toBe('HIS-778');
    expect(meta.instance.sopInstanceUid).toBe('7.7.9');
    // Same file meta, same pixel data tail.
    const h = parsePart10Header(original);
    expect(copy.subarray(0, h.datasetOffset).equals(original.subarray(0, h.datasetOffset))).toBe(true);
    expect(copy.subarray(copy.length - 300_012).equals(original.subarray(original.length - 300_012))).toBe(true);
    await expect(coercePart10(dicomFixturePath('pydicom/image_dfl.dcm'), [{ tag: 'InstitutionName', value: 'x' }])).rejects.toBeInstanceOf(CoercionError);
  });
});
