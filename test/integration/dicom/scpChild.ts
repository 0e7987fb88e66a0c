// Child process for the DICOM kill -9 and large-object tests and bench:dicom: a dicom-scp on a
// real store with the study index and the agent's default blob pool (filled before the port is
// printed: the steady state of a box between studies), as the agent runs it; prints its port.
import { openStore } from '../../../core/store/store.ts';
import { SqliteStudyIndex, STUDY_INDEX_SERVICE } from '../../../modules/dicom/data/studyIndex.ts';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../modules/dicom/index.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';

const store = await openStore({ dir: process.argv[2]!, blobPoolBytes: 256 * 1024 * 1024 });
const ctx = makeDriverContext(store, { id: 'ct1', routes: ['pacs'] });
ctx.services.provide(STUDY_INDEX_SERVICE, new SqliteStudyIndex(store.db));
const driver = dicomScpDriverFactory.create(ctx, { host: '127.0.0.1', port: 0, aeTitle: 'EDGE', allowedCallers: [{ aeTitle: 'MODALITY' }] }) as DicomScpDriver;
await driver.start();
await store.blobs.poolFull();
process.stdout.write(`PORT ${driver.port}\n`);
