import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request with its whole body read as UTF-8 (simulators answer small JSON bodies). */
export type BodyHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export interface RestartableHttpServer {
  readonly port: number;
  /** Stops listening and drops open connections: the peer is "down", connections are refused. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
}

/** An HTTP server for simulators of peers that go down and come back on the same port. */
export async function startRestartableHttpServer(handler: BodyHandler, host: string, port = 0): Promise<RestartableHttpServer> {
  let server: Server | null = null;
  const up = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
      });
      s.once('error', reject);
      s.listen(port, host, () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const down = async (): Promise<void> => {
    const s = server;
    server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
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
