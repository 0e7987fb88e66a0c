import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openSync, writeSync, ftruncateSync, closeSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { extractInstanceMeta, scanDataset } from '../../../modules/dicom/data/instanceMeta.ts';
import { DicomParseError } from '../../../modules/dicom/data/codec.ts';
import { part10Header } from '../../../modules/dicom/data/part10.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { dicomFixture, dicomFixturePath, syntheticDataset, syntheticPart10, VN_PATIENT, VN_PROCEDURE } from './dataFixtures.ts';

const tmp = tempDir('dicom-meta-');
afterAll(() => tmp.cleanup());

describe('extractInstanceMeta', () => {
  it('same patient/study/series/instance fields from implicit LE, explicit LE, explicit BE, RLE and JPEG-LS files', async () => {
    for (const name of ['MR_small.dcm', 'MR_small_implicit.dcm', 'MR_small_bigendian.dcm', 'MR_small_RLE.dcm', 'MR_small_jpeg_ls_lossless.dcm']) {
      const m = await extractInstanceMeta(dicomFixturePath(`pydicom/${name}`));
      expect(m.patient.name, name).toBe('CompressedSamples^MR1');
      expect(m.series.modality, name).toBe('MR');
      expect(m.instance.sopInstanceUid, name).toBe('1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457');
      expect(m.study.uid, name).toBe('1.3.6.1.4.1.5962.1.2.4.20040826185059.5457');
      expect(m.instance.sopClassUid, name).toBe('1.2.840.10008.5.1.4.1.1.4');
    }
  });

  it('CT: every field the index needs', async () => {
    const m = await extractInstanceMeta(dicomFixturePath('pydicom/CT_small.dcm'));
    expect(m).toMatchObject({
      patient: { id: '1CT1', name: 'CompressedSamples^CT1', sex: 'O' },
      study: { date: '20040119' },
      series: { modality: 'CT', number: 1 },
      instance: { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxUid: '1.2.840.10008.1.2.1' },
    });
    expect(m.study.uid).toMatch(/^1\.3\.6/);
  });

  it('deflated explicit VR LE is inflated for reading; the file is not touched', async () => {
    const path = dicomFixturePath('pydicom/image_dfl.dcm');
    const before = readFileSync(path);
    const m = await extractInstanceMeta(path);
    expect(m.instance.transferSyntaxUid).toBe('1.2.840.10008.1.2.1.99');
    expect(m.series.modality).toBeTruthy();
    expect(m.instance.sopInstanceUid).toMatch(/^[0-9.]+$/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('Vietnamese names and descriptions (ISO_IR 192) come out intact', async () => {
    const path = join(tmp.dir, 'vn.dcm');
    writeFileSync(path, syntheticPart10({ sopInstanceUid: '1.2.826.0.1.3680043.10.1.1.1.1' }));
    const m = await extractInstanceMeta(path);
    expect(m.patient.name).toBe(VN_PATIENT);
    expect(m.study.description).toBe(VN_PROCEDURE);
    expect(m.study.referringPhysician).toBe('TRẦN^VĂN BÌNH');
    expect(m.series.description).toBe('Bụng');
    expect(m.instance).toMatchObject({ number: 3 });
    expect(m.sourceAeTitle).toBe('US01');
    expect(m.characterSet).toEqual(['ISO_IR 192']);
  });

  it('a 500 MB instance is indexed without reading its pixel data (sparse file, memory stays flat)', async () => {
    const path = join(tmp.dir, 'big.dcm');
    const head = Buffer.concat([
      part10Header({ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '9.9.9', transferSyntaxUid: '1.2.840.10008.1.2.1' }),
      syntheticDataset({ sopInstanceUid: '9.9.9', pixels: Buffer.alloc(0) }),
    ]);
    // Rewrite the empty pixel data header (last 12 bytes) with a 500 MB length and make the file that long.
    const pixelBytes = 500 * 1024 * 1024;
    head.writeUInt32LE(pixelBytes, head.length - 4);
    const fd = openSync(path, 'w');
    writeSync(fd, head);
    ftruncateSync(fd, head.length + pixelBytes);
    closeSync(fd);
    expect(statSync(path).size).toBeGreaterThan(pixelBytes);
    const rss = process.memoryUsage().rss;
    const scan = await scanDataset(path);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
    expect(scan.stoppedAt).toBe(head.length - 12 - scan.part10.datasetOffset);
    expect((await extractInstanceMeta(path)).patient.name).toBe(VN_PATIENT);
  });

  it('a 20 MB undefined-length sequence before the pixel data is read across many stream chunks', async () => {
    const path = join(tmp.dir, 'bigseq.dcm');
    const item = [
      { tag: 0x00091010, vr: 'LO', value: Buffer.from('PRIVATE ') },
      { tag: 0x00091011, vr: 'OB', value: Buffer.alloc(200 * 1024, 2) },
    ];
    const seq = { tag: 0x00091020, vr: 'SQ', value: Buffer.alloc(0), items: Array.from({ length: 100 }, () => item), undefinedLength: true };
    const creator = { tag: 0x00090010, vr: 'LO', value: Buffer.from('EDGE TEST ') };
    writeFileSync(path, syntheticPart10({ sopInstanceUid: '5.5.6', extra: [creator, seq] }));
    const scan = await scanDataset(path);
    expect(scan.elements.find((e) => e.tag === 0x00091020)!.items).toHaveLength(100);
    expect((await extractInstanceMeta(path)).patient.name).toBe(VN_PATIENT);
  });

  it('large values before the pixel data are skipped, not read', async () => {
    const path = join(tmp.dir, 'overlay.dcm');
    const overlay = { tag: 0x60003000, vr: 'OW', value: Buffer.alloc(2 * 1024 * 1024, 1) };
    writeFileSync(path, syntheticPart10({ sopInstanceUid: '5.5.5', extra: [overlay] }));
    const scan = await scanDataset(path);
    expect(scan.skipped).toEqual([0x60003000]);
    expect(scan.elements.find((e) => e.tag === 0x60003000)!.value.length).toBe(0);
  });

  it('truncated and broken files fail with DicomParseError', async () => {
    await expect(extractInstanceMeta(dicomFixturePath('pydicom/rtplan_truncated.dcm'))).rejects.toBeInstanceOf(DicomParseError);
    await expect(extractInstanceMeta(dicomFixturePath('pydicom/no_meta.dcm'))).rejects.toMatchObject({ code: 'not-part10' });
    const bad = join(tmp.dir, 'bad-deflate.dcm');
    writeFileSync(
      bad,
      Buffer.concat([
        part10Header({ sopClassUid: '1.2', sopInstanceUid: '1.3', transferSyntaxUid: '1.2.840.10008.1.2.1.99' }),
        Buffer.from('not deflate at all, really not'),
      ]),
    );
    await expect(extractInstanceMeta(bad)).rejects.toBeInstanceOf(DicomParseError);
    const cut = join(tmp.dir, 'cut-deflate.dcm');
    const full = syntheticDataset({ sopInstanceUid: '1.4' });
    writeFileSync(
      cut,
      Buffer.concat([
        part10Header({ sopClassUid: '1.2', sopInstanceUid: '1.4', transferSyntaxUid: '1.2.840.10008.1.2.1.99' }),
        deflateRawSync(full).subarray(0, 60),
      ]),
    );
    await expect(extractInstanceMeta(cut)).rejects.toBeInstanceOf(DicomParseError);
  });
});

describe('scanDataset fuzz (files with bytes changed or cut)', () => {
  it('gives metadata or a DicomParseError, nothing else', async () => {
    const seeds = ['pydicom/CT_small.dcm', 'pydicom/rtplan.dcm', 'pydicom/image_dfl.dcm', 'pydicom/MR_small_bigendian.dcm', 'pydicom/JPEG2000.dcm'].map((n) =>
      dicomFixture(n),
    );
    const path = join(tmp.dir, 'fuzz.dcm');
    await fc.assert(
      fc.asyncProperty(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        async (i, edits, cut) => {
          const b = Buffer.from(seeds[i]!);
          for (const [pos, v] of edits) b[132 + (pos % (b.length - 132))] = v;
          writeFileSync(path, b.subarray(0, 132 + (cut % (b.length - 131))));
          try {
            await extractInstanceMeta(path);
          } catch (e) {
            if (!(e instanceof DicomParseError)) throw e;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
