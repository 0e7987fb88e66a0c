import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readDataset, sequenceElement, stringElement, usElement, writeDataset } from '../../modules/dicom/data/codec.ts';
import type { DataElement } from '../../modules/dicom/data/codec.ts';
import { characterSetOf, textOf } from '../../modules/dicom/data/charset.ts';
import { MODALITY_WORKLIST_FIND } from '../../modules/dicom/data/sopClasses.ts';
import { EXPLICIT_LE, EXPLICIT_VR_LITTLE_ENDIAN } from '../../modules/dicom/data/transferSyntaxes.ts';
import { ScuAssociation, datasetStream, describeFile } from '../../modules/dicom/net/scu.ts';
import type { StoredFile } from '../../modules/dicom/net/scu.ts';

const CT = '1.2.840.10008.5.1.4.1.1.2';

export interface ModalityOptions {
  host?: string;
  port: number;
  calledAe?: string;
  callingAe?: string;
  /** Associations used in parallel for sending. */
  associations?: number;
}

export interface SendReport {
  sent: number;
  failed: Array<{ sopInstanceUid: string; status?: number; error?: string }>;
  ms: number;
}

/** What a modality takes from a worklist answer into the images it makes. */
export interface WorklistPatient {
  patientName: string;
  patientId: string;
  accessionNumber: string;
  studyUid: string;
}

/** One generated instance: dataset bytes (explicit VR LE) and its UIDs. */
export interface GeneratedInstance {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  dataset: Buffer;
}

const uid = (): string => `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`).toString()}`;

/** Date (YYYYMMDD) and time (HHMMSS) as a modality in Việt Nam stamps them: its own local clock. */
export function modalityDateTime(ms = Date.now(), timeZone = 'Asia/Ho_Chi_Minh'): { date: string; time: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  return { date: `${parts.year}${parts.month}${parts.day}`, time: `${parts.hour}${parts.minute}${parts.second}` };
}

/**
 * CT-like instances: one study per patient, Vietnamese names in ISO_IR 192, `pixelBytes` of
 * pixel data each, dated now (Study Date and Time) unless `studyDate`/`studyTime` say otherwise.
 */
export function generateStudy(
  options: { instances: number; pixelBytes: number; studyDate?: string; studyTime?: string } & Partial<WorklistPatient>,
): GeneratedInstance[] {
  const study = options.studyUid ?? uid();
  const now = modalityDateTime();
  const series = uid();
  const out: GeneratedInstance[] = [];
  const side = Math.max(1, Math.floor(Math.sqrt(options.pixelBytes / 2)));
  for (let i = 0; i < options.instances; i++) {
    const sop = uid();
    const els: DataElement[] = [
      stringElement(0x00080005, 'CS', 'ISO_IR 192'),
      stringElement(0x00080016, 'UI', CT),
      stringElement(0x00080018, 'UI', sop),
      stringElement(0x00080020, 'DA', options.studyDate ?? now.date),
      stringElement(0x00080030, 'TM', options.studyTime ?? now.time),
      stringElement(0x00080050, 'SH', options.accessionNumber ?? 'ACC0001'),
      stringElement(0x00080060, 'CS', 'CT'),
      { tag: 0x00100010, vr: 'PN', value: Buffer.from(options.patientName ?? 'Nguyễn^Văn An', 'utf8') },
      stringElement(0x00100020, 'LO', options.patientId ?? 'P0001'),
      stringElement(0x0020000d, 'UI', study),
      stringElement(0x0020000e, 'UI', series),
      stringElement(0x00200013, 'IS', String(i + 1)),
      usElement(0x00280002, 1),
      stringElement(0x00280004, 'CS', 'MONOCHROME2'),
      usElement(0x00280010, side),
      usElement(0x00280011, side),
      usElement(0x00280100, 16),
      usElement(0x00280101, 12),
      usElement(0x00280102, 11),
      usElement(0x00280103, 0),
      { tag: 0x7fe00010, vr: 'OW', value: Buffer.alloc(side * side * 2, i & 0xff) },
    ].map((e) => (e.value.length % 2 ? { ...e, value: Buffer.concat([e.value, Buffer.from(' ')]) } : e));
    out.push({ sopClassUid: CT, sopInstanceUid: sop, transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN, dataset: writeDataset(els, EXPLICIT_LE) });
  }
  return out;
}

/** Every Part 10 file under a folder (not recursive). */
export async function filesIn(dir: string): Promise<StoredFile[]> {
  const out: StoredFile[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    try {
      out.push(await describeFile(path));
    } catch {
      // not Part 10: skipped, as a modality's export folder may hold other files
    }
  }
  return out;
}

type Item = { sopClassUid: string; sopInstanceUid: string; transferSyntaxUid: string; dataset: () => Buffer | AsyncIterable<Buffer> };

/**
 * A modality for tests, the demo and the benchmark: sends instances by C-STORE over up to
 * `associations` parallel associations (each proposing exactly the SOP class / transfer
 * syntax pairs it needs) and queries the Modality Worklist.
 */
export async function startModality(options: ModalityOptions): Promise<{
  sendFiles(files: StoredFile[]): Promise<SendReport>;
  sendGenerated(instances: GeneratedInstance[]): Promise<SendReport>;
  queryWorklist(keys?: DataElement[]): Promise<{ status: number; answers: DataElement[][] }>;
  nextFromWorklist(day: string): Promise<WorklistPatient | null>;
  stop(): Promise<void>;
}> {
  const base = { host: options.host ?? '127.0.0.1', port: options.port, calledAe: options.calledAe ?? 'EDGE', callingAe: options.callingAe ?? 'MODALITY' };
  const send = async (items: Item[]): Promise<SendReport> => {
    const started = Date.now();
    const pairs = new Map<string, { abstractSyntax: string; transferSyntaxes: string[] }>();
    for (const it of items)
      pairs.set(`${it.sopClassUid}|${it.transferSyntaxUid}`, { abstractSyntax: it.sopClassUid, transferSyntaxes: [it.transferSyntaxUid] });
    const contexts = [...pairs.values()].slice(0, 128);
    const report: SendReport = { sent: 0, failed: [], ms: 0 };
    let next = 0;
    const worker = async (): Promise<void> => {
      if (next >= items.length) return;
      const assoc = await ScuAssociation.open({ ...base, contexts });
      try {
        while (next < items.length) {
          const it = items[next++]!;
          try {
            const r = await assoc.store({
              sopClassUid: it.sopClassUid,
              sopInstanceUid: it.sopInstanceUid,
              transferSyntaxUid: it.transferSyntaxUid,
              dataset: it.dataset(),
            });
            if (r.status === 0 || (r.status & 0xf000) === 0xb000) report.sent++;
            else report.failed.push({ sopInstanceUid: it.sopInstanceUid, status: r.status });
          } catch (err) {
            report.failed.push({ sopInstanceUid: it.sopInstanceUid, error: (err as Error).message });
            if (!assoc.isOpen) return;
          }
        }
      } finally {
        await assoc.release();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.associations ?? 1) }, worker));
    report.ms = Date.now() - started;
    return report;
  };
  const queryWorklist = async (keys?: DataElement[]): Promise<{ status: number; answers: DataElement[][] }> => {
    const identifier = keys ?? [
      stringElement(0x00080005, 'CS', 'ISO_IR 192'),
      stringElement(0x00080050, 'SH', ''),
      stringElement(0x00100010, 'PN', ''),
      stringElement(0x00100020, 'LO', ''),
      sequenceElement(0x00400100, [[stringElement(0x00080060, 'CS', ''), stringElement(0x00400002, 'DA', ''), stringElement(0x00400007, 'LO', '')]]),
    ];
    const assoc = await ScuAssociation.open({ ...base, contexts: [{ abstractSyntax: MODALITY_WORKLIST_FIND, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }] });
    try {
      const answers: DataElement[][] = [];
      const status = await assoc.find(MODALITY_WORKLIST_FIND, writeDataset(identifier, EXPLICIT_LE), (bytes) => answers.push(readDataset(bytes, EXPLICIT_LE)));
      return { status, answers };
    } finally {
      await assoc.release();
    }
  };
  return {
    sendFiles: (files) => send(files.map((f) => ({ ...f, dataset: () => datasetStream(f) }))),
    sendGenerated: (instances) => send(instances.map((g) => ({ ...g, dataset: () => g.dataset }))),
    queryWorklist,
    /** The newest step scheduled for this station (its calling AE) on `day` (YYYYMMDD), as a technologist picks it. */
    async nextFromWorklist(day) {
      const { answers } = await queryWorklist([
        stringElement(0x00080005, 'CS', 'ISO_IR 192'),
        stringElement(0x00080050, 'SH', ''),
        stringElement(0x00100010, 'PN', ''),
        stringElement(0x00100020, 'LO', ''),
        stringElement(0x0020000d, 'UI', ''),
        sequenceElement(0x00400100, [[stringElement(0x00400001, 'AE', base.callingAe), stringElement(0x00400002, 'DA', day)]]),
      ]);
      const a = answers[0];
      if (!a) return null;
      const text = (tag: number) => textOf(a, tag, characterSetOf(a)) ?? '';
      return { patientName: text(0x00100010), patientId: text(0x00100020), accessionNumber: text(0x00080050), studyUid: text(0x0020000d) };
    },
    stop: async () => undefined,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const modality = await startModality({
    port: Number(arg('port') ?? 11112),
    host: arg('host') ?? '127.0.0.1',
    calledAe: arg('called') ?? 'EDGE',
    callingAe: arg('ae') ?? 'CT01',
    associations: Number(arg('associations') ?? 1),
  });
  if (process.argv.includes('--worklist')) {
    const r = await modality.queryWorklist();
    console.log(`worklist: status ${r.status.toString(16)}, ${r.answers.length} scheduled step(s)`);
  } else {
    const dir = arg('dir');
    const report = dir
      ? await modality.sendFiles(await filesIn(dir))
      : await modality.sendGenerated(generateStudy({ instances: Number(arg('generate') ?? 20), pixelBytes: Number(arg('kb') ?? 512) * 1024 }));
    console.log(`sent ${report.sent} instance(s) in ${report.ms} ms, ${report.failed.length} failed`);
    for (const f of report.failed.slice(0, 10)) console.log(`  ${f.sopInstanceUid}: ${f.status !== undefined ? f.status.toString(16) : f.error}`);
  }
}
