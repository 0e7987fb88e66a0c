import { afterAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import pino from 'pino';
import type { OutboxItem } from '../../../core/contract/destination.ts';
import { multipartBody, stowBatchOutcomes, StowRsDestination } from '../../../modules/dicom/stowrs.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { syntheticPart10 } from './dataFixtures.ts';

const tmp = tempDir('stow-batch-');
afterAll(() => tmp.cleanup());

/** Splits a multipart/related body into its parts: each part's headers and bytes. */
function splitMultipart(body: Buffer, boundary: string): Array<{ headers: string; bytes: Buffer }> {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Array<{ headers: string; bytes: Buffer }> = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString('latin1') === '--') break;
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`, 'latin1'), start);
    const part = body.subarray(start + 2, next);
    const split = part.indexOf('\r\n\r\n');
    parts.push({ headers: part.subarray(0, split).toString('latin1'), bytes: Buffer.from(part.subarray(split + 4)) });
    at = next + 2;
  }
  return parts;
}

const uid = (n: number): string => `1.2.826.0.1.3680043.10.9.${n}`;
const failed = (sop: string, reason: number) => ({ '00081155': { vr: 'UI', Value: [sop] }, '00081197': { vr: 'US', Value: [reason] } });
const stored = (sop: string, warning?: number) => ({
  '00081155': { vr: 'UI', Value: [sop] },
  ...(warning === undefined ? {} : { '00081196': { vr: 'US', Value: [warning] } }),
});

function item(n: number, bytes: Buffer, study = 'study-1'): OutboxItem {
  const path = join(tmp.dir, `i${n}.dcm`);
  writeFileSync(path, bytes);
  return {
    outboxId: n,
    journalId: n,
    destination: 'pacs-web',
    orderKey: study,
    source: 'us01',
    stream: 'dicom.instance',
    kind: 'C-STORE',
    idempotencyKey: `${uid(n)}:h`,
    attempts: 0,
    raw: null,
    parsed: null,
    blob: { hash: `h${n}`, size: bytes.length },
    blobPath: path,
    receivedAt: '',
    meta: {},
  };
}

describe('STOW-RS batches: per-instance outcomes', () => {
  const sops = [uid(1), uid(2), uid(3), uid(4), uid(5), uid(6)];

  it('200: every instance stored (warnings kept per instance)', () => {
    const out = stowBatchOutcomes(200, { failed: [], stored: [{ sopInstanceUid: uid(2), warning: 0xb000 }] }, sops);
    expect(out.map((o) => o.result)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(out[1]).toEqual({ result: 'ok', detail: 'stored with warning 0xB000 coercion of data elements' });
  });

  it('202 partial failure: each instance by its entry in the Failed / Referenced SOP Sequences', () => {
    const answer = {
      failed: [
        { sopInstanceUid: uid(2), reason: 0xc000 }, // cannot understand: the instance's fault
        { sopInstanceUid: uid(3), reason: 0xa700 }, // out of resources: try again
        { sopInstanceUid: uid(4), reason: 0x0110 }, // processing failure: try again
        { sopInstanceUid: uid(5), reason: 0xa900 }, // does not match SOP class
      ],
      stored: [{ sopInstanceUid: uid(1) }],
    };
    const out = stowBatchOutcomes(202, answer, sops);
    expect(out.map((o) => o.result)).toEqual(['ok', 'permanent', 'retry', 'retry', 'permanent', 'retry']);
    expect(out[1]).toEqual({ result: 'permanent', reason: 'PACS refused the instance: 0xC000 error: cannot understand (HTTP 202)' });
    expect(out[2]).toEqual({ result: 'retry', reason: 'PACS 0xA700 refused: out of resources (HTTP 202)' });
    // Not named by an answer that names others: unknown, sent again under the same key.
    expect(out[5]).toMatchObject({ result: 'retry', reason: expect.stringMatching(/does not name this instance/) });
  });

  it('409 per instance from the body; statuses without a body apply to all', () => {
    expect(
      stowBatchOutcomes(409, { failed: [{ sopInstanceUid: uid(1), reason: 0xa900 }], stored: [{ sopInstanceUid: uid(2) }] }, sops.slice(0, 2)).map(
        (o) => o.result,
      ),
    ).toEqual(['permanent', 'ok']);
    expect(stowBatchOutcomes(409, { failed: [], stored: [] }, sops.slice(0, 2)).map((o) => o.result)).toEqual(['permanent', 'permanent']);
    expect(stowBatchOutcomes(202, { failed: [], stored: [] }, sops.slice(0, 2)).map((o) => o.result)).toEqual(['ok', 'ok']);
    for (const s of [400, 413, 415])
      expect(
        stowBatchOutcomes(s, { failed: [], stored: [] }, sops).every((o) => o.result === 'permanent'),
        String(s),
      ).toBe(true);
    for (const s of [401, 403, 404, 408, 429, 500, 502, 503])
      expect(
        stowBatchOutcomes(s, { failed: [], stored: [] }, sops).every((o) => o.result === 'retry'),
        String(s),
      ).toBe(true);
  });
});

describe('STOW-RS batches: the request', () => {
  it('multipart body: every part framed with its Content-Type, length exact, bytes unchanged', async () => {
    const files = [Buffer.from('first'), Buffer.alloc(300_000, 9), Buffer.from([0, 1, 2, 13, 10, 45, 45])];
    const body = multipartBody(
      files.map((f) => ({ size: f.length, stream: () => Readable.from([f]) })),
      'b0undary',
    );
    expect(body.contentType).toBe('multipart/related; type="application/dicom"; boundary=b0undary');
    const bytes = await buffer(body.stream());
    expect(bytes.length).toBe(body.length);
    expect(bytes.subarray(0, 52).toString('latin1')).toBe('--b0undary\r\nContent-Type: application/dicom\r\n\r\nfirst');
    expect(bytes.subarray(-16).toString('latin1')).toBe('\r\n--b0undary--\r\n');
    const parts = splitMultipart(bytes, 'b0undary');
    expect(parts.map((p) => p.headers)).toEqual(['Content-Type: application/dicom', 'Content-Type: application/dicom', 'Content-Type: application/dicom']);
    parts.forEach((p, i) => expect(p.bytes.equals(files[i]!), `part ${i}`).toBe(true));
  });

  it('one POST for the batch, parts from the stored files (coerced), outcomes per instance from a 202', async () => {
    const requests: Array<{ contentType: string; length: number; body: Buffer }> = [];
    const server: Server = createServer(async (req, res) => {
      const body = await buffer(req);
      requests.push({ contentType: String(req.headers['content-type']), length: Number(req.headers['content-length']), body });
      res.writeHead(202, { 'Content-Type': 'application/dicom+json' });
      res.end(
        JSON.stringify({ '00081198': { vr: 'SQ', Value: [failed(uid(12), 0xa900)] }, '00081199': { vr: 'SQ', Value: [stored(uid(11)), stored(uid(13))] } }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const dest = new StowRsDestination(
      'pacs-web',
      { url: `http://127.0.0.1:${port}/dicom-web`, coerce: [{ tag: 'InstitutionName', value: 'BV TINH' }] },
      pino({ level: 'silent' }),
    );
    try {
      const items = [11, 12, 13].map((n) => item(n, syntheticPart10({ sopInstanceUid: uid(n) })));
      const missing = { ...item(14, Buffer.from('x')), blobPath: null };
      const out = await dest.deliverBatch([items[0]!, items[1]!, missing, items[2]!], new AbortController().signal);
      expect(out.map((o) => o.result)).toEqual(['ok', 'permanent', 'permanent', 'ok']);
      expect(out[1]).toMatchObject({ reason: 'PACS refused the instance: 0xA900 error: data set does not match SOP class (HTTP 202)' });
      expect(requests).toHaveLength(1);
      const [req] = requests;
      expect(req!.body.length).toBe(req!.length);
      const boundary = /boundary=([^;]+)/.exec(req!.contentType)![1]!;
      const parts = splitMultipart(req!.body, boundary);
      expect(parts).toHaveLength(3);
      for (const p of parts) {
        expect(p.headers).toBe('Content-Type: application/dicom');
        expect(p.bytes.includes(Buffer.from('BV TINH'))).toBe(true);
        expect(p.bytes.subarray(128, 132).toString('latin1')).toBe('DICM');
      }
    } finally {
      await dest.stop();
      await new Promise((r) => server.close(r));
    }
  });
});
