import { createServer } from 'node:http';
/** An HTTP server for simulators of peers that go down and come back on the same port. */
export async function startRestartableHttpServer(handler, host, port = 0) {
    let server = null;
    const up = () => new Promise((resolve, reject) => {
        const s = createServer((req, res) => {
            const chunks = [];
            req.on('data', (c) => chunks.push(c));
            req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
        });
        s.once('error', reject);
        s.listen(port, host, () => {
            port = s.address().port;
            server = s;
            resolve();
        });
    });
    const down = async () => {
        const s = server;
        server = null;
        if (!s)
            return;
        s.closeAllConnections();
        await new Promise((r) => s.close(() => r()));
    };
    await up();
    return {
        get port() {
            return port;
        },
        down,
        up,
    };
}
