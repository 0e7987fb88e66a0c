import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { openStore, type Store } from '../../../core/store/store.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { parsePart10Header } from '../../../modules/dicom/data/part10.ts';
import { CStoreDestination, type CStoreDestinationConfig } from '../../../modules/dicom/net/cstoreDestination.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';
import { freePort } from '../../helpers/ports.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { startPacs } from '../../sim/pacs.ts';
import { part10Dataset, requireTool, startStorescp } from './dcmtkPeers.ts';
import { orthancInstanceId, startOrthanc, type OrthancPeer } from './stowrsOrthanc.ts';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/dicom/pydicom');
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const { dir, cleanup } = tempDir('edge-dicom-cstore-');
let store: Store;
let orthanc: OrthancPeer | null = null;
const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every fixture with a usable file meta (SOP class, instance, transfer syntax), as the SCP would have stored it. */
const sendable = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.dcm'))
  .filter((f) => {
    try {
      const m = parsePart10Header(readFileSync(join(FIXTURES, f)));
      return Boolean(m.sopClassUid && m.sopInstanceUid);
    } catch {
      return false;
    }
  });

beforeAll(async () => {
  requireTool('storescp', 'dcmtk');
  store = await openStore({ dir: join(dir, 'store') });
});
afterAll(async () => {
  await orthanc?.stop();
  store?.close();
  cleanup();
});

/** Journals files for one destination, as the SCP does after a C-STORE. */
async function journalFiles(source: string, destination: string, names: string[]): Promise<Map<string, string>> {
  const ctx = makeDriverContext(store, { id: source, routes: [destination] });
  const datasets = new Map<string, string>();
  for (const name of names) {
    const bytes = readFileSync(join(FIXTURES, name));
    const ref = await store.blobs.write(bytes);
    const uid = parsePart10Header(bytes).sopInstanceUid!;
    await ctx.journal.append({
      stream: 'dicom.instance',
      kind: 'C-STORE',
      idempotencyKey: `${uid}:${ref.hash}:${destination}`,
      blob: ref,
      parsed: { name },
      personal: true,
      priority: 'clinical',
    });
    datasets.set(name, hash(part10Dataset(join(FIXTURES, name)).dataset));
  }
  return datasets;
}

async function forward(id: string, config: CStoreDestinationConfig, until: () => boolean, what: string, timeoutMs = 120_000): Promise<CStoreDestination> {
  const dest = new CStoreDestination(id, config, log);
  const fwd = new OutboxForwarder(dest, store.outbox, systemClock, log, new EventBus(), {
    window: 8,
    ordered: false,
    attemptTimeoutMs: 60_000,
    backoff: { initialMs: 100, maxMs: 500, jitter: 0 },
    stopGraceMs: 60_000,
  }); // a retry in flight at stop records its own outcome
  fwd.start();
  try {
    await waitFor(until, what, timeoutMs, 50);
  } finally {
    await fwd.stop();
    await dest.stop();
  }
  return dest;
}

const UNREADABLE_BY_DCMTK = ['image_dfl.dcm', 'rtplan_truncated.dcm'];
/** Outbox rows for a destination (identical fixture files are one journal entry). */
const total = (d: string) => store.outbox.list({ destination: d, limit: 1000 }).length;
const status = (d: string) => store.outbox.status([d])[0]!;

describe('dicom-cstore destination', () => {
  it('sends every stored instance to storescp +B with the dataset bytes unchanged, in its own transfer syntax', async () => {
    const datasets = await journalFiles('ct-a', 'pacs-dcmtk', sendable);
    const port = await freePort();
    const out = join(dir, 'storescp');
    mkdirSync(out);
    const peer = await startStorescp(out, port, 'PACS');
    try {
      await forward(
        'pacs-dcmtk',
        { host: '127.0.0.1', port, calledAe: 'PACS', associations: 4 },
        () => status('pacs-dcmtk').delivered === total('pacs-dcmtk') - UNREADABLE_BY_DCMTK.length,
        'all sent',
      );
    } finally {
      await peer.stop();
    }
    // storescp aborts the association on a truncated dataset and on pydicom's deflate stream: an
    // abort is not a refusal, so those two stay queued for retry (an operator can park them).
    const pending = store.outbox.list({ destination: 'pacs-dcmtk', state: 'pending' });
    expect(
      pending.map((p) => (store.journalStore.list({ source: 'ct-a', limit: 1000 }).find((j) => j.id === p.journalId)!.parsed as { name: string }).name).sort(),
    ).toEqual(UNREADABLE_BY_DCMTK);
    for (const p of pending) expect(p.lastError).toMatch(/peer aborted/);
    for (const n of UNREADABLE_BY_DCMTK) datasets.delete(n);
    const received = new Set(readdirSync(out).map((f) => hash(part10Dataset(join(out, f)).dataset)));
    const missing = [...datasets].filter(([, h]) => !received.has(h)).map(([n]) => n);
    expect(missing).toEqual([]);
    // And storescp saw each file's own transfer syntax.
    const tsReceived = new Set(readdirSync(out).map((f) => part10Dataset(join(out, f)).transferSyntaxUid));
    expect(tsReceived).toEqual(
      new Set(sendable.filter((n) => !UNREADABLE_BY_DCMTK.includes(n)).map((n) => part10Dataset(join(FIXTURES, n)).transferSyntaxUid)),
    );
  }, 180_000);

  it("sends to Orthanc: every instance delivered, parked with Orthanc's status, or (files DCMTK cannot parse) retried; kept copies compared with the stored dataset", async () => {
    orthanc = await startOrthanc(join(dir, 'orthanc'));
    const datasets = await journalFiles('ct-b', 'pacs-orthanc', sendable);
    await forward(
      'pacs-orthanc',
      { host: '127.0.0.1', port: orthanc.dicomPort, calledAe: 'ORTHANC', associations: 4 },
      () => store.outbox.list({ destination: 'pacs-orthanc', state: 'pending' }).every((p) => p.attempts >= 2),
      'all sent, parked, or retried',
    );
    const st = status('pacs-orthanc');
    const nameOf = (journalId: number) =>
      (store.journalStore.list({ source: 'ct-b', limit: 1000 }).find((j) => j.id === journalId)!.parsed as { name: string }).name;
    // Orthanc (DCMTK inside) aborts on the files it cannot parse: kept for retry, never parked as refused.
    const stuck = store.outbox.list({ destination: 'pacs-orthanc', state: 'pending' });
    expect(stuck.map((p) => nameOf(p.journalId)).sort()).toEqual(['MR_truncated.dcm', 'SC_rgb_jpeg.dcm', ...UNREADABLE_BY_DCMTK].sort());
    for (const p of stuck) expect(p.lastError).toMatch(/peer aborted/);
    // Transfer syntaxes Orthanc does not accept by default are parked (never transcoded).
    expect(st.delivered + st.parked + stuck.length).toBe(total('pacs-orthanc'));
    expect(st.delivered).toBeGreaterThanOrEqual(40);
    for (const p of store.outbox.list({ destination: 'pacs-orthanc', state: 'parked' }))
      expect(p.deadLetterReason).toMatch(/ORTHANC does not accept SOP class [\d.]+ in transfer syntax [\d.]+|C-STORE failure (A9|A7|C)[0-9A-F]{2}/);
    let compared = 0;
    for (const e of store.outbox.list({ destination: 'pacs-orthanc', state: 'done', limit: 1000 })) {
      const row = store.journalStore.list({ source: 'ct-b', stream: 'dicom.instance', limit: 1000 }).find((j) => j.id === e.journalId)!;
      const name = (row.parsed as { name: string }).name;
      const uid = part10Dataset(join(FIXTURES, name)).sopInstanceUid!;
      const id = await orthancInstanceId(orthanc, uid);
      expect(id, name).toBeTruthy();
      const kept = await orthanc.get(`/instances/${id}/file`);
      // Files sharing a SOP Instance UID: Orthanc keeps the first copy (specs/dicom.md).
      const keptHash = hash(kept.subarray(parsePart10Header(kept).datasetOffset));
      if (keptHash === datasets.get(name)) compared++;
    }
    // Orthanc writes its copy through DCMTK (group lengths, padding, shared UIDs keep the first
    // copy), so not every kept file can match; the storescp +B test above pins the wire bytes.
    expect(compared).toBeGreaterThanOrEqual(15);
  }, 240_000);

  it('retries while the PACS is down and delivers once it is up (outbox retries, nothing lost)', async () => {
    const names = sendable.slice(0, 10);
    await journalFiles('ct-c', 'pacs-down', names);
    const port = await freePort();
    const dest = new CStoreDestination('pacs-down', { host: '127.0.0.1', port, calledAe: 'PACS', associations: 2, connectTimeoutMs: 2000 }, log);
    const fwd = new OutboxForwarder(dest, store.outbox, systemClock, log, new EventBus(), {
      window: 4,
      ordered: false,
      attemptTimeoutMs: 30_000,
      backoff: { initialMs: 100, maxMs: 400, jitter: 0 },
    });
    fwd.start();
    try {
      await waitFor(() => fwd.stats.retried >= 3, 'retries while down', 20_000);
      expect(status('pacs-down')).toMatchObject({ delivered: 0, parked: 0 });
      const pacs = await startPacs({ port, aeTitle: 'PACS' });
      try {
        await waitFor(() => status('pacs-down').delivered === names.length, 'delivered after the PACS came up', 30_000);
        expect(new Set(pacs.received.map((r) => r.datasetHash)).size).toBe(new Set(names.map((n) => hash(part10Dataset(join(FIXTURES, n)).dataset))).size);
      } finally {
        await pacs.stop();
      }
    } finally {
      await fwd.stop();
      await dest.stop();
    }
  }, 90_000);

  it('treats failure statuses as permanent (parked with status and comment) and warnings as delivered', async () => {
    const pacs = await startPacs({ aeTitle: 'PACS', status: 0xa700, errorComment: 'PACS disk full' });
    try {
      await journalFiles('ct-d', 'pacs-refuses', sendable.slice(0, 3));
      await forward('pacs-refuses', { host: '127.0.0.1', port: pacs.port, calledAe: 'PACS' }, () => status('pacs-refuses').pending === 0, 'parked');
      expect(status('pacs-refuses')).toMatchObject({ parked: 3, delivered: 0 });
      expect(store.outbox.list({ destination: 'pacs-refuses', state: 'parked' })[0]!.deadLetterReason).toMatch(/A700: PACS disk full/);
      pacs.status = 0xb007;
      pacs.errorComment = '';
      await journalFiles('ct-e', 'pacs-warns', sendable.slice(0, 3));
      await forward('pacs-warns', { host: '127.0.0.1', port: pacs.port, calledAe: 'PACS' }, () => status('pacs-warns').pending === 0, 'delivered with warning');
      expect(status('pacs-warns')).toMatchObject({ parked: 0, delivered: 3 });
    } finally {
      await pacs.stop();
    }
  }, 60_000);

  it('runs up to `associations` in parallel against a slow PACS and reuses them', async () => {
    const pacs = await startPacs({ aeTitle: 'PACS', delayMs: 150 });
    try {
      await journalFiles('ct-f', 'pacs-slow', sendable.slice(0, 16));
      await forward(
        'pacs-slow',
        { host: '127.0.0.1', port: pacs.port, calledAe: 'PACS', associations: 3 },
        () => status('pacs-slow').pending === 0,
        'delivered',
      );
      expect(status('pacs-slow').delivered).toBe(16);
      expect(pacs.maxInFlightSeen).toBeGreaterThanOrEqual(2);
      expect(pacs.maxInFlightSeen).toBeLessThanOrEqual(3);
      expect(pacs.received.length).toBe(16);
    } finally {
      await pacs.stop();
    }
  }, 60_000);
});
