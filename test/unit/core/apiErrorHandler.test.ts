import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { apiErrorHandler } from '../../../core/http/server.ts';
import { QueueError } from '../../../modules/queue/types.ts';

describe("the local API's one error handler (modules' routes register none of their own)", () => {
  it("answers a module's error with the status it carries, its message and its code; bad input 400; the rest 500 without details", async () => {
    const app = Fastify({ logger: false });
    app.setErrorHandler(apiErrorHandler);
    // A module's routes in their own plugin (encapsulated, as the queue's are): the core's handler applies.
    await app.register(async (mod) => {
      mod.get('/empty', async () => {
        throw new QueueError('QUEUE_EMPTY', 'Không còn người chờ.');
      });
      mod.post('/typed', { schema: { body: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } } }, async () => ({}));
      mod.get('/boom', async () => {
        throw Object.assign(new Error('disk says no at /var/lib/edge'), { code: 'EIO' });
      });
    });
    const empty = await app.inject({ method: 'GET', url: '/empty' });
    expect(empty.statusCode).toBe(409);
    expect(empty.json()).toEqual({ error: 'Không còn người chờ.', code: 'QUEUE_EMPTY' });
    const typed = await app.inject({ method: 'POST', url: '/typed', payload: { n: 'x' } });
    expect(typed.statusCode).toBe(400);
    expect(typed.json()).toEqual({ error: expect.stringMatching(/^invalid request: body\/n must be integer/) });
    // Fastify's own errors keep their message, without its FST_ code.
    const media = await app.inject({ method: 'POST', url: '/typed', headers: { 'content-type': 'text/x-nope' }, payload: 'n' });
    expect(media.statusCode).toBe(415);
    expect(Object.keys(media.json())).toEqual(['error']);
    const boom = await app.inject({ method: 'GET', url: '/boom' });
    expect(boom.statusCode).toBe(500);
    expect(boom.json()).toEqual({ error: 'internal error; see the agent log' });
    await app.close();
  });

  it('a QueueError carries the status its code is answered with', () => {
    expect(
      (
        [
          'QUEUE_UNKNOWN_SERVICE',
          'QUEUE_UNKNOWN_COUNTER',
          'QUEUE_UNKNOWN_TICKET',
          'QUEUE_BAD_STATE',
          'QUEUE_EMPTY',
          'QUEUE_TOLERANCE_EXCEEDED',
          'QUEUE_BAD_INPUT',
        ] as const
      ).map((c) => new QueueError(c, 'x').statusCode),
    ).toEqual([404, 404, 404, 409, 409, 409, 400]);
  });
});
