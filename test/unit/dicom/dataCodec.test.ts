import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { inflateRawSync } from 'node:zlib';
import {
  DicomParseError,
  readDataset,
  writeDataset,
  writeCommandSet,
  getNumber,
  getUid,
  getString,
  findElement,
  usElement,
  stringElement,
  sniffEncoding,
  readElementAt,
  sequenceElement,
  ITEM,
  SEQUENCE_DELIMITATION,
} from '../../../modules/dicom/data/codec.ts';
import type { DataElement } from '../../../modules/dicom/data/codec.ts';
import { parsePart10Header, part10Header, readPart10, IMPLEMENTATION_CLASS_UID } from '../../../modules/dicom/data/part10.ts';
import { datasetEncodingOf, IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, transferSyntax } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { STORAGE_SOP_CLASSES, storageSopClass, CT_IMAGE_STORAGE } from '../../../modules/dicom/data/sopClasses.ts';
import { implicitVr, parseTag, formatTag } from '../../../modules/dicom/data/dictionary.ts';
import { dicomFixture, dicomFixtureNames, dicomFixturePath } from './dataFixtures.ts';

function datasetOf(name: string): { elements: DataElement[]; body: Buffer; ts: ReturnType<typeof datasetEncodingOf> } {
  const bytes = dicomFixture(name);
  const h = parsePart10Header(bytes);
  const ts0 = datasetEncodingOf(h.transferSyntaxUid);
  let body = bytes.subarray(h.datasetOffset);
  if (ts0.deflated) body = inflateRawSync(body);
  const enc = sniffEncoding(body, 0, ts0);
  return { elements: readDataset(body, enc), body, ts: { ...ts0, ...enc } };
}

const MR_INSTANCE = '1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457';

describe('readDataset on real files (pydicom test data, 13 transfer syntaxes)', () => {
  const broken = new Map<string, string>([
    ['pydicom/ExplVR_BigEndNoMeta.dcm', 'not-part10'],
    ['pydicom/ExplVR_LitEndNoMeta.dcm', 'not-part10'],
    ['pydicom/no_meta.dcm', 'not-part10'],
    ['pydicom/rtstruct.dcm', 'not-part10'],
    ['pydicom/MR_truncated.dcm', 'truncated'],
    ['pydicom/rtplan_truncated.dcm', 'truncated'],
    ['pydicom/meta_missing_tsyntax.dcm', 'bad-meta'],
  ]);

  it('reads every conformant file and refuses the broken ones with a typed error', () => {
    const names = [...dicomFixtureNames('pydicom'), ...dicomFixtureNames('charset')];
    expect(names.length).toBeGreaterThan(70);
    for (const name of names) {
      const expected = broken.get(name);
      if (expected) {
        let error: unknown;
        try {
          datasetOf(name);
        } catch (e) {
          error = e;
        }
        expect(error, name).toBeInstanceOf(DicomParseError);
        expect((error as DicomParseError).code, name).toBe(expected);
      } else {
        expect(datasetOf(name).elements.length, name).toBeGreaterThan(0);
      }
    }
  });

  it('gives the same values whatever the transfer syntax (implicit LE, explicit LE, explicit BE, RLE, JPEG-LS)', () => {
    for (const name of ['MR_small.dcm', 'MR_small_implicit.dcm', 'MR_small_bigendian.dcm', 'MR_small_RLE.dcm', 'MR_small_jpeg_ls_lossless.dcm']) {
      const { elements, ts } = datasetOf(`pydicom/${name}`);
      expect(getUid(elements, 0x00080018), name).toBe(MR_INSTANCE);
      expect(getString(elements, 0x00080060), name).toBe('MR');
      expect(getNumber(elements, 0x00280010, ts.littleEndian), name).toBe(64); // Rows, US
      expect(getString(elements, 0x00100010), name).toBe('CompressedSamples^MR1');
    }
  });

  it('keeps encapsulated pixel data as fragments (basic offset table first)', () => {
    const { elements } = datasetOf('pydicom/JPEG2000.dcm');
    const px = findElement(elements, 0x7fe00010)!;
    expect(px.undefinedLength).toBe(true);
    expect(px.fragments!.length).toBeGreaterThanOrEqual(2);
    expect(px.fragments![1]!.subarray(0, 2).toString('hex')).toBe('ff4f'); // J2K SOC marker
  });

  it('reads a UN element of undefined length as an implicit VR sequence (PS3.5 6.2.2)', () => {
    const { elements } = datasetOf('pydicom/UN_sequence.dcm');
    const sq = elements[0]!;
    expect(sq.vr).toBe('SQ');
    expect(sq.items!.length).toBeGreaterThan(0);
  });

  it('reads private sequences in implicit VR (undefined lengths, nested)', () => {
    const { elements } = datasetOf('pydicom/nested_priv_SQ.dcm');
    const sq = elements.find((e) => e.items);
    expect(sq?.vr).toBe('SQ');
    expect(sq!.items![0]!.some((e) => e.items)).toBe(true);
  });

  it('falls back to implicit VR when a file says explicit but is not (SC_rgb_jpeg.dcm)', () => {
    const { elements, ts } = datasetOf('pydicom/SC_rgb_jpeg.dcm');
    expect(ts.explicitVr).toBe(false);
    expect(findElement(elements, 0x7fe00010)?.fragments?.length).toBeGreaterThan(0);
  });

  it('writes back byte-identical datasets (explicit LE, implicit LE, explicit BE, sequences, fragments)', () => {
    for (const name of [
      'pydicom/CT_small.dcm',
      'pydicom/MR_small_implicit.dcm',
      'pydicom/MR_small_bigendian.dcm',
      'pydicom/rtplan.dcm',
      'pydicom/JPEG2000.dcm',
      'pydicom/test-SR.dcm',
      'pydicom/nested_priv_SQ.dcm',
      'charset/chrSQEncoding.dcm',
    ]) {
      const { elements, body, ts } = datasetOf(name);
      expect(writeDataset(elements, ts).equals(body), name).toBe(true);
    }
  });

  it('records each element byte range so a single element can be replaced in place', () => {
    const { elements, body } = datasetOf('pydicom/CT_small.dcm');
    for (const e of elements) expect(e.end! > e.start!).toBe(true);
    expect(elements[0]!.start).toBe(0);
    expect(elements.at(-1)!.end).toBe(body.length);
    for (let i = 1; i < elements.length; i++) expect(elements[i]!.start).toBe(elements[i - 1]!.end);
  });

  it('stops before pixel data when asked', () => {
    const { body, ts } = datasetOf('pydicom/CT_small.dcm');
    const head = readDataset(body, ts, { stopAtTag: 0x7fe00010 });
    expect(head.some((e) => e.tag === 0x7fe00010)).toBe(false);
    expect(getUid(head, 0x00080018)).toBeTruthy();
  });
});

describe('DIMSE command sets (implicit VR LE, group 0000)', () => {
  it('C-ECHO-RQ: group length counts the other elements, bytes as PS3.7 E.1 lays them out', () => {
    const bytes = writeCommandSet([
      stringElement(0x00000002, 'UI', '1.2.840.10008.1.1'),
      usElement(0x00000100, 0x0030),
      usElement(0x00000110, 7),
      usElement(0x00000800, 0x0101),
    ]);
    // (0000,0000) UL 4 bytes, then (0000,0002) UI "1.2.840.10008.1.1\0" (18 bytes), three US of 2 bytes.
    expect(bytes.length).toBe(12 + (8 + 18) + 3 * (8 + 2));
    expect(bytes.readUInt32LE(8)).toBe(bytes.length - 12);
    expect(bytes.subarray(0, 8).toString('hex')).toBe('0000000004000000');
    const back = readDataset(bytes, IMPLICIT_LE);
    expect(back.map((e) => e.vr)).toEqual(['UL', 'UI', 'US', 'US', 'US']);
    expect(getUid(back, 0x00000002)).toBe('1.2.840.10008.1.1');
    expect(getNumber(back, 0x00000100)).toBe(0x30);
    expect(getNumber(back, 0x00000800)).toBe(0x0101);
    expect(findElement(back, 0x00000002)!.value.at(-1)).toBe(0); // UI padded with NUL
  });

  it('an identifier with a sequence round-trips in implicit and explicit VR', () => {
    const ident: DataElement[] = [
      stringElement(0x00080050, 'SH', 'ACC1'),
      stringElement(0x00100010, 'PN', 'NGUYEN^AN'),
      sequenceElement(0x00400100, [[stringElement(0x00080060, 'CS', 'US'), stringElement(0x00400001, 'AE', 'ECHO1')]]),
    ];
    for (const ts of [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE]) {
      const back = readDataset(writeDataset(ident, ts), ts);
      expect(getString(back, 0x00100010)).toBe('NGUYEN^AN');
      const item = findElement(back, 0x00400100)!.items![0]!;
      expect(getString(item, 0x00400001)).toBe('ECHO1');
      expect(getString(item, 0x00080060)).toBe('US');
    }
  });
});

describe('dictionary and tables', () => {
  it('implicit VR lookups: dictionary, group length, private creator, unknown', () => {
    expect(implicitVr(0x00100010)).toBe('PN');
    expect(implicitVr(0x00000900)).toBe('US');
    expect(implicitVr(0x00090000)).toBe('UL');
    expect(implicitVr(0x00090010)).toBe('LO');
    expect(implicitVr(0x00091001)).toBe('UN');
    expect(implicitVr(0x00400100)).toBe('SQ');
    expect(parseTag('PatientName')).toBe(0x00100010);
    expect(parseTag('(0008,0080)')).toBe(0x00080080);
    expect(formatTag(0x7fe00010)).toBe('(7FE0,0010)');
    expect(() => parseTag('PatientNmae')).toThrow(/unknown DICOM tag/);
  });

  it('transfer syntaxes and storage SOP classes', () => {
    expect(transferSyntax('1.2.840.10008.1.2.1.99\0')?.deflated).toBe(true);
    expect(transferSyntax('1.2.840.10008.1.2.2')?.littleEndian).toBe(false);
    expect(datasetEncodingOf('1.2.3.private').explicitVr).toBe(true);
    expect(STORAGE_SOP_CLASSES.length).toBeGreaterThan(150);
    expect(storageSopClass(CT_IMAGE_STORAGE)?.keyword).toBe('CTImageStorage');
    expect(storageSopClass('1.2.840.10008.5.1.4.1.1.104.1')?.keyword).toBe('EncapsulatedPDFStorage');
    expect(storageSopClass('1.2.840.10008.1.1')).toBeUndefined();
  });
});

describe('Part 10 header', () => {
  it('part10Header + dataset parses back with the group length, meta and offset right', () => {
    const header = part10Header({ sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: '1.2.3.4.5', transferSyntaxUid: '1.2.840.10008.1.2', sourceAeTitle: 'CT01' });
    expect(header.subarray(0, 128).every((b) => b === 0)).toBe(true);
    expect(header.toString('latin1', 128, 132)).toBe('DICM');
    expect(header.readUInt32LE(140)).toBe(header.length - 144);
    const meta = parsePart10Header(header);
    expect(meta).toMatchObject({
      datasetOffset: header.length,
      transferSyntaxUid: '1.2.840.10008.1.2',
      sopInstanceUid: '1.2.3.4.5',
      sopClassUid: CT_IMAGE_STORAGE,
      sourceAeTitle: 'CT01',
      implementationClassUid: IMPLEMENTATION_CLASS_UID,
    });
  });

  it('readPart10 reads the header of a file, with and without (0002,0000)', async () => {
    const a = await readPart10(dicomFixturePath('pydicom/CT_small.dcm'));
    expect(a.transferSyntaxUid).toBe('1.2.840.10008.1.2.1');
    expect(dicomFixture('pydicom/CT_small.dcm').readUInt32LE(a.datasetOffset)).toBe(0x00050008); // (0008,0005) first
    const b = await readPart10(dicomFixturePath('pydicom/no_meta_group_length.dcm'));
    expect(b.transferSyntaxUid).toBe('1.2.840.10008.1.2');
    await expect(readPart10(dicomFixturePath('pydicom/no_meta.dcm'))).rejects.toMatchObject({ code: 'not-part10' });
  });
});

describe('fuzzing (no crash but DicomParseError, no hang, no allocation from declared lengths)', () => {
  const encodings = [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE];
  const check = (bytes: Uint8Array, ts: (typeof encodings)[number]): void => {
    try {
      readDataset(bytes, ts);
    } catch (e) {
      if (!(e instanceof DicomParseError)) throw e;
    }
  };

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.constantFrom(...encodings), (b, ts) => check(b, ts)),
      { numRuns: 3000 },
    );
  });

  it('real datasets with bytes changed, cut or inserted', () => {
    const seeds = [
      'pydicom/CT_small.dcm',
      'pydicom/rtplan.dcm',
      'pydicom/nested_priv_SQ.dcm',
      'pydicom/JPEG2000.dcm',
      'pydicom/MR_small_bigendian.dcm',
      'charset/chrSQEncoding.dcm',
    ].map((n) => datasetOf(n));
    fc.assert(
      fc.property(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (i, edits, cut) => {
          const seed = seeds[i]!;
          const b = Buffer.from(seed.body);
          for (const [pos, v] of edits) b[pos % b.length] = v;
          check(b, seed.ts);
          check(b.subarray(0, cut % (b.length + 1)), seed.ts);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('header-level fuzz on the Part 10 reader', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (tail) => {
        const b = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from(tail)]);
        try {
          parsePart10Header(b);
        } catch (e) {
          if (!(e instanceof DicomParseError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('a 4 GB declared length fails as truncated without allocating it', () => {
    const b = Buffer.from('7fe0100000000000ffffffe0', 'hex'); // implicit LE (E07F,1000)... length 0xE0FFFFFF
    const before = process.memoryUsage().arrayBuffers;
    expect(() => readDataset(Buffer.from('e07f1000feffffff', 'hex'), IMPLICIT_LE)).toThrow(DicomParseError);
    expect(() => readDataset(b, IMPLICIT_LE)).toThrow(DicomParseError);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('sequences nested 10,000 deep fail as too-deep instead of overflowing the stack', () => {
    const open = Buffer.concat([Buffer.from('08001511', 'hex'), Buffer.from('ffffffff', 'hex'), Buffer.from('feff00e0ffffffff', 'hex')]);
    const b = Buffer.concat(Array.from({ length: 10_000 }, () => open));
    expect(() => readDataset(b, IMPLICIT_LE)).toThrow(expect.objectContaining({ code: 'too-deep' }));
  });

  it('readElementAt reports truncation so incremental readers can ask for more', () => {
    const seq = Buffer.concat([
      Buffer.from('08001511ffffffff', 'hex'),
      Buffer.from('feff00e00a000000', 'hex'),
      Buffer.from('0800600002000000', 'hex'),
      Buffer.from('4354', 'hex'),
    ]);
    expect(() => readElementAt(seq, 0, IMPLICIT_LE)).toThrow(expect.objectContaining({ code: 'truncated' }));
    const done = Buffer.concat([seq, Buffer.from('feffdde000000000', 'hex')]);
    const { element, end } = readElementAt(done, 0, IMPLICIT_LE);
    expect(end).toBe(done.length);
    expect(getString(element.items![0]!, 0x00080060)).toBe('CT');
    void ITEM;
    void SEQUENCE_DELIMITATION;
  });
});
