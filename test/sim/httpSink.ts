import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { startRestartableHttpServer } from './restartableHttpServer.ts';

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
  const reply = (req: IncomingMessage, res: ServerResponse, text: string): void => {
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
  const server = await startRestartableHttpServer(
    (req, res, text) => (options.delayMs ? setTimeout(() => reply(req, res, text), options.delayMs) : reply(req, res, text)),
    host,
    options.port,
  );
  return {
    get url() {
      return `http://${host}:${server.port}/ingest`;
    },
    get port() {
      return server.port;
    },
    received,
    down: server.down,
    up: server.up,
    stop: server.down,
  };
}

// `tsx test/sim/httpSink.ts --port 8090` runs it on its own.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 8090);
  startHttpSink({ port }).then((s) => console.log(`http sink listening on ${s.url}`));
}
