import type { DeliveryOutcome, Destination, DestinationContext, DestinationFactory, OutboxItem } from '../contract/destination.ts';

export interface HttpJsonConfig {
  url: string;
  /** Extra headers (e.g. Authorization via a !secret). */
  headers?: Record<string, string>;
  /** HTTP statuses that mean "never accept this item" (parked); other 4xx are parked too unless listed in retryStatuses. */
  retryStatuses?: number[];
  timeoutMs?: number;
}

/**
 * Generic HTTP(S) JSON destination: POSTs an envelope with an Idempotency-Key header.
 * 2xx is the acknowledgement; 408/425/429 and 5xx are retried; other 4xx are permanent refusals
 * (the body's text becomes the dead-letter reason).
 */
export class HttpJsonDestination implements Destination {
  constructor(
    readonly id: string,
    private readonly config: HttpJsonConfig,
  ) {}

  async deliver(item: OutboxItem, signal: AbortSignal): Promise<DeliveryOutcome> {
    const body = JSON.stringify({
      id: item.idempotencyKey,
      source: item.source,
      stream: item.stream,
      kind: item.kind,
      receivedAt: item.receivedAt,
      body: item.parsed ?? (item.raw ? { base64: item.raw.toString('base64') } : null),
    });
    let res: Response;
    try {
      res = await fetch(this.config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': item.idempotencyKey, ...this.config.headers },
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.config.timeoutMs ?? 30_000)]),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return { result: 'retry', reason: `${this.config.url}: ${cause ?? (err as Error).message}` };
    }
    const text = (await res.text().catch(() => '')).slice(0, 500);
    if (res.ok) return { result: 'ok', detail: `HTTP ${res.status}` };
    const retryable = res.status >= 500 || [408, 425, 429].includes(res.status) || (this.config.retryStatuses ?? []).includes(res.status);
    const reason = `HTTP ${res.status}${text ? `: ${text}` : ''}`;
    return retryable ? { result: 'retry', reason } : { result: 'permanent', reason };
  }
}

export const httpJsonDestinationFactory: DestinationFactory<HttpJsonConfig> = {
  type: 'http-json',
  create: (ctx: DestinationContext, config: HttpJsonConfig) => new HttpJsonDestination(ctx.id, config),
};
