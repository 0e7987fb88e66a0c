import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

export interface ReceivedPost {
  path: string;
  idempotencyKey: string | undefined;
  body: unknown;
  at: number;
}

export interface HttpSinkOptions {
  port?: number;
  host?: string;
  /** Answer 422 (a permanent refusal) to bodies containing this text. */
  refuseWhenBodyContains?: string;
  /** Added latency per request (ms). */
  delayMs?: number;
}

export interface HttpSink {
  url: string;
  port: number;
  received: ReceivedPost[];
  /** Stops listening (connections refused) until up() is called. */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A JSON-over-HTTP receiver that records what it gets: plays a generic HTTP destination (or the
 * central ingest) in tests and in the demo. It can be down, slow, or refuse poison items.
 */
export async function startHttpSink(options: HttpSinkOptions = {}): Promise<HttpSink> {
  const received: ReceivedPost[] = [];
  const host = options.host ?? '127.0.0.1';
  let server: Server | null = null;
  let port = options.port ?? 0;

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const reply = () => {
            if (req.method === 'GET') {
              res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ received: received.length }));
              return;
            }
            if (options.refuseWhenBodyContains && text.includes(options.refuseWhenBodyContains)) {
              res.writeHead(422, { 'content-type': 'text/plain' }).end('refused: item marked as poison');
              return;
            }
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              res.writeHead(400).end('body is not JSON');
              return;
            }
            const key = req.headers['idempotency-key'];
            received.push({ path: req.url ?? '/', idempotencyKey: typeof key === 'string' ? key : undefined, body, at: Date.now() });
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: key ?? null }));
          };
          if (options.delayMs) setTimeout(reply, options.delayMs);
          else reply();
        });
      });
      s.once('error', reject);
      s.listen(port, host, () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });

  await listen();
  const close = async (): Promise<void> => {
    const s = server;
    server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  };
  return {
    get url() {
      return `http://${host}:${port}/ingest`;
    },
    get port() {
      return port;
    },
    received,
    down: close,
    up: listen,
    stop: close,
  };
}

// `tsx test/sim/httpSink.ts --port 8090` runs it on its own.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 8090);
  startHttpSink({ port }).then((s) => console.log(`http sink listening on ${s.url}`));
}
