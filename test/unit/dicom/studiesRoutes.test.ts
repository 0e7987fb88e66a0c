import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../../core/store/store.ts';
import { extractInstanceMeta } from '../../../modules/dicom/data/instanceMeta.ts';
import { SqliteStudyIndex } from '../../../modules/dicom/data/studyIndex.ts';
import { studiesRoutes } from '../../../modules/dicom/studiesRoutes.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { syntheticPart10, VN_PATIENT } from './dataFixtures.ts';

const tmp = tempDir('dicom-routes-');
let store: Awaited<ReturnType<typeof openStore>>;
let app: FastifyInstance;
const ADMIN = { authorization: 'Bearer admin-token' };
const STUDY = '1.2.826.0.1.3680043.10.55';

beforeAll(async () => {
  store = await openStore({ dir: join(tmp.dir, 'store') });
  const index = new SqliteStudyIndex(store.db);
  for (let i = 1; i <= 3; i++) {
    const sop = `${STUDY}.1.${i}`;
    const bytes = syntheticPart10({ sopInstanceUid: sop, studyUid: STUDY, seriesUid: `${STUDY}.1` });
    const path = join(tmp.dir, `${i}.dcm`);
    writeFileSync(path, bytes);
    const blob = await store.blobs.write(bytes);
    const { id } = await store.journalFor('us1', ['pacs']).append({ stream: 'dicom.instance', kind: 'c-store', idempotencyKey: `${sop}:${blob.hash}`, blob });
    index.record({ journalId: id, blob, meta: await extractInstanceMeta(path), receivedAt: Date.now() });
  }
  app = Fastify();
  const requireAdmin = async (req: { headers: Record<string, unknown> }, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    if (req.headers.authorization !== ADMIN.authorization) return reply.code(401).send({ error: 'admin login required' });
  };
  await app.register(studiesRoutes, { index: () => index, requireAdmin: requireAdmin as never });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await store.close();
  tmp.cleanup();
});

describe('GET /api/studies', () => {
  it('needs the admin login (names and birth dates inside)', async () => {
    expect((await app.inject({ url: '/api/studies' })).statusCode).toBe(401);
    expect((await app.inject({ url: `/api/studies/${STUDY}` })).statusCode).toBe(401);
  });

  it('lists studies with patient fields and forwarding state; filters are validated', async () => {
    const r = await app.inject({ url: '/api/studies?state=pending&modality=US&dateFrom=2026-11-01&limit=10', headers: ADMIN });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({ total: 1, limit: 10, offset: 0 });
    expect(body.studies[0]).toMatchObject({
      studyUid: STUDY,
      patientName: VN_PATIENT,
      instanceCount: 3,
      state: 'pending',
      forwarding: { pending: 3, done: 0, parked: 0 },
    });
    expect((await app.inject({ url: '/api/studies?state=delivered', headers: ADMIN })).json().total).toBe(0);
    expect((await app.inject({ url: '/api/studies?state=bogus', headers: ADMIN })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/studies?limit=100000', headers: ADMIN })).statusCode).toBe(400);
  });

  it('one study: series, instances, state per destination; 404 for an unknown study', async () => {
    const r = await app.inject({ url: `/api/studies/${STUDY}`, headers: ADMIN });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body.series).toHaveLength(1);
    expect(body.series[0].instances).toHaveLength(3);
    expect(body.series[0].instances[0].destinations).toEqual([
      { destination: 'pacs', state: 'pending', attempts: 0, lastError: null, doneMs: null, deadLetterReason: null },
    ]);
    expect((await app.inject({ url: '/api/studies/1.2.3.4', headers: ADMIN })).statusCode).toBe(404);
    expect((await app.inject({ url: '/api/studies/<script>', headers: ADMIN })).statusCode).toBe(400);
  });
});
