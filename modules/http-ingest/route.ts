import { Transform } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { errorResponses } from '../../core/contract/http.ts';
import { INGEST_BODY_CEILING, type IngestEndpoint, type IngestRouter } from './index.ts';

/** The fastify error a body stream ends with when it passes the device's bound (answered 413). */
class BodyTooLarge extends Error {
  readonly statusCode = 413;
}

/**
 * POST /api/ingest/:device. Who may post (address 403, token 401) and the declared size (413)
 * are checked before a byte of the body is read; a body without Content-Length is counted as
 * it streams and cut at the device's maxBodyBytes.
 */
export function registerIngestRoute(app: FastifyInstance, router: IngestRouter): void {
  const endpointOf = (params: unknown): IngestEndpoint | undefined => router.get((params as { device: string }).device);
  const remoteOf = (req: { socket: { remoteAddress?: string | undefined } }): string => req.socket.remoteAddress ?? '';
  app.post(
    '/api/ingest/:device',
    {
      bodyLimit: INGEST_BODY_CEILING,
      schema: {
        tags: ['ingest'],
        summary:
          'A device posts one JSON item (bearer token, listed address); 200 only once it is durable, 409 when its Idempotency-Key was used with another body',
        params: { type: 'object', properties: { device: { type: 'string' } } },
        response: errorResponses,
      },
      onRequest: async (req, reply) => {
        const endpoint = endpointOf(req.params);
        if (!endpoint) return reply.code(404).send({ error: 'no http-ingest device with that id is configured and running' });
        const refused = endpoint.admit(remoteOf(req), req.headers);
        if (refused) return reply.code(refused.status).send(refused.body);
        const declared = Number(req.headers['content-length']);
        if (declared > endpoint.maxBodyBytes) {
          const tooLarge = endpoint.tooLarge(remoteOf(req));
          return reply.code(tooLarge.status).header('connection', 'close').send(tooLarge.body);
        }
      },
      preParsing: async (req, _reply, payload) => {
        const endpoint = endpointOf(req.params);
        if (!endpoint) return payload;
        let seen = 0;
        const counted = new Transform({
          transform(chunk: Buffer, _enc, done) {
            seen += chunk.length;
            if (seen > endpoint.maxBodyBytes) return done(new BodyTooLarge(String(endpoint.tooLarge(remoteOf(req)).body.error)));
            done(null, chunk);
          },
        });
        return payload.pipe(counted);
      },
    },
    async (req, reply) => {
      const endpoint = endpointOf(req.params);
      if (!endpoint) return reply.code(404).send({ error: 'no http-ingest device with that id is configured and running' });
      const answer = await endpoint.receive(req.body, req.headers, remoteOf(req));
      return reply.code(answer.status).send(answer.body);
    },
  );
}
