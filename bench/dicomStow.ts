/**
 * STOW-RS uplink benchmark: the dicom-stowrs destination (one POST per instance, parallel over
 * kept-alive connections through the real OutboxForwarder window) against a real Orthanc with
 * the DICOMweb plugin, behind a TCP proxy adding round-trip latency like a province uplink.
 * Then batches through the forwarder (batchSize instances per POST, deliverBatch), and one
 * multipart POST of 50 instances built in memory without the outbox (the batching ceiling).
 * Prints a markdown table.
 *
 *   npx tsx bench/dicomStow.ts [--rtt 100] [--count 200] [--size 39] [--batch-only]
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import pino from 'pino';
import { openStore } from '../core/store/store.ts';
import { OutboxForwarder } from '../core/forward/forwarder.ts';
import { DEFAULT_BACKOFF } from '../core/forward/backoff.ts';
import { EventBus } from '../core/contract/events.ts';
import { systemClock } from '../core/contract/clock.ts';
import { StowRsDestination } from '../modules/dicom/stowrs.ts';
import { syntheticPart10 } from '../test/unit/dicom/dataFixtures.ts';
import { startOrthanc } from '../test/integration/dicom/stowrsOrthanc.ts';
import { tempDir } from '../test/helpers/tmp.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RTT = arg('rtt', 100);
const COUNT = arg('count', 200);
const SIZE_KB = arg('size', 39);
/** Only the batch rows (skips the one-instance-per-POST windows, which take ~40 s at 100 ms). */
const BATCH_ONLY = process.argv.includes('--batch-only');

/** Forwards TCP to `target`, delaying every chunk by half the round trip in each direction. */
function latencyProxy(targetPort: number, oneWayMs: number): Promise<{ port: number; server: Server }> {
  const server = createServer((client: Socket) => {
    const upstream = connect(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const relay = (from: Socket, to: Socket): void => {
      from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), oneWayMs));
      from.on('end', () => setTimeout(() => to.end(), oneWayMs));
      from.on('error', () => to.destroy());
    };
    relay(client, upstream);
    relay(upstream, client);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, server })));
}

async function main(): Promise<void> {
  const tmp = tempDir('bench-stow-');
  const log = pino({ level: 'silent' });
  const orthanc = await startOrthanc(join(tmp.dir, 'orthanc'));
  const orthancPort = Number(new URL(orthanc.http).port);
  const proxy = await latencyProxy(orthancPort, RTT / 2);
  const base = `http://127.0.0.1:${proxy.port}/dicom-web`;
  const store = await openStore({ dir: join(tmp.dir, 'store') });
  const rows: string[] = [];
  let run = 0;
  try {
    const makeInstances = async (route: string): Promise<Buffer[]> => {
      const all: Buffer[] = [];
      run++;
      for (let i = 0; i < COUNT; i++) {
        const sop = `1.2.826.0.1.3680043.10.200.${run}.${i + 1}`;
        const bytes = syntheticPart10({
          sopInstanceUid: sop,
          studyUid: `1.2.826.0.1.3680043.10.200.${run}`,
          seriesUid: `1.2.826.0.1.3680043.10.200.${run}.1`,
          pixels: randomBytes(SIZE_KB * 1024),
        });
        all.push(bytes);
        if (route) {
          const blob = await store.blobs.write(bytes);
          await store
            .journalFor('bench', [route])
            .append({ stream: 'dicom.instance', kind: 'c-store', idempotencyKey: `${sop}:${blob.hash}`, blob, orderKey: `1.2.826.0.1.3680043.10.200.${run}` });
        }
      }
      return all;
    };

    const forward = async (route: string, window: number, batchSize: number): Promise<number> => {
      await makeInstances(route);
      const dest = new StowRsDestination(route, { url: base, username: orthanc.user, password: orthanc.password, maxConnections: window }, log);
      const forwarder = new OutboxForwarder(dest, store.outbox, systemClock, log, new EventBus(), {
        window,
        ordered: false,
        attemptTimeoutMs: 120_000,
        backoff: DEFAULT_BACKOFF,
        batchSize,
      });
      const t0 = performance.now();
      forwarder.start();
      while (store.outbox.status([route])[0]!.delivered < COUNT) await new Promise((r) => setTimeout(r, 20));
      const s = (performance.now() - t0) / 1000;
      await forwarder.stop();
      await dest.stop();
      return s;
    };
    const rate = (s: number): string => `| ${s.toFixed(2)} s | ${(COUNT / s).toFixed(1)} | ${((COUNT * SIZE_KB) / 1024 / s).toFixed(1)} |`;

    for (const window of BATCH_ONLY ? [] : [1, 8, 16, 32]) {
      const s = await forward(`stow-w${window}`, window, 1);
      rows.push(`| dicom-stowrs, one instance per POST, window ${window} (forwarder, durable outbox) ${rate(s)}`);
    }
    for (const [batchSize, window] of [
      [20, 4],
      [50, 4],
    ] as const) {
      const s = await forward(`stow-b${batchSize}-w${window}`, window, batchSize);
      rows.push(`| dicom-stowrs, batchSize ${batchSize}, window ${window} (forwarder, durable outbox) ${rate(s)}`);
    }

    // Batches of 50 per POST over 4 connections, built in memory, no outbox: the ceiling.
    const batchInstances = await makeInstances('');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const auth = `Basic ${Buffer.from(`${orthanc.user}:${orthanc.password}`).toString('base64')}`;
    const postBatch = (batch: Buffer[]): Promise<number> =>
      new Promise((resolve, reject) => {
        const boundary = `b${randomBytes(8).toString('hex')}`;
        const parts = batch.flatMap((b) => [Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), b, Buffer.from('\r\n')]);
        const body = Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]);
        const req = http.request(
          `${base}/studies`,
          {
            method: 'POST',
            agent,
            headers: {
              'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
              Accept: 'application/dicom+json',
              Authorization: auth,
              'Content-Length': body.length,
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('socket', (s) => s.setNoDelay(true));
        req.on('error', reject);
        req.end(body);
      });
    const t0 = performance.now();
    const batches: Buffer[][] = [];
    for (let i = 0; i < batchInstances.length; i += 50) batches.push(batchInstances.slice(i, i + 50));
    const statuses = await Promise.all(batches.map(postBatch));
    const s = (performance.now() - t0) / 1000;
    agent.destroy();
    if (statuses.some((x) => x !== 200)) throw new Error(`batch POST answered ${statuses.join(',')}`);
    rows.push(`| one POST per 50 instances, 4 connections (no outbox; the batching ceiling) ${rate(s)}`);

    console.log(`\n### STOW-RS to Orthanc ${RTT} ms round trip, ${COUNT} instances × ${SIZE_KB} KB\n`);
    console.log('| path | time | instances/s | MB/s |');
    console.log('|---|---|---|---|');
    for (const r of rows) console.log(r);
    console.log(`\nOrthanc 1.10 + DICOMweb plugin (Debian), latency added by a TCP proxy (${RTT / 2} ms each way); loopback, ${new Date().toISOString()}.`);
  } finally {
    await store.close();
    proxy.server.close();
    await orthanc.stop();
    tmp.cleanup();
  }
}

await main();
