// STOW-RS in batches against a real Orthanc with its DICOMweb plugin, through a counting proxy:
// 30 instances of 3 studies with batchSize 10 travel in 3 POSTs and arrive byte for byte.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import pino from 'pino';
import { openStore } from '../../../core/store/store.ts';
import { OutboxForwarder } from '../../../core/forward/forwarder.ts';
import { EventBus } from '../../../core/contract/events.ts';
import { systemClock } from '../../../core/contract/clock.ts';
import { StowRsDestination } from '../../../modules/dicom/stowrs.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';
import { syntheticPart10 } from '../../unit/dicom/dataFixtures.ts';
import { startOrthanc, orthancInstanceId, type OrthancPeer } from './stowrsOrthanc.ts';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const tmp = tempDir('dicom-stow-batch-');
let orthanc: OrthancPeer;
let proxy: Server;
let proxyUrl = '';
const posts: Array<{ parts: number; bytes: number; status: number }> = [];

beforeAll(async () => {
  orthanc = await startOrthanc(join(tmp.dir, 'orthanc'));
  const target = new URL(orthanc.http);
  // Forwards every request to Orthanc as is, counting the POSTs and the parts in each.
  proxy = createServer((req, res) => {
    const boundary = /boundary=("?)([^";]+)\1/.exec(String(req.headers['content-type']))?.[2];
    const chunks: Buffer[] = [];
    const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      if (req.method === 'POST') {
        // A copy of the (small, test-sized) body to count its parts; the upload itself is streamed through.
        const body = Buffer.concat(chunks).toString('latin1');
        posts.push({
          parts: boundary ? body.split(`--${boundary}\r\nContent-Type: application/dicom\r\n`).length - 1 : 0,
          bytes: body.length,
          status: answer.statusCode ?? 0,
        });
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}/dicom-web`;
}, 90_000);

afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  await orthanc?.stop();
  tmp.cleanup();
});

describe('dicom-stowrs batches against a real Orthanc', () => {
  it('30 instances, batchSize 10: 3 POSTs, every instance stored byte for byte', async () => {
    const store = await openStore({ dir: join(tmp.dir, 'store') });
    const sent = new Map<string, Buffer>();
    for (let s = 1; s <= 3; s++) {
      const studyUid = `1.2.826.0.1.3680043.10.555.${s}`;
      for (let i = 1; i <= 10; i++) {
        const sop = `${studyUid}.1.${i}`;
        // Different sizes, so a framing error would shift bytes visibly.
        const bytes = syntheticPart10({ sopInstanceUid: sop, studyUid, seriesUid: `${studyUid}.1`, pixels: Buffer.alloc(2_000 * i + s, i) });
        sent.set(sop, bytes);
        const blob = await store.blobs.write(bytes);
        await store
          .journalFor('us01', ['pacs-web'])
          .append({ stream: 'dicom.instance', kind: 'C-STORE', idempotencyKey: `${sop}:${blob.hash}`, blob, orderKey: studyUid, personal: true });
      }
    }
    const dest = new StowRsDestination('pacs-web', { url: proxyUrl, username: orthanc.user, password: orthanc.password }, log);
    const forwarder = new OutboxForwarder(dest, store.outbox, systemClock, log, new EventBus(), {
      window: 2,
      ordered: false,
      attemptTimeoutMs: 60_000,
      backoff: { initialMs: 1_000, maxMs: 5_000, jitter: 0 },
      batchSize: 10,
    });
    try {
      forwarder.start();
      await waitFor(() => store.outbox.status(['pacs-web'])[0]!.delivered === 30, 'all 30 delivered', 60_000, 50);
      expect(store.outbox.status(['pacs-web'])[0]).toMatchObject({ pending: 0, parked: 0, delivered: 30 });
      expect(posts.map((p) => [p.parts, p.status])).toEqual([
        [10, 200],
        [10, 200],
        [10, 200],
      ]);
      for (const [sop, bytes] of sent) {
        const id = await orthancInstanceId(orthanc, sop);
        expect(id, sop).toBeTruthy();
        expect((await orthanc.get(`/instances/${id}/file`)).equals(bytes), sop).toBe(true);
      }
    } finally {
      await forwarder.stop();
      await dest.stop();
      store.close();
    }
  }, 90_000);
});
