import { createHash, timingSafeEqual } from 'node:crypto';
import { PeerAllowList, unmapIpv4 } from '../../core/contract/net.ts';
import { serviceKey, type Driver, type DriverContext, type DriverFactory, type DriverStatus } from '../../core/contract/driver.ts';
import type { EdgeModule } from '../../core/contract/module.ts';
import { registerIngestRoute } from './route.ts';

export interface HttpIngestConfig {
  stream?: string;
  priority?: 'clinical' | 'telemetry';
  /** Bearer token the device sends (required: the schema refuses a block without one). */
  token?: string;
  /** Addresses that may post; absent or empty: the box itself only. */
  allowedPeers?: string[];
  /** Largest body accepted (413 beyond). */
  maxBodyBytes?: number;
}

/** Default body bound of an ingest device: a reading or a small batch of them. */
export const INGEST_MAX_BODY_BYTES = 256 * 1024;
/** The most any ingest device may be configured to accept (the route's own bound). */
export const INGEST_BODY_CEILING = 16 * 1024 * 1024;

/** An answer the local API sends back to the posting device. */
export interface IngestReply {
  status: number;
  body: Record<string, unknown>;
}

type Headers = Record<string, string | string[] | undefined>;

/** What the local API's POST /api/ingest/<device id> route needs from a running ingest device. */
export interface IngestEndpoint {
  /** Bodies larger than this are refused with 413 before or while they are read. */
  readonly maxBodyBytes: number;
  /** Checked before the body is read: null when this peer with these headers may post. */
  admit(remote: string, headers: Headers): IngestReply | null;
  /** Refusal of a body past maxBodyBytes (counted and logged). */
  tooLarge(remote: string): IngestReply;
  receive(body: unknown, headers: Headers, remote: string): Promise<IngestReply>;
}

/** Service the local API looks devices up in: POST /api/ingest/<device id>. */
export class IngestRouter {
  private readonly endpoints = new Map<string, IngestEndpoint>();
  attach(device: string, endpoint: IngestEndpoint): void {
    this.endpoints.set(device, endpoint);
  }
  detach(device: string): void {
    this.endpoints.delete(device);
  }
  get(device: string): IngestEndpoint | undefined {
    return this.endpoints.get(device);
  }
}
export const INGEST_SERVICE = serviceKey<IngestRouter>('http.ingest');

/**
 * Devices and scripts that POST JSON (many modern devices and middleware can). Only listed
 * addresses (403) with the device's bearer token (401) may post, bodies up to maxBodyBytes (413).
 * The reply is 200 only after the entry is durable; 503 with the reason when the store refuses,
 * so the sender retries. The idempotency key is the Idempotency-Key header, else the body's
 * hash; a key already stored with another body is a conflict (409), never a silent duplicate.
 */
class HttpIngestDriver implements Driver, IngestEndpoint {
  private readonly counters = { accepted: 0, duplicates: 0, conflicts: 0, refusedPeers: 0, refusedToken: 0, tooLarge: 0 };
  private state: DriverStatus = { state: 'stopped', since: new Date().toISOString() };
  private readonly allow: PeerAllowList;
  readonly maxBodyBytes: number;

  constructor(
    private readonly ctx: DriverContext,
    private readonly config: HttpIngestConfig,
  ) {
    this.allow = new PeerAllowList(config.allowedPeers);
    this.maxBodyBytes = Math.min(config.maxBodyBytes ?? INGEST_MAX_BODY_BYTES, INGEST_BODY_CEILING);
  }

  async start(): Promise<void> {
    const router = this.ctx.services.get(INGEST_SERVICE);
    if (!router) throw new Error('the local API is not available to receive posts');
    // The schema requires a token; a block built another way still refuses every post without one.
    if (!this.config.token) this.ctx.log.error('no token configured: every post is refused (add token: !secret <name> to this device)');
    router.attach(this.ctx.id, this);
    this.state = { state: 'running', since: new Date().toISOString(), detail: `POST /api/ingest/${this.ctx.id}, from ${this.allow}` };
    this.ctx.setStatus('running', this.state.detail);
  }

  async stop(): Promise<void> {
    this.ctx.services.get(INGEST_SERVICE)?.detach(this.ctx.id);
    this.state = { state: 'stopped', since: new Date().toISOString() };
  }

  status(): DriverStatus {
    return { ...this.state, counters: { ...this.counters } };
  }

  admit(remote: string, headers: Headers): IngestReply | null {
    const peer = unmapIpv4(remote);
    if (!this.allow.allows(peer)) {
      this.counters.refusedPeers++;
      this.ctx.log.warn({ peer }, 'ingest post refused: address not in allowedPeers');
      return { status: 403, body: { error: `this address may not post to ${this.ctx.id} (not in its allowedPeers)` } };
    }
    if (!this.config.token || !tokenMatches(headers.authorization, this.config.token)) {
      this.counters.refusedToken++;
      this.ctx.log.warn({ peer }, 'ingest post refused: missing or wrong bearer token');
      return {
        status: 401,
        body: {
          error: this.config.token
            ? 'missing or wrong bearer token for this device (Authorization: Bearer <token>)'
            : 'this device has no token configured: every post is refused',
        },
      };
    }
    return null;
  }

  tooLarge(remote: string): IngestReply {
    this.counters.tooLarge++;
    this.ctx.log.warn({ peer: unmapIpv4(remote), maxBodyBytes: this.maxBodyBytes }, 'ingest post refused: body larger than maxBodyBytes');
    return { status: 413, body: { error: `the body is larger than ${this.maxBodyBytes} bytes (maxBodyBytes of ${this.ctx.id})` } };
  }

  async receive(body: unknown, headers: Headers, remote: string): Promise<IngestReply> {
    // Checked again here: the route runs admit() first, but this stays true without it.
    const refused = this.admit(remote, headers);
    if (refused) return refused;
    if (body === null || typeof body !== 'object') return { status: 400, body: { error: 'the body must be a JSON object or array' } };
    const raw = Buffer.from(JSON.stringify(body));
    const bodyHash = createHash('sha256').update(raw).digest('hex');
    const header = headers['idempotency-key'];
    const key = typeof header === 'string' && header.length > 0 ? header.slice(0, 200) : 'sha256:' + bodyHash;
    try {
      const result = await this.ctx.journal.append({
        stream: this.config.stream ?? 'device.json',
        kind: 'json',
        idempotencyKey: key,
        raw,
        parsed: body,
        priority: this.config.priority ?? 'clinical',
        meta: { bodyHash },
      });
      if (result.duplicate) {
        // Entries stored before bodies were hashed carry no hash: taken as the same body.
        const stored = result.meta?.bodyHash;
        if (typeof stored === 'string' && stored !== bodyHash) {
          this.counters.conflicts++;
          this.ctx.log.warn(
            { peer: unmapIpv4(remote), idempotencyKey: key, journalId: result.id },
            'ingest post refused: Idempotency-Key already used with a different body (409); the first item is kept',
          );
          return {
            status: 409,
            body: { error: `Idempotency-Key "${key}" was already used with a different body; the first item is kept. A new reading needs a new key.` },
          };
        }
        this.counters.duplicates++;
      } else this.counters.accepted++;
      return { status: 200, body: { id: key, journalId: result.id, duplicate: result.duplicate } };
    } catch (err) {
      this.ctx.log.warn({ err }, 'could not store a posted item; answered 503 so the sender retries');
      return { status: 503, body: { error: `not stored: ${(err as Error).message}` } };
    }
  }
}

function tokenMatches(header: string | string[] | undefined, token: string): boolean {
  const given = typeof header === 'string' ? (/^Bearer (.+)$/i.exec(header)?.[1] ?? '') : '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export const httpIngestDriverFactory: DriverFactory<HttpIngestConfig> = {
  type: 'http-ingest',
  create: (ctx, config) => new HttpIngestDriver(ctx, config),
};

export { registerIngestRoute };

/** Devices posting JSON: the `http-ingest` device and its route, POST /api/ingest/<device>. */
export const httpIngestModule: EdgeModule = {
  name: 'http-ingest',
  drivers: [httpIngestDriverFactory],
  provides: [INGEST_SERVICE],
  schema: { devices: [{ type: 'http-ingest', file: new URL('./schema.json', import.meta.url) }] },
  start(ctx) {
    const router = new IngestRouter();
    ctx.services.provide(INGEST_SERVICE, router);
    return { routes: (app) => registerIngestRoute(app, router) };
  },
};
