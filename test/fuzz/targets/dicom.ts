import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAssociateAc, decodeAssociateRq, encodeAssociateRq } from '../../../modules/dicom/net/associate.ts';
import { decodeCommand, encodeCommand } from '../../../modules/dicom/net/dimse.ts';
import { DicomPduError, PDU_ASSOCIATE_AC, PDU_ASSOCIATE_RQ, PDU_DATA_TF, PduReader, type Pdu } from '../../../modules/dicom/net/pdu.ts';
import {
  DicomParseError,
  getNumber,
  getUid,
  readDataset,
  readDatasetWithEnd,
  sniffEncoding,
  writeDataset,
  PIXEL_DATA,
  type DataElement,
} from '../../../modules/dicom/data/codec.ts';
import { characterSetOf, decodeText, elementText, parseCharacterSet } from '../../../modules/dicom/data/charset.ts';
import { parsePart10Header, part10Header } from '../../../modules/dicom/data/part10.ts';
import { CoercionError, coercePart10, type CoercionRule } from '../../../modules/dicom/data/coerce.ts';
import { instanceMetaOf, scanDataset } from '../../../modules/dicom/data/instanceMeta.ts';
import { EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE, datasetEncodingOf, type DatasetEncoding } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { chunksAt, type Rng } from '../lib/rng.ts';
import { oracle, OracleError, wellFormed, type FuzzTarget } from '../lib/target.ts';
import { DICOM_TOKENS, dicomDatasets, dicomFiles, dicomPduStreams, dimseCommands } from '../seeds.ts';

const dicomError = (err: unknown): boolean => err instanceof DicomParseError || err instanceof DicomPduError;

function summarize(pdus: Pdu[]): string {
  // PDV data per context and kind, joined: the same whatever socket chunks it came in.
  const data = new Map<string, Buffer[]>();
  const kinds: string[] = [];
  for (const p of pdus) {
    if (p.type === PDU_DATA_TF) {
      for (const v of p.pdvs) {
        const k = `${v.contextId}:${v.command}`;
        data.set(k, [...(data.get(k) ?? []), v.data]);
        if (v.last) kinds.push(`last:${k}`);
      }
    } else kinds.push(JSON.stringify(p, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v)));
  }
  return JSON.stringify([kinds, [...data].map(([k, parts]) => [k, Buffer.concat(parts).toString('hex')])]);
}

function feedAll(reader: PduReader, chunks: Buffer[]): { pdus: Pdu[]; error: string } {
  const pdus: Pdu[] = [];
  try {
    for (const c of chunks) pdus.push(...reader.feed(c));
    return { pdus, error: '' };
  } catch (err) {
    if (!(err instanceof DicomPduError)) throw err;
    return { pdus, error: err.code };
  }
}

export const pduTarget: FuzzTarget = {
  name: 'dicom.pdu',
  about:
    'PduReader (modules/dicom/net/pdu.ts) fed mutated association streams whole and cut at random offsets, then decodeAssociateRq/Ac on association PDUs and decodeCommand on each complete command. Allowed: DicomPduError, DicomParseError. Oracles: the same PDUs and PDV data whatever the split; bytes held ≤ one PDU of the allowed size; an A-ASSOCIATE-RQ decodes the same after encodeAssociateRq.',
  seeds: dicomPduStreams,
  tokens: DICOM_TOKENS,
  maxInputBytes: 512 * 1024,
  expected: dicomError,
  run(input: Buffer, rng: Rng) {
    const options = { maxDataLength: rng.pick([1024, 16384 + 64, 1 << 20]), maxAssociateLength: rng.pick([4096, 1 << 20]) };
    const whole = feedAll(new PduReader(options), [input]);
    const splitReader = new PduReader(options);
    const split = feedAll(splitReader, chunksAt(input, rng.splits(input.length, 16)));
    oracle(whole.error === split.error, `split changed the outcome: "${whole.error}" whole, "${split.error}" split`);
    // After an error the association is aborted: the PDUs of the failing chunk are dropped, so
    // only error-free streams must read the same whatever the split.
    if (!whole.error) {
      oracle(summarize(whole.pdus) === summarize(split.pdus), 'split changed the PDUs read');
      oracle(
        splitReader.pending < 6 + Math.max(options.maxDataLength, options.maxAssociateLength),
        `reader holds ${splitReader.pending} bytes, more than one PDU`,
      );
    }
    const command: Buffer[] = [];
    for (const p of whole.pdus) {
      if (p.type === PDU_ASSOCIATE_RQ) {
        const rq = decodeAssociateRq(p.body);
        const again = decodeAssociateRq(encodeAssociateRq(rq).subarray(6));
        const norm = (x: typeof rq) =>
          JSON.stringify({
            called: x.calledAe.slice(0, 16),
            calling: x.callingAe.slice(0, 16),
            ctx: x.contexts,
            app: x.applicationContext,
            max: x.user.maxPduLength >>> 0,
          });
        oracle(norm(again) === norm(rq), 'an A-ASSOCIATE-RQ does not decode the same after re-encoding');
      } else if (p.type === PDU_ASSOCIATE_AC) decodeAssociateAc(p.body);
      else if (p.type === PDU_DATA_TF) {
        for (const v of p.pdvs) {
          if (!v.command) continue;
          command.push(v.data);
          if (v.last) {
            decodeCommand(Buffer.concat(command));
            command.length = 0;
          }
        }
      }
    }
  },
};

export const dimseTarget: FuzzTarget = {
  name: 'dicom.dimse',
  about: 'decodeCommand (modules/dicom/net/dimse.ts) on a mutated command set. Allowed: DicomParseError. Oracle: decode(encode(decode(x))) equals decode(x).',
  seeds: dimseCommands,
  tokens: DICOM_TOKENS,
  maxInputBytes: 64 * 1024,
  expected: dicomError,
  run(input: Buffer) {
    const cmd = decodeCommand(input);
    const again = decodeCommand(encodeCommand(cmd));
    // A NUL before trailing whitespace survives decodeCommand's trimming (".replace(/[\0 ]+$/, '').trim()")
    // and goes on re-encoding: harmless (nothing matches such a UID anyway), so not compared.
    const tidy = (v: unknown) => (typeof v === 'string' ? v.replace(/[\0\s]+$/, '') || undefined : v);
    const norm = (c: typeof cmd) =>
      JSON.stringify(Object.fromEntries(Object.entries({ ...c, errorComment: c.errorComment?.slice(0, 64) }).map(([k, v]) => [k, tidy(v)])));
    oracle(norm(again) === norm(cmd), `a command does not decode the same after re-encoding: ${norm(cmd).slice(0, 200)} vs ${norm(again).slice(0, 200)}`);
  },
};

/** Reads every value the box reads: text in the character set in force (sequences inherit it), numbers, UIDs. */
function readValues(elements: DataElement[], ts: DatasetEncoding, inherited = parseCharacterSet('')): void {
  const cs = characterSetOf(elements, inherited);
  for (const e of elements) {
    const text = elementText(e, cs);
    if (text !== undefined) oracle(wellFormed(text), `text of ${e.tag.toString(16)} is not well-formed UTF-16`);
    getNumber([e], e.tag, ts.littleEndian);
    getUid([e], e.tag);
    for (const item of e.items ?? []) readValues(item, ts, cs);
  }
}

function sameElements(a: DataElement[], b: DataElement[], path = ''): string | null {
  if (a.length !== b.length) return `${path}: ${a.length} elements, ${b.length} after the round trip`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const here = `${path}/${x.tag.toString(16).padStart(8, '0')}`;
    if (x.tag !== y.tag) return `${here}: tag became ${y.tag.toString(16)}`;
    if (!x.value.equals(y.value)) return `${here}: value changed`;
    if ((x.items?.length ?? -1) !== (y.items?.length ?? -1)) return `${here}: item count changed`;
    if ((x.fragments?.length ?? -1) !== (y.fragments?.length ?? -1)) return `${here}: fragment count changed`;
    for (let k = 0; k < (x.fragments?.length ?? 0); k++) if (!x.fragments![k]!.equals(y.fragments![k]!)) return `${here}: fragment ${k} changed`;
    for (let k = 0; k < (x.items?.length ?? 0); k++) {
      const d = sameElements(x.items![k]!, y.items![k]!, `${here}[${k}]`);
      if (d) return d;
    }
  }
  return null;
}

const ENCODINGS: DatasetEncoding[] = [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE];

export const datasetTarget: FuzzTarget = {
  name: 'dicom.dataset',
  about:
    'The dataset codec (modules/dicom/data/codec.ts, charset.ts): sniffEncoding and readDataset of a mutated dataset in its own or another encoding (also stopping at the pixel data), every text value decoded in the character set in force, numbers and UIDs read. Allowed: DicomParseError. Oracles: decoded text is well-formed; what was read is written back by writeDataset and reads again to the same tags, values, items and fragments.',
  seeds: () => dicomDatasets().map((d) => d.bytes),
  tokens: DICOM_TOKENS,
  maxInputBytes: 512 * 1024,
  expected: dicomError,
  run(input: Buffer, rng: Rng) {
    let ts = rng.pick(ENCODINGS);
    if (rng.chance(0.5)) ts = sniffEncoding(input, 0, ts);
    const elements = rng.chance(0.3) ? readDatasetWithEnd(input, ts, { stopAtTag: PIXEL_DATA }).elements : readDataset(input, ts);
    readValues(elements, ts);
    let written: Buffer;
    try {
      written = writeDataset(elements, ts);
    } catch (err) {
      throw new OracleError(`a dataset that was read cannot be written back: ${(err as Error).message}`);
    }
    const diff = sameElements(elements, readDataset(written, ts));
    oracle(diff === null, `write/read round trip changed the dataset: ${diff}`);
  },
};

export const charsetTarget: FuzzTarget = {
  name: 'dicom.charset',
  about:
    'decodeText (modules/dicom/data/charset.ts) of a mutated value in each (0008,0005) the box knows, ISO 2022 code extensions included (the first input byte picks the set, the second the VR). Must never throw; oracle: the text is well-formed UTF-16.',
  seeds: () => {
    const values = [
      'Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B',
      'Wang^XiaoDong=\x1b$)A\xcd\xf5^\xd0\xa1\xb6\xab=',
      'Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=',
      'Nguy\xe1\xbb\x85n^Th\xe1\xbb\x8b \xc3\x81nh',
      'Buc^J\xe9r\xf4me',
      '\x1b-A\xe9\x1b-L\xe1\\second',
    ];
    return values.flatMap((v) => [0, 3, 7, 11].map((k) => Buffer.concat([Buffer.of(k, 0), Buffer.from(v, 'latin1')])));
  },
  tokens: DICOM_TOKENS.slice(9),
  maxInputBytes: 16 * 1024,
  expected: () => false,
  run(input: Buffer) {
    const sets = [
      '',
      'ISO_IR 100',
      'ISO_IR 192',
      'GB18030',
      'GBK',
      'ISO_IR 13',
      'ISO_IR 166',
      '\\ISO 2022 IR 87',
      'ISO 2022 IR 13\\ISO 2022 IR 87',
      'ISO 2022 IR 6\\ISO 2022 IR 149',
      'ISO 2022 IR 6\\ISO 2022 IR 58',
      '\\ISO 2022 IR 100\\ISO 2022 IR 144',
      'ISO 2022 IR 6\\ISO 2022 IR 159\\ISO 2022 IR 87',
      'ISO_IR 144',
      'nonsense',
    ];
    const vrs = ['PN', 'LO', 'SH', 'ST', 'LT', 'UT', 'UC', 'CS'];
    const set = sets[(input[0] ?? 0) % sets.length]!;
    const vr = vrs[(input[1] ?? 0) % vrs.length]!;
    const text = decodeText(input.subarray(2), vr, parseCharacterSet(set));
    oracle(typeof text === 'string' && wellFormed(text), `text decoded in ${set || 'the default repertoire'} is not well-formed UTF-16`);
  },
};

const scratchDir = mkdtempSync(join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), 'fuzz-dicom-'));
process.once('exit', () => rmSync(scratchDir, { recursive: true, force: true }));
let fileSeq = 0;

export const part10Target: FuzzTarget = {
  name: 'dicom.part10',
  about:
    'parsePart10Header (modules/dicom/data/part10.ts) on a mutated Part 10 file: preamble, DICM, the file meta group with or without its group length. Allowed: DicomParseError. Oracle: the dataset offset lies within the file.',
  seeds: dicomFiles,
  tokens: DICOM_TOKENS,
  maxInputBytes: 256 * 1024,
  expected: dicomError,
  run(input: Buffer) {
    const meta = parsePart10Header(input);
    oracle(meta.datasetOffset >= 132 && meta.datasetOffset <= input.length, `dataset offset ${meta.datasetOffset} outside a file of ${input.length} bytes`);
    datasetEncodingOf(meta.transferSyntaxUid);
  },
};

/** What the SCP writes: its own Part 10 header (from the negotiated transfer syntax) and the dataset bytes as received. */
function storedFile(dataset: Buffer, rng: Rng): { file: string; bytes: Buffer; header: Buffer; transferSyntaxUid: string } {
  const transferSyntaxUid = rng.pick([
    '1.2.840.10008.1.2',
    '1.2.840.10008.1.2.1',
    '1.2.840.10008.1.2.2',
    '1.2.840.10008.1.2.1.99',
    '1.2.840.10008.1.2.4.50',
    '1.2.840.10008.1.2.4.90',
    '1.2.3.4.private',
  ]);
  const header = part10Header({ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '2.25.42', transferSyntaxUid, sourceAeTitle: 'MODALITY' });
  const bytes = Buffer.concat([header, dataset]);
  const file = join(scratchDir, `f${fileSeq++ % 4}.dcm`);
  writeFileSync(file, bytes);
  return { file, bytes, header, transferSyntaxUid };
}

const datasetSeeds = (): Buffer[] => dicomDatasets().map((d) => d.bytes);

export const scanTarget: FuzzTarget = {
  name: 'dicom.scan',
  about:
    "A received instance as the dicom-scp reads it after C-STORE (modules/dicom/net/dicomScp.ts, data/instanceMeta.ts): the box's Part 10 header in one of several transfer syntaxes (deflated included) and a mutated dataset, read from its head in memory (sniffEncoding, readDatasetWithEnd, instanceMetaOf) and by scanDataset from the file (streaming, inflating, skipping large values, stopping at the pixel data). Allowed: DicomParseError; the allocation bound catches a length field that makes the scan buffer gigabytes.",
  seeds: datasetSeeds,
  tokens: DICOM_TOKENS,
  maxInputBytes: 512 * 1024,
  expected: dicomError,
  async run(input: Buffer, rng: Rng) {
    const { file, bytes, header, transferSyntaxUid } = storedFile(input, rng);
    const ts = datasetEncodingOf(transferSyntaxUid);
    if (!ts.deflated && input.length >= 8) {
      const encoding = sniffEncoding(input, 0, ts);
      const head = input.subarray(0, rng.chance(0.5) ? input.length : 64 * 1024);
      try {
        const { elements } = readDatasetWithEnd(head, encoding, { stopAtTag: PIXEL_DATA, ranges: false });
        instanceMetaOf(elements, parsePart10Header(header), encoding);
      } catch (err) {
        if (!(err instanceof DicomParseError)) throw err;
      }
    }
    const scan = await scanDataset(file, { size: bytes.length });
    instanceMetaOf(scan.elements, scan.part10, scan.encoding);
  },
};

const RULES: CoercionRule[][] = [
  [{ tag: 'InstitutionName', value: 'Bệnh viện Thử nghiệm' }],
  [
    { tag: '0010,0010', fromOrder: 'patientName' },
    { tag: '0010,0020', fromOrder: 'patientId', when: 'empty' },
  ],
  [
    { tag: 'PatientBirthDate', remove: true },
    { tag: 'AccessionNumber', fromOrder: 'accessionNumber' },
  ],
];

export const coerceTarget: FuzzTarget = {
  name: 'dicom.coerce',
  about:
    "coercePart10 (modules/dicom/data/coerce.ts), which a dicom-cstore or dicom-stowrs destination with coercion rules runs on every stored instance before sending it: the box's header, a mutated dataset, rules that set, fill from the order and remove, then the coerced stream read to its end. Allowed: DicomParseError, CoercionError. Oracle: the stream is as long as the size announced.",
  seeds: datasetSeeds,
  tokens: DICOM_TOKENS,
  maxInputBytes: 512 * 1024,
  expected: (err) => dicomError(err) || err instanceof CoercionError,
  async run(input: Buffer, rng: Rng) {
    const { file, bytes } = storedFile(input, rng);
    const order = { specimenId: 'ACC-1', accessionNumber: 'ACC-1', tests: ['CT01'], patientId: 'BN-1', patientName: 'Nguyễn^Thị Ánh' };
    const coerced = await coercePart10(file, rng.pick(RULES), { orderByAccession: () => order }, bytes.length);
    let n = 0;
    for await (const chunk of coerced.stream()) n += (chunk as Buffer).length;
    oracle(n === coerced.size, `the coerced stream has ${n} bytes, ${coerced.size} announced`);
  },
};
