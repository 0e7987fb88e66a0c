// Shared by the dicom-scp refusal tests: a store with the study index and an order cache
// holding a patient (name, CCCD number as patient ID), a log that can be read back, and a
// snapshot of everything stored so a refusal can be shown to have changed nothing.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { openStore, type Store } from '../../../core/store/store.ts';
import { SqliteStudyIndex, STUDY_INDEX_SERVICE } from '../../../modules/dicom/data/studyIndex.ts';
import { ORDER_CACHE_SERVICE, SqliteOrderCache } from '../../../modules/lab/orderCache.ts';
import { makeDriverContext, type TestDriverContext } from '../../helpers/driverContext.ts';

export const PATIENT = { name: 'Nguyễn Thị Hương', cccd: '079190001234' };

export interface GuardedBox {
  store: Store;
  index: SqliteStudyIndex;
  ctx: TestDriverContext;
  /** Every log line the driver wrote, parsed. */
  logs: Array<Record<string, unknown> & { msg: string }>;
  /** The raw log text (to show that no personal data is in it). */
  logText(): string;
  stored(): StoredSnapshot;
}

export interface StoredSnapshot {
  journal: number;
  outbox: number;
  studyIndex: number;
  blobFiles: string[];
  tmpFiles: string[];
}

export async function guardedBox(dir: string, id = 'ct1'): Promise<GuardedBox> {
  const store = await openStore({ dir: join(dir, 'store') });
  const index = new SqliteStudyIndex(store.db);
  const cache = new SqliteOrderCache(store.db);
  cache.upsert({
    specimenId: 'S1',
    patientId: PATIENT.cccd,
    patientName: PATIENT.name,
    patientBirthDate: '1980-01-01',
    patientSex: 'F',
    tests: ['CT01'],
    orderedAt: new Date().toISOString(),
    orderId: 'ORD1',
    accessionNumber: 'ACC1',
    items: [{ code: 'CT01', name: 'CT sọ não', modality: 'CT' }],
  });
  const ctx = makeDriverContext(store, { id, routes: ['pacs'] });
  ctx.services.provide(STUDY_INDEX_SERVICE, index);
  ctx.services.provide(ORDER_CACHE_SERVICE, cache);
  const lines: string[] = [];
  ctx.log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    }),
  );
  const blobsDir = join(dir, 'store', 'blobs');
  const files = (d: string): string[] => {
    try {
      return readdirSync(d, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name))
        .sort();
    } catch {
      return [];
    }
  };
  const count = (sql: string): number => (store.db.prepare(sql).get() as { n: number }).n;
  return {
    store,
    index,
    ctx,
    get logs() {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown> & { msg: string });
    },
    logText: () => lines.join('\n'),
    stored: () => {
      index.flush();
      return {
        journal: count('SELECT count(*) AS n FROM journal'),
        outbox: count('SELECT count(*) AS n FROM outbox'),
        studyIndex: count('SELECT count(*) AS n FROM dicom_instance'),
        blobFiles: files(blobsDir).filter((f) => !f.startsWith(join(blobsDir, 'tmp'))),
        tmpFiles: files(join(blobsDir, 'tmp')),
      };
    },
  };
}
