import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Store, openStore } from '../../../core/store/store.ts';
import { stringElement, usElement, writeDataset } from '../../../modules/dicom/data/codec.ts';
import { EXPLICIT_LE, EXPLICIT_VR_LITTLE_ENDIAN } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { parsePart10Header } from '../../../modules/dicom/data/part10.ts';
import { ScuAssociation, describeFile, datasetStream } from '../../../modules/dicom/net/scu.ts';
import { tempDir } from '../../helpers/tmp.ts';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/dicom/pydicom');
const { dir, cleanup } = tempDir('edge-dicom-proc-');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  cleanup();
});

async function startChild(storeDir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/dicom/scpChild.ts', storeDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /^PORT (\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`SCP child exited (${code})`)));
  });
  return { child, port };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

describe('dicom-scp in its own process', () => {
  it('kill -9 during receives: every instance answered success is journaled with its outbox row after restart', async () => {
    const storeDir = join(dir, 'kill9');
    const { child, port } = await startChild(storeDir);
    const files = await Promise.all(
      readdirSync(FIXTURES)
        .filter((f) => f.endsWith('.dcm'))
        .map((f) => describeFile(join(FIXTURES, f)).catch(() => null)),
    );
    const usable = files.filter((f): f is NonNullable<typeof f> => f !== null && f.transferSyntaxUid === EXPLICIT_VR_LITTLE_ENDIAN);
    const contexts = [...new Set(usable.map((f) => f.sopClassUid))].map((uid) => ({ abstractSyntax: uid, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }));
    const assoc = await ScuAssociation.open({ host: '127.0.0.1', port, callingAe: 'MODALITY', calledAe: 'EDGE', contexts });
    const acknowledged: string[] = [];
    let failure: unknown = null;
    for (let round = 0; round < 20 && !failure; round++) {
      for (const f of usable) {
        try {
          const r = await assoc.store({ ...f, sopInstanceUid: `${f.sopInstanceUid}.${round}`, dataset: datasetStream(f) });
          if (r.status === 0) acknowledged.push(`${f.sopInstanceUid}.${round}`);
        } catch (err) {
          failure = err;
          break;
        }
        if (acknowledged.length === 25) child.kill('SIGKILL');
      }
    }
    // The modality saw a failure (the association died), never a success for something lost.
    expect(failure).not.toBeNull();
    await new Promise((r) => child.once('exit', r).exitCode !== null && r(null));
    const store = new Store({ dir: storeDir });
    try {
      // The instances went into preallocated pool files; those not yet named are finished now.
      expect((await store.recover()).staged).toBeGreaterThan(0);
      const rows = store.journalStore.list({ source: 'ct1', stream: 'dicom.instance', limit: 1000 });
      const keys = new Set(rows.map((r) => r.idempotencyKey.split(':')[0]));
      expect(acknowledged.filter((uid) => !keys.has(uid))).toEqual([]);
      for (const r of rows) {
        expect(store.outbox.list({ journalId: r.id })).toMatchObject([{ destination: 'pacs' }]);
        // Written into pool files and not yet named when killed: the restart finished them from the journal.
        const bytes = readFileSync(store.blobs.path(r.blob!));
        expect(bytes.length).toBe(r.blob!.size);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(r.blob!.hash);
      }
    } finally {
      store.close();
    }
  }, 120_000);

  it('receives a 500 MB multi-frame object with the SCP process RSS staying flat, stored byte for byte', async () => {
    const storeDir = join(dir, 'large');
    const { child, port } = await startChild(storeDir);
    const frames = 500;
    const frameBytes = 1024 * 1024; // 512 × 1024 × 16 bit
    const head = writeDataset(
      [
        stringElement(0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.7.2'),
        stringElement(0x00080018, 'UI', '1.2.826.0.1.3680043.9.7777.500'),
        stringElement(0x00100010, 'PN', 'Nguyen^Van A'),
        stringElement(0x00280008, 'IS', String(frames)),
        usElement(0x00280010, 512),
        usElement(0x00280011, 1024),
        usElement(0x00280100, 16),
      ],
      EXPLICIT_LE,
    );
    const pixelHeader = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0, 0, 0, 0, 0]);
    pixelHeader.writeUInt32LE(frames * frameBytes, 8);
    const hash = createHash('sha256');
    async function* dataset(): AsyncIterable<Buffer> {
      hash.update(head).update(pixelHeader);
      yield Buffer.concat([head, pixelHeader]);
      for (let i = 0; i < frames; i++) {
        const frame = Buffer.alloc(frameBytes, i & 0xff);
        hash.update(frame);
        yield frame;
      }
    }
    const assoc = await ScuAssociation.open({
      host: '127.0.0.1',
      port,
      callingAe: 'MODALITY',
      calledAe: 'EDGE',
      contexts: [{ abstractSyntax: '1.2.840.10008.5.1.4.1.1.7.2', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }],
      responseTimeoutMs: 120_000,
    });
    let peak = rssMb(child.pid!);
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(child.pid!))), 50);
    const baseline = peak;
    let r;
    try {
      r = await assoc.store({
        sopClassUid: '1.2.840.10008.5.1.4.1.1.7.2',
        sopInstanceUid: '1.2.826.0.1.3680043.9.7777.500',
        transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
        dataset: dataset(),
      });
    } finally {
      clearInterval(sampler);
    }
    await assoc.release();
    expect(r.status).toBe(0);
    expect(peak, `RSS ${baseline.toFixed(0)} MB before, ${peak.toFixed(0)} MB peak`).toBeLessThan(200);
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    const store = await openStore({ dir: storeDir });
    try {
      const [row] = store.journalStore.list({ source: 'ct1', stream: 'dicom.instance', limit: 10 });
      expect(row!.parsed).toMatchObject({
        instance: { sopInstanceUid: '1.2.826.0.1.3680043.9.7777.500', numberOfFrames: frames },
        patient: { name: 'Nguyen^Van A' },
      });
      // The dataset part of the stored file hashes as what was sent.
      const path = store.blobs.path(row!.blob!);
      const fd = readFileSync(path, { flag: 'r' }).subarray(0, 4096);
      const offset = parsePart10Header(fd).datasetOffset;
      const stored = createHash('sha256');
      const { createReadStream } = await import('node:fs');
      for await (const c of createReadStream(path, { start: offset })) stored.update(c as Buffer);
      expect(stored.digest('hex')).toBe(hash.digest('hex'));
    } finally {
      store.close();
    }
  }, 300_000);
});
