import { afterAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import pino from 'pino';
import { ScpAssociation } from '../../../modules/dicom/net/scpAssociation.ts';
import { ScuAssociation } from '../../../modules/dicom/net/scu.ts';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../../../modules/dicom/data/transferSyntaxes.ts';
import { startPacs } from '../../sim/pacs.ts';

const SC = '1.2.840.10008.5.1.4.1.1.7';
let server: Server | null = null;
afterAll(() => server?.close());

describe('C-STORE receive backpressure', () => {
  it('pauses the socket while the consumer is behind: queued bytes stay near 8 MB for a 64 MB dataset into a slow sink (the dcmjs-dimse trap)', async () => {
    let maxQueued = 0;
    let received = 0;
    server = createServer((socket) => {
      new ScpAssociation(
        socket,
        { admit: () => null, negotiate: (_a, p) => p[0]!, maxPduLength: 256 * 1024, artimMs: 5000, idleTimeoutMs: 0 },
        {
          store: async (req) => {
            for await (const chunk of req.dataset!) {
              maxQueued = Math.max(maxQueued, req.dataset!.bytes + chunk.length);
              received += chunk.length;
              // A slow disk: 20 ms per batch of at most 4 MB (200 MB/s at best, slower than loopback).
              await new Promise((r) => setTimeout(r, 20));
            }
            return { status: 0 };
          },
          find: async () => ({ status: 0xa900 }),
        },
        pino({ level: 'silent' }),
      );
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const assoc = await ScuAssociation.open({
      host: '127.0.0.1',
      port,
      callingAe: 'US01',
      calledAe: 'EDGE',
      contexts: [{ abstractSyntax: SC, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }],
    });
    const total = 64 * 1024 * 1024;
    async function* dataset(): AsyncIterable<Buffer> {
      for (let sent = 0; sent < total; sent += 1024 * 1024) yield Buffer.alloc(1024 * 1024, 7);
    }
    const r = await assoc.store({ sopClassUid: SC, sopInstanceUid: '1.2.3.64', transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN, dataset: dataset() });
    await assoc.release();
    expect(r.status).toBe(0);
    expect(received).toBe(total);
    // 8 MB high-water mark plus what was already in flight in one socket read and one PDU.
    expect(maxQueued).toBeLessThan(12 * 1024 * 1024);
  }, 60_000);

  it('SCU: the response timeout starts after the last byte sent, so a slow upload longer than it completes (the pduTimeout trap)', async () => {
    const pacs = await startPacs({ aeTitle: 'PACS' });
    try {
      const assoc = await ScuAssociation.open({
        host: '127.0.0.1',
        port: pacs.port,
        callingAe: 'EDGE',
        calledAe: 'PACS',
        contexts: [{ abstractSyntax: SC, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN] }],
        responseTimeoutMs: 200,
      });
      async function* slow(): AsyncIterable<Buffer> {
        for (let i = 0; i < 10; i++) {
          yield Buffer.alloc(64 * 1024, i);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const started = Date.now();
      const r = await assoc.store({ sopClassUid: SC, sopInstanceUid: '1.2.3.slow', transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN, dataset: slow() });
      expect(Date.now() - started).toBeGreaterThan(900);
      expect(r.status).toBe(0);
      expect(pacs.received[0]).toMatchObject({ sopInstanceUid: '1.2.3.slow', size: 640 * 1024 });
      await assoc.release();
    } finally {
      await pacs.stop();
    }
  });
});
