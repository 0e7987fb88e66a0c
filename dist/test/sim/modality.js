import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readDataset, sequenceElement, stringElement, usElement, writeDataset } from "../../drivers/dicom/data/codec.js";
import { characterSetOf, textOf } from "../../drivers/dicom/data/charset.js";
import { MODALITY_WORKLIST_FIND } from "../../drivers/dicom/data/sopClasses.js";
import { EXPLICIT_LE, EXPLICIT_VR_LITTLE_ENDIAN } from "../../drivers/dicom/data/transferSyntaxes.js";
import { ScuAssociation, datasetStream, describeFile } from "../../drivers/dicom/net/scu.js";
const CT = '1.2.840.10008.5.1.4.1.1.2';
const uid = () => `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`).toString()}`;
/** CT-like instances: one study per patient, Vietnamese names in ISO_IR 192, `pixelBytes` of pixel data each. */
export function generateStudy(options) {
    const study = options.studyUid ?? uid();
    const series = uid();
    const out = [];
    const side = Math.max(1, Math.floor(Math.sqrt(options.pixelBytes / 2)));
    for (let i = 0; i < options.instances; i++) {
        const sop = uid();
        const els = [
            stringElement(0x00080005, 'CS', 'ISO_IR 192'),
            stringElement(0x00080016, 'UI', CT),
            stringElement(0x00080018, 'UI', sop),
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
export async function filesIn(dir) {
    const out = [];
    for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (!statSync(path).isFile())
            continue;
        try {
            out.push(await describeFile(path));
        }
        catch {
            // not Part 10: skipped, as a modality's export folder may hold other files
        }
    }
    return out;
}
/**
 * A modality for tests, the demo and the benchmark: sends instances by C-STORE over up to
 * `associations` parallel associations (each proposing exactly the SOP class / transfer
 * syntax pairs it needs) and queries the Modality Worklist.
 */
export async function startModality(options) {
    const base = { host: options.host ?? '127.0.0.1', port: options.port, calledAe: options.calledAe ?? 'EDGE', callingAe: options.callingAe ?? 'MODALITY' };
    const send = async (items) => {
        const started = Date.now();
        const pairs = new Map();
        for (const it of items)
            pairs.set(`${it.sopClassUid}|${it.transferSyntaxUid}`, { abstractSyntax: it.sopClassUid, transferSyntaxes: [it.transferSyntaxUid] });
        const contexts = [...pairs.values()].slice(0, 128);
        const report = { sent: 0, failed: [], ms: 0 };
        let next = 0;
        const worker = async () => {
            if (next >= items.length)
                return;
            const assoc = await ScuAssociation.open({ ...base, contexts });
            try {
                while (next < items.length) {
                    const it = items[next++];
                    try {
                        const r = await assoc.store({ sopClassUid: it.sopClassUid, sopInstanceUid: it.sopInstanceUid, transferSyntaxUid: it.transferSyntaxUid, dataset: it.dataset() });
                        if (r.status === 0 || (r.status & 0xf000) === 0xb000)
                            report.sent++;
                        else
                            report.failed.push({ sopInstanceUid: it.sopInstanceUid, status: r.status });
                    }
                    catch (err) {
                        report.failed.push({ sopInstanceUid: it.sopInstanceUid, error: err.message });
                        if (!assoc.isOpen)
                            return;
                    }
                }
            }
            finally {
                await assoc.release();
            }
        };
        await Promise.all(Array.from({ length: Math.max(1, options.associations ?? 1) }, worker));
        report.ms = Date.now() - started;
        return report;
    };
    const queryWorklist = async (keys) => {
        const identifier = keys ?? [
            stringElement(0x00080005, 'CS', 'ISO_IR 192'),
            stringElement(0x00080050, 'SH', ''),
            stringElement(0x00100010, 'PN', ''),
            stringElement(0x00100020, 'LO', ''),
            sequenceElement(0x00400100, [[stringElement(0x00080060, 'CS', ''), stringElement(0x00400002, 'DA', ''), stringElement(0x00400007, 'LO', '')]]),
        ];
        const assoc = await ScuAssociation.open({ ...base, contexts: [{ abstractSyntax: MODALITY_WORKLIST_FIND, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }] });
        try {
            const answers = [];
            const status = await assoc.find(MODALITY_WORKLIST_FIND, writeDataset(identifier, EXPLICIT_LE), (bytes) => answers.push(readDataset(bytes, EXPLICIT_LE)));
            return { status, answers };
        }
        finally {
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
            if (!a)
                return null;
            const text = (tag) => textOf(a, tag, characterSetOf(a)) ?? '';
            return { patientName: text(0x00100010), patientId: text(0x00100020), accessionNumber: text(0x00080050), studyUid: text(0x0020000d) };
        },
        stop: async () => undefined,
    };
}
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
    const arg = (name) => {
        const i = process.argv.indexOf(`--${name}`);
        return i > 0 ? process.argv[i + 1] : undefined;
    };
    const modality = await startModality({ port: Number(arg('port') ?? 11112), host: arg('host') ?? '127.0.0.1', calledAe: arg('called') ?? 'EDGE', callingAe: arg('ae') ?? 'CT01', associations: Number(arg('associations') ?? 1) });
    if (process.argv.includes('--worklist')) {
        const r = await modality.queryWorklist();
        console.log(`worklist: status ${r.status.toString(16)}, ${r.answers.length} scheduled step(s)`);
    }
    else {
        const dir = arg('dir');
        const report = dir ? await modality.sendFiles(await filesIn(dir)) : await modality.sendGenerated(generateStudy({ instances: Number(arg('generate') ?? 20), pixelBytes: Number(arg('kb') ?? 512) * 1024 }));
        console.log(`sent ${report.sent} instance(s) in ${report.ms} ms, ${report.failed.length} failed`);
        for (const f of report.failed.slice(0, 10))
            console.log(`  ${f.sopInstanceUid}: ${f.status !== undefined ? f.status.toString(16) : f.error}`);
    }
}
