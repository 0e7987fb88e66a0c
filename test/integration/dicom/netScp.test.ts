import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { openStore, type Store } from '../../../core/store/store.ts';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../modules/dicom/index.ts';
import { ScuAssociation } from '../../../modules/dicom/net/scu.ts';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { extractInstanceMeta } from '../../../modules/dicom/data/instanceMeta.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { part10Dataset, requireTool, runTool, startStorescp, storescuSyntaxFlag } from './dcmtkPeers.ts';
import { freePort } from '../../helpers/ports.ts';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/dicom/pydicom');
const { dir, cleanup } = tempDir('edge-dicom-scp-');
let store: Store;
let driver: DicomScpDriver;
let port: number;

beforeAll(async () => {
  requireTool('storescu', 'dcmtk');
  store = await openStore({ dir: join(dir, 'store') });
  const ctx = makeDriverContext(store, { id: 'ct1', routes: ['pacs'] });
  driver = dicomScpDriverFactory.create(ctx, {
    host: '127.0.0.1',
    port: 0,
    aeTitle: 'EDGE',
    allowedCallers: [{ aeTitle: 'STORESCU' }, { aeTitle: 'ECHOSCU' }, { aeTitle: 'NODE_SCU' }, { aeTitle: 'LOCAL_ONLY', addresses: ['10.9.9.9'] }],
    idleTimeoutMs: 1500,
    artimMs: 2000,
  }) as DicomScpDriver;
  await driver.start();
  port = driver.port;
});
afterAll(async () => {
  await driver?.stop();
  store?.close();
  cleanup();
});

const instances = () => store.journalStore.list({ source: 'ct1', stream: 'dicom.instance', limit: 1000 });
const tmpFiles = () => readdirSync(join(dir, 'store', 'blobs', 'tmp'));

describe('dicom-scp against DCMTK peers', () => {
  it('answers echoscu', async () => {
    const r = await runTool('echoscu', ['-aet', 'ECHOSCU', '-aec', 'EDGE', '127.0.0.1', String(port)]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('stores every pydicom file storescu can send, in its own transfer syntax, with the bytes storescu sent (as storescp +B got them), journaled with an outbox row', async () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.dcm'));
    const sent: string[] = [];
    const refused: Array<{ name: string; output: string }> = [];
    // The same storescu runs also go to storescp +B: what DCMTK puts on the wire is the reference
    // (storescu re-encodes some files itself, e.g. group lengths and padding).
    const refDir = join(dir, 'storescp');
    mkdirSync(refDir);
    const refPort = await freePort();
    const reference = await startStorescp(refDir, refPort);
    try {
      for (const name of files) {
        let ts: string;
        try {
          ts = part10Dataset(join(FIXTURES, name)).transferSyntaxUid;
        } catch {
          continue; // no or broken file meta: storescu would guess; the codec tests cover these files
        }
        const args = ['-R', storescuSyntaxFlag(ts), '-aet', 'STORESCU'];
        const r = await runTool('storescu', [...args, '-aec', 'EDGE', '127.0.0.1', String(port), join(FIXTURES, name)]);
        if (r.code === 0) {
          sent.push(name);
          const ref = await runTool('storescu', [...args, '-aec', 'PACS', '127.0.0.1', String(refPort), join(FIXTURES, name)]);
          expect(ref.code, ref.stderr).toBe(0);
        } else refused.push({ name, output: r.stderr + r.stdout });
      }
    } finally {
      await reference.stop();
    }
    // Files storescu itself cannot send (no SOP UIDs in the dataset, truncated) never reach the box;
    // every other failure would be ours.
    for (const f of refused) expect(f.output, f.name).toMatch(/^F: missing SOP class \(or instance\) in file/m);
    expect(sent.length).toBeGreaterThanOrEqual(45);
    const stored = instances();
    for (const e of stored) {
      expect(store.outbox.list({ journalId: e.id })).toMatchObject([{ destination: 'pacs', state: 'pending' }]);
      const uid = (e.parsed as { instance: { sopInstanceUid: string } }).instance.sopInstanceUid;
      expect(e.idempotencyKey).toBe(`${uid}:${e.blob!.hash}`);
      // Metadata read from the received bytes in memory is what reading the stored file gives.
      const fromFile = await extractInstanceMeta(store.blobs.path(e.blob!)).catch(() => null);
      if (fromFile) expect(e.parsed).toEqual(JSON.parse(JSON.stringify(fromFile)));
    }
    const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const ours = new Set(stored.map((e) => hash(part10Dataset(store.blobs.path(e.blob!)).dataset)));
    const theirs = new Set(readdirSync(refDir).map((f) => hash(part10Dataset(join(refDir, f)).dataset)));
    expect(theirs.size).toBeGreaterThanOrEqual(40);
    expect([...ours].sort()).toEqual([...theirs].sort());
    // And where storescu did not re-encode, that is the file's own dataset byte for byte.
    const identical = sent.filter((name) => ours.has(hash(part10Dataset(join(FIXTURES, name)).dataset)));
    expect(identical.length).toBeGreaterThanOrEqual(20);
    expect(tmpFiles()).toEqual([]);
  }, 240_000);

  it('keeps a repeat of the same bytes once (duplicate answered success) and a same-UID instance with other bytes twice', async () => {
    const file = join(FIXTURES, 'CT_small.dcm');
    const before = instances().length;
    const again = await runTool('storescu', ['-R', '-xe', '-aet', 'STORESCU', '-aec', 'EDGE', '127.0.0.1', String(port), file]);
    expect(again.code, again.stderr).toBe(0);
    expect(instances().length).toBe(before);
    expect(driver.status().counters?.duplicates).toBeGreaterThanOrEqual(1);
    // MR_small.dcm and MR_small_implicit.dcm share a SOP Instance UID: both entries exist.
    const uid = part10Dataset(join(FIXTURES, 'MR_small.dcm')).sopInstanceUid;
    const same = instances().filter((e) => (e.parsed as { instance: { sopInstanceUid: string } }).instance.sopInstanceUid === uid);
    expect(new Set(same.map((e) => e.blob!.hash)).size).toBeGreaterThanOrEqual(2);
  });

  it('refuses a wrong called AE title and a calling AE not on the allow-list (or from another address)', async () => {
    const before = instances().length;
    const called = await runTool('echoscu', ['-aet', 'ECHOSCU', '-aec', 'NOT_EDGE', '127.0.0.1', String(port)]);
    expect(called.code).not.toBe(0);
    expect(called.stderr + called.stdout).toMatch(/Called AE Title Not Recognized/i);
    const calling = await runTool('storescu', ['-aet', 'STRANGER', '-aec', 'EDGE', '127.0.0.1', String(port), join(FIXTURES, 'CT_small.dcm')]);
    expect(calling.code).not.toBe(0);
    expect(calling.stderr + calling.stdout).toMatch(/Calling AE Title Not Recognized/i);
    const address = await runTool('echoscu', ['-aet', 'LOCAL_ONLY', '-aec', 'EDGE', '127.0.0.1', String(port)]);
    expect(address.code).not.toBe(0);
    expect(instances().length).toBe(before);
  });

  it('keeps nothing from a peer that aborts mid-transfer (no entry, no temporary file)', async () => {
    const before = instances().length;
    const assoc = await ScuAssociation.open({
      host: '127.0.0.1',
      port,
      callingAe: 'NODE_SCU',
      calledAe: 'EDGE',
      contexts: [{ abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }],
    });
    const dataset = part10Dataset(join(FIXTURES, 'CT_small.dcm')).dataset;
    async function* half(): AsyncIterable<Buffer> {
      yield dataset.subarray(0, 4000);
      await new Promise((r) => setTimeout(r, 200));
      assoc.abort('test: abort mid-transfer');
      yield dataset.subarray(4000);
    }
    await expect(
      assoc.store({
        sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
        sopInstanceUid: '1.2.3.4.5.999.1',
        transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
        dataset: half(),
      }),
    ).rejects.toThrow();
    await waitFor(() => tmpFiles().length === 0, 'temporary blob removed');
    expect(instances().length).toBe(before);
  });

  it('keeps nothing from a peer that stalls mid-transfer (idle timeout aborts the association)', async () => {
    const before = instances().length;
    const assoc = await ScuAssociation.open({
      host: '127.0.0.1',
      port,
      callingAe: 'NODE_SCU',
      calledAe: 'EDGE',
      contexts: [{ abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }],
      responseTimeoutMs: 20_000,
    });
    const dataset = part10Dataset(join(FIXTURES, 'CT_small.dcm')).dataset;
    let release: () => void = () => undefined;
    async function* stall(): AsyncIterable<Buffer> {
      yield dataset.subarray(0, 4000);
      await new Promise<void>((r) => (release = r));
    }
    const sending = assoc.store({
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      sopInstanceUid: '1.2.3.4.5.999.2',
      transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
      dataset: stall(),
    });
    sending.catch(() => undefined);
    await waitFor(() => !assoc.isOpen, 'the box aborted the stalled association', 10_000);
    release();
    await expect(sending).rejects.toThrow();
    await waitFor(() => tmpFiles().length === 0, 'temporary blob removed');
    expect(instances().length).toBe(before);
  });

  it('answers A700 when the journal refuses, and keeps serving', async () => {
    const failing = makeDriverContext(store, { id: 'ct-failing', routes: [] });
    failing.journal = { append: () => Promise.reject(new Error('disk full')) };
    const d = dicomScpDriverFactory.create(failing, {
      host: '127.0.0.1',
      port: 0,
      aeTitle: 'EDGE',
      allowedCallers: [{ aeTitle: 'NODE_SCU' }],
    }) as DicomScpDriver;
    await d.start();
    try {
      const assoc = await ScuAssociation.open({
        host: '127.0.0.1',
        port: d.port,
        callingAe: 'NODE_SCU',
        calledAe: 'EDGE',
        contexts: [
          { abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] },
          { abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] },
        ],
      });
      const dataset = readFileSync(join(FIXTURES, 'CT_small.dcm')).subarray(0);
      const r = await assoc.store({
        sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
        sopInstanceUid: '1.2.3.4.5.999.3',
        transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
        dataset: part10Dataset(join(FIXTURES, 'CT_small.dcm')).dataset,
      });
      expect(r.status).toBe(0xa700);
      expect(r.errorComment).toMatch(/disk full/);
      expect(dataset.length).toBeGreaterThan(0);
      expect(await assoc.echo()).toBe(0);
      await assoc.release();
    } finally {
      await d.stop();
    }
  });

  it('closes a connection that never sends an A-ASSOCIATE-RQ (ARTIM), and rejects associations beyond the limit as transient', async () => {
    const idle = connect({ host: '127.0.0.1', port });
    idle.resume(); // read (and drop) the A-ABORT so 'close' can fire
    const started = Date.now();
    await new Promise<void>((resolve) => idle.on('close', () => resolve()).on('error', () => undefined));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    const limited = makeDriverContext(store, { id: 'ct-limited', routes: [] });
    const d = dicomScpDriverFactory.create(limited, {
      host: '127.0.0.1',
      port: 0,
      aeTitle: 'EDGE',
      maxAssociations: 1,
      allowedCallers: [{ aeTitle: 'A' }, { aeTitle: 'B' }, { aeTitle: 'C' }],
    }) as DicomScpDriver;
    await d.start();
    try {
      const first = await ScuAssociation.open({ host: '127.0.0.1', port: d.port, callingAe: 'A', calledAe: 'EDGE' });
      const second = ScuAssociation.open({ host: '127.0.0.1', port: d.port, callingAe: 'B', calledAe: 'EDGE' });
      await expect(second).rejects.toThrow(/transient.*local limit exceeded/);
      await first.release();
      const third = await ScuAssociation.open({ host: '127.0.0.1', port: d.port, callingAe: 'C', calledAe: 'EDGE' });
      expect(await third.echo()).toBe(0);
      await third.release();
    } finally {
      await d.stop();
    }
  });

  it('self-test echoes its own AE', async () => {
    const r = await driver.selfTest(AbortSignal.timeout(10_000));
    expect(r.ok, r.detail).toBe(true);
  });
});
