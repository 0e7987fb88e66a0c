import { createHash, timingSafeEqual } from 'node:crypto';
import type { Driver, DriverContext, DriverFactory, DriverStatus } from '../contract.ts';

export interface HttpIngestConfig {
  stream?: string;
  priority?: 'clinical' | 'telemetry';
  token?: string;
}

/** An answer the local API sends back to the posting device. */
export interface IngestReply {
  status: number;
  body: Record<string, unknown>;
}

export type IngestHandler = (body: unknown, headers: Record<string, string | string[] | undefined>) => Promise<IngestReply>;

/** Service the local API looks handlers up in: POST /api/ingest/<device id>. */
export class IngestRouter {
  private readonly handlers = new Map<string, IngestHandler>();
  attach(device: string, handler: IngestHandler): void {
    this.handlers.set(device, handler);
  }
  detach(device: string): void {
    this.handlers.delete(device);
  }
  get(device: string): IngestHandler | undefined {
    return this.handlers.get(device);
  }
}
export const INGEST_SERVICE = 'http.ingest';

/**
 * Devices and scripts that POST JSON (many modern devices and middleware can). The reply is
 * 200 only after the entry is durable; 503 with the reason when the store refuses, so the
 * sender retries. The idempotency key is the Idempotency-Key header, else the body's hash.
 */
class HttpIngestDriver implements Driver {
  private accepted = 0;
  private state: DriverStatus = { state: 'stopped', since: new Date().toISOString() };

  constructor(
    private readonly ctx: DriverContext,
    private readonly config: HttpIngestConfig,
  ) {}

  async start(): Promise<void> {
    const router = this.ctx.services.get<IngestRouter>(INGEST_SERVICE);
    if (!router) throw new Error('the local API is not available to receive posts');
    router.attach(this.ctx.id, (body, headers) => this.receive(body, headers));
    this.state = { state: 'running', since: new Date().toISOString(), detail: `POST /api/ingest/${this.ctx.id}` };
    this.ctx.setStatus('running', this.state.detail);
  }

  async stop(): Promise<void> {
    this.ctx.services.get<IngestRouter>(INGEST_SERVICE)?.detach(this.ctx.id);
    this.state = { state: 'stopped', since: new Date().toISOString() };
  }

  status(): DriverStatus {
    return { ...this.state, counters: { accepted: this.accepted } };
  }

  private async receive(body: unknown, headers: Record<string, string | string[] | undefined>): Promise<IngestReply> {
    if (this.config.token && !tokenMatches(headers.authorization, this.config.token)) {
      return { status: 401, body: { error: 'missing or wrong bearer token for this device' } };
    }
    if (body === null || typeof body !== 'object') return { status: 400, body: { error: 'the body must be a JSON object or array' } };
    const raw = Buffer.from(JSON.stringify(body));
    const header = headers['idempotency-key'];
    const key = typeof header === 'string' && header.length > 0 ? header.slice(0, 200) : 'sha256:' + createHash('sha256').update(raw).digest('hex');
    try {
      const result = await this.ctx.journal.append({
        stream: this.config.stream ?? 'device.json',
        kind: 'json',
        idempotencyKey: key,
        raw,
        parsed: body,
        priority: this.config.priority ?? 'clinical',
      });
      if (!result.duplicate) this.accepted++;
      return { status: 200, body: { id: key, journalId: result.id, duplicate: result.duplicate } };
    } catch (err) {
      this.ctx.log.warn({ err }, 'could not store a posted item; answered 503 so the sender retries');
      return { status: 503, body: { error: `not stored: ${(err as Error).message}` } };
    }
  }
}

function tokenMatches(header: string | string[] | undefined, token: string): boolean {
  const given = typeof header === 'string' ? /^Bearer (.+)$/i.exec(header)?.[1] ?? '' : '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export const httpIngestDriverFactory: DriverFactory<HttpIngestConfig> = {
  type: 'http-ingest',
  create: (ctx, config) => new HttpIngestDriver(ctx, config),
};
