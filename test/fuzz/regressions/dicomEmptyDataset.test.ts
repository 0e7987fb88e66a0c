// Found by the dicom.scan and dicom.coerce fuzz targets (docs/FUZZING.md): a C-STORE whose
// dataset is empty (one zero-length PDV with the last bit) is written by the dicom-scp as the
// box's Part 10 header alone. Reading it back, scanDataset (modules/dicom/data/instanceMeta.ts)
// opens createReadStream(path, { start: datasetOffset, end: size - 1 }) with end < start, which
// throws ERR_OUT_OF_RANGE, a RangeError: not a DicomParseError. The SCP logs "stored but does not
// parse" (it catches everything); a dicom-cstore or dicom-stowrs destination with coercion rules
// calls coercePart10 → scanDataset and answers 'retry' ("coercion failed") for ever: the
// instance is never sent nor parked. Fixed: an empty dataset reads as no elements, and a dataset
// that does not parse is a permanent refusal at the destinations, never a retry for ever.
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { coercePart10 } from '../../../modules/dicom/data/coerce.ts';
import { scanDataset } from '../../../modules/dicom/data/instanceMeta.ts';
import { part10Header } from '../../../modules/dicom/data/part10.ts';
import { tempDir } from '../../helpers/tmp.ts';

const { dir, cleanup } = tempDir('fuzz-regression-');
afterAll(cleanup);

function emptyInstance(): { file: string; size: number } {
  const header = part10Header({
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    sopInstanceUid: '2.25.42',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    sourceAeTitle: 'MODALITY',
  });
  const file = join(dir, 'empty.dcm');
  writeFileSync(file, header);
  return { file, size: header.length };
}

describe('fuzz regression: a C-STORE with an empty dataset', () => {
  it('scanDataset reads it as a dataset without elements (today: RangeError ERR_OUT_OF_RANGE from createReadStream)', async () => {
    const { file, size } = emptyInstance();
    const scan = await scanDataset(file, { size });
    expect(scan.elements).toEqual([]);
  });

  it('coercePart10 gives a DicomParseError or a coerced copy, never a RangeError (which a destination retries for ever)', async () => {
    const { file, size } = emptyInstance();
    const outcome = await coercePart10(file, [{ tag: 'InstitutionName', value: 'BV' }], {}, size).then(
      () => 'coerced',
      (err: Error) => err.name,
    );
    expect(['coerced', 'DicomParseError', 'CoercionError']).toContain(outcome);
  });
});
