import { createServer } from 'node:net';
import { Aedes } from 'aedes';
/** Plays the province's broker in the demo (tests use the real Mosquitto). */
export async function startProvinceBroker(options) {
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
    });
    const address = server.address();
    return {
        port: address && typeof address === 'object' ? address.port : options.port,
        stop: async () => {
            await new Promise((r) => broker.close(() => r()));
            await new Promise((r) => server.close(() => r()));
        },
    };
}
