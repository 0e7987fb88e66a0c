import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync, mkdirSync, openSync, writeSync, ftruncateSync, closeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import pino from 'pino';
import { openStore } from '../../../core/store/store.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { DEFAULT_BACKOFF } from '../../../core/forward/backoff.ts';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import type { OutboxItem } from '../../../core/contract/destination.ts';
import { StowRsDestination } from '../../../modules/dicom/stowrs.ts';
import { readPart10 } from '../../../modules/dicom/data/part10.ts';
import { extractInstanceMeta } from '../../../modules/dicom/data/instanceMeta.ts';
import { coercePart10 } from '../../../modules/dicom/data/coerce.ts';
import { buffer } from 'node:stream/consumers';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { dicomFixture, syntheticPart10, VN_PATIENT, VN_PROCEDURE } from '../../unit/dicom/dataFixtures.ts';
import { startOrthanc, orthancInstanceId, type OrthancPeer } from './stowrsOrthanc.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const tmp = tempDir('dicom-stow-');
let orthanc: OrthancPeer;
let store: Awaited<ReturnType<typeof openStore>>;

beforeAll(async () => {
  orthanc = await startOrthanc(join(tmp.dir, 'orthanc'));
  store = await openStore({ dir: join(tmp.dir, 'store') });
});
afterAll(async () => {
  await orthanc?.stop();
  await store?.close();
  tmp.cleanup();
});

/** Journals Part 10 bytes as the SCP would and returns the real outbox item for `destination`. */
async function journalInstance(bytes: Buffer, destination: string): Promise<OutboxItem> {
  const blob = await store.blobs.write(bytes);
  const sop = (await readPart10(store.blobs.path(blob))).sopInstanceUid ?? 'x';
  const { id } = await store
    .journalFor('modality', [destination])
    .append({ stream: 'dicom.instance', kind: 'c-store', idempotencyKey: `${sop}:${blob.hash}:${destination}`, blob, personal: true });
  const { items } = store.outbox.claim(destination, 10_000, new Set(), false);
  const item = items.find((i) => i.journalId === id);
  if (!item) throw new Error('outbox item not found');
  return item;
}

const FILES = [
  'pydicom/CT_small.dcm', // explicit VR LE
  'pydicom/MR_small_implicit.dcm', // implicit VR LE
  'pydicom/MR_small_bigendian.dcm', // explicit VR BE (retired)
  'pydicom/JPEG2000.dcm', // encapsulated
  'pydicom/MR_small_RLE.dcm',
  'pydicom/image_dfl.dcm', // deflated
  'pydicom/rtplan.dcm', // implicit VR, nested sequences
  'pydicom/test-SR.dcm', // structured report, deep sequences
  'charset/chrH32.dcm', // ISO 2022 Japanese
];

describe('dicom-stowrs against a real Orthanc with the DICOMweb plugin', () => {
  it('stores each instance byte for byte (transfer syntaxes, private tags, charsets, deflate)', async () => {
    const dest = new StowRsDestination('pacs-web', { url: orthanc.dicomWeb, username: orthanc.user, password: orthanc.password }, log);
    try {
      const mismatches: string[] = [];
      // MR_small_* share one SOP Instance UID: Orthanc answers success to a repeat and keeps the first copy.
      const firstSent = new Map<string, Buffer>();
      for (const name of FILES) {
        const bytes = dicomFixture(name);
        const item = await journalInstance(bytes, 'pacs-web');
        const outcome = await dest.deliver(item, new AbortController().signal);
        expect(outcome, name).toMatchObject({ result: 'ok' });
        const sop = (await extractInstanceMeta(item.blobPath!)).instance.sopInstanceUid;
        const id = await orthancInstanceId(orthanc, sop);
        expect(id, name).toBeTruthy();
        if (!firstSent.has(sop)) firstSent.set(sop, bytes);
        const stored = await orthanc.get(`/instances/${id}/file`);
        if (!stored.equals(firstSent.get(sop)!)) mismatches.push(name);
      }
      expect(mismatches).toEqual([]);
      expect(firstSent.size).toBe(FILES.length - 2);
    } finally {
      await dest.stop();
    }
  });

  it('Vietnamese names and descriptions in sequences arrive intact (UTF-8, never re-encoded)', async () => {
    const dest = new StowRsDestination('pacs-web', { url: orthanc.dicomWeb, username: orthanc.user, password: orthanc.password }, log);
    const bytes = syntheticPart10({
      sopInstanceUid: '1.2.826.0.1.3680043.10.77.1.1',
      studyUid: '1.2.826.0.1.3680043.10.77',
      seriesUid: '1.2.826.0.1.3680043.10.77.1',
    });
    const outcome = await dest.deliver(await journalInstance(bytes, 'pacs-web'), new AbortController().signal);
    await dest.stop();
    expect(outcome.result).toBe('ok');
    const id = (await orthancInstanceId(orthanc, '1.2.826.0.1.3680043.10.77.1.1'))!;
    expect((await orthanc.get(`/instances/${id}/file`)).equals(bytes)).toBe(true);
    const tags = JSON.parse((await orthanc.get(`/instances/${id}/simplified-tags`)).toString('utf8'));
    expect(tags.PatientName).toBe(VN_PATIENT);
    expect(tags.ProcedureCodeSequence[0].CodeMeaning).toBe(VN_PROCEDURE);
  });

  it('through the real OutboxForwarder: 40 instances, window 8, unordered, all delivered once', async () => {
    const dest = new StowRsDestination('pacs-par', { url: orthanc.dicomWeb, username: orthanc.user, password: orthanc.password, maxConnections: 8 }, log);
    const sops: string[] = [];
    for (let i = 0; i < 40; i++) {
      const sop = `1.2.826.0.1.3680043.10.78.1.${i + 1}`;
      sops.push(sop);
      const bytes = syntheticPart10({
        sopInstanceUid: sop,
        studyUid: '1.2.826.0.1.3680043.10.78',
        seriesUid: '1.2.826.0.1.3680043.10.78.1',
        pixels: Buffer.alloc(64 * 1024, i),
      });
      const blob = await store.blobs.write(bytes);
      await store.journalFor('us2', ['pacs-par']).append({ stream: 'dicom.instance', kind: 'c-store', idempotencyKey: `${sop}:${blob.hash}`, blob });
    }
    const forwarder = new OutboxForwarder(dest, store.outbox, systemClock, log, new EventBus(), {
      window: 8,
      ordered: false,
      attemptTimeoutMs: 60_000,
      backoff: DEFAULT_BACKOFF,
    });
    forwarder.start();
    try {
      await waitFor(() => store.outbox.status(['pacs-par'])[0]!.delivered === 40, '40 instances delivered', 120_000);
    } finally {
      await forwarder.stop();
      await dest.stop();
    }
    const series = JSON.parse((await orthanc.get('/series?expand')).toString('utf8')) as Array<{
      MainDicomTags: { SeriesInstanceUID: string };
      Instances: string[];
    }>;
    expect(series.find((s) => s.MainDicomTags.SeriesInstanceUID === '1.2.826.0.1.3680043.10.78.1')!.Instances).toHaveLength(40);
    expect(store.outbox.status(['pacs-par'])[0]).toMatchObject({ pending: 0, parked: 0 });
  });

  it('wrong credentials are retried (configuration, not the instance); a non-DICOM part is refused', async () => {
    const wrong = new StowRsDestination('pacs-web', { url: orthanc.dicomWeb, username: orthanc.user, password: 'wrong' }, log);
    const item = await journalInstance(dicomFixture('pydicom/CT_small.dcm'), 'pacs-auth');
    expect(await wrong.deliver(item, new AbortController().signal)).toMatchObject({ result: 'retry', reason: expect.stringContaining('401') });
    await wrong.stop();
    // A Part 10 header followed by garbage: Orthanc cannot parse it and refuses it.
    const dest = new StowRsDestination('pacs-web', { url: orthanc.dicomWeb, username: orthanc.user, password: orthanc.password }, log);
    const junk = Buffer.concat([dicomFixture('pydicom/CT_small.dcm').subarray(0, 330), Buffer.from('this is not a dataset'.repeat(20))]);
    const refused = await dest.deliver(await journalInstance(junk, 'pacs-junk'), new AbortController().signal);
    await dest.stop();
    expect(refused.result).not.toBe('ok');
  });

  it('coercion rules: the PACS gets the coerced copy (only Institution Name re-encoded), the stored instance is unchanged', async () => {
    const orders = new Map([['ACC-C1', { specimenId: 'x', patientId: 'HIS-991', tests: [], accessionNumber: 'ACC-C1' }]]);
    const rules = [
      { tag: 'InstitutionName', value: 'Bệnh viện Đa khoa Tỉnh Quảng Nam' },
      { tag: 'PatientID', fromOrder: 'patientId' as const },
    ];
    const dest = new StowRsDestination('pacs-web', { url: orthanc.dicomWeb, username: orthanc.user, password: orthanc.password, coerce: rules }, log, {
      orderByAccession: (a) => orders.get(a),
    });
    const original = syntheticPart10({
      sopInstanceUid: '1.2.826.0.1.3680043.10.79.1.1',
      studyUid: '1.2.826.0.1.3680043.10.79',
      seriesUid: '1.2.826.0.1.3680043.10.79.1',
      accessionNumber: 'ACC-C1',
      pixels: Buffer.alloc(100_000, 3),
    });
    const item = await journalInstance(original, 'pacs-coerce');
    expect((await dest.deliver(item, new AbortController().signal)).result).toBe('ok');
    await dest.stop();
    expect(readFileSync(item.blobPath!).equals(original)).toBe(true);
    const id = (await orthancInstanceId(orthanc, '1.2.826.0.1.3680043.10.79.1.1'))!;
    const stored = await orthanc.get(`/instances/${id}/file`);
    const expected = await coercePart10(item.blobPath!, rules, { orderByAccession: (a) => orders.get(a) });
    expect(stored.equals(await buffer(expected.stream()))).toBe(true);
    const tags = JSON.parse((await orthanc.get(`/instances/${id}/simplified-tags`)).toString('utf8'));
    expect(tags.InstitutionName).toBe('Bệnh viện Đa khoa Tỉnh Quảng Nam');
    expect(tags.PatientID).toBe('HIS-991');
    expect(tags.PatientName).toBe(VN_PATIENT);
  });

  it('PACS unreachable → retry', async () => {
    const dest = new StowRsDestination('pacs-web', { url: 'http://127.0.0.1:9/dicom-web' }, log);
    const item = await journalInstance(dicomFixture('pydicom/MR_small.dcm'), 'pacs-down');
    expect(await dest.deliver(item, new AbortController().signal)).toMatchObject({ result: 'retry' });
    await dest.stop();
  });
});

describe('dicom-stowrs answers Orthanc does not give (a local HTTP server scripted per test)', () => {
  let server: Server;
  let url = '';
  let answer: { status: number; body: string; type?: string } = { status: 200, body: '' };
  const seen: Array<{ headers: Record<string, unknown>; body: Buffer }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(answer.status, { 'Content-Type': answer.type ?? 'application/dicom+json' });
        res.end(answer.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/rs`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sends one multipart/related part with the file unchanged and the bearer token', async () => {
    const bytes = dicomFixture('pydicom/CT_small.dcm');
    const dest = new StowRsDestination('x', { url, bearerToken: 'tok123' }, log);
    answer = { status: 200, body: '{}' };
    expect((await dest.deliver(await journalInstance(bytes, 'scripted'), new AbortController().signal)).result).toBe('ok');
    await dest.stop();
    const req = seen.at(-1)!;
    expect(req.headers.authorization).toBe('Bearer tok123');
    expect(req.headers.accept).toBe('application/dicom+json');
    const ct = String(req.headers['content-type']);
    expect(ct).toMatch(/^multipart\/related; type="application\/dicom"; boundary=/);
    const boundary = ct.split('boundary=')[1]!;
    const head = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    expect(req.body.equals(Buffer.concat([head, bytes, tail]))).toBe(true);
  });

  it('409 with FailedSOPSequence → parked with the reason; A700 → retried; 503 → retried; 202 warning → ok', async () => {
    const dest = new StowRsDestination('x', { url }, log);
    const item = await journalInstance(dicomFixture('pydicom/MR_small.dcm'), 'scripted2');
    const sop = (await readPart10(item.blobPath!)).sopInstanceUid!;
    const failed = (reason: number) =>
      JSON.stringify({ '00081198': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: [sop] }, '00081197': { vr: 'US', Value: [reason] } }] } });
    answer = { status: 409, body: failed(0xa900) };
    expect(await dest.deliver(item, new AbortController().signal)).toMatchObject({ result: 'permanent', reason: expect.stringContaining('0xA900') });
    answer = { status: 202, body: failed(0xa700) };
    expect(await dest.deliver(item, new AbortController().signal)).toMatchObject({ result: 'retry', reason: expect.stringContaining('out of resources') });
    answer = { status: 503, body: 'busy', type: 'text/plain' };
    expect((await dest.deliver(item, new AbortController().signal)).result).toBe('retry');
    answer = {
      status: 202,
      body: JSON.stringify({ '00081199': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: [sop] }, '00081196': { vr: 'US', Value: [0xb000] } }] } }),
    };
    expect(await dest.deliver(item, new AbortController().signal)).toMatchObject({ result: 'ok', detail: expect.stringContaining('0xB000') });
    answer = {
      status: 409,
      type: 'application/dicom+xml',
      body: `<?xml version="1.0"?><NativeDicomModel><DicomAttribute tag="00081198" vr="SQ"><Item number="1"><DicomAttribute tag="00081155" vr="UI"><Value number="1">${sop}</Value></DicomAttribute><DicomAttribute tag="00081197" vr="US"><Value number="1">290</Value></DicomAttribute></Item></DicomAttribute></NativeDicomModel>`,
    };
    expect(await dest.deliver(item, new AbortController().signal)).toMatchObject({
      result: 'permanent',
      reason: expect.stringContaining('0x0122 SOP class not supported'),
    });
    await dest.stop();
  });

  it('an instance file gone from the store is retried, not parked', async () => {
    const dest = new StowRsDestination('x', { url }, log);
    const item = await journalInstance(dicomFixture('pydicom/rtplan.dcm'), 'scripted3');
    const gone = { ...item, blobPath: join(tmp.dir, 'missing.dcm') };
    expect((await dest.deliver(gone, new AbortController().signal)).result).toBe('retry');
    writeFileSync(join(tmp.dir, 'notdicom.dcm'), 'hello');
    expect((await dest.deliver({ ...item, blobPath: join(tmp.dir, 'notdicom.dcm') }, new AbortController().signal)).result).toBe('permanent');
    await dest.stop();
  });
});

describe('dicom-stowrs: HTTPS with the PACS CA, and a 300 MB instance streamed in flat memory', () => {
  let server: HttpsServer;
  let url = '';
  let caFile = '';
  let received = 0;
  let lastTail = Buffer.alloc(0);
  beforeAll(async () => {
    const dir = join(tmp.dir, 'tls');
    mkdirSync(dir, { recursive: true });
    const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    try {
      run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test PACS CA']);
      run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'pacs.key', '-out', 'pacs.csr', '-subj', '/CN=127.0.0.1']);
      writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
      run(['x509', '-req', '-in', 'pacs.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'pacs.pem', '-days', '2', '-extfile', 'ext.cnf']);
    } catch (err) {
      throw new Error(`openssl failed (Debian package "openssl"): ${(err as Error).message}`);
    }
    caFile = join(dir, 'ca.pem');
    server = createHttpsServer({ key: readFileSync(join(dir, 'pacs.key')), cert: readFileSync(join(dir, 'pacs.pem')) }, (req, res) => {
      received = 0;
      req.on('data', (c: Buffer) => {
        received += c.length;
        lastTail = Buffer.concat([lastTail, c]).subarray(-64);
      });
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/dicom+json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}/dicom-web`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('verifies the PACS certificate with caFile; an unknown CA is retried, never sent in clear', async () => {
    const item = await journalInstance(dicomFixture('pydicom/CT_small.dcm'), 'tls1');
    const trusting = new StowRsDestination('tls', { url, caFile }, log);
    expect((await trusting.deliver(item, new AbortController().signal)).result).toBe('ok');
    await trusting.stop();
    const strict = new StowRsDestination('tls', { url }, log);
    expect(await strict.deliver(item, new AbortController().signal)).toMatchObject({ result: 'retry', reason: expect.stringMatching(/certificate/i) });
    await strict.stop();
  });

  it('a 300 MB instance (sparse pixel data) goes out whole without the process growing by its size', async () => {
    const path = join(tmp.dir, 'big-stow.dcm');
    const head = syntheticPart10({ sopInstanceUid: '1.2.826.0.1.3680043.10.80.1', pixels: Buffer.alloc(0) });
    const pixelBytes = 300 * 1024 * 1024;
    head.writeUInt32LE(pixelBytes, head.length - 4);
    const fd = openSync(path, 'w');
    writeSync(fd, head);
    ftruncateSync(fd, head.length + pixelBytes);
    closeSync(fd);
    const item = {
      ...(await journalInstance(dicomFixture('pydicom/MR_small.dcm'), 'tls-big')),
      blobPath: path,
      blob: { hash: 'big', size: head.length + pixelBytes },
    };
    const dest = new StowRsDestination('tls', { url, caFile }, log);
    const rss = process.memoryUsage().rss;
    let peak = rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const outcome = await dest.deliver(item, new AbortController().signal);
    clearInterval(sampler);
    await dest.stop();
    expect(outcome.result).toBe('ok');
    expect(received).toBeGreaterThan(head.length + pixelBytes);
    expect(lastTail.toString('latin1')).toMatch(/--\r\n$/);
    expect(peak - rss).toBeLessThan(100 * 1024 * 1024);
  });
});
