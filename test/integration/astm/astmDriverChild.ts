// Child process for the ASTM kill -9 test: the real driver (TCP server on an ephemeral port)
// over the real store in the directory given on the command line. Prints "PORT <n>" when ready.
import { openStore } from '../../../core/store/store.ts';
import { AstmDriver } from '../../../modules/astm/index.ts';
import { makeDriverContext } from '../../helpers/driverContext.ts';

const [dir] = process.argv.slice(2);
const store = await openStore({ dir: dir! });
const ctx = makeDriverContext(store, { id: 'astm-kill', routes: ['lis'] });
const driver = new AstmDriver(ctx, { transport: 'tcp-server', host: '127.0.0.1', port: 0, frameSize: 64 });
await driver.start();
process.stdout.write(`PORT ${driver.listeningPort}\n`);
