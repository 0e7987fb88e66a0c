// Child process for the DICOM kill -9 and large-object tests: a dicom-scp on a real store; prints its port.
import { openStore } from '../../../agent/store/store.ts';
import { dicomScpDriverFactory, type DicomScpDriver } from '../../../drivers/dicom/index.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';

const store = await openStore({ dir: process.argv[2]! });
const driver = dicomScpDriverFactory.create(makeDriverContext(store, { id: 'ct1', routes: ['pacs'] }), { host: '127.0.0.1', port: 0, aeTitle: 'EDGE' }) as DicomScpDriver;
await driver.start();
process.stdout.write(`PORT ${driver.port}\n`);
