// Child process for the HL7 kill -9 test: an HL7 listener on a real store; prints its port.
import { openStore } from '../../core/store/store.ts';
import { hl7DriverFactory, type Hl7Driver } from '../../modules/hl7/index.ts';
import { makeDriverContext } from './driverContext.ts';

const store = await openStore({ dir: process.argv[2]! });
const driver = hl7DriverFactory.create(makeDriverContext(store, { id: 'bc5380', routes: ['lis'] }), { host: '127.0.0.1', port: 0 }) as Hl7Driver;
await driver.start();
process.stdout.write(`PORT ${driver.port}\n`);
