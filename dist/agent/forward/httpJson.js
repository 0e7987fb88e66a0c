/**
 * Generic HTTP(S) JSON destination: POSTs an envelope with an Idempotency-Key header.
 * 2xx is the acknowledgement; 408/425/429 and 5xx are retried; other 4xx are permanent refusals
 * (the body's text becomes the dead-letter reason).
 */
export class HttpJsonDestination {
    id;
    config;
    constructor(id, config) {
        this.id = id;
        this.config = config;
    }
    async deliver(item, signal) {
        const body = JSON.stringify({
            id: item.idempotencyKey,
            source: item.source,
            stream: item.stream,
            kind: item.kind,
            receivedAt: item.receivedAt,
            body: item.parsed ?? (item.raw ? { base64: item.raw.toString('base64') } : null),
        });
        let res;
        try {
            res = await fetch(this.config.url, {
                method: 'POST',
                headers: { 'content-type': 'application/json', 'idempotency-key': item.idempotencyKey, ...this.config.headers },
                body,
                signal: AbortSignal.any([signal, AbortSignal.timeout(this.config.timeoutMs ?? 30_000)]),
            });
        }
        catch (err) {
            const cause = err.cause?.code;
            return { result: 'retry', reason: `${this.config.url}: ${cause ?? err.message}` };
        }
        const text = (await res.text().catch(() => '')).slice(0, 500);
        if (res.ok)
            return { result: 'ok', detail: `HTTP ${res.status}` };
        const retryable = res.status >= 500 || [408, 425, 429].includes(res.status) || (this.config.retryStatuses ?? []).includes(res.status);
        const reason = `HTTP ${res.status}${text ? `: ${text}` : ''}`;
        return retryable ? { result: 'retry', reason } : { result: 'permanent', reason };
    }
}
export const httpJsonDestinationFactory = {
    type: 'http-json',
    create: (ctx, config) => new HttpJsonDestination(ctx.id, config),
};
